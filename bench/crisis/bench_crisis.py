"""Crisis center benchmark (`python -m bench.crisis`), on the real broker and database.

1. Detection latency: from producing the registration that brings an incident to its threshold to consuming
   `crisis.activated` on `crisis.status` (route agent -> crisis.by-country -> country agent -> PostgreSQL
   transaction -> outbox relay woken by NOTIFY -> Kafka), under a background load of registrations; beside the raw
   produce-to-consume latency of the same broker measured in the same run, under the same load.
2. Throughput: registrations handled per second by the worker (from the first to the last registration stored
   in the country agent's table) beside the least any correct consumer must do with the same events (issue 20):
   read them with aiokafka `getmany`, decode each CloudEvents envelope and validate its data into the
   registration model, in one process. aiokafka's raw consume rate of the same topic is its own line.
   The events come from `bench.crisis.registrations` (spread like real stays), as in `make registrations`.

Everything runs in this one process and event loop (worker, load, probes), on a machine shared with others:
figures are indicative. Aims (issues 5 and 20): detection p99 within 3x raw p99; throughput at least 0.5x the
decode-and-validate baseline. Then (unless CRISIS_BENCH_COLD=0) the cold start and restart of goal 2, which
`python -m bench.crisis cold-start` runs alone (bench/crisis/cold_start.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from bench.cpu import CpuMeter, broker_pids, postgres_pids
from bench.crisis.registrations import Generator, produce
from bench.loop import run as run_loop
from bench.report import record
from bench.topics import drop_topics
from services.crisis_center.adapters.internal_topics import BY_COUNTRY
from services.crisis_center.handlers import crisis_id_for_incident
from services.crisis_center.settings import Settings
from services.crisis_center.worker import CrisisWorker
from shared.events.envelope import decode, encode, new_event
from shared.events.incidents import IncidentReported
from shared.events.registry import parse_data
from shared.events.travellers import TravellerRegistered
from shared.kafka.admin import ensure_topics

ROOT = Path(__file__).resolve().parents[2]
THRESHOLD = 20
TRIALS = int(os.environ.get("CRISIS_BENCH_TRIALS", "30"))
THROUGHPUT_N = int(os.environ.get("CRISIS_BENCH_REGISTRATIONS", "20000"))
LOAD_PER_SECOND = 300


def _env() -> None:
    for line in (ROOT / "config" / "local.env").read_text().splitlines():
        if line.strip() and not line.startswith("#") and "=" in line:
            key, value = line.strip().split("=", 1)
            os.environ.setdefault(key, value)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def registration(tid: str, country: str, lat: float, lon: float) -> bytes:
    today = datetime.now(UTC).date()
    phone = f"+3247{abs(hash(tid)) % 10**7:07d}"
    data = TravellerRegistered(traveller_id=tid, full_name="Bench Traveller", phone=phone, language="fr",
                               country=country, location={"lat": lat, "lon": lon},
                               arrival=today - timedelta(days=1), departure=today + timedelta(days=5))
    return encode(new_event(data, source="/bench"))


async def send(producer: AIOKafkaProducer, topic: str, key: str, value: bytes) -> None:
    await producer.send_and_wait(topic, value, key=key.encode(),
                                 headers=[("content-type", b"application/cloudevents+json")])


async def schema_for(prefix: str) -> str:
    from shared.db import migrate

    schema = "crisis_center_bench_" + prefix.strip(".")
    await migrate(os.environ["DATABASE_URL"], schema, ROOT / "services" / "crisis_center" / "migrations")
    return schema


async def drop(schema: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(os.environ["DATABASE_URL"])
    try:
        await conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    finally:
        await conn.close()


def settings_for(prefix: str, schema: str, data_dir: str) -> Settings:
    return Settings(kafka_topic_prefix=prefix, database_schema=schema,
                    faust_app_id=f"crisis-bench-{uuid.uuid4().hex[:8]}",
                    faust_store=os.environ.get("CRISIS_BENCH_STORE", "memory://"), faust_data_dir=data_dir,
                    crisis_threshold=THRESHOLD, hotline_numbers="+3225011000,+3225011001",
                    crisis_tick_seconds=3600)  # type: ignore[call-arg]


async def until(check: Callable[[], bool], interval: float = 0.01) -> None:
    """Poll the worker's tables (same process): a benchmark may wait on state, tests may not wait on time."""
    while not check():  # noqa: ASYNC110 - the state lives in Faust tables, there is no event to await
        await asyncio.sleep(interval)


