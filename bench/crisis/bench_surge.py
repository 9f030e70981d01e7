"""An incident over a crowd already registered (`python -m bench.crisis surge`), on the real broker and database.

N travellers are registered within 40 km of Bangkok and held by a crisis worker's registries (the population was
there before the incident); then a flood with a 50 km circle arrives, and the registries send the crowd on to the
country agent. Measured from producing the incident:
1. when the exact count (N) is in PostgreSQL (what the dashboard shows), and the longest gap between two
   updates of the count while it grows;
2. when the last notification command for those people is on `notifications.commands` (the notifier's own
   storage rate is issue 24's figure: this one is the crisis center producing them);
3. the worker's event loop lag (`shared.loop_lag`, also its `event_loop_lag_seconds` metric): the longest its
   50 ms sleep overslept during the surge (the worker and its outbox relay share one loop, as in production).
The baseline beside 1: the same N travellers counted by the engine alone (pure Python, no Kafka, no database):
the least any implementation of these rules must spend.

Figures are indicative: everything shares a 2-core machine.
"""

from __future__ import annotations

import asyncio
import math
import os
import random
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from bench.crisis.bench_crisis import _env, drop, schema_for, send, until
from bench.loop import run as run_loop
from bench.report import record
from bench.topics import drop_topics
from services.crisis_center.adapters.translate import Places, incident_command, traveller_command
from services.crisis_center.domain.activation import ThresholdPolicy
from services.crisis_center.domain.commands import Command, IncidentUpsert, TravellerUpsert
from services.crisis_center.domain.engine import Activate, Continue, CountryEngine, Notify
from services.crisis_center.handlers import crisis_id_for_incident
from services.crisis_center.settings import Settings
from services.crisis_center.worker import CrisisWorker
from shared.collector import tune_collector
from shared.events.envelope import encode, new_event
from shared.events.incidents import IncidentReported
from shared.events.travellers import TravellerRegistered
from shared.kafka.admin import ensure_topics

BANGKOK = (13.7563, 100.5018)
SIZES = tuple(int(n) for n in os.environ.get("CRISIS_SURGE_SIZES", "20000,100000").split(","))


def crowd(n: int, seed: int = 7) -> list[TravellerRegistered]:
    """N stays within 40 km of Bangkok (uniform over the disc), every one with a phone."""
    rng = random.Random(seed)
    today = datetime.now(UTC).date()
    people = []
    for i in range(n):
        distance, bearing = 40 * math.sqrt(rng.random()), rng.uniform(0, 2 * math.pi)
        lat = BANGKOK[0] + distance / 111.0 * math.cos(bearing)
        lon = BANGKOK[1] + distance / (111.0 * math.cos(math.radians(BANGKOK[0]))) * math.sin(bearing)
        people.append(TravellerRegistered(
            traveller_id=f"surge-{i}", full_name="Bench Traveller", phone=f"+3247{i:07d}", language="nl",
            country="TH", location={"lat": lat, "lon": lon}, arrival=today - timedelta(days=3),
            departure=today + timedelta(days=10)))
    return people


def flood(incident_id: str) -> IncidentReported:
    return IncidentReported(incident_id=incident_id, title="Flood in Bangkok", kind="flood", severity="severe",
                            area={"country": "TH", "circle": {"lat": BANGKOK[0], "lon": BANGKOK[1],
                                                               "radius_km": 50}},
                            occurred_at=datetime.now(UTC) - timedelta(minutes=5))


def engine_alone(people: list[TravellerRegistered], incident: IncidentReported) -> float:
    """Seconds for the engine, on dicts, to count the crowd when the incident arrives (the ceiling)."""
    engine = CountryEngine(travellers={}, reports={}, incidents={}, members={})
    now, policy, places = datetime.now(UTC), ThresholdPolicy(50, {}), Places()
    for person in people:
        command: TravellerUpsert = traveller_command(person, places)
        engine.handle(command, now=now, policy=policy, partition=0)
    upsert: IncidentUpsert = incident_command(incident)
    started = time.perf_counter()
    pending: list[Command] = [upsert]
    while pending:  # the rescan's slices, which the worker spreads over several events, back to back here
        effects = engine.handle(pending.pop(), now=now, policy=policy, partition=0)
        pending += [e.command for e in effects if isinstance(e, Continue)]
        for effect in effects:  # what the worker reports back once the database has the crisis and messages
            if isinstance(effect, Activate):
                engine.activated(incident.incident_id, crisis_id="c", hotline_number="+3225011000",
                                 count=effect.count)
            if isinstance(effect, Activate | Notify):
                engine.notified(incident.incident_id, effect.recipients)
    elapsed = time.perf_counter() - started
    assert engine.affected(incident.incident_id).count == len(people)
    return elapsed


