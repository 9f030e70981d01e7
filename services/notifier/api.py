"""The notifier's HTTP API: `create_app(settings)` wires the routers (twilio_api: Twilio's status callbacks and
inbound SMS, signed; notifications_api: delivery progress); the lifespan owns the resources, which the routes reach
through `deps.Deps`."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import asyncpg
from fastapi import FastAPI

from services.notifier import notifications_api, twilio_api
from services.notifier.bootstrap import open_resources
from services.notifier.deps import ApiState
from services.notifier.settings import NotifierSettings
from shared.health import api_readiness
from shared.http import install_common


def _lifespan(settings: NotifierSettings) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        resources = await open_resources(settings)
        app.state.api = ApiState(resources=resources, settings=settings)
        try:
            yield
        finally:
            await resources.pool.close()

    return lifespan


def create_app(settings: NotifierSettings) -> FastAPI:
    app = FastAPI(title="notifier", version="1.0.0", lifespan=_lifespan(settings),
                  description="SMS (Twilio) and e-mail notifications: receipts and delivery progress.")
    app.state.settings = settings  # before the lifespan too (tests sign Twilio's requests with its base URL)

    def pool() -> asyncpg.Pool | None:
        state: ApiState | None = getattr(app.state, "api", None)
        return state.resources.pool if state is not None else None

    install_common(app, service="notifier", auth=settings,
                   readiness=api_readiness(pool, settings.kafka_bootstrap_servers))
    app.include_router(twilio_api.router)
    app.include_router(notifications_api.router)
    return app
