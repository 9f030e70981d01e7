"""The consumer loop and the outbox relay on the real broker and database."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from datetime import UTC, date, datetime

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.errors import OutOfOrderSequenceNumber

from shared.db import create_pool
from shared.events.envelope import CloudEvent, EventData, decode, encode, new_event
from shared.events.incidents import IncidentClosed
from shared.events.travellers import TravellerCancelled, TravellerRegistered
from shared.kafka.consumer import EventConsumer, PermanentError
from shared.kafka.outbox import OutboxRelay, enqueue
from shared.kafka.producer import make_producer, publish
from tests.support import (
    ROOT,
    bootstrap,
    consume,
    database_url,
    drop_schema,
    eventually,
    new_schema,
    unique,
)

SOURCE = "/tests/shared"


def registration(traveller_id: str) -> TravellerRegistered:
    return TravellerRegistered(
        traveller_id=traveller_id, full_name="Test Person", email="t@example.org", language="nl",
        country="NP", arrival=date(2026, 11, 1), departure=date(2026, 12, 31),
    )


async def record_effect(event: CloudEvent, data: EventData, conn: asyncpg.Connection | None) -> None:
    assert conn is not None
    if isinstance(data, TravellerCancelled) and data.traveller_id.startswith("poison"):
        raise PermanentError("this traveller can never be cancelled")
    await conn.execute("INSERT INTO effects VALUES ($1, $2)", event.id, getattr(data, "traveller_id", None))


async def test_malformed_message_goes_to_dlq_and_the_next_is_handled(prefix, pool, producer) -> None:
    topic = prefix + "travellers.registrations"
    consumer = EventConsumer(
        name="t-consumer", bootstrap_servers=bootstrap(), group_id=unique("g"), topics=["travellers.registrations"],
        handler=record_effect, producer=producer, pool=pool, topic_prefix=prefix,
    )
    await producer.send_and_wait(topic, b"{not json", key=b"x")
    await producer.send_and_wait(topic, json.dumps({"specversion": "1.0", "id": "1", "source": "/x",
                                                    "type": "be.diplomatie.traveller.registered",
                                                    "time": "2026-11-28T10:00:00Z",
                                                    "data": {"traveller_id": "t1"}}).encode(), key=b"t1")
    await publish(producer, TravellerCancelled(traveller_id="poison-1"), source=SOURCE, topic_prefix=prefix)
    good = await publish(producer, registration("good-1"), source=SOURCE, topic_prefix=prefix)
    task = asyncio.create_task(consumer.run())
    try:
        rows = await eventually(lambda: pool.fetch("SELECT * FROM effects"))
        assert [(r["event_id"], r["traveller_id"]) for r in rows] == [(good.id, "good-1")]
        dead = await consume(topic + ".dlq", count=3)
        reasons = {r.key: dict(r.headers)["dlq.reason"].decode() for r in dead}
        assert reasons[b"x"].startswith("not JSON")
        assert next(r.value for r in dead if r.key == b"x") == b"{not json", "the original bytes are kept"
        assert "full_name: Field required" in reasons[b"t1"]
        assert reasons[b"poison-1"].startswith("PermanentError")
        assert all(dict(r.headers)["dlq.topic"] == b"travellers.registrations" for r in dead)
    finally:
        await consumer.stop()
        task.cancel()


async def test_redelivered_event_id_has_no_second_effect(prefix, pool, producer) -> None:
    consumer = EventConsumer(
        name="t-dedup", bootstrap_servers=bootstrap(), group_id=unique("g"), topics=["travellers.registrations"],
        handler=record_effect, producer=producer, pool=pool, topic_prefix=prefix,
    )
    event = new_event(registration("dup-1"), source=SOURCE)
    for _ in range(3):
        await producer.send_and_wait(prefix + "travellers.registrations", encode(event), key=b"dup-1")
    marker = await publish(producer, registration("after"), source=SOURCE, topic_prefix=prefix)
    task = asyncio.create_task(consumer.run())
    try:
        await eventually(lambda: pool.fetchval("SELECT count(*) FROM effects WHERE event_id=$1", marker.id))
        assert await pool.fetchval("SELECT count(*) FROM effects WHERE traveller_id='dup-1'") == 1
    finally:
        await consumer.stop()
        task.cancel()


async def test_outbox_rows_are_published_once_each_after_a_relay_killed_mid_batch(prefix, pool, producer) -> None:
    schema = await pool.fetchval("SELECT current_schema()")
    async with pool.acquire() as conn, conn.transaction():
        for i in range(3000):
            await enqueue(conn, IncidentClosed(incident_id=f"inc-{i}"), source=SOURCE, topic_prefix=prefix)
    # A relay in another process, killed with SIGKILL as soon as it has started publishing.
    env = {**os.environ, "RELAY_SCHEMA": schema, "RELAY_BATCH": "700"}
    relay = subprocess.Popen([sys.executable, str(ROOT / "tests" / "shared" / "relay_process.py")], env=env,
                             cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert relay.stdout is not None
    assert relay.stdout.readline().strip() == "started"
    await eventually(lambda: pool.fetchval("SELECT count(*) < 3000 FROM outbox"), interval=0.01, timeout=60)
    relay.send_signal(signal.SIGKILL)
    relay.wait()
    left = await pool.fetchval("SELECT count(*) FROM outbox")
    assert 0 < left < 3000, "the kill happened in the middle"
    # A new relay publishes the rest.
    await OutboxRelay(pool=pool, producer=producer, schema=schema).drain()
    assert await pool.fetchval("SELECT count(*) FROM outbox") == 0
    records = await consume(prefix + "crisis.incidents", count=3000, timeout=60)
    ids = [decode(r.value).data["incident_id"] for r in records]
    assert set(ids) == {f"inc-{i}" for i in range(3000)}, "every row is published"
    # A consumer with dedup sees each event id once, even if some were published twice.
    seen: list[str] = []

    async def collect(event: CloudEvent, data: EventData, conn: asyncpg.Connection | None) -> None:
        seen.append(event.id)

    consumer = EventConsumer(
        name="t-outbox", bootstrap_servers=bootstrap(), group_id=unique("g"), topics=["crisis.incidents"],
        handler=collect, producer=producer, pool=pool, topic_prefix=prefix,
    )
    task = asyncio.create_task(consumer.run())
    try:
        await eventually(lambda: len(set(seen)) == 3000, timeout=60)
        await asyncio.sleep(1)
        assert len(seen) == len(set(seen)) == 3000
    finally:
        await consumer.stop()
        task.cancel()


async def test_relay_wakes_on_commit(prefix, pool, producer) -> None:
    schema = await pool.fetchval("SELECT current_schema()")
    relay = OutboxRelay(pool=pool, producer=producer, schema=schema, poll_interval=60)
    task = asyncio.create_task(relay.run())
    try:
        await asyncio.sleep(0.5)
        async with pool.acquire() as conn, conn.transaction():
            await enqueue(conn, IncidentClosed(incident_id="wake"), source=SOURCE, topic_prefix=prefix)
        records = await consume(prefix + "crisis.incidents", count=1, timeout=20)
        assert decode(records[0].value).data == {"incident_id": "wake"}
    finally:
        relay.stop()
        await task


class FailingOnce:
    """A real producer whose first send raises an error nobody planned for."""

    def __init__(self, producer) -> None:  # type: ignore[no-untyped-def]
        self._producer = producer
        self.failed = False

    async def send(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        if not self.failed:
            self.failed = True
            raise RuntimeError("unexpected")
        return await self._producer.send(*args, **kwargs)


async def test_relay_outlives_an_unexpected_error(prefix, pool, producer) -> None:
    """A relay task that died on an unforeseen exception stranded every later row (the chaos test found it)."""
    schema = await pool.fetchval("SELECT current_schema()")
    failing = FailingOnce(producer)
    relay = OutboxRelay(pool=pool, producer=failing, schema=schema, poll_interval=0.2)  # type: ignore[arg-type]
    task = asyncio.create_task(relay.run())
    try:
        async with pool.acquire() as conn, conn.transaction():
            await enqueue(conn, IncidentClosed(incident_id="survivor"), source=SOURCE, topic_prefix=prefix)
        records = await consume(prefix + "crisis.incidents", count=1, timeout=30)
        assert failing.failed and decode(records[0].value).data == {"incident_id": "survivor"}
        await eventually(lambda: pool.fetchval("SELECT count(*) = 0 FROM outbox"), timeout=30)
        assert not task.done()
    finally:
        relay.stop()
        await task


async def test_relay_survives_its_listener_being_killed_again_and_again(prefix, producer) -> None:
    """Each database outage closes the relay's listening connection; giving it back must not leak a pool slot,
    or after as many outages as the pool has slots `acquire` waits forever (seen in the chaos test)."""
    schema = await new_schema("sharedrelay", migrations=None)
    pool = await create_pool(database_url(), schema, min_size=1, max_size=2)
    relay = OutboxRelay(pool=pool, producer=producer, schema=schema, poll_interval=0.2)
    task = asyncio.create_task(relay.run())
    try:
        for _ in range(4):  # twice the pool's size
            async def listener_pid() -> int | None:
                return await pool.fetchval(  # type: ignore[no-any-return]
                    "SELECT pid FROM pg_stat_activity WHERE query ILIKE $1 AND pid <> pg_backend_pid()",
                    f'%LISTEN "{schema}_outbox"%')
            pid = await eventually(listener_pid, timeout=30)
            await pool.execute("SELECT pg_terminate_backend($1)", pid)
            await eventually(lambda p=pid: _is_new_listener(pool, schema, p), timeout=30)
        async with pool.acquire() as conn, conn.transaction():
            await enqueue(conn, IncidentClosed(incident_id="after-outages"), source=SOURCE, topic_prefix=prefix)
        records = await consume(prefix + "crisis.incidents", count=1, timeout=30)
        assert decode(records[0].value).data == {"incident_id": "after-outages"}
        assert not task.done()
    finally:
        relay.stop()
        await asyncio.wait_for(task, timeout=30)
        await pool.close()
        await drop_schema(schema)


async def _is_new_listener(pool: asyncpg.Pool, schema: str, old_pid: int) -> bool:
    pid = await pool.fetchval("SELECT pid FROM pg_stat_activity WHERE query ILIKE $1 AND pid <> pg_backend_pid()",
                              f'%LISTEN "{schema}_outbox"%')
    return pid is not None and pid != old_pid


async def test_a_producer_whose_sender_died_restarts_and_publishes(prefix) -> None:
    """After a broker restart aiokafka's sender can die on OutOfOrderSequenceNumber and fail every later send;
    the state it leaves (dead sender task, accumulator failed) is reproduced here, then a send must go through."""
    producer = make_producer(bootstrap(), client_id="tests-heal")
    await producer.start()
    try:
        await producer.send_and_wait(prefix + "crisis.incidents", b"before", key=b"k")
        fatal = OutOfOrderSequenceNumber()

        async def died() -> None:
            raise fatal

        dead = asyncio.create_task(died())
        await asyncio.gather(dead, return_exceptions=True)
        producer._sender._sender_task.cancel()
        producer._sender._sender_task = dead
        producer._message_accumulator.fail_all(fatal)
        with pytest.raises(OutOfOrderSequenceNumber):  # what every send did before the fix
            await AIOKafkaProducer.send(producer, prefix + "crisis.incidents", b"lost", key=b"k")

        await producer.send_and_wait(prefix + "crisis.incidents", b"after", key=b"k")
        records = await consume(prefix + "crisis.incidents", count=2, timeout=30)
        assert [r.value for r in records] == [b"before", b"after"]
        assert producer.restarts == 1 and producer.sender_died() is None
    finally:
        await producer.stop()


async def test_a_producer_whose_batches_fail_out_of_order_restarts_and_publishes(prefix) -> None:
    """After a broker restart the broker can lose the producer's sequence state while aiokafka's sender lives on:
    each batch to the partition then fails with OutOfOrderSequenceNumber (a relay retried the same rows for minutes
    in a chaos run). Reproduced against the real broker by moving the producer's sequence number for the partition
    ahead of the broker's; the send after the refused batch must restart the producer and go through."""
    topic = prefix + "crisis.incidents"
    producer = make_producer(bootstrap(), client_id="tests-heal-sequence")
    await producer.start()
    try:
        first = await producer.send_and_wait(topic, b"before", key=b"k")
        producer._txn_manager.increment_sequence_number(TopicPartition(topic, first.partition), 7)
        with pytest.raises(OutOfOrderSequenceNumber):
            await producer.send_and_wait(topic, b"refused", key=b"k")
        assert producer.sender_died() is None  # the sender lives on: a heal on a dead sender alone never runs

        await producer.send_and_wait(topic, b"after", key=b"k")
        records = await consume(topic, count=2, timeout=30)
        assert [r.value for r in records] == [b"before", b"after"]
        assert producer.restarts == 1
    finally:
        await producer.stop()


