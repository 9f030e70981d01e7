"""What every FastAPI app of the platform serves: /healthz, /readyz, /metrics, JSON errors, correlation ids."""

from __future__ import annotations

import time
from collections import Counter as Tally
from collections.abc import Awaitable, Callable
from types import UnionType
from typing import Any, Union, get_args, get_origin

import asyncpg
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.auth import LocalVerifier, TokenVerifier, build_verifier, install_verifier
from shared.db import DATABASE_UNREACHABLE
from shared.logging import bind_traceparent, get_logger
from shared.openapi import NO_DATABASE, RETRY_AFTER_HEADER, allowed_methods, complete_document
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


#: The documented shape of one entry of a 422's `detail` (FastAPI would document pydantic's loc/msg/type).
FIELD_ERROR_SCHEMA: dict[str, Any] = {
    "title": "FieldError", "type": "object", "required": ["field", "rule", "message"],
    "properties": {"field": {"type": "string"}, "rule": {"type": "string"}, "message": {"type": "string"}},
}
ERROR_SCHEMA: dict[str, Any] = {"title": "ErrorDetail", "type": "object", "required": ["detail"],
                                "properties": {"detail": {"description": "what went wrong"}}}
#: The body of `/readyz`, ready (200) or not (503): each dependency checked, reachable or not.
READINESS_SCHEMA: dict[str, Any] = {
    "title": "Readiness", "type": "object", "required": ["ready", "checks"],
    "properties": {"ready": {"type": "boolean"},
                   "checks": {"type": "object", "additionalProperties": {"type": "boolean"},
                              "description": "each dependency (e.g. database, kafka): reachable or not"}}}
#: Seconds a client (an orchestrator's probe) waits before asking `/readyz` again after a 503.
READY_RETRY_AFTER = "5"


def app_state(name: str) -> Callable[[Request], Awaitable[Any]]:
    """A FastAPI dependency giving `app.state.<name>` (what the app's lifespan put there); a service names its type
    with `Annotated[T, Depends(app_state(name))]`. Async on purpose: FastAPI runs a plain `def` dependency in its
    thread pool, a hop per request."""

    async def state(request: Request) -> Any:
        return getattr(request.app.state, name)

    return state


def token_requirements(verifier: TokenVerifier) -> str:
    """What a bearer token must carry, in the words of the README's "Tokens" section."""
    claims = (f"carrying the claims `iss` = `{verifier.issuer}`, `aud` = `{verifier.audience}`, `sub` (who acts: "
              "written in audit trails), `exp` (expiry, required)")
    roles = "(a list of: duty_officer, coordinator, external_system, admin; others are ignored)"
    if isinstance(verifier, LocalVerifier):
        return (f"A JWT signed with HS256 (the shared `JWT_SECRET`) {claims} and `roles` {roles}. A token without any "
                "of them, with another issuer or audience, expired or badly signed gets 401; one without the "
                "operation's role gets 403.")
    return (f"An access token of the identity provider `{verifier.issuer}`, signed with one of "
            f"{', '.join(verifier.algorithms)} and a key of its published key set (JWKS), {claims}, `iat` "
            f"(issue time: the lifetime exp - iat is bounded) and the roles {roles}. A token without any of them, "
            "with another issuer or audience, expired, too long-lived or badly signed gets 401; one without the "
            "operation's role gets 403; 503 while the provider's keys cannot be fetched.")


