"""The crisis center's HTTP API: `create_app(settings)` wires the routers (crises_api, stream_api, watch_api,
public_api, welfare_api, broadcasts_api, check_in_page and the dashboard); the lifespan owns the resources
(`bootstrap.api_resources`), which the routes reach through `deps.Deps`. The worker writes crises to PostgreSQL,
the API reads them there and publishes its own changes (manual activation, closing) through the same outbox."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import asyncpg
from fastapi import FastAPI

from services.crisis_center import (
    broadcasts_api,
    check_in_page,
    crises_api,
    handlers,
    public_api,
    stream_api,
    watch_api,
    welfare_api,
)
from services.crisis_center.bootstrap import api_resources
from services.crisis_center.dashboard.router import DashboardSettings, dashboard_router
from services.crisis_center.deps import ApiState, api_state
from services.crisis_center.public_cache import PublicCache
from services.crisis_center.settings import Settings
from shared.health import api_readiness
from shared.http import install_common

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


def _lifespan(settings: Settings, now: Callable[[], datetime]) -> Lifespan:
    public_cache = PublicCache(ttl=settings.public_cache_seconds, clock=time.monotonic)

    async def enrich(pool: asyncpg.Pool, data: dict[str, Any]) -> dict[str, Any]:
        """The stream carries the API's crisis shape (kind, severity, counts by source), not only the wire data.
        Called for every crisis change the feed reads: the public feeds' copies are stale from then on."""
        public_cache.clear()
        row = await handlers.get_crisis(pool=pool, crisis_id=str(data.get("crisis_id")))
        return crises_api.crisis_out(row).model_dump(mode="json") if row is not None else data

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with api_resources(settings, enrich=enrich) as resources:
            app.state.api = api_state(settings, resources, now=now, public_cache=public_cache)
            yield

    return lifespan


def create_app(settings: Settings, *, clock: Callable[[], datetime] | None = None) -> FastAPI:
    lifespan = _lifespan(settings, clock or (lambda: datetime.now(UTC)))
    app = FastAPI(title="crisis_center", version="1", lifespan=lifespan,
                  description="Crises: live headcount in incident areas, activation, hotlines, public CAP feed.")

    def pool() -> asyncpg.Pool | None:
        state: ApiState | None = getattr(app.state, "api", None)
        return state.pool if state is not None else None

    install_common(app, service="crisis_center", auth=settings,
                   readiness=api_readiness(pool, settings.kafka_bootstrap_servers))
    app.include_router(dashboard_router(DashboardSettings(
        dashboard_users=settings.dashboard_users, notifier_url=settings.notifier_url,
        dashboard_token_ttl_seconds=settings.dashboard_token_ttl_seconds)))
    app.include_router(welfare_api.router)
    app.include_router(broadcasts_api.router)
    app.include_router(check_in_page.router)
    app.include_router(stream_api.router)  # its fixed paths (/v1/crises/events...) before /v1/crises/{crisis_id}
    app.include_router(crises_api.router)
    app.include_router(watch_api.router)
    app.include_router(public_api.router)
    return app
