"""The duty officers' console: `console_router()` serves the page, its assets and a local sign-in for development
(disabled when AUTH_MODE=oidc: officers then sign in at the identity provider and paste its token).

Mount it in intake's app: `app.include_router(console_router(settings, accounts))` (after `install_common`, whose
`app.state.jwt_config` signs the tokens). Accounts are the officers' own (`accounts(request, login)` gives the
password hash of an active officer's sign-in name, set by an admin: `PUT /v1/admin/officers/{id}/sign-in`), so the
token's subject is an officer's login and "Only my cases" finds their cases. `CONSOLE_TOKEN_TTL_SECONDS` (default
12 hours: a duty shift).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.auth import local_signing_config, mint_token
from shared.logging import get_logger
from shared.passwords import dummy_hash
from shared.sign_in import SignInThrottle

log = get_logger(__name__)

STATIC = Path(__file__).resolve().parent / "static"
ROLE = "duty_officer"
# The page loads nothing from elsewhere: scripts, styles and the API all come from this origin.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "frame-ancestors 'none'; base-uri 'none'; form-action 'self'")


SECURITY_HEADERS = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff",
                    "Referrer-Policy": "no-referrer", "Cache-Control": "no-cache"}


#: The password hash of an active officer's sign-in name, or None.
Accounts = Callable[[Request, str], Awaitable[str | None]]


async def no_accounts(_: Request, __: str) -> None:
    return None


class ConsoleSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore")

    console_token_ttl_seconds: int = Field(default=12 * 3600, ge=60, le=24 * 3600)


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


def console_router(settings: ConsoleSettings | None = None, accounts: Accounts = no_accounts,
                   throttle: SignInThrottle | None = None) -> APIRouter:
    throttle = throttle or SignInThrottle()
    config = settings if settings is not None else ConsoleSettings()
    router = APIRouter(tags=["console"])

    @router.get("/console", response_class=FileResponse, summary="The duty officers' console (HTML)")
    async def page() -> FileResponse:
        return _asset(STATIC, "index.html")

    @router.get("/console/assets/{path:path}", response_class=FileResponse, include_in_schema=False)
    async def asset(path: str) -> FileResponse:
        return _asset(STATIC / "assets", path)

    @router.post("/console/login", response_model=TokenOut,
                 responses={401: {"description": "unknown sign-in name, ended officer or wrong password"},
                            429: {"description": "too many failed sign-ins for this name or client; Retry-After"},
                            503: {"description": "AUTH_MODE=oidc: officers sign in at the identity provider"}})
    async def login(request: Request, body: Login) -> TokenOut:
        """An officer's sign-in: a duty officer token whose subject is the officer's sign-in name. Refused with 503
        when AUTH_MODE=oidc (the services would refuse the HS256 token it mints): sign in at the provider."""
        jwt_config = local_signing_config(request)
        client = request.client.host if request.client else None
        wait = throttle.retry_after(body.username, client)
        if wait is not None:
            log.info("console_login_throttled")
            raise HTTPException(429, "too many failed sign-ins; try again later", headers={"Retry-After": str(wait)})
        encoded = await accounts(request, body.username)
        # An unknown name costs the same as a known one (shared/sign_in.py: in a thread, a few at a time).
        valid = await throttle.check(body.password, encoded or dummy_hash())
        if encoded is None or not valid:
            throttle.failed(body.username, client)
            log.info("console_login_refused")
            raise HTTPException(401, "unknown user or wrong password")
        throttle.succeeded(body.username)
        token = mint_token(jwt_config, subject=body.username, roles=[ROLE],
                           ttl_seconds=config.console_token_ttl_seconds)
        log.info("console_login")
        return TokenOut(access_token=token, expires_in=config.console_token_ttl_seconds, subject=body.username,
                        roles=[ROLE])

    return router
