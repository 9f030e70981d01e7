"""Transactional outbox: `enqueue` inside the caller's transaction; `OutboxRelay` drains it to Kafka.

The relay takes a batch with `FOR UPDATE SKIP LOCKED` (replicas share the work), sends every row with the
idempotent producer, waits for all acknowledgements, then deletes the rows in the same transaction. A relay
killed mid-batch leaves its rows in place; they are sent again and consumers drop the duplicates by event id.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg
from aiokafka import AIOKafkaProducer
from aiokafka.errors import InvalidTopicError, KafkaError, MessageSizeTooLargeError
from prometheus_client import Counter
from pydantic_core import to_json

from shared.events.envelope import EventData, encode_new_event
from shared.kafka.producer import event_headers
from shared.logging import current_traceparent, get_logger

log = get_logger(__name__)

RELAYED = Counter("outbox_relayed_total", "Outbox rows published to Kafka", ["schema"])
DEAD = Counter("outbox_dead_total", "Outbox rows the broker can never take, moved to outbox_dead", ["schema"])
#: What `send` raises for a record that can never be sent (checked before it leaves): to `outbox_dead`.
UNSENDABLE: tuple[type[Exception], ...] = (MessageSizeTooLargeError, InvalidTopicError)


@dataclass(frozen=True)
class OutboxRow:
    """One row of the outbox, built but not written (for services that write it in a statement of their own)."""

    event_id: str
    topic: str
    key: str
    payload: bytes
    headers: dict[str, str]

    @property
    def headers_json(self) -> str:
        return to_json(self.headers).decode()


def prepare(data: EventData, *, source: str, topic_prefix: str = "", event_id: str | None = None) -> OutboxRow:
    """The row `enqueue` writes: the CloudEvent with the current traceparent, its topic, key and headers."""
    event_id = event_id or str(uuid.uuid4())
    traceparent = current_traceparent()
    payload = encode_new_event(data, source=source, event_id=event_id, traceparent=traceparent)
    return OutboxRow(event_id=event_id, topic=topic_prefix + data.TOPIC, key=data.key(), payload=payload,
                     headers={k: v.decode() for k, v in event_headers(data.TYPE, traceparent)})


async def enqueue(
    conn: asyncpg.Connection,
    data: EventData,
    *,
    source: str,
    topic_prefix: str = "",
    event_id: str | None = None,
) -> str:
    """Record an event to publish; call inside the transaction that makes the change it describes. Returns the
    event's id."""
    row = prepare(data, source=source, topic_prefix=topic_prefix, event_id=event_id)
    await conn.execute(_INSERT_ROW, row.event_id, row.topic, row.key, row.payload, row.headers)
    return row.event_id


async def enqueue_many(conn: asyncpg.Connection, rows: Sequence[OutboxRow]) -> None:
    """Record prepared events in one statement and one round trip (a crisis activation writes hundreds), in the
    order given (the relay publishes by outbox id); a row whose event id is there already is skipped."""
    if len(rows) == 1:
        row = rows[0]
        await conn.execute(_INSERT_ROW, row.event_id, row.topic, row.key, row.payload, row.headers)
    elif rows:
        await conn.execute(_INSERT_ROWS, [r.event_id for r in rows], [r.topic for r in rows],
                           [r.key for r in rows], [r.payload for r in rows], [r.headers_json for r in rows])


_INSERT_ROW = ("INSERT INTO outbox(event_id, topic, key, payload, headers) VALUES ($1, $2, $3, $4, $5::jsonb)"
               " ON CONFLICT (event_id) DO NOTHING")
_INSERT_ROWS = ("INSERT INTO outbox (event_id, topic, key, payload, headers)"
                " SELECT e, t, k, p, h::jsonb FROM unnest($1::text[], $2::text[], $3::text[], $4::bytea[], $5::text[])"
                " WITH ORDINALITY AS r(e, t, k, p, h, position) ORDER BY position ON CONFLICT (event_id) DO NOTHING")


