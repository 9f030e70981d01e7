"""The duty officers' console: `console_router()` serves the page, its assets and a local sign-in for development
(disabled when AUTH_MODE=oidc: officers then sign in at the identity provider and paste its token).

Mount it in intake's app: `app.include_router(console_router(settings, accounts))` (after `install_common`, whose
`app.state.jwt_config` signs the tokens). Accounts are the officers' own (`accounts(request, login)` gives the
password hash of an active officer's sign-in name, set by an admin: `PUT /v1/admin/officers/{id}/sign-in`), so the
token's subject is an officer's login and "Only my cases" finds their cases. `CONSOLE_TOKEN_TTL_SECONDS` (default
12 hours: a duty shift).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.sign_in import Accounts, PageSignIn, SignInThrottle

STATIC = Path(__file__).resolve().parent / "static"
ROLE = "duty_officer"


async def no_accounts(_: Request, __: str) -> None:
    return None


class ConsoleSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore")

    console_token_ttl_seconds: int = Field(default=12 * 3600, ge=60, le=24 * 3600)


def console_router(settings: ConsoleSettings | None = None, accounts: Accounts = no_accounts,
                   throttle: SignInThrottle | None = None) -> APIRouter:
    config = settings if settings is not None else ConsoleSettings()
    return PageSignIn(
        name="console", static=STATIC, role=ROLE, ttl_seconds=config.console_token_ttl_seconds, accounts=accounts,
        summary="The duty officers' console (HTML)", refused="unknown sign-in name, ended officer or wrong password",
        unavailable="AUTH_MODE=oidc: officers sign in at the identity provider",
        throttle=throttle or SignInThrottle()).router(tags=["console"])
