"""Dead letters people can act on: list the dead-letter topics, show their records with the reason, replay them.

A record on `<topic>.dlq` keeps the original bytes and key, and the reason in `dlq.*` headers (see `consumer.py`).
Replaying sends it back to its topic unchanged (the `dlq.*` headers dropped, `dlq.replayed_from` added): the
consumer handles it again, and deduplicates by event id if it had been handled meanwhile. Replay after fixing
the cause (a handler's bug, a missing reference), not in a loop.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from shared.topics import all_topic_specs


@dataclass(frozen=True)
class DeadLetter:
    offset: int
    key: str | None
    reason: str
    topic: str
    """The topic it came from (without prefix)."""
    source_offset: str
    consumer: str
    value: bytes
    headers: tuple[tuple[str, bytes], ...]


def dead_letter_headers(original: Iterable[tuple[Any, Any]], *, reason: str, topic: str, partition: int,
                        offset: int, consumer: str) -> list[tuple[str, bytes]]:
    """A dead letter's headers: the original ones (earlier `dlq.*` dropped) and why, from where, by whom.

    `topic` is the topic it came from without the prefix (replay adds the prefix of where it runs)."""
    headers = [(str(k), v if isinstance(v, bytes) else str(v).encode())
               for k, v in original if not str(k).startswith("dlq.")]
    return [*headers, ("dlq.reason", reason[:2000].encode()), ("dlq.topic", topic.encode()),
            ("dlq.partition", str(partition).encode()), ("dlq.offset", str(offset).encode()),
            ("dlq.consumer", consumer.encode())]


def dlq_topics(prefix: str = "") -> dict[str, int]:
    """Each dead-letter topic (prefixed) and its declared partition count (shared/topics.py is the truth)."""
    return {prefix + spec.name: spec.partitions for spec in all_topic_specs() if spec.name.endswith(".dlq")}


async def counts(bootstrap: str, prefix: str = "", *, security: Mapping[str, Any] | None = None) -> dict[str, int]:
    """Records held on each dead-letter topic (end minus beginning offsets)."""
    consumer = AIOKafkaConsumer(**(security or {}), bootstrap_servers=bootstrap, group_id=None,
                                enable_auto_commit=False)
    await consumer.start()
    try:
        existing = await consumer.topics()
        out: dict[str, int] = {}
        for topic, count in dlq_topics(prefix).items():
            if topic not in existing:
                continue
            partitions = [TopicPartition(topic, p) for p in range(count)]
            ends = await consumer.end_offsets(partitions)
            starts = await consumer.beginning_offsets(partitions)
            out[topic] = sum(ends[tp] - starts[tp] for tp in partitions)
        return out
    finally:
        await consumer.stop()


async def read(bootstrap: str, topic: str, *, start: int = 0, limit: int = 100,
               security: Mapping[str, Any] | None = None) -> list[DeadLetter]:
    """Up to `limit` records of a dead-letter topic (partition 0: DLQs have one), from offset `start`."""
    consumer = AIOKafkaConsumer(**(security or {}), bootstrap_servers=bootstrap, group_id=None,
                                enable_auto_commit=False)
    await consumer.start()
    try:
        tp = TopicPartition(topic, 0)
        consumer.assign([tp])
        end = (await consumer.end_offsets([tp]))[tp]
        first = max(start, (await consumer.beginning_offsets([tp]))[tp])
        if first >= end:
            return []
        consumer.seek(tp, first)
        found: list[DeadLetter] = []
        while len(found) < limit and await consumer.position(tp) < end:
            batch = await consumer.getmany(tp, timeout_ms=1000, max_records=min(500, limit - len(found)))
            for record in batch.get(tp, []):
                headers = tuple((k, bytes(v)) for k, v in record.headers or ())
                named = {k: v.decode(errors="replace") for k, v in headers}
                found.append(DeadLetter(
                    offset=record.offset, key=bytes(record.key).decode(errors="replace") if record.key else None,
                    reason=named.get("dlq.reason", ""), topic=named.get("dlq.topic", ""),
                    source_offset=named.get("dlq.offset", ""), consumer=named.get("dlq.consumer", ""),
                    value=bytes(record.value or b""), headers=headers))
        return found[:limit]
    finally:
        await consumer.stop()


async def replay(producer: AIOKafkaProducer, letters: list[DeadLetter], *, prefix: str = "",
                 dlq_topic: str) -> int:
    """Send each record back to the topic it came from; the number sent."""
    sent = 0
    for letter in letters:
        if not letter.topic:
            continue
        headers = [(k, v) for k, v in letter.headers if not k.startswith("dlq.")]
        headers.append(("dlq.replayed_from", f"{dlq_topic}@{letter.offset}".encode()))
        await producer.send_and_wait(prefix + letter.topic, letter.value,
                                     key=letter.key.encode() if letter.key is not None else None, headers=headers)
        sent += 1
    return sent