class OutboxRelay:
    def __init__(
        self,
        *,
        pool: asyncpg.Pool,
        producer: AIOKafkaProducer,
        schema: str,
        batch_size: int = 500,
        poll_interval: float = 1.0,
    ) -> None:
        self._pool = pool
        self._producer = producer
        self._schema = schema
        self._batch_size = batch_size
        self._poll_interval = poll_interval
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._lock_key = int.from_bytes(hashlib.sha256(f"outbox:{schema}".encode()).digest()[:8], "big",
                                        signed=True)

    async def drain_once(self) -> int:
        """Publish one batch; returns how many rows were published (0 also while another relay is publishing).

        One relay at a time per outbox (a transaction-level advisory lock): relays publishing disjoint batches in
        parallel let a key's events overtake each other (a `crisis.updated` behind its `crisis.closed`). The lock
        is the database's, so it holds across processes, and it goes with the transaction if a relay dies."""
        async with self._pool.acquire() as conn, conn.transaction():
            if not await conn.fetchval("SELECT pg_try_advisory_xact_lock($1)", self._lock_key):
                return 0
            rows = await conn.fetch(
                "SELECT id, topic, key, payload, headers FROM outbox ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED",
                self._batch_size,
            )
            if not rows:
                return 0
            pending = []
            for row in rows:
                try:
                    pending.append(await self._producer.send(
                        row["topic"], bytes(row["payload"]), key=row["key"].encode(),
                        headers=[(k, str(v).encode()) for k, v in row["headers"].items()]))
                except UNSENDABLE as exc:  # refused before leaving: it never will, so it must not block the rest
                    await conn.execute(
                        "INSERT INTO outbox_dead (id, event_id, topic, key, payload, headers, created_at, reason)"
                        " SELECT id, event_id, topic, key, payload, headers, created_at, $2 FROM outbox WHERE id = $1"
                        " ON CONFLICT (id) DO NOTHING", row["id"], f"{type(exc).__name__}: {exc}"[:500])
                    DEAD.labels(self._schema).inc()
                    log.error("outbox_row_unsendable", schema=self._schema, outbox_id=row["id"], topic=row["topic"],
                              error=type(exc).__name__)
            await asyncio.gather(*pending)
            await conn.execute("DELETE FROM outbox WHERE id = ANY($1::bigint[])", [row["id"] for row in rows])
        RELAYED.labels(self._schema).inc(len(pending))
        return len(rows)

    async def drain(self) -> int:
        total = 0
        while (n := await self.drain_once()) > 0:
            total += n
        return total

    async def final_drain(self) -> None:
        """A worker's last step, once its tasks (the relay's `run` among them) have ended: publish what the outbox
        still holds. A failure is logged, not raised: the rows stay for the next start."""
        try:
            await self.drain()
        except Exception as exc:
            log.warning("final_drain_failed", error=type(exc).__name__)

    def _on_notify(self, *_: object) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()

    async def run(self) -> None:
        """Drain whenever a row commits (LISTEN/NOTIFY) and at least every poll interval."""
        listener: asyncpg.Connection | None = None
        channel = f"{self._schema}_outbox"
        try:
            while not self._stopping.is_set():
                try:
                    if listener is not None and listener.is_closed():  # the database went away: give it back
                        await self._release(listener)
                        listener = None
                    if listener is None:
                        listener = await self._pool.acquire()
                        await listener.add_listener(channel, self._on_notify)
                    # Cleared before draining: a row committed during the drain wakes the next round.
                    self._wake.clear()
                    await self.drain()
                except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError, KafkaError) as exc:
                    log.warning("outbox_relay_error", schema=self._schema, error=type(exc).__name__)
                    await self._after_error(listener)
                    listener = None
                    continue
                except Exception as exc:
                    # The relay must outlive anything: a dead relay task strands every later row (seen in the
                    # chaos test after PostgreSQL and then Kafka were stopped). Logged with its traceback.
                    log.error("outbox_relay_unexpected_error", schema=self._schema, error=type(exc).__name__,
                              exc_info=True)
                    await self._after_error(listener)
                    listener = None
                    continue
                if self._stopping.is_set():
                    break
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=self._poll_interval)
        finally:
            if listener is not None:
                await self._release(listener)

    async def _after_error(self, listener: asyncpg.Connection | None) -> None:
        """Give the listening connection back (a new one is taken next round) and pause a second."""
        if listener is not None:
            await self._release(listener)
        await asyncio.sleep(1)

    async def _release(self, conn: asyncpg.Connection) -> None:
        """Give the listener back even when the relay's task is cancelled meanwhile (a worker's stop cancels its
        tasks): cut between UNLISTEN and the release, the connection stayed checked out and `pool.close()` waited
        for it forever (seen once: a CI run hung in the intake worker's teardown)."""
        await asyncio.shield(self._give_back(conn))

    async def _give_back(self, conn: asyncpg.Connection) -> None:
        """Whatever state the connection is in: one the database closed makes `remove_listener` raise, and
        skipping `release` then leaked a pool slot per outage until `acquire` hung (the chaos test's relay stopped
        for good after PostgreSQL and Kafka were each stopped once)."""
        with contextlib.suppress(Exception):
            await asyncio.wait_for(conn.remove_listener(f"{self._schema}_outbox", self._on_notify), timeout=5)
        try:
            await asyncio.wait_for(self._pool.release(conn), timeout=10)
        except Exception:
            conn.terminate()
            with contextlib.suppress(Exception):
                await self._pool.release(conn)
