"""The directory's HTTP API: `create_app(settings)` wires the routers (resolve_api, posts_api, changes_api); the
lifespan owns the pool, the snapshot and a producer (readiness only), which the routes reach through `deps.Deps`.
Public: posts and resolution. Admins and coordinators: changes to a post (audited)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from fastapi import FastAPI

from services.directory import changes_api, posts_api, resolve_api
from services.directory.bootstrap import open_resources
from services.directory.deps import ApiState
from services.directory.domain.model import InvalidQuery
from services.directory.resolve_cache import ResolveCache
from services.directory.settings import Settings
from shared.db import ping
from shared.http import install_common
from shared.kafka.admin import kafka_ping
from shared.kafka.producer import make_producer
from shared.kafka.security import client_security

DESCRIPTION = (
    "Belgian embassies and consulates, their consular jurisdiction, and which post (or EU member state's post) a "
    "Belgian abroad turns to. Data: Wikidata (CC0), official Belgian sources, GeoNames (CC BY 4.0). Opening hours "
    "and contacts are placeholders unless an admin set them."
)


async def _start_producer(settings: Settings) -> AIOKafkaProducer | None:
    """A started producer, or None when Kafka is down at start: the directory is served anyway; /readyz says so."""
    producer = make_producer(settings.kafka_bootstrap_servers, client_id="directory-api",
                             security=client_security(settings))
    try:
        await producer.start()
    except (KafkaError, OSError):
        return None
    return producer


def _lifespan(settings: Settings) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        resources = await open_resources(settings)
        producer = await _start_producer(settings)
        stop = asyncio.Event()
        app.state.api = ApiState(resources=resources, settings=settings, resolve_cache=ResolveCache(),
                                 producer=producer)
        refresher = asyncio.create_task(
            resources.snapshot.keep_fresh(resources.pool, settings.overrides_refresh_seconds, stop)
        )
        try:
            yield
        finally:
            stop.set()
            refresher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await refresher
            if producer is not None:
                await producer.stop()
            await resources.pool.close()

    return lifespan


def create_app(settings: Settings) -> FastAPI:
    app = FastAPI(title="Directory of Belgian posts", version="1", lifespan=_lifespan(settings),
                  description=DESCRIPTION)

    async def readiness() -> dict[str, bool]:
        state: ApiState | None = getattr(app.state, "api", None)
        producer = state.producer if state else None
        return {
            "database": bool(state and await ping(state.resources.pool)),
            "kafka": bool(producer is not None and await kafka_ping(producer)),
        }

    install_common(app, service="directory", auth=settings, readiness=readiness)
    app.add_exception_handler(InvalidQuery, resolve_api.invalid_query)
    app.include_router(resolve_api.router)
    app.include_router(posts_api.router)
    app.include_router(changes_api.router)
    return app
