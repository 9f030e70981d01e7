"""Driven by each app's route table: every non-public route refuses a missing, malformed, expired, badly signed
or wrong-role token; every Twilio webhook refuses a forged signature."""

from __future__ import annotations

import importlib
import re
import time
from typing import Any

import jwt
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from httpx import ASGITransport, AsyncClient

from shared.openapi import flat_routes
from tests.support import token

# Public by the contract: operations, OpenAPI, the public crisis feeds, the directory's posts and resolution,
# the dashboard and console pages, their static files and their sign-in (their data calls are authenticated: the
# dashboard's notifications proxy is checked like any route), and Twilio webhooks (signed instead).
PUBLIC = re.compile(r"^/(healthz|readyz|metrics|openapi\.json|docs.*|redoc.*|public/.*"
                    r"|(dashboard|console)(/assets/\{path:path\}|/login)?)$")
PUBLIC_READS = re.compile(r"^/v1/(posts|posts/\{[^}]+\}|resolve)$")
#: Routes that authenticate without a role dependency: the SSE stream takes a ticket as a query parameter
#: (EventSource cannot send headers) or the bearer token in the header.
KNOWN_ROLES = {("GET", "/v1/crises/events"): {"coordinator", "admin"}}
TWILIO = re.compile(r"^/twilio/")
SERVICES = ("intake", "directory", "crisis_center", "notifier")


def build_app(service: str) -> FastAPI:
    api = importlib.import_module(f"services.{service}.api")
    settings_module = importlib.import_module(f"services.{service}.settings")
    settings_class = next(getattr(settings_module, n) for n in ("Settings", f"{service.title().replace('_', '')}"
                                                                 "Settings", "NotifierSettings")
                          if hasattr(settings_module, n))
    app: FastAPI = api.create_app(settings_class())
    return app


def protected_routes(app: FastAPI) -> list[tuple[str, str]]:
    routes = []
    for route in flat_routes(app.routes):
        if not isinstance(route, APIRoute) or PUBLIC.match(route.path) or TWILIO.match(route.path):
            continue
        for method in sorted(route.methods - {"HEAD", "OPTIONS"}):
            if not (method == "GET" and PUBLIC_READS.match(route.path)):
                routes.append((method, route.path))
    return routes


def concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "BE-2026-000001", path)


def allowed_roles(app: FastAPI, method: str, path: str) -> set[str]:
    if (method, path) in KNOWN_ROLES:
        return KNOWN_ROLES[(method, path)]
    for route in flat_routes(app.routes):
        if isinstance(route, APIRoute) and route.path == path and method in route.methods:
            found: set[str] = set()
            stack = list(route.dependant.dependencies)
            while stack:
                dep = stack.pop()
                found |= set(getattr(dep.call, "allowed_roles", ()))
                stack += dep.dependencies
            return found
    return set()


def bad_tokens() -> dict[str, tuple[str | None, int]]:
    import os

    secret = os.environ["JWT_SECRET"]
    now = int(time.time())
    claims: dict[str, Any] = {"sub": "x", "roles": ["admin"], "iss": "be.diplomatie.consular",
                              "aud": "consular-platform", "iat": now, "exp": now + 60}
    return {
        "missing": (None, 401),
        "malformed": ("abc.def", 401),
        "expired": (jwt.encode({**claims, "exp": now - 5}, secret, algorithm="HS256"), 401),
        "bad signature": (jwt.encode(claims, "x" * 40, algorithm="HS256"), 401),
    }


@pytest.mark.parametrize("service", SERVICES)
async def test_every_protected_route_refuses_bad_tokens_and_wrong_roles(service: str) -> None:
    app = build_app(service)
    routes = protected_routes(app)
    assert routes, f"{service} has protected routes"
    async with app.router.lifespan_context(app), \
            AsyncClient(transport=ASGITransport(app=app), base_url="http://test") as client:
        for method, path in routes:
            roles = allowed_roles(app, method, path)
            assert roles, f"{service} {method} {path} has no role check"
            for name, (bearer, expected) in bad_tokens().items():
                headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
                response = await client.request(method, concrete(path), headers=headers)
                assert response.status_code == expected, f"{service} {method} {path} with a {name} token"
            wrong = sorted({"duty_officer", "coordinator", "external_system", "admin"} - roles)
            if wrong:
                response = await client.request(method, concrete(path), headers={
                    "Authorization": f"Bearer {token(*wrong)}"})
                assert response.status_code == 403, f"{service} {method} {path} with roles {wrong}"


@pytest.mark.parametrize("service", SERVICES)
async def test_every_twilio_webhook_refuses_a_forged_signature(service: str) -> None:
    app = build_app(service)
    hooks = [r.path for r in flat_routes(app.routes) if isinstance(r, APIRoute) and TWILIO.match(r.path)
             and "POST" in r.methods]
    if service in ("intake", "notifier"):
        assert hooks, f"{service} serves Twilio webhooks"
    async with app.router.lifespan_context(app), \
            AsyncClient(transport=ASGITransport(app=app), base_url="http://test") as client:
        for path in hooks:
            form = {"From": "+32470000000", "To": "+3225010000", "Body": "help", "MessageSid": "SM" + "0" * 32,
                    "MessageStatus": "delivered", "CallSid": "CA" + "0" * 32}
            for signature in (None, "forged", "AAAAAAAAAAAAAAAAAAAAAAAAAAA="):
                headers = {"X-Twilio-Signature": signature} if signature else {}
                response = await client.post(concrete(path), data=form, headers=headers)
                assert response.status_code == 403, f"{service} {path} with signature {signature!r}"