def test_event_time_is_rfc3339_utc() -> None:
    event = new_event(IncidentClosed(incident_id="x"), source=SOURCE, time=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC))
    assert json.loads(encode(event))["time"] == "2026-01-02T03:04:05Z"


async def test_a_deadlock_or_serialization_failure_is_retried_not_dead_lettered(prefix, pool, producer) -> None:
    """Issue 19, finding 6: SQLSTATE 40 (another transaction won) was dead-lettered after three quick tries."""
    failures = {"left": 5}

    async def loses_races(event: CloudEvent, data: EventData, conn: asyncpg.Connection | None) -> None:
        if failures["left"] > 0:
            failures["left"] -= 1
            raise (asyncpg.DeadlockDetectedError if failures["left"] % 2 else asyncpg.SerializationError)("lost")
        await record_effect(event, data, conn)

    consumer = EventConsumer(
        name="t-races", bootstrap_servers=bootstrap(), group_id=unique("g"), topics=["travellers.registrations"],
        handler=loses_races, producer=producer, pool=pool, topic_prefix=prefix,
    )
    event = await publish(producer, registration("raced-1"), source=SOURCE, topic_prefix=prefix)
    task = asyncio.create_task(consumer.run())
    try:
        await eventually(lambda: pool.fetchval("SELECT count(*) FROM effects WHERE event_id = $1", event.id),
                         timeout=60)
        assert failures["left"] == 0
        assert await consume(prefix + "travellers.registrations.dlq", count=1, timeout=2) == []
    finally:
        await consumer.stop()
        task.cancel()


