"""The consumer loop every service uses: validate, deduplicate, handle, commit; poison to the DLQ.

- A message that cannot be decoded or validated, or whose handler raises `PermanentError` (or a ValueError),
  goes to `<topic>.dlq` with the original bytes and the reason in headers; the loop goes on.
- With a pool, the event id is recorded in `processed_events` in the same transaction as the handler's effect,
  so a redelivered event has no second effect.
- Infrastructure errors (database or network down) and lost races (SQLSTATE 40: deadlock, serialization
  failure) are retried without limit: the message is sought back and
  polling continues, so the consumer keeps its place in the group and nothing is lost. Any other error is
  retried a bounded number of times, then dead-lettered.
- Offsets are committed after the batch they belong to is handled (at-least-once).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.errors import CommitFailedError, KafkaError
from prometheus_client import Counter

from shared.db import DATABASE_UNREACHABLE
from shared.events.envelope import CloudEvent, EventData, InvalidEvent, decode, describe_failure
from shared.events.registry import parse_data
from shared.kafka.dlq import dead_letter_headers
from shared.logging import bind_traceparent, get_logger
from shared.topics import dlq_name

log = get_logger(__name__)

Handler = Callable[[CloudEvent, EventData, asyncpg.Connection | None], Awaitable[None]]
#: How long a consumer remembers the event ids it handled: longer than any redelivery (topic retention, 7 days) or
#: replay from a dead-letter topic (30 days) can bring one back.
PROCESSED_EVENTS_DAYS = 35.0
PRUNE_INTERVAL_SECONDS = 3600.0

#: Handles the new events of one polled batch in one transaction (with `pool`); see `EventConsumer`.
BatchHandler = Callable[[list[tuple[CloudEvent, EventData]], asyncpg.Connection], Awaitable[None]]
#: Called for a compaction tombstone (null value) with the topic (unprefixed), the key and a connection.
TombstoneHandler = Callable[[str, str, asyncpg.Connection | None], Awaitable[None]]

EVENTS = Counter("consumer_events_total", "Events seen by a consumer, by outcome", ["consumer", "topic", "outcome"])

TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    *DATABASE_UNREACHABLE,
    asyncpg.TransactionRollbackError,  # SQLSTATE 40: a deadlock or serialization failure; another try will do
    KafkaError,
)


class PermanentError(Exception):
    """The event is well-formed but can never be handled (e.g. it refers to something that cannot exist)."""


YIELD_EVERY = 64
"""Records decoded between two turns of the event loop: a batch of 500 decoded at once held the loop for tens of
milliseconds, and the notifier's paced senders in the same process lost their slots meanwhile."""


class _Transient(Exception):
    pass


def header(record: ConsumerRecord[Any, Any], name: str) -> str | None:
    for key, value in record.headers or ():
        if key == name and value is not None:
            return bytes(value).decode(errors="replace")
    return None


