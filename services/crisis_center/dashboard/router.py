"""The coordinators' dashboard: `dashboard_router()` serves the page, its assets, a local sign-in for development
(disabled when AUTH_MODE=oidc: coordinators then sign in at the identity provider and paste its token) and a
pass-through to the notifier's delivery progress (the page only talks to its own origin).

Mount it in the crisis center's app: `app.include_router(dashboard_router())` (after `install_common`, whose
`app.state.jwt_config` signs the tokens). Configuration (environment): `DASHBOARD_USERS` (`name:hash,...`, see
`passwords.py`; empty: the sign-in form is refused and only pasted tokens work), `NOTIFIER_URL` (default
`http://127.0.0.1:8004`), `DASHBOARD_TOKEN_TTL_SECONDS` (default 8 hours).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Final

import httpx
from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import FileResponse, JSONResponse, Response
from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.auth import Principal, local_signing_config, mint_token, require_roles
from shared.logging import get_logger
from shared.passwords import dummy_hash, parse_users
from shared.sign_in import SignInThrottle

log = get_logger(__name__)

STATIC = Path(__file__).resolve().parent / "static"
ROLE: Final = "coordinator"
# The page loads nothing from elsewhere: scripts, styles, the map data and the API all come from this origin.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
Coordinator = Annotated[Principal, Depends(require_roles(ROLE))]
SECURITY_HEADERS = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff",
                    "Referrer-Policy": "no-referrer", "Cache-Control": "no-cache"}


class DashboardSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore")

    dashboard_users: str = Field(default="", description="Local sign-in: 'name:hash' entries, comma-separated.")
    notifier_url: str = Field(default="http://127.0.0.1:8004", description="The notifier, for delivery progress.")
    dashboard_token_ttl_seconds: int = Field(default=8 * 3600, ge=60, le=24 * 3600)


class Login(BaseModel):
    username: Annotated[str, Field(min_length=1, max_length=100)]
    password: Annotated[str, Field(min_length=1, max_length=200)]


class TokenOut(BaseModel):
    access_token: str
    token_type: str = "bearer"  # noqa: S105  # the OAuth2 token type, not a secret
    expires_in: int
    subject: str
    roles: list[str]


def _asset(folder: Path, path: str) -> FileResponse:
    """A file under `folder`, never outside it (no `..`, no absolute paths, no symlinks out)."""
    root = folder.resolve()
    target = (root / path).resolve()
    if not target.is_relative_to(root) or not target.is_file():
        raise HTTPException(404, f"no asset {path}")
    return FileResponse(target, headers=SECURITY_HEADERS)


def dashboard_router(settings: DashboardSettings | None = None, throttle: SignInThrottle | None = None) -> APIRouter:
    config = settings if settings is not None else DashboardSettings()
    throttle = throttle or SignInThrottle()
    users = parse_users(config.dashboard_users)  # fails at start-up, naming the bad entry
    router = APIRouter(tags=["dashboard"])

    @router.get("/dashboard", response_class=FileResponse, summary="The coordinators' dashboard (HTML)")
    async def page() -> FileResponse:
        return _asset(STATIC, "index.html")

    @router.get("/dashboard/assets/{path:path}", response_class=FileResponse, include_in_schema=False)
    async def asset(path: str) -> FileResponse:
        return _asset(STATIC / "assets", path)

    @router.post("/dashboard/login", response_model=TokenOut,
                 responses={401: {"description": "unknown user or wrong password"},
                            429: {"description": "too many failed sign-ins for this name or client; Retry-After"},
                            503: {"description": "no local users configured (DASHBOARD_USERS), or AUTH_MODE=oidc: "
                                                 "coordinators sign in at the identity provider"}})
    async def login(request: Request, body: Login) -> TokenOut:
        """Local sign-in for development: a coordinator token for a user listed in `DASHBOARD_USERS`. Refused with
        503 when AUTH_MODE=oidc (the services would refuse the HS256 token it mints): sign in at the provider."""
        jwt_config = local_signing_config(request)
        if not users:
            raise HTTPException(503, "local sign-in is not configured (DASHBOARD_USERS); paste a token instead")
        client = request.client.host if request.client else None
        wait = throttle.retry_after(body.username, client)
        if wait is not None:
            log.info("dashboard_login_throttled")
            raise HTTPException(429, "too many failed sign-ins; try again later", headers={"Retry-After": str(wait)})
        encoded = users.get(body.username)
        valid = await throttle.check(body.password, encoded or dummy_hash())  # an unknown name costs the same
        if encoded is None or not valid:
            throttle.failed(body.username, client)
            log.info("dashboard_login_refused")
            raise HTTPException(401, "unknown user or wrong password")
        throttle.succeeded(body.username)
        token = mint_token(jwt_config, subject=body.username, roles=[ROLE],
                           ttl_seconds=config.dashboard_token_ttl_seconds)
        log.info("dashboard_login", subject=body.username)
        return TokenOut(access_token=token, expires_in=config.dashboard_token_ttl_seconds, subject=body.username,
                        roles=[ROLE])

    @router.get("/dashboard/api/notifications", summary="Delivery progress of a crisis (from the notifier)")
    async def notifications(request: Request, crisis_id: Annotated[str, Query(min_length=1, max_length=100)],
                            _: Coordinator) -> Response:
        """Passes the caller's token on to `GET {NOTIFIER_URL}/v1/notifications?crisis_id=...&limit=0`."""
        url = config.notifier_url.rstrip("/") + "/v1/notifications"
        try:
            async with httpx.AsyncClient(timeout=5) as client:
                upstream = await client.get(url, params={"crisis_id": crisis_id, "limit": 0},
                                            headers={"Authorization": request.headers["authorization"]})
        except httpx.HTTPError as exc:
            log.warning("notifier_unreachable", error=type(exc).__name__)
            return JSONResponse({"detail": "the notifier cannot be reached"}, status_code=502)
        if upstream.status_code >= 500:
            return JSONResponse({"detail": "the notifier failed"}, status_code=502)
        return Response(upstream.content, status_code=upstream.status_code, media_type="application/json")

    return router
