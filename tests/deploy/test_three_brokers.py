"""Scale-out on one machine: three Kafka brokers (RF 3, min.insync.replicas=2), three replicas of each worker
(a worker built from shared/, and the four services' own workers: intake, directory, the crisis center's Faust
app, notifier), one broker and one replica of each worker killed under load: no report lost, no case opened,
routed or counted twice, no SMS sent twice, partition leaders moved off the dead broker.

The load goes through the system as in production: the test offers external reports (as another system
would) on `consular.reports`; intake opens a case for each and acknowledges it by SMS (a command to the
notifier, which sends it to the Twilio stand-in); intake's own `report.submitted` for the case is routed by the
directory (`directory.routings`, which intake reads back to attach the post); the crisis center's Faust app
records every report in its `reports` table (changelog on Kafka, RF 3).

It runs only when asked (`SCALEOUT=1`: `make scaleout`, and a short form in `make test`), since it starts
three JVMs; it reports its figures on stdout and in .run/scaleout/report.json (the workers' logs beside it).

Knobs: SCALEOUT_EVENTS (default 1500 reports), SCALEOUT_RATE (reports per second offered, default 150).
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import KafkaError

from services.notifier.dev.twilio_server import ServerConfig, build_app
from shared.db import create_pool, migrate
from shared.events.envelope import decode
from shared.events.reports import Reporter, ReportLocation, ReportSubmitted
from shared.kafka.admin import ensure_topics
from shared.kafka.outbox import enqueue
from shared.topics import DLQ_PARTITIONS, all_topic_specs, dlq_name, spec_for
from tests.support import database_url, drop_schema, eventually, schema_fixture, serve_stand_in, unique

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.environ.get("SCALEOUT") != "1",
                       reason="starts a three-broker cluster of its own: make scaleout "
                              "(CI runs make scaleout-short after make test)"),
]

ROOT = Path(__file__).resolve().parents[2]
CLUSTER = ROOT / "scripts" / "kafka-cluster.sh"
RUN = ROOT / ".run" / "scaleout"  # the workers' logs and the report (kept after the cluster is removed)
WORKER = Path(__file__).with_name("scaleout_worker.py")
REPORTS = "consular.reports"
TEST_SOURCE = "/services/scaleout-test"
INTAKE_SOURCE = "/services/intake"
EVENTS = int(os.environ.get("SCALEOUT_EVENTS", "1500"))
RATE = float(os.environ.get("SCALEOUT_RATE", "150"))
BATCH = 10


def cluster(*args: str) -> str:
    done = subprocess.run([str(CLUSTER), *args], capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, f"kafka-cluster.sh {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout.strip()


@pytest.fixture(scope="module")
def bootstrap_servers() -> Iterator[str]:
    """The three-broker cluster, started for this module and stopped (data removed) after it."""
    try:
        cluster("start")
        yield cluster("bootstrap")
    finally:
        cluster("reset")


class Workers:
    """Replicas of one worker command, each a process of its own (logs in .run/scaleout/<name>-N.log)."""

    def __init__(self, name: str, command: list[str], env: dict[str, str] | None = None) -> None:
        self.name = name
        self.procs: dict[int, subprocess.Popen[bytes]] = {}
        self._command = command
        self._env = {**os.environ, **(env or {})}

    def start(self, replica: int) -> None:
        RUN.mkdir(parents=True, exist_ok=True)
        with self.log(replica).open("wb") as log:
            command = [arg.replace("{replica}", str(replica)) for arg in self._command]
            env = {k: v.replace("{replica}", str(replica)) for k, v in self._env.items()}
            self.procs[replica] = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)

    def log(self, replica: int) -> Path:
        return RUN / f"{self.name}-{replica}.log"

    def stop(self, replica: int) -> dict[str, Any]:
        """Stop one replica gracefully; returns the counts it logged on the way out."""
        proc = self.procs[replica]
        proc.terminate()
        proc.wait(30)
        for line in self.log(replica).read_text().splitlines():
            if '"scaleout_worker_stopped"' in line:
                return dict(json.loads(line))
        raise AssertionError(f"replica {replica} did not report; see {self.log(replica)}")

    def kill(self, replica: int) -> None:
        self.procs[replica].kill()
        self.procs[replica].wait(10)

    def stop_all(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs.values():
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()


# Countries to spread the reports over: the crisis center keys `crisis.by-country` by country, so one country
# would load one partition (and one replica) only.
PLACES = (("FR", "Lyon"), ("ES", "Madrid"), ("IT", "Rome"), ("DE", "Berlin"), ("MA", "Rabat"), ("TH", "Bangkok"),
          ("US", "Chicago"), ("BR", "Recife"))


def report(n: int) -> ReportSubmitted:
    """An external report, as another system would send (no real person): its report_id is what the checks
    follow; intake gives the case a reference of its own."""
    return ReportSubmitted(
        report_id=f"EXT-2026-{n:06d}", kind="information_request",
        reporter=Reporter(full_name="Synthetic Load", language="en", channel="sms", phone=phone_of(n)),
        location=ReportLocation(country=PLACES[n % len(PLACES)][0], city=PLACES[n % len(PLACES)][1]),
        description="load test", received_at=datetime.now(UTC),
        channel="web",
    )


async def _where_reports_went(bootstrap: str, prefix: str, faust_app_id: str, references: list[str]) -> str:
    """How many of the missing references are in crisis.by-country (routed) and in the reports changelog
    (written, then deleted by a tombstone), to tell a routing loss from a country-agent loss."""
    partitions = spec_for("crisis.by-country").partitions
    commands = await read_all_records(bootstrap, prefix + "crisis.by-country", partitions)
    changelog = await read_all_records(bootstrap, f"{faust_app_id}-reports-changelog", partitions)
    wanted = {ref.encode() for ref in references}
    routed = {ref for ref in wanted if any(value and ref in value for _, value in commands)}
    written = {key for key, _ in changelog if key is not None and _text(key).encode() in wanted}
    return (f"{len(routed)} of them routed into crisis.by-country, {len(written)} written to the changelog "
            f"and later deleted")


def phone_of(n: int) -> str:
    """Each report's reporter has a (synthetic) number of its own: intake acknowledges the case by SMS to it,
    so the Twilio stand-in shows any second send."""
    return f"+3248{n:07d}"


async def describe(admin: AIOKafkaAdminClient, topic: str) -> list[dict[str, Any]]:
    """The partitions of `topic`; the admin client asks one broker at random, so a dead one is retried past."""
    for attempt in range(40):
        try:
            result = await admin.describe_topics([topic])
            break
        except KafkaError:
            if attempt == 39:
                raise
            await asyncio.sleep(0.25)
    partitions: list[dict[str, Any]] = result[0]["partitions"]
    return sorted(partitions, key=lambda p: p["partition"])


async def read_all(bootstrap: str, topic: str, partitions: int) -> list[bytes]:
    """Every record's value on `topic` now (end offsets taken first)."""
    return [value for _, value in await read_all_records(bootstrap, topic, partitions)]


