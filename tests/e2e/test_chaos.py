"""Chaos: the earthquake scenario under a steady load of reports while every service process in turn is killed
with SIGKILL and restarted and the broker is restarted once; then PostgreSQL stopped (intake answers 503 with
Retry-After and writes nothing), then Kafka stopped (intake keeps accepting; the outbox drains after).

It starts its OWN broker (127.0.0.1:9392, data in .run/chaos/kafka) and PostgreSQL (127.0.0.1:5436, data in
.run/chaos/postgres) with scripts/kafka.sh and scripts/postgres.sh, since it stops them; the shared ones are never
touched. `make test` runs a scaled-down form; `make chaos` (CHAOS_FULL=1) the full one: 200 travellers inside,
50 outside, threshold 100, PostgreSQL down 30 s, Kafka down 60 s. Figures go to stdout and to
artifacts/e2e-logs/<run>/chaos-report.json beside the processes' logs.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from shared.events.envelope import decode
from shared.kafka.producer import make_producer, publish
from tests.e2e.scenario import SMS_MARKERS, Traveller, earthquake, personal_values, travellers
from tests.e2e.stack import SERVICES, Stack, start_stack, stop_stack
from tests.support import ROOT, auth, eventually
from tests.support_logs import leaks_in_files, secret_values

pytestmark = pytest.mark.chaos

FULL = os.environ.get("CHAOS_FULL") == "1"
INSIDE, OUTSIDE, THRESHOLD = (200, 50, 100) if FULL else (40, 10, 20)
PG_DOWN_SECONDS = 30.0 if FULL else 8.0
KAFKA_DOWN_SECONDS = 60.0 if FULL else 10.0
REPORT_INTERVAL = 0.2 if FULL else 0.5  # seconds between two reports of the load

CHAOS_RUN = ROOT / ".run" / "chaos"
KAFKA_PORT, KAFKA_CONTROLLER_PORT, PG_PORT = 9392, 9393, 5436
CHAOS_BOOTSTRAP = f"127.0.0.1:{KAFKA_PORT}"
CHAOS_DATABASE_URL = f"postgresql://consular@127.0.0.1:{PG_PORT}/consular"
SCRIPT_ENV = {"KAFKA_DIR": str(CHAOS_RUN / "kafka"), "KAFKA_PORT": str(KAFKA_PORT),
              "KAFKA_CONTROLLER_PORT": str(KAFKA_CONTROLLER_PORT), "KAFKA_HEAP": "512m",
              "PG_DIR": str(CHAOS_RUN / "postgres"), "PGPORT_LOCAL": str(PG_PORT),
              "DATABASE_URL": CHAOS_DATABASE_URL}


def script(name: str, action: str) -> None:
    """scripts/<name>.sh <action> against the chaos broker or cluster (never the shared ones)."""
    env = {**os.environ, **SCRIPT_ENV, "PYTHON": os.environ.get("PYTHON", _python())}
    done = subprocess.run([str(ROOT / "scripts" / f"{name}.sh"), action], env=env, capture_output=True, text=True,
                          timeout=400, check=False)
    assert done.returncode == 0, f"{name}.sh {action} failed:\n{done.stdout}\n{done.stderr}"


def _python() -> str:
    import sys

    return sys.executable


@pytest.fixture(scope="module")
def chaos_infra() -> Iterator[None]:
    """A broker and a PostgreSQL cluster of this module's own, fresh; the environment points at them meanwhile."""
    saved = {k: os.environ.get(k) for k in ("KAFKA_BOOTSTRAP_SERVERS", "DATABASE_URL")}
    try:
        for name in ("kafka", "postgres"):
            script(name, "reset")
            script(name, "start")
        os.environ["KAFKA_BOOTSTRAP_SERVERS"] = CHAOS_BOOTSTRAP
        os.environ["DATABASE_URL"] = CHAOS_DATABASE_URL
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        for name in ("kafka", "postgres"):
            script(name, "reset")


@pytest.fixture(scope="module")
async def stack(chaos_infra: None) -> AsyncIterator[Stack]:
    stack = await start_stack({"CRISIS_THRESHOLD": str(THRESHOLD), "CRISIS_UPDATE_INTERVAL_SECONDS": "1",
                               "KAFKA_BOOTSTRAP_SERVERS": CHAOS_BOOTSTRAP, "DATABASE_URL": CHAOS_DATABASE_URL})
    yield stack
    await stop_stack(stack)


