"""What every FastAPI app of the platform serves: /healthz, /readyz, /metrics, JSON errors, correlation ids."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.auth import JwtConfig
from shared.logging import bind_traceparent, get_logger
from shared.settings import AuthSettings

log = get_logger(__name__)

ReadinessCheck = Callable[[], Awaitable[dict[str, bool]]]

REQUESTS = Counter("http_requests_total", "HTTP requests", ["service", "method", "route", "status"])
LATENCY = Histogram("http_request_duration_seconds", "HTTP request latency", ["service", "route"])

_RULES = {
    "missing": "required", "string_too_short": "min_length", "string_too_long": "max_length",
    "string_pattern_mismatch": "pattern", "literal_error": "one_of", "enum": "one_of", "value_error": "invalid",
    "greater_than_equal": "minimum", "less_than_equal": "maximum", "greater_than": "minimum",
    "less_than": "maximum", "json_invalid": "json", "model_attributes_type": "object", "dict_type": "object",
}


def field_errors(errors: list[Any]) -> list[dict[str, str]]:
    """Pydantic errors as {field, rule, message}: the field by its dotted path, the rule by a short name."""
    out = []
    for error in errors:
        loc = [str(p) for p in error.get("loc", ()) if p not in ("body", "query", "path", "header")]
        ctx_rule = (error.get("ctx") or {}).get("rule")
        rule = ctx_rule or _RULES.get(error.get("type", ""), error.get("type", "invalid"))
        message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
        out.append({"field": ".".join(loc) or "(body)", "rule": rule, "message": message})
    return out


class ObserveMiddleware:
    """Binds the request's traceparent and records Prometheus metrics: a pure ASGI middleware, because
    Starlette's BaseHTTPMiddleware costs measurably on every request."""

    def __init__(self, app: ASGIApp, service: str) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        traceparent = next((v.decode("latin-1") for k, v in scope.get("headers", ()) if k == b"traceparent"), None)
        bind_traceparent(traceparent)
        status = 500
        started = time.perf_counter()

        async def send_observed(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_observed)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            REQUESTS.labels(self.service, scope.get("method", ""), route, str(status)).inc()
            LATENCY.labels(self.service, route).observe(time.perf_counter() - started)


def install_common(
    app: FastAPI,
    *,
    service: str,
    auth: AuthSettings,
    readiness: ReadinessCheck | None = None,
) -> None:
    app.state.jwt_config = JwtConfig(auth.jwt_secret.get_secret_value(), auth.jwt_issuer, auth.jwt_audience)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": field_errors(list(exc.errors()))}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)

    app.add_middleware(ObserveMiddleware, service=service)

    @app.get("/healthz", include_in_schema=True, tags=["operations"])
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "service": service}

    @app.get("/readyz", tags=["operations"], responses={503: {"description": "a dependency is unreachable"}})
    async def readyz() -> JSONResponse:
        checks = await readiness() if readiness else {}
        ready = all(checks.values())
        return JSONResponse({"ready": ready, "checks": checks}, status_code=200 if ready else 503)

    @app.get("/metrics", tags=["operations"], response_class=PlainTextResponse)
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
