"""No event skipped: each agent notices offsets it never saw and handles them first, fetched from Kafka.

faust-streaming 0.15.3 can commit past a record its stream never handled. In `Consumer._new_offset` the check for
a hole at the head of the acked offsets is `min(acked) - committed > 1` while `committed` is already the next offset
to read (so a single missing record at the head passes), and it is skipped altogether while nothing has been
committed yet (`if committed_offset:`); records are dropped without an ack when the flow is suspended while they
are being delivered (`Consumer._drain_messages`: `wait_first(callback(message), suspend_flow.wait())`, read offset
advanced anyway) or cleared from the stream buffers at a rebalance. Observed: ~1 restart in 4 lost 1-12
travellers whose commands were in `crisis.by-country` below the committed offset, with no trace in any table.

So every agent keeps, per source partition, the last offset it applied (`applied` table, partitioned like the
source, written with the effects of the event, so it comes back from its changelog after a restart). An event
whose offset is beyond the next expected one means records were skipped: they are read again straight from
Kafka and handled before it (handling is idempotent, so records of a compacted gap or already applied ones
change nothing). The table is written every `AppliedOffsets.every` records, not every one (it was two of the five
records produced per registration): a value behind the truth only makes a restarted agent handle again the few
records it had already applied.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from aiokafka import AIOKafkaConsumer
from aiokafka.structs import TopicPartition
from prometheus_client import Counter

from shared.logging import get_logger

log = get_logger(__name__)
REFETCHED = Counter("crisis_worker_refetched_total", "Records an agent had skipped, read again and handled", ["topic"])


@dataclass(frozen=True, slots=True)
class Record:
    """What the handlers read of an event's message, for a record read again from Kafka."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Refetched:
    message: Record


class GapFiller:
    """Reads the records between two offsets of a partition with its own (group-less) consumer."""

    def __init__(self, bootstrap_servers: str, security: Mapping[str, Any] | None = None) -> None:
        self._bootstrap = bootstrap_servers
        self._security = dict(security or {})
        self._consumer: AIOKafkaConsumer | None = None
        self._lock = asyncio.Lock()

    async def _ensure(self) -> AIOKafkaConsumer:
        if self._consumer is None:
            self._consumer = AIOKafkaConsumer(**self._security, bootstrap_servers=self._bootstrap, group_id=None,
                                              enable_auto_commit=False, auto_offset_reset="earliest")
            await self._consumer.start()
        return self._consumer

    async def stop(self) -> None:
        if self._consumer is not None:
            await self._consumer.stop()
            self._consumer = None

    async def earliest(self, topic: str, partition: int) -> int:
        async with self._lock:
            consumer = await self._ensure()
            tp = TopicPartition(topic, partition)
            return (await consumer.beginning_offsets([tp]))[tp]

    async def read(self, topic: str, partition: int, start: int, end: int) -> list[Record]:
        """Records with start <= offset < end (fewer if compaction or retention removed some)."""
        async with self._lock:
            consumer = await self._ensure()
            tp = TopicPartition(topic, partition)
            consumer.assign([tp])
            consumer.seek(tp, start)
            found: list[Record] = []
            while await consumer.position(tp) < end:
                batch = await consumer.getmany(tp, timeout_ms=1000)
                for r in batch.get(tp, []):
                    if r.offset < end:
                        found.append(Record(r.topic, r.partition, r.offset, r.key, r.value, list(r.headers)))
            return found


class Applied(Protocol):
    """Where an agent keeps its last applied offset per source partition (a dict in unit tests)."""

    def get(self, key: str, /) -> int | None: ...

    def __setitem__(self, key: str, offset: int, /) -> None: ...


class AppliedOffsets:
    """The last applied offset per source partition, kept in memory and written to `table` every `every` offsets.

    `forget()` at a rebalance: the partition may have been handled elsewhere meanwhile, the table then knows best."""

    def __init__(self, table: MutableMapping[str, int], every: int = 64) -> None:
        self.table = table
        self.every = every
        self._memory: dict[str, int] = {}
        self._written: dict[str, int] = {}  # what the table holds, so that a write needs no read

    def get(self, key: str, /) -> int | None:
        return self._memory[key] if key in self._memory else self.table.get(key)

    def applied_here(self, key: str, /) -> int | None:
        """The last offset this process applied since its last rebalance (None before any)."""
        return self._memory.get(key)

    def __getitem__(self, key: str) -> int:
        value = self.get(key)
        if value is None:
            raise KeyError(key)
        return value

    def __setitem__(self, key: str, offset: int, /) -> None:
        self._memory[key] = offset
        written = self._written.get(key)
        if written is None:
            written = self._written[key] = self.table.get(key, -1)
        if offset - written >= self.every:
            self.table[key] = self._written[key] = offset

    def forget(self) -> None:
        self._memory.clear()
        self._written.clear()


async def handle_in_order(event: Any, handle: Callable[[Any], Awaitable[None]],
                          applied: Applied, gaps: GapFiller) -> None:
    """Handle the records this agent skipped on the event's partition (if any), then the event; remember it."""
    message = event.message
    key = f"{message.topic}:{message.partition}"
    last = applied.get(key)
    expected = last + 1 if last is not None else await gaps.earliest(message.topic, message.partition)
    if message.offset > expected:
        missed = await gaps.read(message.topic, message.partition, expected, message.offset)
        log.warning("skipped_records_handled", topic=message.topic, partition=message.partition,
                    first=expected, until=message.offset, records=len(missed))
        REFETCHED.labels(message.topic).inc(len(missed))
        for record in missed:
            await handle(Refetched(record))
    await handle(event)  # also below `expected` (a replay after a restart): idempotent, and safer than skipping
    applied[key] = max(message.offset, last if last is not None else -1)
