"""Intake's HTTP API: `create_app(settings)` wires the routers (reports_api, case_api, staff_api, letters_api,
twilio_api, pfif_api, the survey page and the console); the lifespan owns the pool and the resources every
route reaches through `deps.Deps`."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime

import asyncpg
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from services.intake import pfif_api, reports_api, survey_page, twilio_api
from services.intake.adapters import staff
from services.intake.bootstrap import Resources, open_resources, utc_now
from services.intake.case_api import router as case_router
from services.intake.console.router import ConsoleSettings, console_router
from services.intake.deps import resources
from services.intake.domain.officers import NoOfficer
from services.intake.letters_api import router as letters_router
from services.intake.settings import Settings
from services.intake.staff_api import router as staff_router
from shared.health import api_readiness
from shared.http import install_common
from shared.logging import get_logger

log = get_logger(__name__)


async def no_officer(_: Request, __: Exception) -> JSONResponse:
    log.error("no_officer_configured")  # a deployment without any officer: nobody could own the case
    return JSONResponse({"detail": "no officer is configured to take cases; try again later"}, status_code=503,
                        headers={"Retry-After": "60"})


async def officer_account(request: Request, login: str) -> str | None:
    """The console's sign-in: the password hash an admin set for an active officer's sign-in name."""
    found: Resources = await resources(request)
    async with found.pool.acquire() as conn:
        return await staff.password_hash(conn, login)


def create_app(settings: Settings, *, clock: Callable[[], datetime] | None = None) -> FastAPI:
    """The app; `clock` (default: now in UTC) decides office hours and deadlines, so tests can place a call or a
    case at any time."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.resources = await open_resources(settings, now=clock or utc_now)
        try:
            yield
        finally:
            await app.state.resources.pool.close()

    app = FastAPI(title="intake", version="1", lifespan=lifespan,
                  description="Distress reports from officers, external systems, SMS and the 24/7 voice line.")

    def pool() -> asyncpg.Pool | None:
        found: Resources | None = getattr(app.state, "resources", None)
        return found.pool if found is not None else None

    app.state.public_base_url = settings.public_base_url
    install_common(app, service="intake", auth=settings,
                   readiness=api_readiness(pool, settings.kafka_bootstrap_servers))
    app.add_exception_handler(NoOfficer, no_officer)
    app.include_router(staff_router)
    app.include_router(case_router)
    app.include_router(letters_router)
    app.include_router(survey_page.router)
    app.include_router(pfif_api.router)
    app.include_router(console_router(ConsoleSettings(console_token_ttl_seconds=settings.console_token_ttl_seconds),
                                      officer_account))
    app.include_router(reports_api.router)
    app.include_router(twilio_api.router)
    return app
