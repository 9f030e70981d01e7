"""Issue 19, finding 4: several relays on one outbox (an API and a worker, their replicas) must not publish
disjoint batches in parallel, or a key's events overtake each other (a `crisis.updated` landing after the
`crisis.closed` behind it)."""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import asyncpg
import pytest

from shared.events.incidents import IncidentUpdated
from shared.kafka.outbox import OutboxRelay, OutboxRow, enqueue, enqueue_many, prepare
from shared.kafka.producer import make_producer
from tests.support import bootstrap, consume, drop_schema, new_pool, new_schema, new_topic_prefix

KEYS, PER_KEY = 8, 250


@pytest.fixture
async def pools() -> AsyncIterator[list[asyncpg.Pool]]:
    schema = await new_schema("ordertest", migrations=None)
    pools = [await new_pool(schema) for _ in range(3)]  # three processes' pools on one outbox
    yield pools
    for pool in pools:
        await pool.close()
    await drop_schema(schema)


async def test_a_keys_events_stay_in_order_with_three_relays(pools: list[asyncpg.Pool]) -> None:
    prefix = await new_topic_prefix()
    schema = await pools[0].fetchval("SELECT current_schema()")
    async with pools[0].acquire() as conn, conn.transaction():
        for n in range(PER_KEY):  # a backlog: each key's updates in order, interleaved across keys
            for key in range(KEYS):
                await enqueue(conn, IncidentUpdated(
                    incident_id=f"incident-{key}", title=f"update {n}", kind="flood", severity="severe",
                    area={"country": "NP"}, occurred_at="2026-01-01T00:00:00Z"),  # type: ignore[arg-type]
                    source="/tests/order", topic_prefix=prefix)
    producers = [make_producer(bootstrap(), client_id=f"relay-{i}") for i in range(3)]
    for producer in producers:
        await producer.start()
    try:
        relays = [OutboxRelay(pool=pool, producer=producer, schema=schema, batch_size=50)
                  for pool, producer in zip(pools, producers, strict=True)]
        await asyncio.gather(*(relay.drain() for relay in relays))
        while await pools[0].fetchval("SELECT count(*) FROM outbox"):  # a relay that found the lock taken returns 0
            await asyncio.gather(*(relay.drain() for relay in relays))
    finally:
        for producer in producers:
            await producer.stop()
    records = await consume(prefix + "crisis.incidents", count=KEYS * PER_KEY, timeout=60)
    assert len(records) >= KEYS * PER_KEY
    seen: dict[bytes, list[int]] = defaultdict(list)
    for record in records:
        seen[record.key].append(int(json.loads(record.value)["data"]["title"].split()[1]))
    for key, numbers in seen.items():
        assert numbers == sorted(numbers), f"{key!r} out of order"
        assert numbers[-1] == PER_KEY - 1


async def test_a_row_the_broker_can_never_take_is_set_aside_and_does_not_block_the_rest(
        pools: list[asyncpg.Pool]) -> None:
    """Issue 19, finding 5: a row over the producer's size limit was retried forever, blocking every row after it."""
    prefix = await new_topic_prefix()
    pool = pools[0]
    schema = await pool.fetchval("SELECT current_schema()")
    polygon = [[85 + i * 1e-6, 27 + (i % 2) * 1e-3] for i in range(60_000)]  # about 2 MB of JSON
    huge = IncidentUpdated(incident_id="incident-huge", title="huge", kind="flood", severity="severe",
                           area={"country": "NP", "polygon": polygon},  # type: ignore[arg-type]
                           occurred_at="2026-01-01T00:00:00Z")  # type: ignore[arg-type]
    after = IncidentUpdated(incident_id="incident-after", title="after", kind="flood", severity="severe",
                            area={"country": "NP"}, occurred_at="2026-01-01T00:00:00Z")  # type: ignore[arg-type]
    async with pool.acquire() as conn, conn.transaction():
        await enqueue(conn, huge, source="/tests/order", topic_prefix=prefix, event_id="huge")
        await enqueue(conn, after, source="/tests/order", topic_prefix=prefix, event_id="after")
    producer = make_producer(bootstrap(), client_id="relay-dead")
    await producer.start()
    try:
        assert await OutboxRelay(pool=pool, producer=producer, schema=schema).drain() == 2
    finally:
        await producer.stop()
    [published] = await consume(prefix + "crisis.incidents", count=1, timeout=20)
    assert published.key == b"incident-after"
    assert await pool.fetchval("SELECT count(*) FROM outbox") == 0
    dead = await pool.fetchrow("SELECT event_id, reason FROM outbox_dead")
    assert dead["event_id"] == "huge" and dead["reason"].startswith("MessageSizeTooLargeError")


async def test_enqueue_many_writes_in_the_order_given_once_per_event_id(pools: list[asyncpg.Pool]) -> None:
    """One statement for many rows: outbox ids follow the order given (the relay publishes by id), headers stay
    a JSON object, and an event id written before (a redelivered handler) is skipped, alone or among others."""
    def row(n: int) -> OutboxRow:
        return prepare(IncidentUpdated(incident_id=f"inc-{n % 3}", title=f"update {n}", kind="flood",
                                       severity="moderate", area={"country": "TH"},
                                       occurred_at=datetime(2026, 1, 1, tzinfo=UTC)),
                       source="/tests/order", event_id=f"ev-{n}")

    async with pools[0].acquire() as conn:
        await enqueue_many(conn, [row(n) for n in (5, 1, 4, 2)])
        await enqueue_many(conn, [row(1)])  # alone: already there
        await enqueue_many(conn, [row(3), row(4), row(0)])  # 4 is there already
        await enqueue_many(conn, [])
        stored = await conn.fetch("SELECT event_id, headers FROM outbox ORDER BY id")
    assert [r["event_id"] for r in stored] == ["ev-5", "ev-1", "ev-4", "ev-2", "ev-3", "ev-0"]
    assert all(r["headers"]["ce_type"] == "be.diplomatie.incident.updated" for r in stored)  # an object, not a string
