"""Fixtures of the feeds worker's tests: the local feed server in the test process (empty unless a test adds
events), a fresh schema and topic prefix, and workers on the real broker and database."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from prometheus_client import REGISTRY

from services.feeds.adapters.places import Places
from services.feeds.bootstrap import open_resources
from services.feeds.dev.feed_server import FeedServer
from services.feeds.settings import FeedsSettings
from services.feeds.worker import Worker
from shared.events.envelope import CloudEvent, decode
from shared.events.incidents import TOPIC
from shared.kafka.producer import make_producer
from tests.support import (
    bootstrap,
    database_url,
    eventually,
    new_pool,
    new_topic_prefix,
    schema_fixture,
    serve_stand_in,
)

PLACES = Places()  # loads the towns once for the whole session


@dataclass
class Feeds:
    """The local feed server, and a client to change it as a test goes."""

    url: str
    server: FeedServer
    http: aiohttp.ClientSession

    async def put(self, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        async with self.http.put(f"{self.url}/_dev/{path}", json=body or {}) as resp:
            assert resp.status == 200, await resp.text()
            result: dict[str, Any] = await resp.json()
            return result

    async def gdacs(self, kind: str, event_id: int | str, **fields: Any) -> dict[str, Any]:
        return await self.put(f"gdacs/events/{kind}/{event_id}", fields)

    async def usgs(self, event_id: str, **fields: Any) -> dict[str, Any]:
        return await self.put(f"usgs/events/{event_id}", fields)

    async def break_feed(self, feed: str, mode: str, **fields: Any) -> None:
        await self.put(f"{feed}/break", {"mode": mode, **fields})

    @property
    def gdacs_url(self) -> str:
        return f"{self.url}/gdacs/rss.xml"

    @property
    def usgs_url(self) -> str:
        return f"{self.url}/usgs/4.5_week.geojson"


@pytest.fixture
async def feeds() -> AsyncIterator[Feeds]:
    server = FeedServer(samples=False)
    async with serve_stand_in(server.build_app()) as (url, http):
        yield Feeds(url, server, http)


schema = schema_fixture("feeds", "function")


@pytest.fixture
async def prefix() -> str:
    return await new_topic_prefix()


@pytest.fixture
async def producer() -> AsyncIterator[AIOKafkaProducer]:
    producer = make_producer(bootstrap(), client_id="tests-feeds")
    await producer.start()
    yield producer
    await producer.stop()


def make_settings(*, schema: str, prefix: str, feeds: Feeds, **overrides: Any) -> FeedsSettings:
    values: dict[str, Any] = dict(
        database_url=database_url(), database_schema=schema, kafka_bootstrap_servers=bootstrap(),
        kafka_topic_prefix=prefix, gdacs_feed_url=feeds.gdacs_url, usgs_feed_url=feeds.usgs_url,
        feed_poll_seconds=0.2, feed_fetch_timeout_seconds=2.0, feed_retry_base_seconds=0.1,
        feed_retry_max_seconds=0.5, feed_absent_polls=1, database_pool_min=1, database_pool_max=5, health_port=0)
    values.update(overrides)
    return FeedsSettings(**values)


class Clock:
    """The workers' clock: the real one, moved on by `advance` (the TTL test)."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, delta: timedelta) -> None:
        self.offset += delta


@dataclass
class Env:
    settings: FeedsSettings
    feeds: Feeds
    producer: AIOKafkaProducer
    pool: asyncpg.Pool
    clock: Clock = field(default_factory=Clock)
    workers: list[Worker] = field(default_factory=list)

    @property
    def topic(self) -> str:
        return self.settings.topic(TOPIC)

    async def worker(self, *, relay: bool = True, lead: bool = False, **overrides: Any) -> Worker:
        """A worker on this schema; `lead=False`: its pollers do not run, the test calls `poll_once`."""
        settings = self.settings.model_copy(update=overrides) if overrides else self.settings
        resources = await open_resources(settings, places=PLACES)
        worker = Worker(settings, resources, self.producer, clock=self.clock, lead=lead)
        await worker.start(relay=relay)
        self.workers.append(worker)
        return worker

    async def stop(self, worker: Worker) -> None:
        self.workers.remove(worker)
        await worker.stop()
        await worker.resources.pool.close()

    async def outbox_empty(self) -> bool:
        return await self.pool.fetchval("SELECT count(*) FROM outbox") == 0

    async def published(self) -> list[CloudEvent]:
        """Every event on the topic once the outbox is drained (read up to the end offsets: no waiting)."""
        await eventually(self.outbox_empty, timeout=30)
        return await read_all(self.topic)

    async def source(self, source_id: str) -> asyncpg.Record | None:
        return await self.pool.fetchrow("SELECT * FROM sources WHERE source_id = $1", source_id)


async def read_all(topic: str) -> list[CloudEvent]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap(), group_id=None, enable_auto_commit=False,
                                auto_offset_reset="earliest", isolation_level="read_committed")
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or [])]
        if not partitions:
            await consumer._client.force_metadata_update()
            partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or [])]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        records = []
        while [tp for tp, end in ends.items() if await consumer.position(tp) < end]:
            batches = await consumer.getmany(timeout_ms=500)
            for batch in batches.values():
                records += [r for r in batch if r.offset < ends[TopicPartition(r.topic, r.partition)]]
        records.sort(key=lambda r: (r.timestamp, r.partition, r.offset))
        return [decode(r.value) for r in records]
    finally:
        await consumer.stop()


def types_of(events: list[CloudEvent], incident_id: str | None = None) -> list[str]:
    return [e.type.rsplit(".", 1)[-1] for e in events if incident_id is None or e.data["incident_id"] == incident_id]


def metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.fixture
async def env(schema: str, prefix: str, feeds: Feeds, producer: AIOKafkaProducer) -> AsyncIterator[Env]:
    pool = await new_pool(schema)
    environment = Env(make_settings(schema=schema, prefix=prefix, feeds=feeds), feeds, producer, pool)
    try:
        yield environment
    finally:
        for worker in list(environment.workers):
            await environment.stop(worker)
        await pool.close()

