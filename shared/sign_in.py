"""Throttled sign-in shared by the dashboard and the console (issue 19, finding 8), and the routes of their pages.

PBKDF2 takes a fair part of a second of CPU: checked in a worker thread, a few at a time, so that a burst of
sign-ins never stalls the event loop (and the Twilio webhooks served by the same process). Failed attempts are
counted per sign-in name and per client address over a window; past the limit the next attempts are refused
with 429 and Retry-After, the right password included, until the window has passed. In memory, per process:
with several replicas an attacker gets the limit once per replica, which still bounds guessing.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field

from shared.auth import local_signing_config, mint_token
from shared.logging import get_logger
from shared.openapi import NO_DATABASE, RETRY_AFTER_CONFIGURATION
from shared.passwords import dummy_hash, verify_password

log = get_logger(__name__)

Clock = Callable[[], float]


@dataclass
class SignInThrottle:
    failures_per_name: int = 5
    failures_per_client: int = 20
    window_seconds: float = 300.0
    concurrent_checks: int = 2
    clock: Clock = time.monotonic
    _failures: dict[str, deque[float]] = field(default_factory=dict)
    _checks: asyncio.Semaphore | None = None

    def _recent(self, key: str) -> deque[float]:
        found = self._failures.setdefault(key, deque())
        horizon = self.clock() - self.window_seconds
        while found and found[0] <= horizon:
            found.popleft()
        return found

    def retry_after(self, name: str, client: str | None) -> int | None:
        """Seconds until this name (or client) may try again; None when it may now."""
        waits = []
        for key, limit in ((f"name:{name}", self.failures_per_name),
                           (f"client:{client}", self.failures_per_client)):
            if key == "client:None":
                continue
            recent = self._recent(key)
            if len(recent) >= limit:
                waits.append(recent[-limit] + self.window_seconds - self.clock())
        return max(1, int(max(waits)) + 1) if waits else None

    def failed(self, name: str, client: str | None) -> None:
        now = self.clock()
        self._recent(f"name:{name}").append(now)
        if client is not None:
            self._recent(f"client:{client}").append(now)
        if len(self._failures) > 100_000:  # bounded memory under a spray of names
            self._failures = {k: v for k, v in self._failures.items() if self._recent(k)}

    def succeeded(self, name: str) -> None:
        self._failures.pop(f"name:{name}", None)

    async def check(self, password: str, encoded: str) -> bool:
        """The password against its hash, in a thread, at most `concurrent_checks` at once."""
        if self._checks is None:
            self._checks = asyncio.Semaphore(self.concurrent_checks)
        async with self._checks:
            return await asyncio.to_thread(verify_password, password, encoded)


# The pages (the dashboard, the console) -------------------------------------------------------------------------
#: A page loads nothing from elsewhere: scripts, styles, map data and the API all come from its own origin.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
SECURITY_HEADERS = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff",
                    "Referrer-Policy": "no-referrer", "Cache-Control": "no-cache"}

#: The password hash of a sign-in name, or None when nobody signs in by that name.
Accounts = Callable[[Request, str], Awaitable[str | None]]


class Login(BaseModel):
    username: Annotated[str, Field(min_length=1, max_length=100)]
    password: Annotated[str, Field(min_length=1, max_length=200)]


class TokenOut(BaseModel):
    access_token: str
    token_type: str = "bearer"  # noqa: S105  # the OAuth2 token type, not a secret
    expires_in: int
    subject: str
    roles: list[str]


def static_asset(folder: Path, path: str) -> FileResponse:
    """A file under `folder`, never outside it (no `..`, no absolute paths, no symlinks out)."""
    root = folder.resolve()
    target = (root / path).resolve()
    if not target.is_relative_to(root) or not target.is_file():
        raise HTTPException(404, f"no asset {path}")
    return FileResponse(target, headers=SECURITY_HEADERS)


@dataclass(frozen=True)
class PageSignIn:
    """A page served at `/<name>` with its built assets, and its local sign-in at `POST /<name>/login`.

    The sign-in mints an HS256 token of `role` for `ttl_seconds`; refused with 503 when AUTH_MODE=oidc (the
    services would refuse that token: people sign in at the identity provider and paste its token) or when
    `configured` is false, and throttled by `throttle` (429 with Retry-After).
    """

    name: str
    static: Path
    role: str
    ttl_seconds: int
    accounts: Accounts
    summary: str
    refused: str = "unknown user or wrong password"
    unavailable: str = "AUTH_MODE=oidc: sign in at the identity provider"
    configured: bool = True
    not_configured: str = "local sign-in is not configured; paste a token instead"
    throttle: SignInThrottle = field(default_factory=SignInThrottle)

    def router(self, *, tags: list[str | Enum]) -> APIRouter:
        router = APIRouter(tags=tags)
        static, name = self.static, self.name

        @router.get(f"/{name}", response_class=FileResponse, summary=self.summary, openapi_extra=NO_DATABASE)
        async def page() -> FileResponse:
            return static_asset(static, "index.html")

        @router.get(f"/{name}/assets/{{path:path}}", response_class=FileResponse, include_in_schema=False)
        async def asset(path: str) -> FileResponse:
            return static_asset(static / "assets", path)

        @router.post(f"/{name}/login", response_model=TokenOut,
                     responses={401: {"description": self.refused},
                                429: {"description": "too many failed sign-ins for this name or client; Retry-After"},
                                503: {"description": self.unavailable}})
        async def login(request: Request, body: Login) -> TokenOut:
            return await self.sign_in(request, body)

        login.__doc__ = (f"Local sign-in: a `{self.role}` token for {self.ttl_seconds // 3600} hours. Refused with "
                         "503 when AUTH_MODE=oidc (the services would refuse the HS256 token it mints): sign in at "
                         "the provider.")
        return router

    async def sign_in(self, request: Request, body: Login) -> TokenOut:
        jwt_config = local_signing_config(request)
        if not self.configured:
            raise HTTPException(503, self.not_configured, headers=RETRY_AFTER_CONFIGURATION)
        client = request.client.host if request.client else None
        wait = self.throttle.retry_after(body.username, client)
        if wait is not None:
            log.info(f"{self.name}_login_throttled")
            raise HTTPException(429, "too many failed sign-ins; try again later", headers={"Retry-After": str(wait)})
        encoded = await self.accounts(request, body.username)
        valid = await self.throttle.check(body.password, encoded or dummy_hash())  # an unknown name costs the same
        if encoded is None or not valid:
            self.throttle.failed(body.username, client)
            log.info(f"{self.name}_login_refused")
            raise HTTPException(401, "unknown user or wrong password")
        self.throttle.succeeded(body.username)
        token = mint_token(jwt_config, subject=body.username, roles=[self.role], ttl_seconds=self.ttl_seconds)
        log.info(f"{self.name}_login")
        return TokenOut(access_token=token, expires_in=self.ttl_seconds, subject=body.username, roles=[self.role])