def _document_errors(app: FastAPI) -> None:
    """Make the OpenAPI document what the handlers below and the auth dependency send: the 422 body as
    {field, rule, message} entries; 401/403 on authenticated operations, 404 where a path names a resource,
    400 where a body is parsed (unless the route documents its own)."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        first = app.openapi_schema is None
        schema = generate()
        if first:
            schemas = schema.setdefault("components", {}).setdefault("schemas", {})
            if "ValidationError" in schemas:
                schemas["ValidationError"] = FIELD_ERROR_SCHEMA
            schemas["ErrorDetail"] = ERROR_SCHEMA
            verifier = getattr(app.state, "token_verifier", None)
            for scheme in schema["components"].get("securitySchemes", {}).values():
                if scheme.get("type") == "http" and scheme.get("scheme") == "bearer" and verifier is not None:
                    scheme["bearerFormat"] = "JWT"
                    scheme["description"] = token_requirements(verifier)
                    scheme["x-jwt-issuer"] = verifier.issuer
                    scheme["x-jwt-audience"] = verifier.audience
                    scheme["x-jwt-algorithms"] = list(verifier.algorithms)
                    scheme["x-jwt-required-claims"] = ["iss", "aud", "sub", "exp", "roles"] + (
                        [] if isinstance(verifier, LocalVerifier) else ["iat"])
            complete_document(schema, secured=[401, 403] + ([] if isinstance(verifier, LocalVerifier | None)
                                                            else [503]),
                              unavailable=any(issubclass(exc, DATABASE_UNREACHABLE)
                                              for exc in app.exception_handlers if isinstance(exc, type)))
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


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


def _takes_many(annotation: Any) -> bool:
    """`list[str]`, `list[str] | None`, `tuple[int, ...]`...: a query parameter that may repeat."""
    if get_origin(annotation) in (list, tuple, set, frozenset):
        return True
    return get_origin(annotation) in (Union, UnionType) and any(_takes_many(arg) for arg in get_args(annotation))


def _scalar_query_parameters(dependant: Any) -> set[str]:
    """The query parameters of a route and of its dependencies that take one value (not a list)."""
    names: set[str] = set()
    pending = [dependant]
    while pending:
        current = pending.pop()
        names.update(param.alias for param in current.query_params if not _takes_many(param.field_info.annotation))
        pending.extend(current.dependencies)
    return names


async def single_query_values(request: Request) -> None:
    """A query parameter the route declares as one value, given more than once (`?limit=1&limit=2`), is refused
    (422, rule `single`): FastAPI would silently keep the last one, and the client meant something else."""
    route = request.scope.get("route")
    dependant = getattr(route, "dependant", None)
    if dependant is None:
        return
    scalar: set[str] | None = getattr(route, "_scalar_query_parameters", None)
    if scalar is None:  # once per route, not on every request
        scalar = _scalar_query_parameters(dependant)
        route._scalar_query_parameters = scalar  # type: ignore[union-attr]
    counts = Tally(key for key, _ in request.query_params.multi_items())
    repeated = sorted(key for key, times in counts.items() if times > 1 and key in scalar)
    if repeated:
        raise RequestValidationError([{"type": "single", "loc": ("query", key), "ctx": {"rule": "single"},
                                       "msg": f"give {key} once", "input": request.query_params.getlist(key)}
                                      for key in repeated])


def install_common(
    app: FastAPI,
    *,
    service: str,
    auth: AuthSettings,
    readiness: ReadinessCheck | None = None,
    database: bool = True,
) -> None:
    """Sign-in, JSON errors, metrics and probes; with `database`, 503 and Retry-After while it is unreachable."""
    install_verifier(app, build_verifier(auth, service))
    _document_errors(app)
    app.router.dependencies.append(Depends(single_query_values))  # every route included from here on

    async def database_down(_: Request, exc: Exception) -> JSONResponse:
        log.warning("database_unavailable", error=type(exc).__name__)
        return JSONResponse({"detail": "the database is unavailable; try again shortly"}, status_code=503,
                            headers={"Retry-After": "5"})

    if database:
        for exc_type in DATABASE_UNREACHABLE:
            app.add_exception_handler(exc_type, database_down)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": field_errors(list(exc.errors()))}, status_code=422)

    @app.exception_handler(asyncpg.CharacterNotInRepertoireError)
    @app.exception_handler(asyncpg.UntranslatableCharacterError)
    async def _unstorable_text(_: Request, exc: asyncpg.DataError) -> JSONResponse:
        """A NUL (or untranslatable) character in any text field: the client's input, not our failure."""
        return JSONResponse({"detail": [{"field": "(text)", "rule": "characters", "message":
                                         "text contains a character that cannot be stored (NUL)"}]}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        headers = exc.headers
        if exc.status_code == 405:  # every method of the path, not only those of the first route that matched
            headers = {**(headers or {}), "Allow": ", ".join(allowed_methods(app.router.routes, request.scope))}
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=headers)

    app.add_middleware(ObserveMiddleware, service=service)

    @app.get("/healthz", include_in_schema=True, tags=["operations"], openapi_extra=NO_DATABASE)
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "service": service}

    readiness_body = {"application/json": {"schema": READINESS_SCHEMA}}

    @app.get("/readyz", tags=["operations"], response_class=JSONResponse, openapi_extra=NO_DATABASE, responses={
        200: {"description": "every dependency is reachable", "content": readiness_body},
        503: {"description": "a dependency is unreachable (`checks` says which)", "content": readiness_body,
              "headers": {"Retry-After": RETRY_AFTER_HEADER}}})
    async def readyz() -> JSONResponse:
        """Each dependency's check: 200 when all pass, 503 with Retry-After otherwise (the same body)."""
        checks = await readiness() if readiness else {}
        ready = all(checks.values())
        if ready:
            return JSONResponse({"ready": ready, "checks": checks})
        return JSONResponse({"ready": ready, "checks": checks}, status_code=503,
                            headers={"Retry-After": READY_RETRY_AFTER})

    @app.get("/metrics", tags=["operations"], response_class=PlainTextResponse, openapi_extra=NO_DATABASE)
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