async def test_a_batch_is_handled_in_one_transaction_and_a_poison_event_is_still_isolated(
        prefix, pool, producer) -> None:
    batches: list[int] = []

    async def batch_effect(events: list[tuple[CloudEvent, EventData]], conn: asyncpg.Connection) -> None:
        batches.append(len(events))
        for event, data in events:
            await record_effect(event, data, conn)  # raises PermanentError for a poison traveller

    consumer = EventConsumer(
        name="t-batch", bootstrap_servers=bootstrap(), group_id=unique("g"), topics=["travellers.registrations"],
        handler=record_effect, batch_handler=batch_effect, producer=producer, pool=pool, topic_prefix=prefix,
    )
    # one key: one partition, one polled batch
    clean = [new_event(registration(f"b{i}"), source=SOURCE) for i in range(20)]
    for event in [*clean, clean[3]]:  # the last one again: handled once
        await producer.send_and_wait(prefix + "travellers.registrations", encode(event), key=b"same")
    task = asyncio.create_task(consumer.run())
    try:
        await eventually(lambda: pool.fetchval("SELECT count(*) = 20 FROM effects"))
        assert batches and sum(batches) == 20, batches
        poison = await publish(producer, TravellerCancelled(traveller_id="poison-2"), source=SOURCE,
                               topic_prefix=prefix)
        after = await publish(producer, registration("after-poison"), source=SOURCE, topic_prefix=prefix)
        await eventually(lambda: pool.fetchval("SELECT count(*) FROM effects WHERE event_id = $1", after.id))
        dead = await consume(prefix + "travellers.registrations.dlq", count=1)
        assert dead[0].key == b"poison-2" and "PermanentError" in dict(dead[0].headers)["dlq.reason"].decode()
        assert await pool.fetchval("SELECT count(*) FROM effects WHERE event_id = $1", poison.id) == 0
    finally:
        await consumer.stop()
        task.cancel()


