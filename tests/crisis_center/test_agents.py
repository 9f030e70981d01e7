"""The Faust agents through `agent.test_context()` (memory tables, no broker), the country agent with the real
database behind its effects."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from services.crisis_center.adapters.internal_topics import ensure_internal_topics
from services.crisis_center.adapters.translate import Places, traveller_command
from services.crisis_center.domain.commands import IncidentUpsert, encode_command
from services.crisis_center.worker import CrisisWorker
from shared.events.envelope import EventData, encode, new_event
from tests.crisis_center.conftest import NOW, drop_topics, make_settings, quake, registration
from tests.support import consume, drop_schema, new_pool, new_schema, new_topic_prefix


def raw(data: EventData) -> bytes:
    return encode(new_event(data, source="/tests"))


@pytest.fixture
async def schema_pool() -> AsyncIterator[asyncpg.Pool]:
    schema = await new_schema("crisis_center")
    pool = await new_pool(schema)
    try:
        yield pool
    finally:
        await pool.close()
        await drop_schema(schema)


@pytest.fixture
async def worker(tmp_path: Path) -> AsyncIterator[CrisisWorker]:
    """Built inside the running loop (Faust binds to the loop it finds). What the agents send (forwarded
    commands, dead letters, changelogs) goes to the real broker, on fresh topics."""
    prefix = await new_topic_prefix()
    built = CrisisWorker(make_settings(prefix, "unused", tmp_path))
    await ensure_internal_topics(built.settings)
    for table in built.app.tables.values():
        await table.changelog_topic.maybe_declare()
    built.app.finalize()
    built.app.flow_control.resume()
    try:
        yield built
    finally:
        await built.app.producer.stop()
        await drop_topics(prefix, built.settings.faust_app_id)


def agent(worker: CrisisWorker, name: str) -> Any:
    return next(a for a in worker._agents if getattr(a, "name", "").endswith(name))


async def test_route_incidents_refuses_a_change_of_country(worker: CrisisWorker) -> None:
    table = worker.app.tables["incident_country"]
    async with agent(worker, "route_incidents").test_context() as route:
        await route.put(raw(quake()), key=b"inc-1")
        await route.put(raw(quake(area={"country": "GR"})), key=b"inc-1")
        assert table["inc-1"] == "TR"
    dead = await consume(worker.settings.topic("crisis.incidents.dlq"), count=1)
    assert "cannot change" in dict(dead[0].headers)["dlq.reason"].decode()


async def test_country_agent_activates_once_at_the_threshold(worker: CrisisWorker,
                                                             schema_pool: asyncpg.Pool) -> None:
    worker._pool = schema_pool
    threshold = worker.settings.crisis_threshold
    incident = IncidentUpsert(incident_id="inc-1", title="Quake", kind="earthquake", severity="severe",
                              area={"country": "TR", "circle": {"lat": 41.0, "lon": 29.0, "radius_km": 30}},
                              occurred_at=NOW)
    places = Places()
    async with agent(worker, "country").test_context() as country:
        await country.put(encode_command(incident), key=b"TR")
        for n in range(threshold - 1):
            await country.put(encode_command(traveller_command(registration(n), places)), key=b"TR")
        assert worker.engine.affected("inc-1").count == threshold - 1
        assert await schema_pool.fetchval("SELECT count(*) FROM crises") == 0
        for n in range(threshold - 1, threshold + 2):
            await country.put(encode_command(traveller_command(registration(n), places)), key=b"TR")
    # Those who joined after the activation are written in a batch before the next commit of offsets (the test
    # context commits nothing): nothing for them is in the database until then.
    outbox = "SELECT count(*) FROM outbox WHERE topic = $1"
    assert await schema_pool.fetchval(outbox, worker.settings.topic("notifications.commands")) == 2 * threshold
    await worker.in_flight.settle()  # what a commit waits for
    crises = await schema_pool.fetch("SELECT * FROM crises")
    assert len(crises) == 1 and crises[0]["affected_count"] >= threshold
    assert worker.app.tables["incidents"]["inc-1"]["phase"] == "active"
    topics = [r["topic"] for r in await schema_pool.fetch("SELECT topic FROM outbox ORDER BY id")]
    assert topics.count(worker.settings.topic("crisis.status")) >= 1
    # one SMS and one email for each of the `threshold` people at activation and for each who joined after it
    assert topics.count(worker.settings.topic("notifications.commands")) == 2 * (threshold + 2)
