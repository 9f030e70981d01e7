"""The directory's worker: routes `consular.reports` to posts, relays the outbox, keeps the snapshot fresh."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime

import asyncpg
from aiokafka import AIOKafkaProducer

from services.directory import handlers, privacy
from services.directory.bootstrap import Resources
from services.directory.settings import Settings
from shared.events.envelope import CloudEvent, EventData
from shared.events.reports import ReportSubmitted
from shared.kafka.consumer import EventConsumer, Handler, PermanentError
from shared.kafka.outbox import OutboxRelay
from shared.kafka.security import client_security

TOPICS = ("consular.reports",)


def make_handler(settings: Settings, resources: Resources) -> Handler:
    async def handle(event: CloudEvent, data: EventData, conn: asyncpg.Connection | None) -> None:
        if conn is None:
            raise PermanentError("the router needs a database transaction")
        if isinstance(data, ReportSubmitted):
            await handlers.route_report(
                conn=conn,
                snapshot=resources.snapshot,
                event=event,
                data=data,
                routed_sources=settings.routed_sources,
                source=settings.source,
                topic_prefix=settings.kafka_topic_prefix,
                now=datetime.now(UTC),
            )

    return handle


class Worker:
    def __init__(self, settings: Settings, resources: Resources, producer: AIOKafkaProducer) -> None:
        self.settings = settings
        self.resources = resources
        security = client_security(settings)
        self.consumer = EventConsumer(
            name="directory-router",
            bootstrap_servers=settings.kafka_bootstrap_servers,
            group_id=f"{settings.kafka_topic_prefix}directory",
            topics=list(TOPICS),
            handler=make_handler(settings, resources),
            producer=producer,
            pool=resources.pool,
            topic_prefix=settings.kafka_topic_prefix,
            security=security,
        )
        self.privacy = privacy.make_consumer(
            bootstrap_servers=settings.kafka_bootstrap_servers, topic_prefix=settings.kafka_topic_prefix,
            source=settings.source, pool=resources.pool, producer=producer, security=security)
        self.relay = OutboxRelay(pool=resources.pool, producer=producer, schema=settings.db_schema)
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    def tasks(self) -> list[asyncio.Task[None]]:
        """The long-running tasks, for liveness (shared/health.py)."""
        return list(self._tasks)

    async def start(self) -> None:
        await self.consumer.start()
        await self.privacy.start()
        self._tasks = [
            asyncio.create_task(self.consumer.run(), name="directory-router"),
            asyncio.create_task(self.privacy.run(), name="directory-privacy"),
            asyncio.create_task(self.relay.run(), name="directory-outbox-relay"),
            asyncio.create_task(
                self.resources.snapshot.keep_fresh(
                    self.resources.pool, self.settings.overrides_refresh_seconds, self._stop
                ),
                name="directory-snapshot",
            ),
        ]

    async def stop(self) -> None:
        self._stop.set()
        self.relay.stop()
        await self.consumer.stop()
        await self.privacy.stop()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