async def test_a_flow_logs_no_personal_data_and_no_secrets(tmp_path: Any) -> None:
    """Intake's API and worker in process, structlog and stdlib logging captured: a web report and an SMS report
    with names, phones and e-mails go through; none of those, and no secret, appears in the logs."""
    import os

    from twilio.request_validator import RequestValidator

    from services.intake.api import create_app
    from services.intake.bootstrap import open_resources
    from services.intake.settings import Settings
    from services.intake.worker import Worker
    from shared.kafka.producer import make_producer
    from tests.support import bootstrap, consume, database_url, drop_schema, new_schema, new_topic_prefix
    from tests.support_logs import captured_logs, leaks, secret_values

    capture = captured_logs("security-test")
    captured = capture.__enter__()
    prefix, schema = await new_topic_prefix(), await new_schema("intake")
    base = "https://intake.test"
    settings = Settings(database_url=database_url(), database_schema=schema, kafka_bootstrap_servers=bootstrap(),
                        kafka_topic_prefix=prefix, public_base_url=base, database_pool_min=1, database_pool_max=4,
                        jwt_secret=os.environ["JWT_SECRET"], twilio_auth_token=os.environ["TWILIO_AUTH_TOKEN"])
    person = {"full_name": "Wilhelmina Vandersteen", "phone": "+32470918273", "email": "wilhelmina.v@example.org",
              "language": "nl", "channel": "web"}
    texter, texter_name = "+32471564738", "Bartholomeus Oosterlinck"
    try:
        resources = await open_resources(settings)
        producer = make_producer(bootstrap(), client_id="security-log-test")
        await producer.start()
        worker = Worker(settings, resources, producer)
        await worker.start()
        app = create_app(settings)
        try:
            async with app.router.lifespan_context(app), \
                    AsyncClient(transport=ASGITransport(app=app), base_url=base) as client:
                created = await client.post("/v1/reports", headers={"Authorization": f"Bearer {token('duty_officer')}"},
                                            json={"kind": "lost_document", "reporter": person,
                                                  "location": {"country": "MA", "city": "Marrakech"},
                                                  "description": f"{person['full_name']} lost a passport"})
                assert created.status_code == 201, created.text
                form = {"From": texter, "To": "+3225010000", "Body": f"passport stolen, I am {texter_name}",
                        "MessageSid": "SM" + "1" * 32}
                signature = RequestValidator(os.environ["TWILIO_AUTH_TOKEN"]).compute_signature(
                    base + "/twilio/sms", form)
                texted = await client.post("/twilio/sms", data=form, headers={"X-Twilio-Signature": signature})
                assert texted.status_code == 200, texted.text
                await consume(prefix + "consular.reports", count=2, timeout=90)  # the worker's relay published both
        finally:
            await worker.stop()
            await producer.stop()
            await resources.pool.close()
    finally:
        capture.__exit__(None, None, None)
        await drop_schema(schema)
    logs = captured.getvalue()
    assert logs.strip(), "the flow logged something (the capture works)"
    personal = [person["full_name"], person["phone"], person["email"], texter, texter_name, "Vandersteen",
                "Oosterlinck"]
    assert leaks(logs, personal) == [], "personal data in the logs"
    assert leaks(logs, secret_values(settings)) == [], "a secret in the logs"


@pytest.mark.parametrize("service", ["intake", "notifier"])
async def test_every_twilio_webhook_refuses_a_signature_of_another_request(service: str) -> None:
    """A genuine signature does not carry over: not to a changed form, nor to another webhook's URL."""
    import os

    from twilio.request_validator import RequestValidator

    app = build_app(service)
    base = app.state.settings.public_base_url.rstrip("/") if hasattr(app.state, "settings") else None
    base = base or app.state.public_base_url.rstrip("/")
    validator = RequestValidator(os.environ["TWILIO_AUTH_TOKEN"])
    hooks = [r.path for r in flat_routes(app.routes)
             if isinstance(r, APIRoute) and TWILIO.match(r.path) and "POST" in r.methods]
    form = {"From": "+32470000000", "To": "+3225010000", "Body": "help", "MessageSid": "SM" + "0" * 32,
            "MessageStatus": "delivered", "CallSid": "CA" + "0" * 32}
    async with app.router.lifespan_context(app), \
            AsyncClient(transport=ASGITransport(app=app), base_url="http://test") as client:
        for path in hooks:
            genuine = validator.compute_signature(base + path, form)
            changed = await client.post(path, data={**form, "Body": "changed"},
                                        headers={"X-Twilio-Signature": genuine})
            assert changed.status_code == 403, f"{service} {path} accepted a changed form"
            elsewhere = validator.compute_signature(base + "/twilio/elsewhere", form)
            moved = await client.post(path, data=form, headers={"X-Twilio-Signature": elsewhere})
            assert moved.status_code == 403, f"{service} {path} accepted another URL's signature"


def test_the_log_scanner_finds_what_it_looks_for(tmp_path: Any) -> None:
    """Guards the log checks themselves: a phone (with or without '+'), an escaped name, a secret are found."""
    from pydantic import BaseModel, SecretStr

    from tests.support_logs import leaks, leaks_in_files, secret_values

    class Fake(BaseModel):
        api_key: SecretStr = SecretStr("s3cr3t-value-for-test")

    line = '{"event":"x","to":"32470918273","who":"Ren\\u00e9e Dupont","k":"s3cr3t-value-for-test"}'
    assert leaks(line, ["+32470918273", "Renée Dupont", "absent@example.org"]) == ["+32470918273", "Renée Dupont"]
    assert "s3cr3t-value-for-test" in secret_values(Fake())
    log = tmp_path / "service.log"
    log.write_text(line)
    assert leaks_in_files([log], secret_values(Fake())) == {str(log): ["s3cr3t-value-for-test"]}
