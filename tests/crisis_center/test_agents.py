"""The Faust agents through `agent.test_context()` (memory tables, no broker), the country agent with the real
database behind its effects."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import asyncpg
import pytest
from faust.types import TP

from services.crisis_center import worker as worker_module
from services.crisis_center.adapters.internal_topics import ensure_internal_topics
from services.crisis_center.adapters.translate import Places, traveller_command
from services.crisis_center.domain.commands import IncidentUpsert, encode_command
from services.crisis_center.worker import CrisisWorker
from shared.events.envelope import EventData, encode, new_event
from shared.events.travellers import TravellerCancelled
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


async def test_route_registrations_tracks_each_travellers_country(worker: CrisisWorker) -> None:
    table = worker.app.tables["traveller_country"]
    async with agent(worker, "route_registrations").test_context() as route:
        await route.put(raw(registration(1)), key=b"t1")
        assert table["t1"] == "TR"
        await route.put(raw(registration(1, lat=37.98, lon=23.73, country="GR")), key=b"t1")
        assert table["t1"] == "GR"
        await route.put(raw(TravellerCancelled(traveller_id="t1")), key=b"t1")
        assert "t1" not in table
        await route.put(b"not an event", key=b"t2")  # dead-lettered, and the agent goes on
        await route.put(raw(registration(3)), key=b"t3")
        assert table["t3"] == "TR"
    forwarded = await consume(worker.settings.topic("crisis.by-country"), count=5)
    # t1: upsert in TR; moves: remove from TR, upsert in GR; cancelled: remove from GR. t3: upsert in TR.
    assert sorted(r.key for r in forwarded) == [b"GR", b"GR", b"TR", b"TR", b"TR"]
    dead = await consume(worker.settings.topic("travellers.registrations.dlq"), count=1)
    assert dead[0].value == b"not an event"


async def test_a_registration_that_cannot_be_forwarded_goes_to_the_dead_letter_topic(worker: CrisisWorker) -> None:
    """A command that cannot be sent to its country's partition dead-letters its registration (never acked
    silently, and the agent goes on); other countries' commands still go."""
    forward = worker._forward

    async def refusing_greece(key: str, command: Any) -> None:
        if key == "GR":
            raise RuntimeError("record too large")
        await forward(key, command)

    worker._forward = refusing_greece  # type: ignore[method-assign]
    async with agent(worker, "route_registrations").test_context() as route:
        await route.put(raw(registration(1, lat=37.98, lon=23.73, country="GR")), key=b"t1")
        await route.put(raw(registration(2)), key=b"t2")
    dead = await consume(worker.settings.topic("travellers.registrations.dlq"), count=1)
    assert [r.key for r in dead] == [b"t1"]
    assert "forwarding to crisis.by-country failed: RuntimeError" in dict(dead[0].headers)["dlq.reason"].decode()
    forwarded = await consume(worker.settings.topic("crisis.by-country"), count=1)
    assert [r.key for r in forwarded] == [b"TR"]


async def test_a_registration_whose_skipped_records_cannot_be_read_is_dead_lettered(
        worker: CrisisWorker, monkeypatch: pytest.MonkeyPatch) -> None:
    """Reading the records before it (gaps.py) failed: the registration goes to the dead-letter topic with the
    reason instead of the exception escaping (and stopping) the agent. (The next event would read
    the same gap again, this one included; the test context has no records on the broker to read.)"""

    async def unreachable(*_args: Any) -> None:
        raise ConnectionError("broker unreachable")

    monkeypatch.setattr(worker_module, "handle_in_order", unreachable)
    async with agent(worker, "route_registrations").test_context() as route:
        await asyncio.wait_for(route.put(raw(registration(1)), key=b"t1"), timeout=30)
    dead = await consume(worker.settings.topic("travellers.registrations.dlq"), count=1)
    assert [r.key for r in dead] == [b"t1"]
    assert "reading skipped records failed: ConnectionError" in dict(dead[0].headers)["dlq.reason"].decode()


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


async def test_a_revoked_partitions_waiting_commands_are_left_to_its_new_owner(worker: CrisisWorker) -> None:
    """After a flush failed at the rebalance's commit, the lost partitions' commands and countries are dropped
    (their registrations are handled again by the new owner); the kept partitions' still leave."""
    topic = worker.settings.topic("travellers.registrations")

    def source(partition: int) -> Any:
        return SimpleNamespace(message=SimpleNamespace(topic=topic, partition=partition))

    lost, kept = source(1), source(2)
    command = traveller_command(registration(1), Places(), seq=1)
    worker.forwarding.add("TR", lost, command)
    worker.forwarding.set_country("t1", lost, lost, "TR")
    worker.forwarding.add("GR", kept, traveller_command(registration(2, country="GR"), Places(), seq=2))
    worker.forwarding.set_country("t2", kept, kept, "GR")
    await worker.app.on_partitions_revoked.send({TP(topic, 1), TP(worker.settings.topic("consular.reports"), 2)})
    assert worker.forwarding.size == 1
    assert worker.forwarding.country_of("t1") == (False, None)
    assert worker.forwarding.country_of("t2") == (True, "GR")
    await worker.forwarding.forget(lambda _: True)  # these stand-ins are no agent's events: nothing to send
