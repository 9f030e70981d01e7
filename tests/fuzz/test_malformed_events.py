"""Malformed, truncated, oversized, wrongly typed and unknown events on every inbound topic of every service's real
worker: each lands on `<topic>.dlq` with a `dlq.reason` header, and the consumer group's lag returns to 0.

Inbound topics (the workers' own lists): intake's `worker.TOPICS`, the directory's `worker.TOPICS`, the notifier's
commands topic, and the crisis center's Faust agents on registrations, reports, incidents and its own
`crisis.by-country` (commands, not CloudEvents). A message above the
broker's size limit never reaches a consumer (the producer is refused), so "oversized" is a large message within
the limit whose content is wrong.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from shared.events.envelope import CloudEvent
from shared.events.registry import MODELS_BY_TYPE, types_on
from shared.kafka.producer import make_producer
from tests.support import (
    bootstrap,
    consume,
    database_url,
    drop_schema,
    eventually,
    new_schema,
    new_topic_prefix,
    unique,
)

pytestmark = pytest.mark.fuzz

OVERSIZED_BYTES = 700_000  # below the broker's and the clients' 1 MiB limit
BY_COUNTRY = "crisis.by-country"


def envelope(event_type: str, data: Any) -> dict[str, Any]:
    return {"specversion": "1.0", "id": unique("ev-"), "source": "/tests/fuzz", "type": event_type,
            "time": "2026-11-28T04:00:00Z", "datacontenttype": "application/json", "data": data}


def malformed_messages(topic: str) -> dict[str, bytes]:
    """One of each kind of bad message for `topic`, with the topic's own event type where one is needed."""
    if topic == BY_COUNTRY:
        return country_commands()
    event_type = types_on(topic)[0]
    fields = list(MODELS_BY_TYPE[event_type].model_fields)
    good_shape = json.dumps(envelope(event_type, {name: "x" for name in fields})).encode()
    missing = envelope(event_type, {})
    for name in ("id", "source", "specversion"):
        missing.pop(name)
    return {
        "malformed JSON": b'{"specversion": "1.0", "id": ',
        "not UTF-8": b"\xff\xfe\x00garbage",
        "truncated": good_shape[: len(good_shape) // 2],
        "not an object": b"[1, 2, 3]",
        "oversized": json.dumps(envelope(event_type, {"padding": "x" * OVERSIZED_BYTES})).encode(),
        "wrong types": json.dumps(envelope(event_type, {name: [[1]] for name in fields})).encode(),
        "unknown event type": json.dumps(envelope("be.diplomatie.nothing.v1", {"a": 1})).encode(),
        "missing envelope fields": json.dumps(missing).encode(),
        "data not an object": json.dumps(envelope(event_type, "a string")).encode(),
    }


def country_commands() -> dict[str, bytes]:
    """The crisis center's own repartition topic carries commands, not CloudEvents: bad ones of those."""
    from services.crisis_center.domain.commands import TravellerUpsert

    fields = [name for name in TravellerUpsert.model_fields if name != "op"]
    return {
        "malformed JSON": b'{"op": "traveller.upsert", ',
        "not UTF-8": b"\xff\xfe\x00garbage",
        "unknown op": json.dumps({"op": "traveller.teleport"}).encode(),
        "wrong types": json.dumps({"op": "traveller.upsert", **{name: [[1]] for name in fields}}).encode(),
        "a CloudEvent": json.dumps(envelope("be.diplomatie.traveller.registered", {"a": 1})).encode(),
        "oversized": json.dumps({"op": "traveller.upsert", "padding": "x" * OVERSIZED_BYTES}).encode(),
    }


async def send_all(producer: AIOKafkaProducer, prefix: str, topics: list[str]) -> dict[str, dict[str, bytes]]:
    sent = {}
    for topic in topics:
        sent[topic] = malformed_messages(topic)
        for kind, value in sent[topic].items():
            await producer.send_and_wait(prefix + topic, value, key=kind.encode())
    return sent


async def lag(group: str, topics: list[str]) -> int:
    """Messages of `topics` the group has not committed yet (end offset minus committed offset)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap())
    reader = AIOKafkaConsumer(bootstrap_servers=bootstrap(), group_id=None)
    await admin.start()
    await reader.start()
    try:
        committed = await admin.list_consumer_group_offsets(group)
        described = await admin.describe_topics(topics)
        partitions = [TopicPartition(d["topic"], p["partition"]) for d in described for p in d["partitions"]]
        assert len({tp.topic for tp in partitions}) == len(topics), f"partitions of {topics} not found"
        ends = await reader.end_offsets(partitions)
        assert sum(ends.values()) > 0, "the bad messages are on the topics"
        total = 0
        for tp, end in ends.items():
            meta = committed.get(tp)
            total += end - (meta.offset if meta is not None and meta.offset >= 0 else 0)
        return total
    finally:
        await reader.stop()
        await admin.close()


async def assert_dead_lettered_and_caught_up(prefix: str, group: str, sent: dict[str, dict[str, bytes]],
                                             uncommitted: tuple[str, ...] = ()) -> None:
    """Every bad message on its topic's DLQ, with its reason and bytes; then `group` has committed everything of
    the topics but `uncommitted` (read by consumers that commit no offsets: checked by the caller)."""
    for topic, messages in sent.items():
        # At least once: a record handled again after a rebalance is dead-lettered again, so read until every kind
        # is there, not until as many records as kinds.
        dead = await consume(prefix + topic + ".dlq", count=len(messages), timeout=120)
        deadline = time.monotonic() + 120
        while {r.key.decode() for r in dead} < set(messages) and time.monotonic() < deadline:
            dead = await consume(prefix + topic + ".dlq", count=len(dead) + 1, timeout=5)
        by_kind = {record.key.decode(): record for record in dead}
        assert set(by_kind) == set(messages), f"{topic}: dead-lettered {sorted(by_kind)}"
        for kind, record in by_kind.items():
            headers = dict(record.headers)
            assert headers.get("dlq.reason"), f"{topic} {kind}: no dlq.reason"
            assert record.value == messages[kind], f"{topic} {kind}: the original bytes are kept"
    topics = [prefix + topic for topic in sent if topic not in uncommitted]
    await eventually(lambda: _zero(lag(group, topics)), timeout=120, interval=1.0)


async def _zero(pending: Awaitable[int]) -> bool:
    return await pending == 0


Runner = Callable[[str, str], Any]


@asynccontextmanager
async def intake_worker(prefix: str, schema: str) -> AsyncIterator[tuple[str, list[str]]]:
    from services.intake.bootstrap import open_resources
    from services.intake.settings import Settings
    from services.intake.worker import TOPICS, Worker

    settings = Settings(database_url=database_url(), database_schema=schema, kafka_bootstrap_servers=bootstrap(),
                        kafka_topic_prefix=prefix, jwt_secret=os.environ["JWT_SECRET"], database_pool_min=1,
                        database_pool_max=4, twilio_auth_token=os.environ["TWILIO_AUTH_TOKEN"])
    resources = await open_resources(settings)
    producer = make_producer(bootstrap(), client_id="fuzz-intake-worker")
    await producer.start()
    worker = Worker(settings, resources, producer)
    await worker.start()
    try:
        yield f"{prefix}intake", list(TOPICS)
    finally:
        await worker.stop()
        await producer.stop()
        await resources.pool.close()


@asynccontextmanager
async def directory_worker(prefix: str, schema: str) -> AsyncIterator[tuple[str, list[str]]]:
    from services.directory.bootstrap import open_resources
    from services.directory.settings import Settings
    from services.directory.worker import TOPICS, Worker

    settings = Settings(database_url=database_url(), database_schema=schema, kafka_bootstrap_servers=bootstrap(),
                        kafka_topic_prefix=prefix, jwt_secret=os.environ["JWT_SECRET"], database_pool_min=1,
                        database_pool_max=4)
    resources = await open_resources(settings)
    producer = make_producer(bootstrap(), client_id="fuzz-directory-worker")
    await producer.start()
    worker = Worker(settings, resources, producer)
    await worker.start()
    try:
        yield f"{prefix}directory", list(TOPICS)
    finally:
        await worker.stop()
        await producer.stop()
        await resources.pool.close()


@asynccontextmanager
async def notifier_worker(prefix: str, schema: str) -> AsyncIterator[tuple[str, list[str]]]:
    from services.notifier.bootstrap import open_resources
    from services.notifier.settings import NotifierSettings
    from services.notifier.worker import COMMANDS_TOPIC, Worker

    settings = NotifierSettings(database_url=database_url(), database_schema=schema,
                                kafka_bootstrap_servers=bootstrap(), kafka_topic_prefix=prefix,
                                command_consumers=1, database_pool_min=1, database_pool_max=4)
    resources = await open_resources(settings)
    producer = make_producer(bootstrap(), client_id="fuzz-notifier-worker")
    await producer.start()
    worker = Worker(settings, resources, producer)
    await worker.start()
    try:
        yield f"{prefix}notifier", [COMMANDS_TOPIC]
    finally:
        await worker.stop()
        await producer.stop()
        await resources.pool.close()


@asynccontextmanager
async def crisis_worker(prefix: str, schema: str, tmp: Path) -> AsyncIterator[Any]:
    from services.crisis_center.settings import Settings
    from services.crisis_center.worker import CrisisWorker

    settings = Settings(database_url=database_url(), kafka_bootstrap_servers=bootstrap(), kafka_topic_prefix=prefix,
                        database_schema=schema, faust_app_id=unique("crisis-fuzz-"), faust_store="memory://",
                        faust_data_dir=str(tmp / "faust"), hotline_numbers="+3225011000", faust_partitions=3)
    worker = CrisisWorker(settings)
    await worker.start()
    await worker.recovered()
    try:
        yield worker
    finally:
        await worker.stop()


WORKERS = {"intake": intake_worker, "directory": directory_worker, "notifier": notifier_worker}


@pytest.mark.parametrize("service", [*WORKERS, "crisis_center"])
async def test_bad_events_on_every_inbound_topic_end_on_the_dlq(service: str, tmp_path: Path) -> None:
    prefix = await new_topic_prefix()
    schema = await new_schema(service)
    producer = make_producer(bootstrap(), client_id="fuzz-bad-events", linger_ms=0)
    await producer.start()
    try:
        if service == "crisis_center":
            async with crisis_worker(prefix, schema, tmp_path) as worker:
                sent = await send_all(producer, prefix, [
                    "travellers.registrations", "consular.reports", "crisis.incidents", BY_COUNTRY])
                # The Faust agents commit their offsets; the registries read travellers.registrations without.
                await assert_dead_lettered_and_caught_up(prefix, worker.settings.faust_app_id, sent,
                                                         uncommitted=("travellers.registrations",))
                await eventually(lambda: _zero(worker.registries.lag()), timeout=120, interval=1.0)
                assert worker.registries.ready()
        else:
            async with WORKERS[service](prefix, schema) as (group, topics):
                sent = await send_all(producer, prefix, topics)
                await assert_dead_lettered_and_caught_up(prefix, group, sent)
    finally:
        await producer.stop()
        await drop_schema(schema)


def test_every_kind_is_bad() -> None:
    """The messages are really bad: none decodes into a valid event of its topic (guards the suite itself)."""
    from shared.events.envelope import InvalidEvent, decode
    from shared.events.registry import parse_data

    for topic in ("consular.reports", "notifications.commands", "crisis.incidents"):
        for kind, value in malformed_messages(topic).items():
            with pytest.raises(InvalidEvent):
                event: CloudEvent = decode(value)
                parse_data(event, topic=topic)
            assert kind
