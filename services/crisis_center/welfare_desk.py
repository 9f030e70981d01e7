"""The welfare desk beside the Faust worker: takes the due steps of every round and counts the answers.

A plain consumer of `welfare.answers` (deduplicated, dead-lettered like every other), one of `families.inquiries`
(the latest state of each inquiry of a family, for the counts: see `inquiries`) and a loop over due steps.
Several workers may run it: due rows are taken with `SKIP LOCKED`, and the outbox rows leave through the
relays the worker and the API already run.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import asyncpg
from prometheus_client import Counter

from services.crisis_center import inquiries, welfare
from services.crisis_center.domain.welfare import link_key
from services.crisis_center.records import Publishing
from services.crisis_center.settings import Settings
from shared.db import DATABASE_ERRORS, create_pool
from shared.events.envelope import CloudEvent, EventData
from shared.events.families import INQUIRIES_TOPIC, InquiryUpdated
from shared.events.welfare import ANSWERS_TOPIC, WelfareAnswered
from shared.kafka.consumer import EventConsumer
from shared.kafka.producer import make_producer
from shared.kafka.security import client_security
from shared.logging import get_logger

log = get_logger(__name__)

STEPS = Counter("crisis_welfare_steps_total", "Welfare steps taken (questions, reminders, calls, listings)")
ANSWERS = Counter("crisis_welfare_answers_total", "Welfare answers counted", ["answer"])
INQUIRIES = Counter("crisis_welfare_inquiries_total", "Inquiry states of families recorded", ["state"])
TRANSIENT = DATABASE_ERRORS


def links_for(settings: Settings) -> welfare.Links:
    return welfare.Links(key=link_key(settings.jwt_secret.get_secret_value()), base_url=settings.public_base_url,
                         valid_for=timedelta(days=settings.welfare_link_days))


class WelfareDesk:
    def __init__(self, settings: Settings, *, clock: Callable[[], datetime] | None = None,
                 pool: asyncpg.Pool | None = None) -> None:
        self.settings = settings
        self.now = clock or (lambda: datetime.now(UTC))
        self.publishing = Publishing(settings.source, settings.kafka_topic_prefix)
        self.links = links_for(settings)
        self.security = client_security(settings)
        self.producer = make_producer(settings.kafka_bootstrap_servers, client_id="crisis-welfare",
                                      security=self.security)
        self.pool = pool
        self._own_pool = pool is None
        self.consumer: EventConsumer | None = None
        self.inquiries: EventConsumer | None = None
        self._stopping = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    async def _on_answer(self, _: CloudEvent, data: EventData, conn: asyncpg.Connection | None) -> None:
        if isinstance(data, WelfareAnswered) and conn is not None and await welfare.record_answer(conn, data):
            ANSWERS.labels(data.answer).inc()

    async def _on_answers(self, batch: list[tuple[CloudEvent, EventData]], conn: asyncpg.Connection) -> None:
        answers = [data for _, data in batch if isinstance(data, WelfareAnswered)]
        await welfare.record_answers(answers, conn)
        for answer in answers:
            ANSWERS.labels(answer.answer).inc()

    async def _on_inquiry(self, _: CloudEvent, data: EventData, conn: asyncpg.Connection | None) -> None:
        if isinstance(data, InquiryUpdated) and conn is not None:
            await inquiries.record_inquiries([data], conn)
            INQUIRIES.labels(data.state).inc()

    async def _on_inquiry_tombstone(self, _: str, sought_id: str, conn: asyncpg.Connection | None) -> None:
        if conn is not None:  # always: the consumer has the pool
            await inquiries.forget_inquiry(conn, sought_id)

    async def start(self) -> None:
        settings = self.settings
        if self.pool is None:
            self.pool = await create_pool(settings.database_url, settings.db_schema, min_size=1, max_size=4)
        await self.producer.start()
        self.consumer = EventConsumer(
            name="crisis-welfare", bootstrap_servers=settings.kafka_bootstrap_servers,
            group_id=f"{settings.kafka_topic_prefix}crisis-center-welfare", topics=[ANSWERS_TOPIC],
            handler=self._on_answer, batch_handler=self._on_answers, producer=self.producer, pool=self.pool,
            topic_prefix=settings.kafka_topic_prefix, batch_size=2000, security=self.security)
        # Event by event, not in batches: a tombstone must not overtake the states before it (the batch path
        # handles a polled batch's tombstones ahead of its events), and inquiries change a few times a day each.
        self.inquiries = EventConsumer(
            name="crisis-inquiries", bootstrap_servers=settings.kafka_bootstrap_servers,
            group_id=f"{settings.kafka_topic_prefix}crisis-center-inquiries", topics=[INQUIRIES_TOPIC],
            handler=self._on_inquiry, on_tombstone=self._on_inquiry_tombstone, producer=self.producer,
            pool=self.pool, topic_prefix=settings.kafka_topic_prefix, security=self.security)
        await self.consumer.start()
        await self.inquiries.start()
        self._tasks = [asyncio.create_task(self.consumer.run(), name="crisis-welfare-answers"),
                       asyncio.create_task(self.inquiries.run(), name="crisis-welfare-inquiries"),
                       asyncio.create_task(self.run_steps(), name="crisis-welfare-steps")]

    def tasks(self) -> list[asyncio.Task[None]]:
        return list(self._tasks)

    async def step_once(self) -> int:
        """Take the due steps, batch after batch, until none is due; how many were taken."""
        assert self.pool is not None
        taken = 0
        while not self._stopping.is_set():
            done = await welfare.take_due_steps(pool=self.pool, now=self.now(), batch=self.settings.welfare_batch,
                                                can_call=self.settings.welfare_calls, links=self.links,
                                                publishing=self.publishing)
            STEPS.inc(done)
            taken += done
            if done < self.settings.welfare_batch:
                break
        return taken

    async def run_steps(self) -> None:
        while not self._stopping.is_set():
            try:
                await self.step_once()
            except TRANSIENT as exc:
                log.warning("welfare_steps_error", error=type(exc).__name__)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=self.settings.welfare_poll_seconds)

    async def stop(self) -> None:
        self._stopping.set()
        for consumer in (self.consumer, self.inquiries):
            if consumer is not None:
                await consumer.stop()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.producer.stop()
        if self._own_pool and self.pool is not None:
            await self.pool.close()
