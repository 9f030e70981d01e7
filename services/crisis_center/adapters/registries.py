"""The registries of this process's partitions of `travellers.registrations` (issue 20; `domain/registry.py`).

One consumer group (`<app id>-registry`) shares the partitions between the worker processes. The registry never
commits offsets: a partition it gains is read from its beginning (the topic is compacted: it is its own
changelog), or from the offset of its local snapshot (`registry_snapshots.py`), with `held` read back from the
compacted topic `<app id>-registry-held`. While it reads, it only keeps
(`rebuilding`); at the offset that was the partition's end when it was assigned, it decides once for every
traveller (`reconcile`).

Every registry also reads the whole of `crisis.incidents` (a few records, no group): an incident's new area is used
only once the registry has read its partitions up to where they ended when the incident was read (the hold), so
that a registration cancelled before the incident was published is never sent on for it.

What one loop has decided leaves together (`_flush`): the held topic widened, the commands to `crisis.by-country`
(one `TravellersBatch` per country and run, keyed by country, as the routing agent sent them), dead letters, then
the held topic settled. A failed flush keeps everything and is tried again; a crash in between sends again what
the country agent ignores (`seq`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.errors import IllegalStateError
from prometheus_client import Counter

from services.crisis_center.adapters.internal_topics import BY_COUNTRY, SOURCE_PARTITIONS, held_topic
from services.crisis_center.adapters.registry_snapshots import Snapshots
from services.crisis_center.adapters.translate import Places
from services.crisis_center.domain.commands import TravellerRemove, TravellersBatch, TravellerUpsert, encode_command
from services.crisis_center.domain.registry import Forward, HeldLedger, HeldWrites, OpenAreas, PartitionRegistry
from services.crisis_center.settings import Settings
from shared.events.envelope import decode, describe_failure
from shared.events.incidents import IncidentClosed, IncidentReported, IncidentUpdated
from shared.events.registry import parse_data
from shared.events.travellers import TravellerCancelled, TravellerRegistered
from shared.geo import Area
from shared.kafka.dlq import dead_letter_headers
from shared.kafka.producer import make_producer
from shared.kafka.security import client_security
from shared.logging import get_logger
from shared.topics import dlq_name

log = get_logger(__name__)

REGISTRATIONS = "travellers.registrations"
INCIDENTS = "crisis.incidents"
RECORDS = Counter("crisis_registry_records_total", "Registrations read by the registries", ["outcome"])
APPLIED, DEAD_LETTERED = RECORDS.labels("ok"), RECORDS.labels("dead_lettered")  # bound once: 3 % of a record
PER_RECORD = 250  # commands per record on crisis.by-country (an upsert is about 450 bytes)
#: Seconds after a rebuild before its first snapshot (counting what the rebuild sent on comes first).
SNAPSHOT_AFTER_REBUILD = 30.0


def encode_held(countries: frozenset[str]) -> bytes | None:
    return json.dumps(sorted(countries)).encode() if countries else None


def decode_held(value: bytes | None) -> frozenset[str]:
    return frozenset(json.loads(value)) if value else frozenset()


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, registries: Registries) -> None:
        self._registries = registries

    async def on_partitions_revoked(self, revoked: Iterable[TopicPartition]) -> None:
        await self._registries.revoked(revoked)

    async def on_partitions_assigned(self, assigned: Iterable[TopicPartition]) -> None:
        await self._registries.assigned(assigned)


class Registries:
    def __init__(self, settings: Settings, places: Places | None = None, *, max_records: int = 2000) -> None:
        self.settings = settings
        self.areas = OpenAreas()
        self.partitions: dict[int, PartitionRegistry] = {}
        self._places = places or Places()
        self._ledgers: dict[int, HeldLedger] = {}
        self._until: dict[int, int] = {}  # partition -> the offset its rebuild reads up to
        self._next: dict[int, int] = {}  # partition -> the offset after the last record applied
        self._revoked: set[int] = set()  # kept until the rebalance ends: regained, they go on where they were
        self._assigned_once = False
        self._holds: list[tuple[str, Area, dict[TopicPartition, int]]] = []  # incidents waiting for the partitions
        self._pending: dict[str, list[TravellerUpsert | TravellerRemove]] = {}  # country -> commands, in order
        self._sent: dict[int, list[TravellerUpsert | TravellerRemove]] = {}  # the same, by source partition
        self._dead: list[tuple[ConsumerRecord, str]] = []
        self._max_records = max_records
        self._snapshots = Snapshots(Path(settings.faust_data_dir) / settings.faust_app_id / "registry")
        self._saved_at: dict[int, float] = {}  # partition -> when its snapshot was last written (monotonic)
        self._lock = asyncio.Lock()
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._topic = settings.topic(REGISTRATIONS)
        self._held_topic = held_topic(settings)
        self._security = client_security(settings)
        # aiokafka's clients are made in `start` (they bind to the running loop); the worker is built outside one.
        self._consumer: AIOKafkaConsumer = None  # type: ignore[assignment]
        self._incidents: AIOKafkaConsumer = None  # type: ignore[assignment]
        self._held_reader: AIOKafkaConsumer = None  # type: ignore[assignment]
        self._producer: AIOKafkaProducer = None  # type: ignore[assignment]

    # lifecycle ------------------------------------------------------------------------------------------------
    def _clients(self) -> None:
        settings, security = self.settings, self._security
        self._consumer = AIOKafkaConsumer(**security, bootstrap_servers=settings.kafka_bootstrap_servers,
                                          group_id=f"{settings.faust_app_id}-registry", enable_auto_commit=False,
                                          auto_offset_reset="earliest", isolation_level="read_committed",
                                          session_timeout_ms=int(settings.faust_session_timeout_seconds * 1000),
                                          max_partition_fetch_bytes=4 * 2**20)
        self._incidents = AIOKafkaConsumer(**security, bootstrap_servers=settings.kafka_bootstrap_servers,
                                           group_id=None, enable_auto_commit=False,
                                           isolation_level="read_committed")
        self._held_reader = AIOKafkaConsumer(**security, bootstrap_servers=settings.kafka_bootstrap_servers,
                                             group_id=None, enable_auto_commit=False)
        self._producer = make_producer(settings.kafka_bootstrap_servers, client_id="crisis-center-registry",
                                       linger_ms=2, security=security)

    async def start(self) -> None:
        self._clients()
        await self._producer.start()
        await self._held_reader.start()
        await self._incidents.start()
        incidents = [TopicPartition(self.settings.topic(INCIDENTS), p) for p in range(SOURCE_PARTITIONS[INCIDENTS])]
        self._incidents.assign(incidents)
        await self._incidents.seek_to_beginning(*incidents)
        await self._consumer.start()
        self._consumer.subscribe([self._topic], listener=_Rebalance(self))
        self._task = asyncio.create_task(self._run(), name="crisis-registries")

    @property
    def task(self) -> asyncio.Task[None] | None:
        return self._task

    async def stop(self) -> None:
        self._stopping.set()
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)
        for partition in list(self.partitions):
            await self._save(partition)
        if self._producer is None:
            return  # never started
        for client in (self._consumer, self._incidents, self._held_reader):
            await client.stop()
        await self._producer.stop()

    def caught_up(self) -> bool:
        """Every assigned partition rebuilt (tests and benches wait on it)."""
        return bool(self.partitions) and not any(r.rebuilding for r in self.partitions.values())

    def ready(self) -> bool:
        """The worker's readiness: its share of the group assigned (none is a share: more processes than
        partitions) and every partition of it read and decided, so that the counts it feeds are true."""
        return self._assigned_once and not any(r.rebuilding for r in self.partitions.values())

    def applied(self) -> int:
        return sum(len(r) for r in self.partitions.values())

    async def lag(self) -> int:
        """Records of the assigned partitions not read yet: a registry stuck on a record shows here (the fuzz
        suite; the registries commit no offsets, so the group's lag says nothing)."""
        async with self._lock:
            behind = 0
            ends = await self._consumer.end_offsets(list(self._consumer.assignment()))
            for tp, end in ends.items():
                position = await self._position(tp)
                behind += end - (position if position is not None else 0)
            return behind

    def holds(self, traveller_id: str) -> bool:
        """Whether a partition here has the traveller's registration."""
        return any(traveller_id in r.travellers for r in self.partitions.values())

    def sent_on(self, traveller_id: str) -> frozenset[str]:
        """The countries whose tables may hold the traveller (tests, benches)."""
        return next((r.held[traveller_id] for r in self.partitions.values() if traveller_id in r.held), frozenset())

    # the loop -------------------------------------------------------------------------------------------------
    async def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                await self._read_incidents()
                batches = await self._consumer.getmany(timeout_ms=50, max_records=self._max_records)
                async with self._lock:
                    for tp, records in batches.items():
                        registry = self.partitions.get(tp.partition)
                        if registry is not None and records:
                            for record in records:
                                self._apply(tp.partition, registry, record)
                            self._next[tp.partition] = records[-1].offset + 1
                    await self._rebuilt()
                    await self._release_holds()
                    await self._flush()
                    await self._save_due()
            except Exception as exc:  # the broker away: keep what was decided and try again
                log.warning("registry_loop_failed", error=type(exc).__name__, detail=str(exc)[:200])
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), timeout=1.0)

    def _apply(self, partition: int, registry: PartitionRegistry, record: ConsumerRecord) -> None:
        try:
            if record.value is None:  # compaction tombstone (an erasure): the registration is gone
                forwards = registry.cancel((record.key or b"").decode(), record.offset)
            else:
                data = parse_data(decode(record.value), topic=REGISTRATIONS)
                if isinstance(data, TravellerRegistered):
                    forwards = registry.register(data, record.offset, self.areas)
                elif isinstance(data, TravellerCancelled):
                    forwards = registry.cancel(data.traveller_id, record.offset)
                else:
                    forwards = []
            self._queue(partition, forwards)
            APPLIED.inc()
        except Exception as exc:
            DEAD_LETTERED.inc()
            self._dead.append((record, describe_failure(exc)))

    def _queue(self, partition: int, forwards: list[Forward]) -> None:
        if forwards:
            self._sent.setdefault(partition, []).extend(command for _, command in forwards)
        for country, command in forwards:
            self._pending.setdefault(country, []).append(command)

    async def _position(self, tp: TopicPartition) -> int | None:
        """The consumer's position in a partition, None while it is not assigned (a rebalance under way)."""
        if tp not in self._consumer.assignment():
            return None
        with contextlib.suppress(IllegalStateError):
            return int(await self._consumer.position(tp))
        return None

    async def _queue_steps(self, partition: int, steps: Iterator[list[Forward]]) -> None:
        """A scan's or a rebuild's decisions, letting the country agent and the timers run between its steps."""
        for forwards in steps:
            self._queue(partition, forwards)
            await asyncio.sleep(0)

    async def _rebuilt(self) -> None:
        for partition, registry in list(self.partitions.items()):
            if not registry.rebuilding:
                continue
            position = await self._position(TopicPartition(self._topic, partition))
            if position is not None and position >= self._until[partition]:
                await self._queue_steps(partition, registry.reconcile(self.areas))
                # A snapshot soon after, so that the next start reads from it; not at once: writing a partition
                # of 170,000 travellers holds the interpreter for a second, while the travellers just sent on are
                # being counted.
                self._saved_at[partition] = time.monotonic() - max(
                    0.0, self.settings.crisis_registry_snapshot_seconds - SNAPSHOT_AFTER_REBUILD)
                log.info("registry_rebuilt", partition=partition, travellers=len(registry), held=len(registry.held))

    # incidents ------------------------------------------------------------------------------------------------
    async def _read_incidents(self) -> None:
        batches = list((await self._incidents.getmany(timeout_ms=0, max_records=500)).items())
        for index, (tp, records) in enumerate(batches):
            for record in records:
                try:
                    await self._incident(record)
                except BaseException:  # the broker away (end offsets), or a stop: read them again next time
                    self._incidents.seek(tp, record.offset)
                    for later, unread in batches[index + 1:]:
                        if unread:
                            self._incidents.seek(later, unread[0].offset)
                    raise

    def holding(self) -> int:
        """Areas read and waiting for their hold (tests and benches wait for none)."""
        return len(self._holds)

    async def _incident(self, record: ConsumerRecord) -> None:
        try:
            data = parse_data(decode(record.value or b""), topic=INCIDENTS)
            area = (Area.from_dict(data.area.model_dump(mode="json", exclude_none=True))
                    if isinstance(data, IncidentReported | IncidentUpdated) else None)
        except Exception:  # the incidents' routing agent dead-letters it with its reason
            return
        if isinstance(data, IncidentReported | IncidentUpdated) and area is not None:
            if self.areas.changes(data.incident_id, area):
                assigned = [TopicPartition(self._topic, p) for p in self.partitions]
                ends = await self._consumer.end_offsets(assigned) if assigned else {}
                self._holds.append((data.incident_id, area, ends))
        elif isinstance(data, IncidentClosed):
            self.areas.close(data.incident_id)
            self._holds = [hold for hold in self._holds if hold[0] != data.incident_id]

    async def _release_holds(self) -> None:
        """Areas whose hold is over: every partition still held here has been read up to where it ended."""
        waiting = []
        for incident_id, area, ends in self._holds:
            behind = False
            for tp, end in ends.items():
                if tp.partition in self.partitions:
                    position = await self._position(tp)
                    behind = behind or position is None or position < end  # unknown (a rebalance): wait
            if behind:
                waiting.append((incident_id, area, ends))
            elif self.areas.apply(incident_id, area):
                for partition, registry in list(self.partitions.items()):
                    await self._queue_steps(partition, registry.scan(area))
        self._holds = waiting

    # delivery -------------------------------------------------------------------------------------------------
    async def _flush(self) -> None:
        changed = {p: set(r.changed) for p, r in self.partitions.items() if r.changed}
        widen = {p: self._ledgers[p].widen(self.partitions[p].held, c) for p, c in changed.items()}
        await self._write_held(widen)
        sends = []
        for country, commands in self._pending.items():
            for start in range(0, len(commands), PER_RECORD):
                chunk = commands[start:start + PER_RECORD]
                command = chunk[0] if len(chunk) == 1 else TravellersBatch(commands=chunk)
                sends.append(await self._producer.send(self.settings.topic(BY_COUNTRY), encode_command(command),
                                                       key=country.encode()))
        for record, reason in self._dead:
            log.warning("dead_lettered", topic=REGISTRATIONS, partition=record.partition, offset=record.offset,
                        reason=reason[:300])
            headers = dead_letter_headers(record.headers or [], reason=reason, topic=REGISTRATIONS,
                                          partition=record.partition, offset=record.offset,
                                          consumer="crisis_center")
            sends.append(await self._producer.send(self.settings.topic(dlq_name(REGISTRATIONS)), record.value,
                                                   key=record.key, headers=headers))
        await asyncio.gather(*sends)
        for partition, commands in self._sent.items():
            if partition in self.partitions:
                self.partitions[partition].confirm(commands)
        self._pending.clear()
        self._sent.clear()
        self._dead.clear()
        settle = {p: self._ledgers[p].settle(self.partitions[p].held, c) for p, c in changed.items()}
        await self._write_held(settle)
        for partition, travellers in changed.items():
            self.partitions[partition].changed -= travellers

    async def _write_held(self, writes: dict[int, HeldWrites]) -> None:
        sends = [await self._producer.send(self._held_topic, encode_held(countries), key=traveller_id.encode(),
                                           partition=partition)
                 for partition, each in writes.items() for traveller_id, countries in each.items()]
        await asyncio.gather(*sends)
        for partition, each in writes.items():
            self._ledgers[partition].wrote(each)

    # snapshots ------------------------------------------------------------------------------------------------
    async def _save_due(self) -> None:
        for partition, registry in self.partitions.items():
            if not registry.rebuilding and (
                    time.monotonic() - self._saved_at.get(partition, time.monotonic())
                    >= self.settings.crisis_registry_snapshot_seconds):
                await self._save(partition)

    async def _save(self, partition: int) -> None:
        registry = self.partitions.get(partition)
        if registry is None or partition not in self._next:
            return
        self._saved_at[partition] = time.monotonic()
        try:
            await self._snapshots.save(self._topic, partition, self._next[partition], registry.travellers,
                                       registry.delivered)
        except OSError as exc:  # a full disk costs the next start time, not this worker its work
            log.warning("registry_snapshot_failed", partition=partition, error=type(exc).__name__)

    # rebalances -----------------------------------------------------------------------------------------------
    async def revoked(self, revoked: Iterable[TopicPartition]) -> None:
        """Deliver what was decided; a partition's registry is kept until the assignment says whether it stays.
        A flush that fails here drops the registry: its next owner reads it from the beginning."""
        async with self._lock:
            try:
                await self._flush()
                self._revoked = {tp.partition for tp in revoked}
            except Exception as exc:
                log.warning("registry_flush_at_revoke_failed", error=type(exc).__name__)
                self._revoked = set()
                for tp in revoked:
                    self._drop(tp.partition)
                self._pending.clear()
                self._sent.clear()
                self._dead.clear()

    async def assigned(self, assigned: Iterable[TopicPartition]) -> None:
        """Partitions kept through the rebalance go on after their last record; the others are read from their
        beginning, with their held travellers read back first."""
        async with self._lock:
            self._assigned_once = True
            mine = {tp.partition for tp in assigned}
            for partition in self._revoked - mine:
                self._drop(partition)
            self._revoked = set()
            for tp in assigned:
                if tp.partition in self.partitions:
                    self._consumer.seek(tp, self._next.get(tp.partition, 0))
            gained = [tp for tp in assigned if tp.partition not in self.partitions]
            if not gained:
                return
            ends = await self._consumer.end_offsets(gained)
            held_by_partition = await self._read_held([tp.partition for tp in gained])
            from_beginning: list[TopicPartition] = []
            for tp in gained:
                held = held_by_partition[tp.partition]
                self._ledgers[tp.partition] = HeldLedger(held)
                registry = self.partitions[tp.partition] = PartitionRegistry(self._places, held, rebuilding=True)
                self._until[tp.partition] = ends[tp]
                self._saved_at[tp.partition] = time.monotonic()
                snapshot = self._snapshots.load(self._topic, tp.partition)
                if snapshot is not None and snapshot[0] <= ends[tp]:
                    registry.restore(*snapshot[1:])
                    self._next[tp.partition] = snapshot[0]
                    self._consumer.seek(tp, snapshot[0])
                else:
                    self._next[tp.partition] = 0
                    from_beginning.append(tp)
                log.info("registry_assigned", partition=tp.partition, from_offset=self._next[tp.partition],
                         end=ends[tp])
            if from_beginning:  # one call: each call waits for the fetcher's reset (about 0.5 s)
                await self._consumer.seek_to_beginning(*from_beginning)

    def _drop(self, partition: int) -> None:
        for state in (self.partitions, self._ledgers, self._until, self._next, self._saved_at):
            state.pop(partition, None)

    async def _read_held(self, partitions: list[int]) -> dict[int, dict[str, frozenset[str]]]:
        """The held topic's partitions, read to their ends together (one at a time took a second each)."""
        tps = [TopicPartition(self._held_topic, p) for p in partitions]
        self._held_reader.assign(tps)
        await self._held_reader.seek_to_beginning(*tps)
        ends = await self._held_reader.end_offsets(tps)
        held: dict[int, dict[str, frozenset[str]]] = {p: {} for p in partitions}
        waiting = {tp for tp in tps if ends[tp] > 0}
        while waiting:
            batches = await self._held_reader.getmany(*waiting, timeout_ms=500)
            for tp, records in batches.items():
                for record in records:
                    countries = decode_held(record.value)
                    key = (record.key or b"").decode()
                    if countries:
                        held[tp.partition][key] = countries
                    else:
                        held[tp.partition].pop(key, None)
            waiting = {tp for tp in waiting if await self._held_reader.position(tp) < ends[tp]}
        return held