async def read_all_records(bootstrap: str, topic: str, partitions: int) -> list[tuple[bytes, bytes]]:
    """Every record of `topic` now, as (key, value)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
                                isolation_level="read_committed")
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in range(partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        values: list[tuple[bytes, bytes]] = []
        while [tp for tp in tps if await consumer.position(tp) < ends[tp]]:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                values += [(r.key, r.value) for r in records]
        return values
    finally:
        await consumer.stop()


@pytest.fixture
async def schema() -> AsyncIterator[str]:
    name = unique("scaleout_t")
    await migrate(database_url(), name, None)
    conn = await asyncpg.connect(database_url())
    try:
        await conn.execute(f"SET search_path TO {name}")
        await conn.execute("CREATE TABLE submitted (reference text PRIMARY KEY)")
        await conn.execute("CREATE TABLE handled (reference text NOT NULL, replica text NOT NULL,"
                           " handled_at timestamptz NOT NULL DEFAULT clock_timestamp())")
    finally:
        await conn.close()
    yield name
    await drop_schema(name)


@pytest.fixture
async def twilio() -> AsyncIterator[tuple[str, Any]]:
    """The notifier's Twilio stand-in, in this process: (its URL, the server, whose `messages` are what was sent)."""
    app, server = build_app(ServerConfig(account_sid=os.environ["TWILIO_ACCOUNT_SID"],
                                         auth_token=os.environ["TWILIO_AUTH_TOKEN"], callbacks=False))
    async with serve_stand_in(app) as (url, _):
        yield url, server