async def test_a_tombstone_in_a_batch_comes_after_the_events_before_it(prefix, pool, producer) -> None:
    """Events, a tombstone, events, polled as one batch: the tombstone deletes what came before it, not after."""
    async def batch_effect(events: list[tuple[CloudEvent, EventData]], conn: asyncpg.Connection) -> None:
        for event, data in events:
            await record_effect(event, data, conn)

    async def forget(topic: str, key: str, conn: asyncpg.Connection | None) -> None:
        assert conn is not None
        await conn.execute("DELETE FROM effects WHERE traveller_id = $1", key)

    consumer = EventConsumer(
        name="t-batch-tombstone", bootstrap_servers=bootstrap(), group_id=unique("g"),
        topics=["travellers.registrations"], handler=record_effect, batch_handler=batch_effect, producer=producer,
        pool=pool, topic_prefix=prefix, on_tombstone=forget,
    )
    topic = prefix + "travellers.registrations"
    before = new_event(registration("tomb-1"), source=SOURCE)
    after = new_event(registration("tomb-1"), source=SOURCE)
    other = new_event(registration("tomb-2"), source=SOURCE)
    await producer.send_and_wait(topic, encode(before), key=b"tomb-1")
    await producer.send_and_wait(topic, None, key=b"tomb-1")
    await producer.send_and_wait(topic, encode(after), key=b"tomb-1")
    await producer.send_and_wait(topic, encode(other), key=b"tomb-1")  # the same partition: the run's end
    task = asyncio.create_task(consumer.run())
    try:
        await eventually(lambda: pool.fetchval("SELECT count(*) FROM effects WHERE event_id = $1", other.id))
        kept = await pool.fetch("SELECT event_id FROM effects WHERE traveller_id = 'tomb-1'")
        assert [r["event_id"] for r in kept] == [after.id]
    finally:
        await consumer.stop()
        task.cancel()