@dataclass
class SurgeFigures:
    count_seconds: float
    longest_count_gap: float
    commands_seconds: float
    worst_loop_lag: float
    engine_seconds: float


async def count_commands(topic: str, bootstrap: str, seen: list[int], started: asyncio.Event) -> None:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest",
                                max_poll_records=5000)
    await consumer.start()
    started.set()
    try:
        while True:
            for records in (await consumer.getmany(timeout_ms=200, max_records=5000)).values():
                seen[0] += len(records)
    finally:
        await consumer.stop()


async def surge(n: int, data_dir: str) -> SurgeFigures:
    bootstrap = os.environ["KAFKA_BOOTSTRAP_SERVERS"]
    prefix = f"bench{uuid.uuid4().hex[:8]}."
    await ensure_topics(bootstrap, prefix=prefix)
    schema = await schema_for(prefix)
    settings = Settings(kafka_topic_prefix=prefix, database_schema=schema,
                        faust_app_id=f"crisis-surge-{uuid.uuid4().hex[:8]}",
                        faust_store=os.environ.get("CRISIS_BENCH_STORE", "memory://"), faust_data_dir=data_dir,
                        crisis_threshold=50, hotline_numbers="+3225011000,+3225011001",
                        crisis_tick_seconds=3600)  # type: ignore[call-arg]
    people = crowd(n)
    incident = flood(f"surge-{n}")
    engine_seconds = engine_alone(people, incident)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5, acks="all", enable_idempotence=True)
    await producer.start()
    registrations = settings.topic("travellers.registrations")
    for person in people:
        await producer.send(registrations, encode(new_event(person, source="/bench")),
                            key=person.traveller_id.encode())
    await producer.flush()
    del people  # the bench's 100,000 models are not the worker's: out of the heap its collector scans
    worker = CrisisWorker(settings)
    seen = [0]
    consuming = asyncio.Event()
    counter = asyncio.create_task(count_commands(settings.topic("notifications.commands"), bootstrap, seen,
                                                 consuming))
    conn = await asyncpg.connect(os.environ["DATABASE_URL"], server_settings={"search_path": schema})
    try:
        await worker.start()
        tune_collector()  # as the worker's entry point does
        await until(lambda: worker.registries.caught_up() and worker.registries.applied() >= n, interval=0.05)
        await consuming.wait()
        crisis_id = crisis_id_for_incident(incident.incident_id)
        worker.loop_lag.worst = 0.0  # the surge's own, not the registrations' before it
        started = time.perf_counter()
        await send(producer, settings.topic("crisis.incidents"), incident.incident_id,
                   encode(new_event(incident, source="/bench")))
        count_at: float | None = None
        commands_at: float | None = None
        last_count, last_change, longest_gap = -1, started, 0.0
        while count_at is None or commands_at is None:
            count = await conn.fetchval("SELECT affected_count FROM crises WHERE crisis_id = $1", crisis_id)
            now = time.perf_counter()
            if count is not None and count != last_count:
                if last_count >= 0:
                    longest_gap = max(longest_gap, now - last_change)
                last_count, last_change = count, now
            if count_at is None and count == n:
                count_at = now - started
            if commands_at is None and seen[0] >= n:
                commands_at = now - started
            if now - started > 600:
                raise TimeoutError(f"after 600 s: count {count}, commands {seen[0]} of {n}")
            await asyncio.sleep(0.05)
        return SurgeFigures(count_at, longest_gap, commands_at, worker.loop_lag.worst, engine_seconds)
    finally:
        counter.cancel()
        await asyncio.gather(counter, return_exceptions=True)
        await conn.close()
        await worker.stop()
        await producer.stop()
        await drop(schema)
        await drop_topics(prefix, settings.faust_app_id)


async def run() -> None:
    _env()
    with tempfile.TemporaryDirectory() as data_dir:
        for n in SIZES:
            figures = await surge(n, data_dir)
            aim_count = 10.0 if n <= 20000 else 60.0
            record("crisis", f"surge {n:,}: exact count published", figures.count_seconds, "s",
                   baseline=figures.engine_seconds, baseline_name="the engine alone, on dicts",
                   aim=f"<= {aim_count:.0f} s")
            record("crisis", f"surge {n:,}: longest wait between count updates", figures.longest_count_gap, "s",
                   aim="<= 2 s")
            record("crisis", f"surge {n:,}: last notification command produced", figures.commands_seconds, "s",
                   aim="<= 60 s")
            record("crisis", f"surge {n:,}: worst event-loop lag", figures.worst_loop_lag * 1000, "ms",
                   aim="<= 200 ms")


def main() -> int:
    run_loop(run())
    return 0
