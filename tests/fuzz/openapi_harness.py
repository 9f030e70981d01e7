"""Schemathesis over a service's own OpenAPI, against the app served by uvicorn on a real port.

The app is built with its real `create_app` on a fresh PostgreSQL schema and a fresh topic prefix, and runs in a
thread with its own event loop (schemathesis' calls are synchronous). Every case carries a token with every role,
so generation gets past authentication (the security suite proves the refusals). Twilio webhooks are not in the
OpenAPI (they read their form raw): `fuzz_twilio` posts random forms signed the way Twilio signs them, so the
fuzzer reaches their handlers instead of the 403.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from urllib.parse import urlencode

import hypothesis
import requests
import schemathesis
import uvicorn
from fastapi import FastAPI
from fastapi.routing import APIRoute
from hypothesis import HealthCheck, Phase
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from twilio.request_validator import RequestValidator

from tests.support import token

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
ALL_ROLES = ("duty_officer", "coordinator", "external_system", "admin")

#: Operations schemathesis cannot drive, with the reason (each is covered elsewhere).
EXCLUDED: dict[tuple[str, str], str] = {
    # An endless Server-Sent Events stream: a call never returns. tests/crisis_center/test_api.py reads it.
    ("GET", "/v1/crises/events"): "endless SSE stream",
}
#: Twilio webhooks read their form raw (it is not in the OpenAPI) and answer TwiML: `fuzz_twilio` covers them
#: with signed random forms, tests/e2e/test_security_routes.py with forged signatures.
TWILIO_PREFIX = "/twilio/"


def fuzz_examples() -> int:
    """Generated cases per operation and generation mode: FUZZ_EXAMPLES (make fuzz sets the full form)."""
    return int(os.environ.get("FUZZ_EXAMPLES", "25"))




@contextmanager
def serving(app: FastAPI, port: int) -> Iterator[str]:
    """The app under uvicorn (lifespan on) in a thread of its own; its base URL while the block runs."""
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False, lifespan="on",
                            timeout_graceful_shutdown=5)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=lambda: asyncio.run(server.serve()), daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the app did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@dataclass
class FuzzReport:
    service: str
    cases: Counter[str] = field(default_factory=Counter)
    statuses: Counter[int] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.cases.values())

    def summary(self) -> str:
        by_status = ", ".join(f"{code}: {n}" for code, n in sorted(self.statuses.items()))
        return (f"{self.service}: {self.total} cases over {len(self.cases)} operations ({by_status}); "
                f"{len(self.failures)} failing")


#: Fields Twilio posts to SMS, voice and status webhooks; the fuzzer mixes them with arbitrary names.
TWILIO_FIELDS = ("From", "To", "Body", "MessageSid", "SmsSid", "AccountSid", "MessageStatus", "ErrorCode",
                 "CallSid", "CallStatus", "Digits", "RecordingUrl", "RecordingSid", "RecordingDuration",
                 "DialCallStatus", "NumMedia")


def twilio_forms() -> st.SearchStrategy[tuple[dict[str, str], dict[str, str]]]:
    """A query and a form: known field names with arbitrary values, and arbitrary names."""
    text = st.text(max_size=40)
    values = st.one_of(text, st.from_regex(r"\A\+?[0-9]{0,16}\Z"), st.sampled_from(
        ["delivered", "failed", "undelivered", "sent", "queued", "1", "2", "9", "*", "#", "en", "nl", "fr"]))
    names = st.one_of(st.sampled_from(TWILIO_FIELDS), text)
    return st.tuples(st.dictionaries(st.sampled_from(("lang", "attempt", "reference", "x")), values, max_size=2),
                     st.dictionaries(names, values, max_size=8))


def fuzz_twilio(report: FuzzReport, app: FastAPI, base_url: str, public_base_url: str, auth_token: str) -> None:
    """Every Twilio webhook, with correctly signed random forms: no 5xx, and a documented status."""
    validator = RequestValidator(auth_token)
    paths = sorted(r.path for r in app.routes if isinstance(r, APIRoute) and r.path.startswith(TWILIO_PREFIX)
                   and "POST" in r.methods)
    session = requests.Session()
    for path in paths:
        label = f"POST {path}"
        try:
            _signed_forms_test(report, session, validator, base_url, public_base_url, path)()
        except (Exception, BaseExceptionGroup) as exc:
            report.failures.append(f"{label} [signed forms]: {exc}"[:3000])
    session.close()


def _signed_forms_test(report: FuzzReport, session: requests.Session, validator: RequestValidator, base_url: str,
                       public_base_url: str, path: str) -> Callable[[], None]:
    label = f"POST {path}"

    @hypothesis.settings(max_examples=fuzz_examples() * 2, deadline=None, database=None,
                         suppress_health_check=list(HealthCheck), phases=[Phase.generate, Phase.shrink])
    @hypothesis.given(query_and_form=twilio_forms())
    def run(query_and_form: tuple[dict[str, str], dict[str, str]]) -> None:
        query, form = query_and_form
        suffix = f"{path}?{urlencode(query)}" if query else path
        signature = validator.compute_signature(public_base_url.rstrip("/") + suffix, form)
        response = session.post(base_url + suffix, data=form, timeout=30, headers={"X-Twilio-Signature": signature})
        report.cases[label] += 1
        report.statuses[response.status_code] += 1
        assert response.status_code in (200, 204, 400, 404, 422), (label, query, form, response.text[:300])

    return run  # type: ignore[no-any-return]


def fuzz(service: str, app: FastAPI, base_url: str) -> FuzzReport:
    """Run positive and negative generation over every operation of `app`'s OpenAPI against `base_url`."""
    schema = schemathesis.openapi.from_dict(app.openapi())
    schema.config.update(base_url=base_url)
    report = FuzzReport(service)
    session = requests.Session()
    examples = fuzz_examples()
    for result in schema.get_all_operations():
        operation = result.ok()
        key = (operation.method.upper(), operation.path)
        if key in EXCLUDED or operation.path.startswith(TWILIO_PREFIX):
            continue
        label = f"{key[0]} {key[1]}"
        for mode in (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE):
            failure = _run_operation(operation, mode, label, report, session, base_url, examples)
            if failure:
                report.failures.append(failure)
    session.close()
    return report


def _run_operation(operation: schemathesis.APIOperation, mode: schemathesis.GenerationMode, label: str,
                   report: FuzzReport, session: requests.Session, base_url: str, examples: int) -> str | None:
    """Hypothesis over one operation in one generation mode; the failure (shrunk) as text, or None."""

    @hypothesis.settings(max_examples=examples, deadline=None, database=None, derandomize=False,
                         suppress_health_check=list(HealthCheck), phases=[Phase.generate, Phase.shrink],
                         print_blob=True)
    @hypothesis.given(case=operation.as_strategy(generation_mode=mode))
    def run(case: schemathesis.Case) -> None:
        headers = {"Authorization": f"Bearer {token(*ALL_ROLES, subject='fuzzer')}"}
        response = case.call(base_url=base_url, session=session, headers=headers, timeout=30)
        report.cases[label] += 1
        report.statuses[response.status_code] += 1
        case.validate_response(response, checks=CHECKS, headers=headers)

    try:
        run()
    except hypothesis.errors.Unsatisfiable:
        return None  # nothing to negate (an operation without parameters): the positive mode covers it
    except (Exception, BaseExceptionGroup) as exc:  # every failing operation is reported, not only the first
        return f"{label} [{mode.value}]: {exc}"[:3000]
    return None
