"""A traveller past the retention date leaves intake, the compacted topic and the crisis center's counts and
tables: intake's retention job deletes the registration and publishes its tombstone; the crisis worker (driven as
in tests/crisis_center/test_worker_e2e.py) takes the tombstone as a cancellation. Real broker and database."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from services.crisis_center.worker import CrisisWorker
from services.intake.bootstrap import open_resources
from services.intake.retention import RetentionPolicy, run_retention
from services.intake.worker import Worker
from shared.events.incidents import IncidentReported
from shared.events.travellers import TravellerRegistered
from tests.crisis_center.conftest import ISTANBUL, Env, new_env
from tests.intake.conftest import make_settings as intake_settings
from tests.support import consume, drop_schema, eventually, new_schema

THRESHOLD = 5
REAL_NOW = datetime.now(UTC)
LAG = timedelta(days=20)  # the crisis worker lives when the departed travellers were still there
CRISIS_NOW = REAL_NOW - LAG


def crisis_clock() -> datetime:
    return datetime.now(UTC) - LAG


def stay(n: int, *, departed_days_ago: int) -> TravellerRegistered:
    return TravellerRegistered(
        traveller_id=f"r{n}", full_name=f"Traveller {n}", phone=f"+32471{n:06d}", language="fr", country="TR",
        location={"lat": 41.01, "lon": 28.98}, arrival=REAL_NOW.date() - timedelta(days=40),
        departure=REAL_NOW.date() - timedelta(days=departed_days_ago))


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[Env]:
    async with new_env(tmp_path, "retention-e2e", crisis_threshold=THRESHOLD) as env:
        yield env


async def test_departed_traveller_disappears_from_intake_the_topic_and_the_crisis_center(env: Env) -> None:
    prefix = env.settings.kafka_topic_prefix
    intake_schema = await new_schema("intake")
    settings = intake_settings(intake_schema, prefix)
    resources = await open_resources(settings)
    intake = Worker(settings, resources, env.producer)
    crisis = CrisisWorker(env.settings, clock=crisis_clock)
    await intake.start()
    await crisis.start()
    try:
        await crisis.recovered()
        await env.send(IncidentReported(
            incident_id="inc-r", title="Earthquake near Istanbul", kind="earthquake", severity="severe",
            area={"country": "TR", "circle": {**ISTANBUL, "radius_km": 30}},
            occurred_at=CRISIS_NOW - timedelta(hours=1)))
        departed = [stay(n, departed_days_ago=15) for n in range(THRESHOLD)]  # past 14 days: removed
        recent = [stay(n, departed_days_ago=13) for n in range(THRESHOLD, THRESHOLD + 2)]  # within 14 days: kept
        for registration in departed + recent:
            await env.send(registration)
        everyone = THRESHOLD + 2
        await eventually(lambda: crisis.engine.affected("inc-r").count == everyone, timeout=90)
        row = await eventually(lambda: env.pool.fetchrow(
            "SELECT affected_count FROM crises WHERE incident_id = 'inc-r' AND affected_count = $1", everyone),
            timeout=90)
        assert row is not None

        async def intake_has_all() -> bool:
            return bool(await resources.pool.fetchval("SELECT count(*) FROM registered_travellers") == everyone)

        await eventually(intake_has_all, timeout=90)

        counts = await run_retention(pool=resources.pool, producer=env.producer,
                                     policy=RetentionPolicy(traveller_days=settings.traveller_retention_days),
                                     topic_prefix=prefix, now=REAL_NOW)
        assert counts["travellers"] == {"removed": THRESHOLD, "tombstones_sent": THRESHOLD}

        kept = {r["traveller_id"] for r in await resources.pool.fetch("SELECT traveller_id FROM registered_travellers")}
        assert kept == {r.traveller_id for r in recent}
        await eventually(lambda: crisis.engine.affected("inc-r").count == len(recent), timeout=90)
        await eventually(lambda: all(crisis.engine.travellers.get(r.traveller_id) is None for r in departed),
                         timeout=90)
        assert all(crisis.engine.travellers.get(r.traveller_id) is not None for r in recent)
        await eventually(lambda: env.pool.fetchrow(
            "SELECT 1 FROM crises WHERE incident_id = 'inc-r' AND affected_count = $1", len(recent)), timeout=90)

        tombstones = await consume(env.topic("travellers.registrations"), count=THRESHOLD,
                                   predicate=lambda r: r.value is None)
        assert {r.key.decode() for r in tombstones} == {r.traveller_id for r in departed}
    finally:
        await crisis.stop()
        await intake.stop()
        await resources.pool.close()
        await drop_schema(intake_schema)