async def background_load(producer: AIOKafkaProducer, topic: str, stop: asyncio.Event) -> int:
    """Registrations in countries without incidents, at a steady rate."""
    sent = 0
    while not stop.is_set():
        started = time.monotonic()
        for _ in range(LOAD_PER_SECOND // 10):
            await producer.send(topic, registration(f"bg{sent}", "FR", 48.85, 2.35), key=f"bg{sent}".encode())
            sent += 1
        await asyncio.sleep(max(0.0, 0.1 - (time.monotonic() - started)))
    return sent


async def raw_latency(producer: AIOKafkaProducer, topic: str, samples: int) -> list[float]:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=os.environ["KAFKA_BOOTSTRAP_SERVERS"], group_id=None,
                                auto_offset_reset="latest")
    await consumer.start()
    try:
        while not consumer.assignment():
            await consumer.getmany(timeout_ms=100)
        await consumer.seek_to_end()
        for tp in consumer.assignment():
            await consumer.position(tp)
        latencies = []
        for i in range(samples):
            started = time.perf_counter()
            await producer.send_and_wait(topic, b"probe", key=str(i).encode())
            got = False
            while not got:
                batches = await consumer.getmany(timeout_ms=1000)
                got = any(batches.values())
            latencies.append(time.perf_counter() - started)
            await asyncio.sleep(0.05)
        return latencies
    finally:
        await consumer.stop()


@dataclass
class Detection:
    """Milliseconds from producing the registration that crosses the threshold: to the `crisis.by-country`
    record carrying its command (the routing hop: that record's CreateTime), to the `crisis.activated` record
    (country agent, PostgreSQL, outbox relay: its CreateTime), to consuming it (the relay's linger and the fetch).
    CreateTime is the sending client's clock: the same machine's here."""
    routed: list[float] = field(default_factory=list)
    activated: list[float] = field(default_factory=list)
    consumed: list[float] = field(default_factory=list)


async def _record_time(consumer: AIOKafkaConsumer, match: Callable[[Any], bool]) -> int:
    """The CreateTime (ms since the epoch) of the next record `match` accepts."""
    while True:
        for records in (await consumer.getmany(timeout_ms=1000)).values():
            for message in records:
                if match(message):
                    return int(message.timestamp)


async def detection(worker: CrisisWorker, producer: AIOKafkaProducer, settings: Settings) -> Detection:
    bootstrap = settings.kafka_bootstrap_servers
    status = AIOKafkaConsumer(settings.topic("crisis.status"), bootstrap_servers=bootstrap, group_id=None,
                              auto_offset_reset="earliest")
    routed = AIOKafkaConsumer(settings.topic("crisis.by-country"), bootstrap_servers=bootstrap, group_id=None,
                              auto_offset_reset="earliest")
    await status.start()
    await routed.start()
    registrations, incidents = settings.topic("travellers.registrations"), settings.topic("crisis.incidents")
    found = Detection()
    try:
        for trial in range(TRIALS):
            incident_id = f"bench-{trial}"
            lat, lon = -60.0 + trial * 3, 20.0  # one separate circle per trial, in Antarctica
            data = IncidentReported(incident_id=incident_id, title=f"Bench {trial}", kind="other", severity="severe",
                                    area={"country": "AQ", "circle": {"lat": lat, "lon": lon, "radius_km": 10}},
                                    occurred_at=datetime.now(UTC) - timedelta(minutes=1))
            await send(producer, incidents, incident_id, encode(new_event(data, source="/bench")))
            for n in range(THRESHOLD - 1):
                await producer.send(registrations, registration(f"{incident_id}-{n}", "AQ", lat, lon),
                                    key=f"{incident_id}-{n}".encode())
            await until(lambda i=incident_id: i in worker.engine.incidents  # type: ignore[misc]
                        and worker.engine.affected(i).count >= THRESHOLD - 1)
            crisis_id = crisis_id_for_incident(incident_id)
            last = f"{incident_id}-last"
            produced_ms = time.time() * 1000
            started = time.perf_counter()
            await send(producer, registrations, last, registration(last, "AQ", lat, lon))
            activated_ms = await _record_time(status, partial(_is_activation, crisis_id=crisis_id))
            found.consumed.append((time.perf_counter() - started) * 1000)
            found.activated.append(activated_ms - produced_ms)
            found.routed.append(await _record_time(routed, partial(_carries, marker=last.encode())) - produced_ms)
            # Close it so the two-number pool never runs dry.
            async with worker.pool.acquire() as conn:
                await conn.execute("UPDATE crises SET status = 'closed', closed_at = now(), closed_by = 'bench'"
                                   " WHERE crisis_id = $1", crisis_id)
    finally:
        await status.stop()
        await routed.stop()
    return found


