"""Schemathesis over a service's own OpenAPI, against the app served by uvicorn on a real port.

The app is built with its real `create_app` on a fresh PostgreSQL schema and a fresh topic prefix, and runs in a
thread with its own event loop. Schemathesis runs as its command line does (`schemathesis run URL --checks all`),
in a process of its own: every phase (examples, coverage, fuzzing, stateful) and every check but those
`EXCLUDED_CHECKS` names, with the settings of `schemathesis.toml` beside this file. Every request carries a token
with every role, so generation gets past authentication (`ignored_auth` and the security suite prove the
refusals). Event streams are told by their media type: schemathesis reads a `text/event-stream` response only up to
`max-stream-events` events (schemathesis.toml) or the request timeout, never to an end that does not come.

The Twilio webhooks are in the OpenAPI (their 403 without a valid signature is documented, and schemathesis checks
it), but schemathesis cannot sign: `fuzz_twilio` posts random forms signed the way Twilio signs them, so the fuzzer
reaches their handlers too.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import hypothesis
import requests
import uvicorn
from fastapi import FastAPI
from fastapi.routing import APIRoute
from hypothesis import HealthCheck, Phase
from hypothesis import strategies as st
from twilio.request_validator import RequestValidator

from shared.openapi import flat_routes
from tests.support import bootstrap, database_url, token, unique

ALL_ROLES = ("duty_officer", "coordinator", "external_system", "admin")
CONFIG = Path(__file__).with_name("schemathesis.toml")

#: Checks of `--checks all` left out, by name, with the reason: none. Every check of schemathesis runs:
#: not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
#: response_schema_conformance, negative_data_rejection, positive_data_acceptance, missing_required_header,
#: unsupported_method, allow_header_conformance, use_after_free, ensure_resource_availability, ignored_auth and
#: object_level_authorization. The last replays one user's read of their object as every other user, so it needs
#: several identities (a Web Fuzzing Commons auth file with peers): with the one all-roles token it runs but finds
#: no peer; the role refusals are proven by ignored_auth here and by tests/security.
EXCLUDED_CHECKS: dict[str, str] = {}
TWILIO_PREFIX = "/twilio/"


def fuzz_examples() -> int:
    """Cases per operation of schemathesis's fuzzing phase (`--max-examples`; its positive and negative modes draw
    from the same budget), and half the signed forms per Twilio webhook: FUZZ_EXAMPLES (make fuzz sets 150)."""
    return int(os.environ.get("FUZZ_EXAMPLES", "25"))


def schemathesis_command(base_url: str, *, examples: int, bearer: str) -> list[str]:
    """The command line of one run over the service at `base_url` (the token as the last argument)."""
    command = [sys.executable, "-m", "schemathesis.cli", "--config-file", str(CONFIG), "--no-color", "run",
               f"{base_url}/openapi.json", "--checks", "all", "--max-examples", str(examples),
               "--generation-database", "none"]
    if EXCLUDED_CHECKS:
        command += ["--exclude-checks", ",".join(EXCLUDED_CHECKS)]
    return [*command, "--header", f"Authorization: Bearer {bearer}"]


@dataclass
class SchemathesisRun:
    returncode: int
    output: str

    @property
    def generated(self) -> int:
        found = re.search(r"(\d+) generated", self.output)
        return int(found.group(1)) if found else 0

    def failures(self) -> str:
        """The FAILURES section of the output (or its tail when there is none, e.g. a schema error)."""
        start = self.output.find("= FAILURES =")
        end = self.output.find("= WARNINGS =", start)
        return self.output[start:end if end > 0 else None] if start >= 0 else self.output[-4000:]


def run_schemathesis(base_url: str, examples: int | None = None) -> SchemathesisRun:
    """`schemathesis run <base_url>/openapi.json --checks all` with a token of every role; its exit code and output."""
    bearer = token(*ALL_ROLES, subject="fuzzer")
    command = schemathesis_command(base_url, examples=examples or fuzz_examples(), bearer=bearer)
    done = subprocess.run(command, capture_output=True, text=True, timeout=1800, check=False,
                          env={**os.environ, "SCHEMATHESIS_TELEMETRY": "false"})
    return SchemathesisRun(done.returncode, done.stdout + done.stderr)


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


def undocumented(responses: dict[str, Any], status: int, content_type: str | None, body: bytes) -> str | None:
    """What an answer does that the operation's documented `responses` do not say (None: nothing): a status it
    does not list, a media type its content does not name, or a body where it documents none."""
    documented = responses.get(str(status), responses.get(f"{str(status)[0]}XX", responses.get("default")))
    if documented is None:
        return f"status {status} is not documented (documented: {', '.join(sorted(responses))})"
    content = documented.get("content") or {}
    media_type = (content_type or "").split(";")[0].strip().lower()
    if not content:
        return f"status {status} documents no body, got {media_type or 'one'}" if body else None
    if media_type not in {name.lower() for name in content} and "*/*" not in content:
        return f"status {status} answered {media_type or 'no media type'}, documented: {', '.join(sorted(content))}"
    return None


def fuzz_twilio(report: FuzzReport, app: FastAPI, base_url: str, public_base_url: str, auth_token: str) -> None:
    """Every Twilio webhook, with correctly signed random forms: no 5xx, and a status and media type that the
    operation documents."""
    validator = RequestValidator(auth_token)
    paths = sorted(r.path for r in flat_routes(app.routes)
                   if isinstance(r, APIRoute) and r.path.startswith(TWILIO_PREFIX) and "POST" in r.methods)
    operations = app.openapi()["paths"]
    session = requests.Session()
    for path in paths:
        label = f"POST {path}"
        try:
            _signed_forms_test(report, session, validator, base_url, public_base_url, path,
                               operations[path]["post"]["responses"])()
        except (Exception, BaseExceptionGroup) as exc:
            report.failures.append(f"{label} [signed forms]: {exc}"[:3000])
    session.close()


def _signed_forms_test(report: FuzzReport, session: requests.Session, validator: RequestValidator, base_url: str,
                       public_base_url: str, path: str, responses: dict[str, Any]) -> Callable[[], None]:
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
        assert response.status_code < 500, (label, query, form, response.text[:300])
        fault = undocumented(responses, response.status_code, response.headers.get("content-type"), response.content)
        assert fault is None, (label, fault, query, form, response.text[:300])

    return run  # type: ignore[no-any-return]


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