@dataclass
class Load:
    """Reports submitted through intake's API at a steady pace; each retried with its Idempotency-Key until
    accepted, so a report whose answer was lost to a kill is still one case."""

    url: str
    accepted: dict[str, str] = field(default_factory=dict)  # Idempotency-Key -> reference
    retries: int = 0
    personal: set[str] = field(default_factory=set)  # the reporters' names and addresses, for the log scan
    stopping: asyncio.Event = field(default_factory=asyncio.Event)

    def body(self, n: int, run: str) -> dict[str, Any]:
        name, email = f"Load Reporter {run} {n}", f"reporter.{run}.{n}@load.example.org"
        self.personal |= {name, email}
        return {"kind": "lost_document", "description": "passport lost during the load",
                "reporter": {"full_name": name, "email": email, "language": "en", "channel": "email"},
                "location": {"country": "FR", "city": "Lyon"}}

    async def submit(self, client: httpx.AsyncClient, key: str, body: dict[str, Any]) -> None:
        while True:
            try:
                answer = await client.post(self.url + "/v1/reports", json=body,
                                           headers={**auth("duty_officer"), "Idempotency-Key": key})
                if answer.status_code in (200, 201):
                    self.accepted[key] = answer.json()["reference"]
                    return
                assert answer.status_code in (502, 503, 504), answer.text
            except httpx.TransportError:
                pass
            self.retries += 1
            await asyncio.sleep(0.5)

    async def run(self) -> None:
        run = uuid.uuid4().hex[:6]
        n = 0
        async with httpx.AsyncClient(timeout=10) as client:
            while not self.stopping.is_set():
                n += 1
                await self.submit(client, f"load-{run}-{n}", self.body(n, run))
                await asyncio.sleep(REPORT_INTERVAL)