def _is_activation(record: Any, *, crisis_id: str) -> bool:
    event = decode(record.value or b"")
    return event.type.endswith("activated") and event.data["crisis_id"] == crisis_id


def _carries(record: Any, *, marker: bytes) -> bool:
    return marker in (record.value or b"")


async def consume_rate(topic: str, n: int, each: Callable[[int, bytes], object] | None = None) -> float:
    """Records per second a bare `getmany` loop reads from `topic`; with `each`, also called on every record's
    partition and value. Without it (the raw baseline) nothing is done per record."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=os.environ["KAFKA_BOOTSTRAP_SERVERS"], group_id=None,
                                auto_offset_reset="earliest", max_poll_records=2000)
    await consumer.start()
    try:
        seen, started = 0, None
        while seen < n:
            for tp, records in (await consumer.getmany(timeout_ms=1000, max_records=2000)).items():
                if started is None and records:
                    started = time.perf_counter()
                if each is not None:
                    for message in records:
                        each(tp.partition, message.value)
                seen += len(records)
        assert started is not None
        return n / (time.perf_counter() - started)
    finally:
        await consumer.stop()


def decode_validate(_partition: int, value: bytes) -> None:
    """The least any correct consumer must do per record: decode the envelope, validate the registration."""
    parse_data(decode(value), topic="travellers.registrations")


#: The throughput run's open incident: a circle over Paris, the densest area of the generated stays, so that the
#: registries send a realistic share of the registrations on to the country agent (a crisis in a major destination
#: while the worker starts). Its threshold is out of reach: counting is measured, not the messages of a crisis.
PARIS = {"country": "FR", "circle": {"lat": 48.85, "lon": 2.35, "radius_km": 50}}


async def open_paris_incident(producer: AIOKafkaProducer, settings: Settings) -> None:
    data = IncidentReported(incident_id="bench-paris", title="Bench Paris", kind="other", severity="severe",
                            area=PARIS, occurred_at=datetime.now(UTC) - timedelta(minutes=1))
    await send(producer, settings.topic("crisis.incidents"), data.incident_id, encode(new_event(data, source="/bench")))


def handled(worker: CrisisWorker) -> int:
    """Registrations the worker holds: the registries' travellers."""
    return worker.registries.applied()


def settled(worker: CrisisWorker, n: int) -> bool:
    """All n handled: every partition read to its end and decided, and each traveller the registries sent on in
    the country agent's table (a walk over the table's keys on RocksDB: `Settling` asks it only at the end)."""
    registries = worker.registries
    held = sum(len(r.held) for r in registries.partitions.values())
    return registries.caught_up() and registries.applied() >= n and len(worker.engine.travellers) >= held


class Settling:
    """`settled`, asked cheaply: only once the registries hold all n and use the open incident's area (one
    run counted nobody: the bench had not waited for it), and the country agent has applied every record on
    `crisis.by-country` up to the ends read then (its offsets, in memory). The table's walk, which took a fifth
    of the process while the country agent counted 95,000 people, then confirms it."""

    def __init__(self, worker: CrisisWorker, areas: int = 1) -> None:
        self.worker = worker
        self.areas = areas  # open incidents the registries must have read and applied (the Paris one)
        self.topic = worker.settings.topic(BY_COUNTRY)
        bootstrap = worker.settings.kafka_bootstrap_servers
        self.reader = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
        self.admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)

    async def __aenter__(self) -> Settling:
        await self.reader.start()
        await self.admin.start()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.reader.stop()
        await self.admin.close()

    async def check(self, n: int) -> bool:
        registries = self.worker.registries
        if not (registries.caught_up() and registries.applied() >= n and len(registries.areas) >= self.areas
                and registries.holding() == 0):
            return False
        partitions = [TopicPartition(self.topic, p) for p in range(self.worker.settings.faust_partitions)]
        ends = await self.reader.end_offsets(partitions)
        applied = self.worker.streams.applied[BY_COUNTRY]
        last = {tp: applied.applied_here(f"{tp.topic}:{tp.partition}") for tp in ends}
        if any(last[tp] is not None and last[tp] < end - 1 for tp, end in ends.items()):  # type: ignore[operator]
            return False
        unknown = [tp for tp, end in ends.items() if end > 0 and last[tp] is None]
        if unknown:  # nothing applied since a restart: what the group committed before says it
            committed = await self.admin.list_consumer_group_offsets(self.worker.settings.faust_app_id,
                                                                     partitions=unknown)
            if any(committed.get(tp) is None or committed[tp].offset < ends[tp] for tp in unknown):
                return False
        return settled(self.worker, n)