# Each service's own schema (its migrations; intake's with its test seeds), for its workers' replicas.
notifier_schema = schema_fixture("notifier", "function", name="notifier_schema")
intake_schema = schema_fixture("intake", "function", name="intake_schema")
crisis_schema = schema_fixture("crisis_center", "function", name="crisis_schema")
directory_schema = schema_fixture("directory", "function", name="directory_schema")


async def test_kill_a_broker_and_a_worker_under_load(bootstrap_servers: str, schema: str, directory_schema: str,
                                                     notifier_schema: str, intake_schema: str, crisis_schema: str,
                                                     twilio: tuple[str, Any]) -> None:
    twilio_url, twilio_server = twilio
    prefix = unique("so") + "."
    topic = prefix + REPORTS
    created = await ensure_topics(bootstrap_servers, prefix=prefix, replication_factor=3)
    assert len(created) == len(all_topic_specs())

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, request_timeout_ms=5000)
    await admin.start()
    pool = await create_pool(database_url(), schema, min_size=1, max_size=4)
    directory_pool = await create_pool(database_url(), directory_schema, min_size=1, max_size=2)
    workers = Workers("worker", [
        sys.executable, str(WORKER), "--bootstrap", bootstrap_servers, "--database-url", database_url(),
        "--schema", schema, "--prefix", prefix, "--group", unique("scaleout-"), "--replica", "{replica}",
        "--source", TEST_SOURCE])
    # Intake's own worker: opens a case for each external report, acknowledges it (SMS command), republishes it.
    intake_pool = await create_pool(database_url(), intake_schema, min_size=1, max_size=2)
    intake = Workers("intake", [sys.executable, "-m", "services.intake", "worker"], env={
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap_servers, "KAFKA_TOPIC_PREFIX": prefix,
        "DATABASE_SCHEMA": intake_schema, "LOG_LEVEL": "WARNING", "HEALTH_PORT": "1910{replica}"})
    # The crisis center's Faust app: every report into its `reports` table, changelogs with three replicas.
    faust_app_id = prefix + "crisis-center"
    crisis = Workers("crisis", [sys.executable, "-m", "services.crisis_center", "worker"], env={
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap_servers, "KAFKA_TOPIC_PREFIX": prefix,
        "DATABASE_SCHEMA": crisis_schema, "LOG_LEVEL": "WARNING", "HEALTH_PORT": "1950{replica}",
        "FAUST_APP_ID": faust_app_id, "FAUST_STORE": "memory://", "FAUST_DATA_DIR": str(RUN / "faust-{replica}"),
        "FAUST_REPLICATION_FACTOR": "3", "FAUST_STANDBY_REPLICAS": "1"})
    # The directory's own worker: routes every report (consular.reports -> its outbox -> directory.routings).
    directory = Workers("directory", [sys.executable, "-m", "services.directory", "worker"], env={
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap_servers, "KAFKA_TOPIC_PREFIX": prefix,
        "DATABASE_SCHEMA": directory_schema, "REPORT_SOURCES": INTAKE_SOURCE, "LOG_LEVEL": "WARNING",
        "HEALTH_PORT": "1920{replica}"})
    # The notifier's own worker: sends each SMS command to the Twilio stand-in. A dead sender's reserved
    # messages are taken over after DEAD_AFTER_SECONDS. The SMS rate is the three replicas' together (150 each).
    notifier_pool = await create_pool(database_url(), notifier_schema, min_size=1, max_size=2)
    notifier = Workers("notifier", [sys.executable, "-m", "services.notifier", "worker"], env={
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap_servers, "KAFKA_TOPIC_PREFIX": prefix,
        "DATABASE_SCHEMA": notifier_schema, "TWILIO_API_BASE": twilio_url, "PUBLIC_BASE_URL": "http://127.0.0.1:9",
        "SMS_RATE_PER_SECOND": "450", "SEND_TIMEOUT_SECONDS": "2", "HEARTBEAT_SECONDS": "0.5",
        "DEAD_AFTER_SECONDS": "5", "COMMAND_CONSUMERS": "2", "LOG_LEVEL": "WARNING",
        "HEALTH_PORT": "1930{replica}"})
    loader: asyncio.Task[None] | None = None
    try:
        partitions = spec_for(REPORTS).partitions

        async def created_everywhere() -> list[dict[str, Any]] | None:
            """The new topic's metadata, once every partition has a leader and three replicas in sync."""
            described = await describe(admin, topic)
            ready = len(described) == partitions and all(
                p["leader"] >= 0 and len(p["replicas"]) == 3 and len(p["isr"]) == 3 for p in described)
            return described if ready else None

        before: list[dict[str, Any]] = await eventually(created_everywhere, timeout=60, interval=0.25)
        configs = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
        entries = {e[0]: e[1] for e in configs[0].resources[0][4]}
        assert entries["min.insync.replicas"] == "2"

        everyone = (workers, intake, directory, crisis, notifier)
        for replica in (1, 2, 3):
            for group in everyone:
                group.start(replica)

        async def handled_count() -> int:
            return int(await pool.fetchval("SELECT count(*) FROM handled"))

        async def routed_count() -> int:
            return int(await directory_pool.fetchval("SELECT count(*) FROM routings"))

        async def cases_count() -> int:
            return int(await intake_pool.fetchval("SELECT count(*) FROM reports WHERE source = $1", TEST_SOURCE))

        async def crisis_seen() -> set[str]:
            """The references in the crisis center's `reports` table (the latest value of each changelog key)."""
            records = await read_all_records(bootstrap_servers, f"{faust_app_id}-reports-changelog",
                                             spec_for("crisis.by-country").partitions)
            latest = {_text(key): value for key, value in records}
            return {ref for ref, value in latest.items() if value is not None}

        go = asyncio.Event()
        submitted_count = 0

        async def submit(count: int) -> None:
            """`count` more reports, each with its SMS command, through the outbox as a service would."""
            nonlocal submitted_count
            async with pool.acquire() as conn, conn.transaction():
                for n in range(submitted_count, submitted_count + count):
                    data = report(n)
                    await conn.execute("INSERT INTO submitted(reference) VALUES ($1)", data.key())
                    await enqueue(conn, data, source=TEST_SOURCE, topic_prefix=prefix)
            submitted_count += count

        async def load() -> None:
            """A trickle (20/s) until every worker is at work, then EVENTS more at about RATE per second."""
            while not go.is_set():
                await submit(2)
                await asyncio.sleep(0.1)
            for _ in range(0, EVENTS, BATCH):
                await submit(BATCH)
                await asyncio.sleep(BATCH / RATE)

        loader = asyncio.create_task(load())

        warm_up_started = time.monotonic()
        shown = [0.0]

        async def at_work() -> bool:
            state = {"shared_replicas_at_work": await pool.fetchval("SELECT count(DISTINCT replica) FROM handled"),
                     "cases": await cases_count(), "routed": await routed_count(),
                     "sms": len(twilio_server.messages), "offered": submitted_count}
            if time.monotonic() - shown[0] > 15:  # progress for whoever watches a slow machine
                shown[0] = time.monotonic()
                print(f"warm-up {time.monotonic() - warm_up_started:.0f}s: {json.dumps(state)}", flush=True)
            return bool(state["shared_replicas_at_work"] == 3 and state["cases"] and state["routed"] and state["sms"])

        await eventually(at_work, timeout=300, interval=0.2)
        # Every replica of every service's worker says it is ready (the crisis center's: tables recovered).
        for port in [port for ports in HEALTH_PORTS.values() for port in ports]:
            await eventually(lambda port=port: _ready(port), timeout=120, interval=0.25)
        go.set()
        # The kills come under load: a quarter of the measured reports handled, the rest still arriving.
        kill_at = await handled_count() + EVENTS // 4
        await eventually(lambda: _reached(handled_count, kill_at), timeout=120, interval=0.1)
        victim = int(before[0]["leader"])
        cluster("kill-broker", str(victim))
        killed_at = time.monotonic()
        for group in everyone:
            group.kill(1)
        count_at_kill = await handled_count()
        sms_at_kill = len(twilio_server.messages)

        # Watch leadership and progress until everything is handled.
        failover_s: float | None = None
        longest_stall = 0.0
        last_count, last_progress = count_at_kill, killed_at
        deadline = killed_at + 180
        while time.monotonic() < deadline:
            now = time.monotonic()
            if failover_s is None:
                now_partitions = await describe(admin, topic)
                if len(now_partitions) == partitions and all(
                        p["leader"] not in (victim, -1) and victim not in p["isr"] for p in now_partitions):
                    failover_s = now - killed_at
            count = await handled_count()
            if count > last_count:
                longest_stall = max(longest_stall, now - last_progress)
                last_count, last_progress = count, now
            if loader.done() and count >= submitted_count and failover_s is not None:
                break
            await asyncio.sleep(0.25)
        drained_s = time.monotonic() - killed_at
        await loader
        total = submitted_count
        await eventually(lambda: _reached(cases_count, total), timeout=180, interval=0.25)
        cases_s = time.monotonic() - killed_at
        await eventually(lambda: _reached(routed_count, total), timeout=180, interval=0.25)
        routed_s = time.monotonic() - killed_at

        async def all_sms_sent() -> bool:
            count = await notifier_pool.fetchval("SELECT count(*) FROM notifications")
            left = await notifier_pool.fetchval(
                "SELECT count(*) FROM notifications WHERE send_state NOT IN ('accepted', 'done')")
            return bool(count == total and left == 0)

        await eventually(all_sms_sent, timeout=150, interval=0.25)
        sms_s = time.monotonic() - killed_at

        # Intake: one case per external report, none twice (external ids are unique per source, so a second
        # case would need a second id: count them all), nothing left in its outbox.
        cases = await intake_pool.fetch("SELECT reference, external_id FROM reports WHERE source = $1", TEST_SOURCE)
        submitted = {r["reference"] for r in await pool.fetch("SELECT reference FROM submitted")}
        assert sorted(r["external_id"] for r in cases) == sorted(submitted), "a case was lost or opened twice"
        case_refs = {r["reference"] for r in cases}
        assert await intake_pool.fetchval("SELECT count(*) FROM reports") == total
        await eventually(lambda: _empty(intake_pool, "outbox"), timeout=60, interval=0.25)

        # The crisis center records every report on consular.reports (the test's and intake's republished ones)
        # in its `reports` table. Checked last (below), so that the other services' figures are reported anyway.
        crisis_expected = submitted | case_refs

        async def crisis_has_all() -> bool:
            return crisis_expected <= await crisis_seen()

        crisis_s: float | None = None
        try:
            await eventually(crisis_has_all, timeout=120, interval=1.0)
            crisis_s = round(time.monotonic() - killed_at, 2)
        except AssertionError:
            pass
        crisis_missing = sorted(crisis_expected - await crisis_seen())

        # The surviving replicas' probes: ready again (Kafka answers through the live brokers, consumers are
        # back in their groups, Faust tables recovered); the killed replicas' probes answer nothing.
        for ports in HEALTH_PORTS.values():
            for port in ports[1:]:
                await eventually(lambda port=port: _ready(port), timeout=120, interval=0.25)
            assert await _probe(ports[0]) is None

        # No report lost, none handled twice.
        rows = await pool.fetch("SELECT reference, count(*) AS n FROM handled GROUP BY reference")
        assert len(submitted) == total
        assert {r["reference"] for r in rows} == submitted, "a report was lost"
        twice = [r["reference"] for r in rows if r["n"] > 1]
        assert not twice, f"handled more than once: {twice[:5]}"
        assert await pool.fetchval("SELECT count(*) FROM outbox") == 0
        by_replica = {r["replica"]: r["n"] for r in await pool.fetch(
            "SELECT replica, count(*) AS n FROM handled GROUP BY replica ORDER BY replica")}
        assert len(by_replica) == 3, f"every replica should have taken a share: {by_replica}"

        # Partitions moved: every leader is a live broker, the dead one left every ISR, RF still 3.
        assert failover_s is not None, "leaders did not move off the dead broker"
        after = await describe(admin, topic)
        assert len(after) == partitions
        assert all(p["leader"] != victim and victim not in p["isr"] and len(p["replicas"]) == 3 for p in after)
        moved = sum(1 for p in before if p["leader"] == victim)
        assert moved >= 1

        # On the wire: duplicates (relay re-sends after the kill) exist or not; dedup made them harmless.
        values = await read_all(bootstrap_servers, topic, len(after))
        ids = [decode(v).id for v in values]
        dead_letters = await read_all(bootstrap_servers, prefix + dlq_name(REPORTS), DLQ_PARTITIONS)
        assert not dead_letters, "a report was dead-lettered"

        # The directory routed every report exactly once: one routing event id per reference on
        # directory.routings (the relay may send an event twice; a second routing would have a new id).
        assert await directory_pool.fetchval("SELECT count(*) FROM outbox") == 0
        routings_topic = prefix + "directory.routings"
        routing_partitions = spec_for("directory.routings").partitions
        routing_events = [decode(v) for v in await read_all(bootstrap_servers, routings_topic, routing_partitions)]
        ids_by_reference: dict[str, set[str]] = {}
        for event in routing_events:
            ids_by_reference.setdefault(event.data["reference"], set()).add(event.id)
        assert set(ids_by_reference) == case_refs, "a case was not routed"
        routed_twice = [ref for ref, event_ids in ids_by_reference.items() if len(event_ids) > 1]
        assert not routed_twice, f"routed more than once: {routed_twice[:5]}"
        directory.stop_all()

        # The notifier sent every SMS exactly once.
        per_number = Counter(m["to"] for m in twilio_server.messages.values())
        assert set(per_number) == {phone_of(n) for n in range(total)}, "an SMS was not sent"
        sent_twice = [number for number, times in per_number.items() if times > 1]
        assert not sent_twice, f"SMS sent more than once to {len(sent_twice)} numbers"
        commands_dlq = prefix + dlq_name("notifications.commands")
        assert not await read_all(bootstrap_servers, commands_dlq, DLQ_PARTITIONS), "an SMS command was dead-lettered"
        notifier.stop_all()
        intake.stop_all()
        crisis.stop_all()
        by_country_dlq = prefix + dlq_name("crisis.by-country")
        assert not await read_all(bootstrap_servers, by_country_dlq, DLQ_PARTITIONS), "the crisis center dead-lettered"

        # The survivors saw the dead replica's unacknowledged work again; the dedup dropped it.
        survivors = [workers.stop(replica) for replica in (2, 3)]
        redelivered = sum(int(s["duplicate"]) for s in survivors)
        assert sum(int(s["dead_lettered"]) for s in survivors) == 0

        # The broker comes back and catches up: every partition has three in-sync replicas again.
        restarted_at = time.monotonic()
        cluster("start-broker", str(victim))

        async def isr_full() -> bool:
            described = await describe(admin, topic)
            return len(described) == partitions and all(len(p["isr"]) == 3 for p in described)

        await eventually(isr_full, timeout=120, interval=0.5)
        rejoin_s = time.monotonic() - restarted_at

        figures = {
            "events": total, "offered_rate_per_s": RATE, "victim_broker": victim,
            "leaders_moved": moved, "partitions": len(after),
            "leader_failover_s": round(failover_s, 2), "longest_processing_stall_s": round(longest_stall, 2),
            "kill_to_all_handled_s": round(drained_s, 2), "handled_at_kill": count_at_kill,
            "records_on_wire": len(values), "duplicates_on_wire": len(ids) - len(set(ids)),
            "redeliveries_dropped_by_dedup": redelivered,
            "handled_by_replica": by_replica, "kill_to_all_routed_by_directory_s": round(routed_s, 2),
            "routing_records_on_wire": len(routing_events), "sms_sent_at_kill": sms_at_kill,
            "kill_to_all_sms_sent_s": round(sms_s, 2), "sms_sent": len(twilio_server.messages),
            "kill_to_all_cases_opened_by_intake_s": round(cases_s, 2), "cases_opened": len(cases),
            "kill_to_all_reports_in_crisis_center_table_s": crisis_s,
            "crisis_center_reports_expected": len(crisis_expected),
            "crisis_center_reports_missing": len(crisis_missing),
            "workers": {group.name: 3 for group in everyone},
            "routing_duplicates_on_wire": len(routing_events) - sum(len(i) for i in ids_by_reference.values()),
            "broker_rejoin_to_full_isr_s": round(rejoin_s, 2),
        }
        (RUN / "report.json").write_text(json.dumps(figures, indent=2) + "\n")
        print("\nscale-out figures: " + json.dumps(figures))
        if crisis_missing:  # which stage lost them, for whoever reads the failure
            where = await _where_reports_went(bootstrap_servers, prefix, faust_app_id, crisis_missing)
            raise AssertionError(
                f"the crisis center's reports table lacks {len(crisis_missing)} of {len(crisis_expected)} reports "
                f"after the kills (e.g. {crisis_missing[:3]}); {where}; its logs: {RUN}/crisis-*.log")
    finally:
        if loader is not None and not loader.done():
            loader.cancel()
        for group in (workers, intake, directory, crisis, notifier):
            group.stop_all()
        await pool.close()
        await intake_pool.close()
        await directory_pool.close()
        await notifier_pool.close()
        await admin.close()


HEALTH_PORTS = {"intake": [19101, 19102, 19103], "directory": [19201, 19202, 19203],
                "crisis": [19501, 19502, 19503], "notifier": [19301, 19302, 19303]}


def _text(key: bytes) -> str:
    """A Faust table key as written to its changelog (JSON by default)."""
    try:
        return str(json.loads(key))
    except ValueError:
        return key.decode()


async def _empty(pool: asyncpg.Pool, table: str) -> bool:
    return bool(await pool.fetchval(f"SELECT count(*) FROM {table}") == 0)


async def _probe(port: int) -> int | None:
    """The status of a worker's /readyz, or None when nothing answers."""
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session, \
                session.get(f"http://127.0.0.1:{port}/readyz") as response:
            return response.status
    except (aiohttp.ClientError, TimeoutError):
        return None


async def _ready(port: int) -> bool:
    return await _probe(port) == 200


async def _reached(count: Any, target: int) -> bool:
    return bool(await count() >= target)
