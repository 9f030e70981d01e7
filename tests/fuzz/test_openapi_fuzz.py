"""Schemathesis with all its checks against every service's OpenAPI: the document says exactly what the service does.

FUZZ_EXAMPLES sets the cases per operation (`--max-examples`): 25 in `make test`, 150 in the full form
(`make fuzz`). The feeds service serves no OpenAPI (only its worker's /healthz, /readyz and /metrics, see
services/feeds/probes.py), so it has nothing to fuzz here.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import pytest
from fastapi import FastAPI

from tests.fuzz.openapi_harness import FuzzReport, fuzz_examples, fuzz_twilio, run_schemathesis, serving
from tests.support import bootstrap, database_url, drop_schema, free_port, new_schema, new_topic_prefix, unique

pytestmark = pytest.mark.fuzz
SERVICES = ("intake", "directory", "crisis_center", "notifier")


def common(schema: str, prefix: str, port: int) -> dict[str, Any]:
    return {"database_url": database_url(), "database_schema": schema, "kafka_bootstrap_servers": bootstrap(),
            "kafka_topic_prefix": prefix, "jwt_secret": os.environ["JWT_SECRET"], "database_pool_min": 1,
            "database_pool_max": 4, "public_base_url": f"http://127.0.0.1:{port}"}


def build(service: str, schema: str, prefix: str, port: int, notifier_url: str = "") -> FastAPI:
    values = common(schema, prefix, port)
    if service == "intake":
        from services.intake.api import create_app as intake_app
        from services.intake.settings import Settings as IntakeSettings
        return intake_app(IntakeSettings(**values, twilio_auth_token=os.environ["TWILIO_AUTH_TOKEN"]))
    if service == "directory":
        from services.directory.api import create_app as directory_app
        from services.directory.settings import Settings as DirectorySettings
        return directory_app(DirectorySettings(**values))
    if service == "crisis_center":
        from services.crisis_center.api import create_app as crisis_app
        from services.crisis_center.settings import Settings as CrisisSettings
        return crisis_app(CrisisSettings(**values, hotline_numbers="+3225011000,+3225011001",
                                         faust_app_id=unique("crisis-fuzz-"), faust_store="memory://",
                                         notifier_url=notifier_url))
    from services.notifier.api import create_app as notifier_app
    from services.notifier.settings import NotifierSettings
    return notifier_app(NotifierSettings(**values, twilio_auth_token=os.environ["TWILIO_AUTH_TOKEN"]))


@pytest.fixture
def fresh_storage(request: pytest.FixtureRequest) -> Iterator[Callable[[str], tuple[str, str]]]:
    schemas: list[str] = []

    def make(service: str) -> tuple[str, str]:
        schema = asyncio.run(new_schema(service))
        schemas.append(schema)
        return schema, asyncio.run(new_topic_prefix())

    yield make
    for schema in schemas:
        asyncio.run(drop_schema(schema))


@pytest.mark.parametrize("service", SERVICES)
def test_openapi_fuzz(service: str, fresh_storage: Callable[[str], tuple[str, str]]) -> None:
    schema, prefix = fresh_storage(service)
    port = free_port()
    with ExitStack() as stack:
        notifier_url = ""
        if service == "crisis_center":  # its dashboard asks the notifier for delivery progress
            notifier_schema, _ = fresh_storage("notifier")
            notifier_port = free_port()
            notifier_url = stack.enter_context(serving(build("notifier", notifier_schema, prefix, notifier_port),
                                                       notifier_port))
        app = build(service, schema, prefix, port, notifier_url)
        base_url = stack.enter_context(serving(app, port))
        run = run_schemathesis(base_url)
        report = FuzzReport(service)
        fuzz_twilio(report, app, base_url, base_url, os.environ["TWILIO_AUTH_TOKEN"])
    print(f"\nFUZZ {service}: schemathesis --checks all, {run.generated} cases (FUZZ_EXAMPLES={fuzz_examples()}), "
          f"exit {run.returncode}; signed Twilio forms: {report.summary()}")
    assert run.generated > 0, run.output[-4000:]
    assert run.returncode == 0, run.failures()
    assert not report.failures, "\n\n".join(report.failures)