async def worker_rate(settings: Settings, n: int) -> tuple[float, dict[str, float], int]:
    """Registrations handled per second by a worker in this process, from the first handled to the n-th settled;
    with the CPU microseconds per registration of this process (the worker), the broker (java) and PostgreSQL,
    and how many reached the country agent."""
    worker = CrisisWorker(settings)
    meter = CpuMeter({"broker": broker_pids, "postgres": postgres_pids}, own="worker")
    async with Settling(worker) as settling:
        # The registries read while Faust starts: the first registration is handled before `start()` returns.
        starting = asyncio.create_task(worker.start())
        try:
            await until(lambda: handled(worker) > 0 or starting.done(), interval=0.001)
            first = time.perf_counter()
            meter.start()
            await starting
            while not await settling.check(n):  # noqa: ASYNC110 - the broker's offsets, polled
                await asyncio.sleep(0.01)
            meter.stop()
            return n / (time.perf_counter() - first), meter.per_message_us(n), len(worker.engine.travellers)
        finally:
            with contextlib.suppress(Exception):
                await starting
            await worker.stop()


async def run() -> None:
    _env()
    bootstrap = os.environ["KAFKA_BOOTSTRAP_SERVERS"]
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=0, acks="all", enable_idempotence=True)
    await producer.start()
    with tempfile.TemporaryDirectory() as data_dir:
        # 1. detection latency under load, with the raw latency of the same broker in the same run
        prefix = f"bench{uuid.uuid4().hex[:8]}."
        await ensure_topics(bootstrap, prefix=prefix)
        schema = await schema_for(prefix)
        settings = settings_for(prefix, schema, data_dir)
        worker = CrisisWorker(settings)
        await worker.start()
        stop = asyncio.Event()
        load = asyncio.create_task(background_load(producer, settings.topic("travellers.registrations"), stop))
        try:
            raw = await raw_latency(producer, settings.topic("notifications.status"), max(TRIALS, 100))
            detect = await detection(worker, producer, settings)
        finally:
            stop.set()
            await load
            await worker.stop()
            await drop(schema)
            await drop_topics(prefix, settings.faust_app_id)
        raw_p50, raw_p99 = pct(raw, 0.5) * 1000, pct(raw, 0.99) * 1000
        record("crisis", "detection latency p50", pct(detect.consumed, 0.5), "ms", baseline=raw_p50,
               baseline_name="raw produce-to-consume p50")
        record("crisis", "detection latency p99", pct(detect.consumed, 0.99), "ms", baseline=raw_p99,
               baseline_name="raw produce-to-consume p99", aim="<= 3x raw p99")
        for stage, values in (("routed to crisis.by-country", detect.routed),
                              ("crisis.activated produced", detect.activated)):
            for q in (0.5, 0.99):
                record("crisis", f"detection stage: {stage}, p{round(q * 100)} after the produce",
                       pct(values, q), "ms")

        # 2. throughput on a topic filled beforehand
        prefix = f"bench{uuid.uuid4().hex[:8]}."
        await ensure_topics(bootstrap, prefix=prefix)
        schema = await schema_for(prefix)
        settings = settings_for(prefix, schema, data_dir)
        topic = settings.topic("travellers.registrations")
        await produce(bootstrap, topic, Generator(seed=20).events(THROUGHPUT_N))
        raw_rate = statistics.median([await consume_rate(topic, THROUGHPUT_N) for _ in range(3)])
        least = statistics.median([await consume_rate(topic, THROUGHPUT_N, decode_validate) for _ in range(3)])
        try:
            await open_paris_incident(producer, settings)
            rate, cpu, counted = await worker_rate(settings.model_copy(update={"crisis_threshold": 10**9}),
                                                   THROUGHPUT_N)
            print(f"[crisis] {THROUGHPUT_N:,} registrations handled at {rate:,.0f}/s ({counted:,} in the country "
                  f"agent's table); CPU us per registration: {cpu}"
                  f" (getmany + decode + validate: {1e6 / least:.0f} us of one process)", flush=True)
        finally:
            await drop(schema)
            await drop_topics(prefix, settings.faust_app_id)
        record("crisis", "aiokafka raw consume rate (registrations)", raw_rate, "events/s")
        record("crisis", "registrations read, decoded and validated per second", least, "events/s",
               baseline=raw_rate, baseline_name="aiokafka raw consume rate")
        record("crisis", "registrations handled per second", rate, "events/s", baseline=least,
               baseline_name="getmany + decode + validate, one process", aim=">= 0.5x baseline")
    await producer.stop()


def main() -> int:
    run_loop(run())
    if os.environ.get("CRISIS_BENCH_COLD", "1") != "0":  # goal 2 of issue 20 in the same `make bench`
        from bench.crisis import cold_start

        cold_start.main()
    return 0
