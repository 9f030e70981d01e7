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

from tests.support import token

# Public by the contract: operations, OpenAPI, the public crisis feeds, the directory's posts and resolution,
# the dashboard and console pages (their data calls are authenticated), and Twilio webhooks (signed instead).
PUBLIC = re.compile(r"^/(healthz|readyz|metrics|openapi\.json|docs.*|redoc.*|public/.*|dashboard.*|console.*)$")
PUBLIC_READS = re.compile(r"^/v1/(posts|posts/\{[^}]+\}|resolve)$")
#: Routes that authenticate without a role dependency: the SSE stream takes its token as a query parameter
#: (EventSource cannot send headers).
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
    for route in app.routes:
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
    for route in app.routes:
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
                params = {"access_token": bearer} if bearer else {}
                response = await client.request(method, concrete(path), headers=headers, params=params)
                assert response.status_code == expected, f"{service} {method} {path} with a {name} token"
            wrong = sorted({"duty_officer", "coordinator", "external_system", "admin"} - roles)
            if wrong:
                response = await client.request(method, concrete(path), headers={
                    "Authorization": f"Bearer {token(*wrong)}"}, params={"access_token": token(*wrong)})
                assert response.status_code == 403, f"{service} {method} {path} with roles {wrong}"


@pytest.mark.parametrize("service", SERVICES)
async def test_every_twilio_webhook_refuses_a_forged_signature(service: str) -> None:
    app = build_app(service)
    hooks = [r.path for r in app.routes if isinstance(r, APIRoute) and TWILIO.match(r.path)
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