class EventConsumer:
    def __init__(
        self,
        *,
        name: str,
        bootstrap_servers: str,
        group_id: str,
        topics: Sequence[str],
        handler: Handler,
        producer: AIOKafkaProducer,
        pool: asyncpg.Pool | None = None,
        topic_prefix: str = "",
        max_attempts: int = 3,
        batch_size: int = 200,
        on_tombstone: TombstoneHandler | None = None,
        batch_handler: BatchHandler | None = None,
        keep_processed_days: float = PROCESSED_EVENTS_DAYS,
        security: Mapping[str, Any] | None = None,
    ) -> None:
        """With `batch_handler` (and a pool), each polled batch of a partition is deduplicated and handled in one
        transaction (a busy topic such as `welfare.answers`: one round trip per batch, not per event); if that
        fails for any reason but an outage, the batch is handled again event by event with `handler`, so a
        poison event is isolated and dead-lettered as always. `security`: `client_security(settings)` of the
        process (shared/kafka/security.py); omitted, PLAINTEXT."""
        self.name = name
        self._prefix = topic_prefix
        self._topics = [topic_prefix + t for t in topics]
        self._handler = handler
        self._on_tombstone = on_tombstone
        self._batch_handler = batch_handler if pool is not None else None
        self._producer = producer
        self._pool = pool
        self._max_attempts = max_attempts
        self._batch_size = batch_size
        self._consumer = AIOKafkaConsumer(
            *self._topics,
            **(security or {}),
            bootstrap_servers=bootstrap_servers,
            group_id=group_id,
            client_id=name,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            isolation_level="read_committed",
            max_poll_interval_ms=300_000,
        )
        self._stopping = asyncio.Event()
        self._started = False
        self._keep_processed = timedelta(days=keep_processed_days)
        self._next_prune = 0.0

    async def start(self) -> None:
        if not self._started:
            await self._consumer.start()
            self._started = True

    async def stop(self) -> None:
        self._stopping.set()
        await self._consumer.stop()

    async def _unless_stopped(self, step: Awaitable[None]) -> bool:
        """Await `step` unless `stop()` comes first (then cancel it): False when stopped. aiokafka's `start()` still
        waiting for its topics or its first assignment when its consumer is stopped waits for ever, and a worker
        stopped just after it started never ended (a test's teardown hung in the worker's gather)."""
        running = asyncio.ensure_future(step)
        stopping = asyncio.ensure_future(self._stopping.wait())
        try:
            await asyncio.wait({running, stopping}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopping.cancel()
            if not running.done():
                running.cancel()
                await asyncio.gather(running, return_exceptions=True)
        if running.cancelled():
            return False
        running.result()  # a step that failed raises here, as before
        return not self._stopping.is_set()

    def in_group(self) -> bool:
        """Started, not stopping, and a member of its group with a settled assignment (for /readyz). The
        assignment may be empty when the group has more members than the topics have partitions."""
        if not self._started or self._stopping.is_set():
            return False
        subscription = self._consumer._subscription.subscription  # aiokafka has no public "joined" state
        return subscription is not None and subscription.assignment is not None

    async def run(self) -> None:
        """Start (if needed) and consume until `stop()`."""
        if not await self._unless_stopped(self.start()):
            return
        backoff = 0.2
        while not self._stopping.is_set():
            try:
                batches = await self._consumer.getmany(timeout_ms=500, max_records=self._batch_size)
            except KafkaError as exc:
                log.warning("poll_failed", consumer=self.name, error=type(exc).__name__)
                await asyncio.sleep(1)
                continue
            done: dict[TopicPartition, int] = {}
            failed = False
            for tp, records in batches.items():
                if self._batch_handler is not None and records:
                    try:
                        await self._handle_batch(records)
                    except _Transient:
                        self._consumer.seek(tp, records[0].offset)
                        failed = True
                        continue
                    done[tp] = records[-1].offset + 1
                    continue
                for record in records:
                    try:
                        await self._handle_record(record)
                    except _Transient:
                        self._consumer.seek(tp, record.offset)
                        failed = True
                        break
                    done[tp] = record.offset + 1
            if done:
                try:
                    await self._consumer.commit(done)
                except (CommitFailedError, KafkaError) as exc:
                    log.warning("commit_failed", consumer=self.name, error=type(exc).__name__)
            if failed:
                await asyncio.sleep(backoff + random.uniform(0, backoff))
                backoff = min(backoff * 2, 10.0)
            else:
                backoff = 0.2
            if self._pool is not None and time.monotonic() >= self._next_prune:
                self._next_prune = time.monotonic() + PRUNE_INTERVAL_SECONDS
                await self.prune_processed()

    async def prune_processed(self) -> int:
        """Forget the event ids this consumer handled longer ago than it keeps them (a redelivery comes within the
        topics' retention; a replay from a dead-letter topic within its 30 days), a few thousand rows at a time so
        that no lock is held for long. Returns how many were forgotten."""
        assert self._pool is not None
        cutoff = datetime.now(UTC) - self._keep_processed
        forgotten = 0
        try:
            while True:
                status = await self._pool.execute(
                    "DELETE FROM processed_events WHERE ctid = ANY(ARRAY(SELECT ctid FROM processed_events"
                    " WHERE consumer = $1 AND processed_at < $2 LIMIT 5000))", self.name, cutoff)
                removed = int(status.split()[-1])
                forgotten += removed
                if removed < 5000:
                    break
        except TRANSIENT_ERRORS as exc:
            log.warning("prune_failed", consumer=self.name, error=type(exc).__name__)
        if forgotten:
            log.info("processed_events_pruned", consumer=self.name, rows=forgotten)
        return forgotten

    async def _handle_record(self, record: ConsumerRecord[Any, Any]) -> None:
        topic = record.topic.removeprefix(self._prefix)
        if record.value is None and record.key is not None and self._on_tombstone is not None:
            await self._tombstone(record, topic)
            return
        try:
            event = decode(record.value)
            data = parse_data(event, topic=topic)
        except InvalidEvent as exc:
            await self._dead_letter(record, str(exc))
            return
        bind_traceparent(header(record, "traceparent") or event.traceparent)
        for attempt in range(1, self._max_attempts + 1):
            try:
                await self._apply(event, data)
                EVENTS.labels(self.name, topic, "handled").inc()
                return
            except (PermanentError, InvalidEvent, ValueError) as exc:
                await self._dead_letter(record, describe_failure(exc))
                return
            except TRANSIENT_ERRORS as exc:
                log.warning("handler_transient_error", consumer=self.name, event_id=event.id,
                            error=type(exc).__name__)
                EVENTS.labels(self.name, topic, "retried").inc()
                raise _Transient from exc
            except Exception as exc:
                log.warning("handler_failed", consumer=self.name, event_id=event.id, attempt=attempt,
                            error=type(exc).__name__)
                if attempt == self._max_attempts:
                    await self._dead_letter(record, f"handler failed {attempt} times: {describe_failure(exc)}")
                    return
                await asyncio.sleep(0.1 * 2**attempt)

    async def _handle_batch(self, records: Sequence[ConsumerRecord[Any, Any]]) -> None:
        """The batch in runs between tombstones, in order: a tombstone deletes what the events before it wrote,
        never what comes after it."""
        run: list[ConsumerRecord[Any, Any]] = []
        for record in records:
            if record.value is None:  # tombstones are rare: their own path, after the events before them
                await self._handle_run(run)
                run = []
                await self._handle_record(record)
            else:
                run.append(record)
        await self._handle_run(run)

    async def _handle_run(self, records: Sequence[ConsumerRecord[Any, Any]]) -> None:
        assert self._batch_handler is not None and self._pool is not None
        parsed: list[tuple[CloudEvent, EventData]] = []
        parsed_records: list[ConsumerRecord[Any, Any]] = []
        for index, record in enumerate(records, 1):
            if index % YIELD_EVERY == 0:
                await asyncio.sleep(0)
            topic = record.topic.removeprefix(self._prefix)
            try:
                event = decode(record.value)
                parsed.append((event, parse_data(event, topic=topic)))
                parsed_records.append(record)
            except InvalidEvent as exc:
                await self._dead_letter(record, str(exc))
        if not parsed:
            return
        try:
            async with self._pool.acquire() as conn, conn.transaction():
                fresh = set(await conn.fetchval(
                    "WITH new AS (INSERT INTO processed_events(consumer, event_id) SELECT $1, unnest($2::text[])"
                    " ON CONFLICT DO NOTHING RETURNING event_id) SELECT coalesce(array_agg(event_id), '{}') FROM new",
                    self.name, [f"{e.source}|{e.id}" for e, _ in parsed]))
                new: list[tuple[CloudEvent, EventData]] = []
                for event, data in parsed:
                    key = f"{event.source}|{event.id}"
                    if key in fresh:
                        fresh.discard(key)  # the same event twice in one batch: once
                        new.append((event, data))
                if new:
                    await self._batch_handler(new, conn)
        except TRANSIENT_ERRORS as exc:
            log.warning("batch_transient_error", consumer=self.name, error=type(exc).__name__)
            raise _Transient from exc
        except Exception as exc:  # one bad event spoils the batch: handle them one by one to find it
            log.warning("batch_failed", consumer=self.name, error=type(exc).__name__, events=len(parsed))
            for record in parsed_records:
                await self._handle_record(record)
            return
        topic = records[0].topic.removeprefix(self._prefix)
        EVENTS.labels(self.name, topic, "handled").inc(len(parsed))

    async def _tombstone(self, record: ConsumerRecord[Any, Any], topic: str) -> None:
        """A tombstone has no event id to deduplicate by: its handler must be idempotent (a delete is)."""
        assert self._on_tombstone is not None
        key = bytes(record.key).decode(errors="replace")
        try:
            if self._pool is None:
                await self._on_tombstone(topic, key, None)
            else:
                async with self._pool.acquire() as conn, conn.transaction():
                    await self._on_tombstone(topic, key, conn)
        except TRANSIENT_ERRORS as exc:
            log.warning("tombstone_transient_error", consumer=self.name, error=type(exc).__name__)
            raise _Transient from exc
        except Exception as exc:
            await self._dead_letter(record, f"tombstone handler failed: {describe_failure(exc)}")
            return
        EVENTS.labels(self.name, topic, "tombstone").inc()

    async def _apply(self, event: CloudEvent, data: EventData) -> None:
        if self._pool is None:
            await self._handler(event, data, None)
            return
        async with self._pool.acquire() as conn, conn.transaction():
            first_time = await conn.fetchval(
                "INSERT INTO processed_events(consumer, event_id) VALUES ($1, $2)"
                " ON CONFLICT DO NOTHING RETURNING true",
                self.name,
                f"{event.source}|{event.id}",
            )
            if not first_time:
                EVENTS.labels(self.name, data.TOPIC, "duplicate").inc()
                return
            await self._handler(event, data, conn)

    async def _dead_letter(self, record: ConsumerRecord[Any, Any], reason: str) -> None:
        topic = record.topic.removeprefix(self._prefix)
        log.warning("dead_lettered", consumer=self.name, topic=topic, offset=record.offset, reason=reason[:300])
        EVENTS.labels(self.name, topic, "dead_lettered").inc()
        headers = dead_letter_headers(record.headers or (), reason=reason, topic=topic, partition=record.partition,
                                      offset=record.offset, consumer=self.name)
        await self._producer.send_and_wait(
            self._prefix + dlq_name(topic), record.value, key=record.key, headers=headers
        )
