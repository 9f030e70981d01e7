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

import pytest

from tests.fuzz.openapi_harness import FuzzReport, build, fuzz_examples, fuzz_twilio, run_schemathesis, serving
from tests.support import drop_schema, free_port, new_schema, new_topic_prefix

pytestmark = pytest.mark.fuzz
SERVICES = ("intake", "directory", "crisis_center", "notifier")


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