async def read_topic(topic: str) -> list[Any]:
    """Every record of `topic` now (end offsets taken first)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=CHAOS_BOOTSTRAP, group_id=None, enable_auto_commit=False,
                                isolation_level="read_committed")
    await consumer.start()
    try:
        partitions = consumer.partitions_for_topic(topic) or await _partitions(consumer, topic)
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        records: list[Any] = []
        while [tp for tp in tps if await consumer.position(tp) < ends[tp]]:
            for batch in (await consumer.getmany(timeout_ms=500)).values():
                records += batch
        return records
    finally:
        await consumer.stop()


async def _partitions(consumer: AIOKafkaConsumer, topic: str) -> set[int]:
    """`consumer.topics()` fetches the metadata but does not store it in the consumer: read the fetched copy."""
    for _ in range(30):
        cluster = await consumer._client.fetch_all_metadata()
        if partitions := cluster.partitions_for_topic(topic):
            return set(partitions)
        await asyncio.sleep(1)
    raise AssertionError(f"topic {topic} has no partitions in the broker's metadata")


async def fetch(stack: Stack, service: str, query: str, *args: Any) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(CHAOS_DATABASE_URL, server_settings={"search_path": stack.schemas[service]})
    try:
        return list(await conn.fetch(query, *args))
    finally:
        await conn.close()


async def intake_counts(stack: Stack) -> tuple[int, int, int]:
    rows = await fetch(stack, "intake", "SELECT (SELECT count(*) FROM reports), (SELECT count(*) FROM outbox),"
                                        " (SELECT count(*) FROM idempotency_keys)")
    return rows[0][0], rows[0][1], rows[0][2]


async def received(stack: Stack) -> Counter[str]:
    """Crisis messages received by the local Twilio server and the SMTP sink, by address."""
    async with httpx.AsyncClient(timeout=10) as client:
        sms = (await client.get(stack.url("twilio") + "/_dev/messages")).json()
        mail = (await client.get(stack.url("smtp_http") + "/messages")).json()
    sms = sms["messages"] if isinstance(sms, dict) else sms
    mail = mail["messages"] if isinstance(mail, dict) else mail
    markers = tuple(SMS_MARKERS.values())
    counts: Counter[str] = Counter(m["to"] for m in sms if any(x in m["body"] for x in markers))
    for m in mail:
        if "load.example.org" not in " ".join(m.get("to", m.get("rcpt_tos", []))):
            counts.update(m.get("to", m.get("rcpt_tos", [])))
    return counts


async def publish_all(stack: Stack, events: list[Any]) -> None:
    producer = make_producer(CHAOS_BOOTSTRAP, client_id="chaos")
    await producer.start()
    try:
        for data in events:
            await publish(producer, data, source="/tests/e2e/chaos", topic_prefix=stack.prefix)
    finally:
        await producer.stop()


async def all_workers_ready(stack: Stack) -> None:
    for service in SERVICES:
        await stack.wait_process_ready(f"{service}-worker", timeout=300)


async def test_earthquake_under_chaos(stack: Stack) -> None:
    report: dict[str, Any] = {"full": FULL, "inside": INSIDE, "outside": OUTSIDE, "threshold": THRESHOLD}
    people: list[Traveller] = travellers(uuid.uuid4().hex[:6], INSIDE, OUTSIDE)
    load = Load(stack.url("intake"))
    loading = asyncio.create_task(load.run())
    started = time.monotonic()

    # 1. The incident, then the travellers in as many chunks as there are processes; after each chunk one process
    #    is killed with SIGKILL and started again; then the broker is restarted once.
    await publish_all(stack, [earthquake(f"quake-{uuid.uuid4().hex[:6]}")])
    victims = [f"{service}-{mode}" for service in SERVICES for mode in ("api", "worker")]
    size = -(-len(people) // len(victims))
    kills = []
    for i, victim in enumerate(victims):
        await publish_all(stack, [p.registration for p in people[i * size:(i + 1) * size]])
        killed_at = time.monotonic()
        stack.kill(victim)
        await asyncio.sleep(1.0)
        stack.start(victim)
        ready = await stack.wait_process_ready(victim, timeout=300)
        kills.append({"process": victim, "recovered_s": round(time.monotonic() - killed_at, 1),
                      "ready_after_start_s": round(ready, 1), "accepted_so_far": len(load.accepted)})
    restarted_at = time.monotonic()
    await asyncio.to_thread(script, "kafka", "stop")
    await asyncio.to_thread(script, "kafka", "start")
    await all_workers_ready(stack)
    report["broker_restart_recovered_s"] = round(time.monotonic() - restarted_at, 1)
    report["kills"] = kills

    # Load a little longer, then stop it: every accepted report must be routed once.
    await asyncio.sleep(5)
    load.stopping.set()
    await loading
    report["load"] = {"accepted": len(load.accepted), "retries": load.retries,
                      "seconds": round(time.monotonic() - started, 1)}

    inside = {p.address for p in people if p.inside}
    outside = {p.address for p in people if not p.inside}

    async def delivered() -> Counter[str] | None:
        counts = await received(stack)
        return counts if inside <= set(counts) else None

    await eventually(delivered, timeout=600, interval=2)

    async def routed() -> bool:
        rows = await fetch(stack, "intake", "SELECT count(*) FROM reports WHERE post IS NOT NULL")
        return int(rows[0][0]) >= len(load.accepted)

    await eventually(routed, timeout=300, interval=1)
    report["delivered_and_routed_s"] = round(time.monotonic() - started, 1)

    # 2. PostgreSQL stopped: intake answers 503 with Retry-After and writes nothing.
    before = await intake_counts(stack)
    await asyncio.to_thread(script, "postgres", "stop")
    down_at = time.monotonic()
    refused, keys = Counter[int](), []
    async with httpx.AsyncClient(timeout=15) as client:
        n = 0
        while time.monotonic() - down_at < PG_DOWN_SECONDS:
            n += 1
            keys.append(f"pgdown-{n}")
            answer = await client.post(stack.url("intake") + "/v1/reports", json=load.body(n, "pgdown"),
                                       headers={**auth("duty_officer"), "Idempotency-Key": keys[-1]})
            refused[answer.status_code] += 1
            assert answer.status_code == 503, answer.text
            assert int(answer.headers["Retry-After"]) > 0
            await asyncio.sleep(1)
    await asyncio.to_thread(script, "postgres", "start")
    back_at = time.monotonic()
    await stack.wait_process_ready("intake-api", timeout=120)
    report["postgres"] = {"down_s": round(back_at - down_at, 1), "answers": dict(refused),
                          "intake_ready_after_s": round(time.monotonic() - back_at, 1)}
    assert await intake_counts(stack) == before, "nothing written while the database was down"
    stray = await fetch(stack, "intake", "SELECT key FROM idempotency_keys WHERE key = ANY($1::text[])", keys)
    assert not stray

    # 3. Kafka stopped: intake keeps accepting (outbox); the backlog drains once the broker is back.
    await asyncio.to_thread(script, "kafka", "stop")
    down_at = time.monotonic()
    offline = Load(stack.url("intake"))
    async with httpx.AsyncClient(timeout=15) as client:
        n = 0
        while time.monotonic() - down_at < KAFKA_DOWN_SECONDS:
            n += 1
            answer = await client.post(stack.url("intake") + "/v1/reports", json=offline.body(n, "kafkadown"),
                                       headers={**auth("duty_officer"), "Idempotency-Key": f"kafkadown-{n}"})
            assert answer.status_code == 201, answer.text
            offline.accepted[f"kafkadown-{n}"] = answer.json()["reference"]
            await asyncio.sleep(1)
    backlog = (await intake_counts(stack))[1]
    await asyncio.to_thread(script, "kafka", "start")
    back_at = time.monotonic()
    load.accepted |= offline.accepted
    load.personal |= offline.personal

    async def drained() -> bool:
        _, outbox, _ = await intake_counts(stack)
        rows = await fetch(stack, "intake", "SELECT count(*) FROM reports WHERE post IS NOT NULL")
        return outbox == 0 and int(rows[0][0]) >= len(load.accepted)

    await eventually(drained, timeout=600, interval=1)
    report["kafka"] = {"down_s": round(back_at - down_at, 1), "accepted_while_down": len(offline.accepted),
                       "outbox_backlog": backlog, "drained_after_s": round(time.monotonic() - back_at, 1)}

    # Final counts, exact.
    references = set(load.accepted.values())
    assert len(references) == len(load.accepted), "one case per Idempotency-Key"
    cases = [r["reference"] for r in await fetch(stack, "intake", "SELECT reference FROM reports")]
    assert sorted(cases) == sorted(references), "every accepted report is one case, and there is no other"
    routings = [r["reference"] for r in await fetch(stack, "directory", "SELECT reference FROM routings")]
    assert sorted(routings) == sorted(references), "the directory routed every case once"
    routed_ids: defaultdict[str, set[str]] = defaultdict(set)
    for record in await read_topic(stack.prefix + "directory.routings"):
        event = decode(record.value)
        routed_ids[event.data["reference"]].add(event.id)
    assert {ref: len(ids) for ref, ids in routed_ids.items() if len(ids) != 1} == {}, "one routing event each"
    assert set(routed_ids) == references

    counts = await received(stack)
    assert {a: c for a, c in counts.items() if a in inside and c != 1} == {}, "exactly one crisis message each"
    assert inside <= set(counts)
    assert not outside & set(counts), "nobody outside the circle was messaged"
    async with httpx.AsyncClient(timeout=10) as client:
        crises = (await client.get(stack.url("crisis_center") + "/v1/crises", headers=auth("coordinator"))).json()
    assert len(crises) == 1, crises
    activations = [decode(r.value) for r in await read_topic(stack.prefix + "crisis.status")]
    assert len({e.id for e in activations if e.type == "be.diplomatie.crisis.activated"}) == 1

    # Logs of every run of every service process (killed ones included): no test person, no secret.
    logs = stack.service_logs()
    assert len(logs) == 8
    assert leaks_in_files(logs, personal_values(people) | load.personal) == {}, "personal data in the logs"
    assert leaks_in_files(logs, secret_values()) == {}, "a secret in the logs"

    report |= {"cases": len(cases), "routings": len(routings), "travellers_messaged": sum(counts.values()),
               "crises": len(crises), "total_s": round(time.monotonic() - started, 1)}
    (stack.log_dir / "chaos-report.json").write_text(json.dumps(report, indent=2))
    print("\nchaos report:", json.dumps(report, indent=2))