async def test_a_consumer_forgets_event_ids_it_handled_long_ago(prefix, pool, producer) -> None:
    """processed_events used to grow for ever (issue 19, finding 12): ids older than the consumer keeps them go,
    its recent ones and other consumers' stay."""
    consumer = EventConsumer(
        name="t-prune", bootstrap_servers=bootstrap(), group_id=unique("g"), topics=["travellers.registrations"],
        handler=record_effect, producer=producer, pool=pool, topic_prefix=prefix, keep_processed_days=35,
    )
    await pool.execute(
        "INSERT INTO processed_events (consumer, event_id, processed_at)"
        " SELECT 't-prune', 'old-' || i, now() - interval '40 days' FROM generate_series(1, 12000) AS i"
        " UNION ALL SELECT 't-prune', 'recent-' || i, now() - interval '30 days' FROM generate_series(1, 10) AS i"
        " UNION ALL SELECT 't-other', 'old-' || i, now() - interval '40 days' FROM generate_series(1, 10) AS i")
    assert await consumer.prune_processed() == 12000
    left = await pool.fetch("SELECT consumer, count(*) AS n FROM processed_events"
                            " WHERE consumer IN ('t-prune', 't-other') GROUP BY consumer ORDER BY consumer")
    assert [(r["consumer"], r["n"]) for r in left] == [("t-other", 10), ("t-prune", 10)]


async def test_a_relay_cancelled_while_it_stops_gives_its_listener_back(pool) -> None:
    """A worker's stop stops the relay, then cancels its task: cancelled between UNLISTEN and the release, the
    listener stayed checked out and the pool's close waited forever (a CI run hung in the intake worker's
    teardown). The cancel lands at every step of the stop in turn."""
    schema = await pool.fetchval("SELECT current_schema()")
    producer = make_producer(bootstrap(), client_id="relay-cancel")  # never used: the outbox stays empty
    for steps in range(40):
        relay = OutboxRelay(pool=pool, producer=producer, schema=schema, poll_interval=60)
        task = asyncio.create_task(relay.run())
        await eventually(lambda: pool.get_idle_size() < pool.get_size())  # the listener is taken
        relay.stop()
        for _ in range(steps):
            await asyncio.sleep(0)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await eventually(lambda: pool.get_idle_size() == pool.get_size(), timeout=5)


@pytest.mark.parametrize("topic", ["travellers.registrations", "not.created.yet"])
@pytest.mark.parametrize("delay", [0.0, 0.05, 0.5])
async def test_a_consumer_stopped_while_it_starts_ends(prefix, pool, producer, delay: float, topic: str) -> None:
    """aiokafka's start() waits for its topics' metadata (or its first assignment) for ever once its consumer is
    stopped; the run must end anyway (a worker stopped right after it started hung a test's teardown)."""
    consumer = EventConsumer(
        name="t-consumer", bootstrap_servers=bootstrap(), group_id=unique("g"), topics=[topic],
        handler=record_effect, producer=producer, pool=pool, topic_prefix=prefix,
    )
    running = asyncio.create_task(consumer.run())
    await asyncio.sleep(delay)
    await consumer.stop()
    await asyncio.wait_for(running, timeout=20)
    assert running.done() and running.exception() is None

