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
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.auth import Principal, require_roles
from shared.logging import get_logger
from shared.openapi import NO_DATABASE, error_responses
from shared.passwords import parse_users
from shared.sign_in import PageSignIn, SignInThrottle

log = get_logger(__name__)

STATIC = Path(__file__).resolve().parent / "static"
ROLE: Final = "coordinator"
Coordinator = Annotated[Principal, Depends(require_roles(ROLE))]


class DashboardSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore")

    dashboard_users: str = Field(default="", description="Local sign-in: 'name:hash' entries, comma-separated.")
    notifier_url: str = Field(default="http://127.0.0.1:8004", description="The notifier, for delivery progress.")
    dashboard_token_ttl_seconds: int = Field(default=8 * 3600, ge=60, le=24 * 3600)


def dashboard_router(settings: DashboardSettings | None = None, throttle: SignInThrottle | None = None) -> APIRouter:
    config = settings if settings is not None else DashboardSettings()
    users = parse_users(config.dashboard_users)  # fails at start-up, naming the bad entry

    async def accounts(_: Request, name: str) -> str | None:
        return users.get(name)

    router = PageSignIn(
        name="dashboard", static=STATIC, role=ROLE, ttl_seconds=config.dashboard_token_ttl_seconds,
        accounts=accounts, configured=bool(users),
        not_configured="local sign-in is not configured (DASHBOARD_USERS); paste a token instead",
        summary="The coordinators' dashboard (HTML)",
        unavailable="no local users configured (DASHBOARD_USERS), or AUTH_MODE=oidc: coordinators sign in at the "
                    "identity provider",
        throttle=throttle or SignInThrottle()).router(tags=["dashboard"])

    @router.get("/dashboard/api/notifications", summary="Delivery progress of a crisis (from the notifier)",
                openapi_extra=NO_DATABASE, responses=error_responses(502, descriptions={
                    502: "the notifier cannot be reached, or failed (5xx)"}))
    async def notifications(request: Request, crisis_id: Annotated[str, Query(min_length=1, max_length=100)],
                            _: Coordinator) -> Response:
        """Passes the caller's token on to `GET {NOTIFIER_URL}/v1/notifications?crisis_id=...&limit=0` and its
        answer back; 502 when the notifier cannot be reached or answers 5xx."""
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
