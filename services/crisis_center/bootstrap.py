"""The composition root of the crisis center's API: opens (and closes, in reverse) the pool, the producer, the
outbox relay and the live feed from the settings. Nothing is built at import."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import asyncpg

from services.crisis_center.adapters.feed import CrisisFeed
from services.crisis_center.settings import Settings
from shared.db import create_pool
from shared.kafka.outbox import OutboxRelay
from shared.kafka.producer import make_producer
from shared.kafka.security import client_security

#: Turns a crisis change read from `crisis.status` into what the live stream carries.
Enrich = Callable[[asyncpg.Pool, dict[str, Any]], Awaitable[dict[str, Any]]]


@dataclass
class Resources:
    pool: asyncpg.Pool
    feed: CrisisFeed
    relay: OutboxRelay
    relay_task: asyncio.Task[None]
    producer: Any


@asynccontextmanager
async def api_resources(settings: Settings, *, enrich: Enrich) -> AsyncIterator[Resources]:
    """The API's resources for the time of the block: its outbox relay runs in the background meanwhile."""
    pool = await create_pool(settings.database_url, settings.db_schema, min_size=1,
                             max_size=settings.database_pool_max)
    security = client_security(settings)
    producer = make_producer(settings.kafka_bootstrap_servers, client_id="crisis-center-api", security=security)
    await producer.start()
    relay = OutboxRelay(pool=pool, producer=producer, schema=settings.db_schema)

    async def enriched(data: dict[str, Any]) -> dict[str, Any]:
        return await enrich(pool, data)

    feed = CrisisFeed(bootstrap_servers=settings.kafka_bootstrap_servers, topic=settings.topic("crisis.status"),
                      enrich=enriched, security=security)
    await feed.start()
    resources = Resources(pool, feed, relay, asyncio.create_task(relay.run()), producer)
    try:
        yield resources
    finally:
        relay.stop()
        await asyncio.gather(resources.relay_task, return_exceptions=True)
        await feed.stop()
        await producer.stop()
        await pool.close()
