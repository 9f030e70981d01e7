"""The crisis center's part of a person's privacy request, answered by a plain consumer beside the Faust app.

Its PostgreSQL tables hold crises, their timeline, thresholds and the coordinators' audit: nothing about a
traveller. What it holds about a person is in the Faust worker's tables, which mirror the compacted
`travellers.registrations` topic (latest registration per traveller id). So:

- access reads that topic's latest record per key (what the tables hold) and exports the person's registrations;
- erasure writes a tombstone for each of the person's traveller ids: the worker treats it as a cancellation
  (the traveller leaves the country's counts and tables), compaction then drops the registration from the topic,
  and every other consumer of the topic (intake's registered travellers) deletes it as well.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from services.crisis_center import welfare
from services.crisis_center.settings import Settings
from shared import privacy_requests
from shared.db import create_pool
from shared.events.privacy import PrivacyItem, PrivacyRequested
from shared.events.travellers import TOPIC as REGISTRATIONS
from shared.kafka.consumer import EventConsumer
from shared.kafka.outbox import OutboxRelay
from shared.kafka.producer import make_producer
from shared.kafka.security import client_security
from shared.logging import get_logger
from shared.topics import spec_for

log = get_logger(__name__)

SERVICE = "crisis_center"


async def latest_registrations(bootstrap_servers: str, topic: str,
                               security: Mapping[str, Any] | None = None) -> dict[str, dict[str, Any]]:
    """The latest registration per traveller id on the compacted topic, up to its current end (no group)."""
    consumer = AIOKafkaConsumer(**(security or {}), bootstrap_servers=bootstrap_servers, group_id=None,
                                enable_auto_commit=False, isolation_level="read_committed")
    await consumer.start()
    latest: dict[str, dict[str, Any] | None] = {}
    try:
        # The partition count is the declared one (shared/topics.py is the source of truth for topics).
        partitions = [TopicPartition(topic, p) for p in range(spec_for(REGISTRATIONS).partitions)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        remaining = {tp for tp in partitions if ends[tp] > 0}
        while remaining:
            batches = await consumer.getmany(*remaining, timeout_ms=500)
            for records in batches.values():
                for record in records:
                    if record.key is not None:
                        key = bytes(record.key).decode(errors="replace")
                        latest[key] = _registration(record.value)
            for tp in list(remaining):
                if await consumer.position(tp) >= ends[tp]:
                    remaining.discard(tp)
    finally:
        await consumer.stop()
    return {k: v for k, v in latest.items() if v is not None}


def _registration(value: bytes | None) -> dict[str, Any] | None:
    if value is None:
        return None
    try:
        event = json.loads(value)
        data = event.get("data") if event.get("type") == "be.diplomatie.traveller.registered" else None
    except (ValueError, AttributeError):
        return None
    return data if isinstance(data, dict) else None


def _is_theirs(traveller_id: str, registration: dict[str, Any], data: PrivacyRequested) -> bool:
    email = registration.get("email")
    return (traveller_id in data.traveller_ids or registration.get("phone") in data.phones
            or (isinstance(email, str) and email.lower() in {e.lower() for e in data.emails}))


class PrivacyResponder:
    """The consumer of `privacy.requests` and an outbox relay of its own (the Faust worker is left alone)."""

    def __init__(self, settings: Settings, *, pool: asyncpg.Pool | None = None,
                 producer: AIOKafkaProducer | None = None) -> None:
        self.settings = settings
        self._own_pool = pool is None
        self._own_producer = producer is None
        self.pool = pool
        self.security = client_security(settings)
        self.producer = producer or make_producer(settings.kafka_bootstrap_servers, client_id="crisis-privacy",
                                                  security=self.security)
        self.consumer: EventConsumer | None = None
        self.relay: OutboxRelay | None = None
        self._tasks: list[asyncio.Task[None]] = []

    async def part(self, conn: asyncpg.Connection, data: PrivacyRequested) -> list[PrivacyItem]:
        topic = self.settings.topic(REGISTRATIONS)
        held = {tid: reg for tid, reg in (await latest_registrations(self.settings.kafka_bootstrap_servers,
                                                                       topic, security=self.security)).items()
                if _is_theirs(tid, reg, data)}
        person_ids = sorted(set(data.traveller_ids) | set(held))
        contacts = await welfare.contacts_of(conn, person_ids=person_ids, phones=list(data.phones),
                                             emails=list(data.emails))
        if data.kind == "access":
            return [PrivacyItem(category="registration", item_id=tid, outcome="found", data=reg,
                                note="as held in the crisis worker's tables (latest on travellers.registrations)")
                    for tid, reg in sorted(held.items())] + [
                PrivacyItem(category="welfare", item_id=f"{c['crisis_id']}:{c['person_id']}", outcome="found",
                            data=c, note="a crisis's contact and welfare answer") for c in contacts]
        erased = await welfare.forget_people(conn, [(c["crisis_id"], c["person_id"]) for c in contacts])
        items = [PrivacyItem(category="welfare", item_id=f"{crisis_id}:{person_id}", outcome="deleted",
                             note="contact, round and answer of a crisis deleted")
                 for crisis_id, person_id in erased]
        for traveller_id in sorted(set(data.traveller_ids) | set(held)):
            # Idempotent: a second tombstone for the same key changes nothing.
            await self.producer.send_and_wait(topic, None, key=traveller_id.encode())
            items.append(PrivacyItem(category="registration", item_id=traveller_id, outcome="tombstoned",
                                     note="tombstone on travellers.registrations: removed from the worker's "
                                          "tables and counts, and from the topic at compaction"))
        log.info("privacy_tombstones_sent", request_id=data.request_id, count=len(items))
        return items

    async def start(self) -> None:
        settings = self.settings
        if self.pool is None:
            self.pool = await create_pool(settings.database_url, settings.db_schema, min_size=1, max_size=3)
        if self._own_producer:
            await self.producer.start()
        self.consumer = privacy_requests.make_consumer(
            service=SERVICE, part=self.part, bootstrap_servers=settings.kafka_bootstrap_servers,
            topic_prefix=settings.kafka_topic_prefix, source=settings.source, pool=self.pool,
            producer=self.producer, security=self.security)
        self.relay = OutboxRelay(pool=self.pool, producer=self.producer, schema=settings.db_schema)
        await self.consumer.start()
        self._tasks = [asyncio.create_task(self.consumer.run(), name="crisis-privacy"),
                       asyncio.create_task(self.relay.run(), name="crisis-privacy-relay")]

    def tasks(self) -> list[asyncio.Task[None]]:
        return list(self._tasks)

    async def stop(self) -> None:
        if self.relay is not None:
            self.relay.stop()
        if self.consumer is not None:
            await self.consumer.stop()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._own_producer:
            await self.producer.stop()
        if self._own_pool and self.pool is not None:
            await self.pool.close()
