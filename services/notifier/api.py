"""The notifier's HTTP API: `create_app(settings)` wires the routers (twilio_api: Twilio's status callbacks and
inbound SMS, signed; notifications_api: delivery progress); the lifespan owns the resources, which the routes reach
through `deps.Deps`."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from fastapi import FastAPI

from services.notifier import notifications_api, twilio_api
from services.notifier.bootstrap import open_resources
from services.notifier.deps import ApiState
from services.notifier.settings import NotifierSettings
from shared.db import ping
from shared.http import install_common


async def broker_reachable(bootstrap_servers: str) -> bool:
    """The API publishes through the outbox (the worker's relay sends), so a TCP answer from a broker is enough."""
    for server in bootstrap_servers.split(","):
        host, _, port = server.strip().rpartition(":")
        try:
            _, writer = await asyncio.wait_for(asyncio.open_connection(host or "127.0.0.1", int(port)), 2)
        except (OSError, TimeoutError, ValueError):
            continue
        writer.close()
        return True
    return False


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

    async def readiness() -> dict[str, bool]:
        state: ApiState | None = getattr(app.state, "api", None)
        database = state is not None and await ping(state.resources.pool)
        return {"database": database, "kafka": await broker_reachable(settings.kafka_bootstrap_servers)}

    install_common(app, service="notifier", auth=settings, readiness=readiness)
    app.include_router(twilio_api.router)
    app.include_router(notifications_api.router)
    return app
