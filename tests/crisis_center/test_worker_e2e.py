"""The Faust worker end to end on the real broker and database (the cases listed in issue 5)."""

from __future__ import annotations

import json
from datetime import timedelta

from aiokafka.structs import ConsumerRecord

from services.crisis_center.domain.commands import TravellerRemove, TravellersBatch, TravellerUpsert, decode_command
from services.crisis_center.handlers import crisis_id_for_incident
from services.crisis_center.worker import CrisisWorker
from shared.events.envelope import decode
from shared.events.incidents import IncidentClosed
from shared.events.reports import ReportSubmitted
from shared.events.travellers import TravellerCancelled
from tests.crisis_center.conftest import NOW, POOL, THRESHOLD, Env, db_crisis, quake, registration, running
from tests.support import consume, eventually


def count_of(worker: CrisisWorker, incident_id: str = "inc-1") -> int:
    return worker.engine.affected(incident_id).count


async def status_events(env: Env, until: int) -> list[dict[str, object]]:
    """crisis.status from the start until `until` events are read (the outbox publishes in commit order)."""
    records = await consume(env.topic("crisis.status"), count=until, timeout=60)
    return [{"type": decode(r.value).type.rsplit(".", 1)[-1], **decode(r.value).data} for r in records]


async def test_threshold_minus_one_gives_nothing_and_threshold_exactly_one(env: Env) -> None:
    async with running(env) as worker:
        await env.send(quake())
        for n in range(THRESHOLD - 1):
            await env.send(registration(n))
        await eventually(lambda: count_of(worker) == THRESHOLD - 1)
        assert await db_crisis(env) is None  # activation happens while handling the event that reaches it
        await env.send(registration(THRESHOLD - 1))
        crisis = await eventually(lambda: db_crisis(env))
        assert crisis["status"] == "active" and crisis["affected_count"] == THRESHOLD
        assert crisis["hotline_number"] in POOL.split(",")
        for n in range(THRESHOLD, THRESHOLD + 3):  # more people: updates, never a second activation
            await env.send(registration(n))
        await eventually(lambda: count_of(worker) == THRESHOLD + 3)
        await eventually(lambda: _db_count_is(env, THRESHOLD + 3))
    events = await status_events(env, until=2)
    activations = [e for e in events if e["type"] == "activated"]
    assert len(activations) == 1 and activations[0]["crisis_id"] == crisis_id_for_incident("inc-1")
    assert activations[0]["affected_count"] == THRESHOLD
    assert await env.pool.fetchval("SELECT count(*) FROM crises") == 1


async def _db_count_is(env: Env, expected: int) -> bool:
    crisis = await db_crisis(env)
    return crisis is not None and crisis["affected_count"] == expected


async def test_circle_polygon_and_whole_country_areas(env: Env) -> None:
    square = {"country": "PT", "polygon": [[-9.3, 38.6], [-9.0, 38.6], [-9.0, 38.85], [-9.3, 38.85]]}
    async with running(env) as worker:
        await env.send(quake("circle"))
        await env.send(quake("polygon", area=square))
        await env.send(quake("country", area={"country": "GR"}))
        await env.send(registration(1))  # Istanbul: inside the circle
        await env.send(registration(2, lat=39.93, lon=32.86))  # Ankara: outside the circle
        await env.send(registration(3, lat=38.72, lon=-9.14, country="PT"))  # Lisbon: inside the polygon
        await env.send(registration(4, lat=41.15, lon=-8.61, country="PT"))  # Porto: outside
        await env.send(registration(5, lat=37.98, lon=23.73, country="GR"))  # Athens
        await env.send(registration(6, lat=40.64, lon=22.94, country="GR"))  # Thessaloniki
        await env.send(registration(7, lat=41.0, lon=29.0, country="GR"))  # says GR, stands in TR: see the docs
        # An area belongs to its incident's country: t7 counts in Greece, not in the Istanbul circle.
        await eventually(lambda: [count_of(worker, i) for i in ("circle", "polygon", "country")] == [1, 1, 3])
        assert worker.engine.travellers.get("t2", {}).get("incidents", []) == []
        assert worker.engine.travellers["t1"]["incidents"] == ["circle"]


async def test_cancellation_ended_stay_and_same_person_in_a_report(env: Env) -> None:
    async with running(env) as worker:
        await env.send(quake())
        for n in range(THRESHOLD):
            await env.send(registration(n))
        await eventually(lambda: db_crisis(env))
        # A stay that ended yesterday does not count.
        await env.send(registration(90, departure=NOW.date() - timedelta(days=2)))
        # The same person in a report (reporter's phone as registered) counts once.
        await env.send(ReportSubmitted(
            reference="BE-2026-000001", kind="serious_difficulty",
            reporter={"full_name": "Traveller 1", "phone": "+32470000001", "language": "nl", "channel": "phone"},
            location={"country": "TR", "lat": 41.0, "lon": 29.0}, description="injured", received_at=NOW,
            channel="phone"))
        await eventually(lambda: worker.engine.reports.get("BE-2026-000001") is not None)
        await eventually(lambda: worker.engine.travellers.get("t90") is not None)
        assert count_of(worker) == THRESHOLD
        assert worker.engine.affected("inc-1").counts_by_source() == {"registration": THRESHOLD, "report": 1}
        # A cancelled registration lowers the count; the crisis stays active (no flapping).
        await env.send(TravellerCancelled(traveller_id="t2"))
        await eventually(lambda: _db_count_is(env, THRESHOLD - 1))
        crisis = await db_crisis(env)
        assert crisis is not None and crisis["status"] == "active" and crisis["count_reports"] == 1


async def test_registrations_waiting_on_the_topic_keep_each_travellers_order(env: Env) -> None:
    """Registrations already on the topic when the worker starts (a worker catching up): each traveller's events
    keep their order, moves included (two partitions of crisis.by-country): cancelled or moved ones never count."""
    people = 40
    await env.send(quake())
    for n in range(people):
        await env.send(registration(n))
    for n in range(0, people, 5):
        await env.send(TravellerCancelled(traveller_id=f"t{n}"))  # 8 cancelled after registering
    for n in range(1, people, 10):
        await env.send(registration(n, lat=37.98, lon=23.73, country="GR"))  # 4 moved to Greece
    async with running(env) as worker:
        moved = [f"t{n}" for n in range(1, people, 10)]
        await eventually(lambda: count_of(worker) == people - 8 - 4)
        assert "t35" not in worker.engine.travellers
        assert all(worker.engine.travellers.get(t, {}).get("country") != "TR" for t in moved)
        await eventually(lambda: _db_count_is(env, people - 8 - 4))
    assert await env.pool.fetchval("SELECT count(*) FROM crises") == 1
    # What waited on the topic left for crisis.by-country in runs: fewer records than commands. The registries
    # read it whole before deciding (`reconcile`): no command for a registration cancelled later on the topic.
    commands = [decode_command(r.value) for r in await consume(env.topic("crisis.by-country"), count=10**6,
                                                                timeout=3)]
    runs = [c for c in commands if isinstance(c, TravellersBatch)]
    sent = [c for c in commands if isinstance(c, TravellerUpsert | TravellerRemove)] + [
        each for run in runs for each in run.commands]
    assert runs and len(sent) > len(commands)
    assert {c.traveller_id for c in sent if isinstance(c, TravellerUpsert) and c.country == "TR"} == {
        f"t{n}" for n in range(people) if n % 5 and n % 10 != 1}


async def test_duplicated_events_change_nothing(env: Env) -> None:
    async with running(env) as worker:
        await env.send(quake(), event_id="incident-event-1")
        await env.send(quake(), event_id="incident-event-1")
        for n in range(THRESHOLD):
            await env.send(registration(n), event_id=f"reg-{n}")
            await env.send(registration(n), event_id=f"reg-{n}")  # same event twice
            await env.send(registration(n))  # same registration, new event id
        crisis = await eventually(lambda: db_crisis(env))
        # A marker on the same traveller's partition as the last duplicate, so it is handled after all of them.
        await env.send(registration(THRESHOLD - 1, lat=50.0))  # that traveller leaves the area...
        await env.send(registration(THRESHOLD - 1, lat=41.02))  # ...and comes back (a position seen only then)
        await eventually(lambda: _db_count_is(env, THRESHOLD))
        await eventually(lambda: worker.engine.travellers[f"t{THRESHOLD - 1}"]["lat"] == 41.02)
        assert count_of(worker) == THRESHOLD
        assert crisis["affected_count"] == THRESHOLD
    notifications = await consume(env.topic("notifications.commands"), count=2 * THRESHOLD, timeout=60)
    ids = [json.loads(r.value)["data"]["notification_id"] for r in notifications]
    # One SMS and one email per person. The traveller who left and came back may be asked again, under the same
    # notification ids (derived from crisis, traveller and channel), which the notifier drops.
    assert len(set(ids)) == 2 * THRESHOLD


async def test_affected_and_joining_travellers_are_notified_in_their_language(env: Env) -> None:
    async with running(env) as worker:
        await env.send(quake())
        for n in range(THRESHOLD):
            await env.send(registration(n))
        await eventually(lambda: db_crisis(env))
        await env.send(registration(50))  # registers in the area while the crisis is active
        await eventually(lambda: count_of(worker) == THRESHOLD + 1)
    records: list[ConsumerRecord[bytes, bytes]] = await consume(
        env.topic("notifications.commands"), count=2 * (THRESHOLD + 1), timeout=60)
    commands = [json.loads(r.value)["data"] for r in records]
    assert {c["recipient"]["traveller_id"] for c in commands} == {f"t{n}" for n in [*range(THRESHOLD), 50]}
    crisis = await db_crisis(env)
    assert crisis is not None
    for command in commands:
        assert command["crisis_id"] == crisis["crisis_id"] and command["language"] == "nl"
        assert command["template"] == "crisis_alert" and command["priority"] == "crisis"
        assert command["params"]["hotline_number"] == crisis["hotline_number"]
    assert {c["channel"] for c in commands} == {"sms", "email"}
    # everyone alerted, joiners too, can be asked whether they are safe (welfare checks)
    contacts = await env.pool.fetch("SELECT person_id, phone, language FROM crisis_contacts WHERE crisis_id = $1",
                                    crisis["crisis_id"])
    assert {(c["person_id"], c["phone"], c["language"]) for c in contacts} == {
        (f"t{n}", f"+32470{n:06d}", "nl") for n in [*range(THRESHOLD), 50]}


async def test_restart_in_the_middle_of_a_burst(env: Env) -> None:
    first_part, second_part = 60, 20
    worker = env.worker()
    await worker.start()
    await env.send(quake())
    for n in range(first_part):
        await env.send(registration(n))
    first = await eventually(lambda: db_crisis(env))
    await worker.stop()  # as soon as the crisis exists, with the burst still being handled
    for n in range(first_part, first_part + second_part):
        await env.send(registration(n))
    async with running(env) as again:  # tables come back from the changelogs, the rest of the burst is handled
        everyone = {f"t{n}" for n in range(first_part + second_part)}
        try:
            await eventually(lambda: count_of(again) == len(everyone), timeout=90)
        except AssertionError:
            missing = sorted(everyone - set(again.engine.travellers.keys()))
            raise AssertionError(f"counted {count_of(again)} of {len(everyone)}; never handled: {missing}") from None
        await eventually(lambda: _db_count_is(env, first_part + second_part), timeout=30)
    after = await db_crisis(env)
    assert after is not None and after["hotline_number"] == first["hotline_number"]
    assert after["crisis_id"] == first["crisis_id"]
    events = await status_events(env, until=2)
    assert [e["type"] for e in events].count("activated") == 1
    records = await consume(env.topic("notifications.commands"), count=2 * (first_part + second_part), timeout=60)
    traveller_ids = {json.loads(r.value)["data"]["recipient"]["traveller_id"] for r in records}
    assert traveller_ids == {f"t{n}" for n in range(first_part + second_part)}  # everyone told, across the restart


async def test_two_incidents_get_two_hotlines_and_closing_frees_one(env: Env) -> None:
    athens = {"country": "GR", "circle": {"lat": 37.98, "lon": 23.73, "radius_km": 30}}
    async with running(env) as worker:
        await env.send(quake("inc-tr"))
        await env.send(quake("inc-gr", area=athens, title="Earthquake near Athens"))
        for n in range(THRESHOLD):
            await env.send(registration(n))
            await env.send(registration(n, lat=37.98, lon=23.73, country="GR", prefix="g"))
        tr = await eventually(lambda: db_crisis(env, "inc-tr"))
        gr = await eventually(lambda: db_crisis(env, "inc-gr"))
        assert tr["hotline_number"] != gr["hotline_number"]
        assert {tr["hotline_number"], gr["hotline_number"]} <= set(POOL.split(","))
        await env.send(IncidentClosed(incident_id="inc-tr"))
        closed = await eventually(lambda: _closed(env, "inc-tr"))
        assert closed["closed_by"] == "system:incident.closed"
        # The freed number goes to the next crisis.
        await env.send(quake("inc-3", area={"country": "CY"}, title="Storm in Cyprus"))
        for n in range(THRESHOLD):
            await env.send(registration(n, lat=35.1, lon=33.4, country="CY", prefix="c"))
        third = await eventually(lambda: db_crisis(env, "inc-3"))
        assert third["hotline_number"] != gr["hotline_number"]
        assert count_of(worker, "inc-gr") == THRESHOLD
    events = await status_events(env, until=4)
    assert [e["type"] for e in events if e["crisis_id"] == tr["crisis_id"]] == ["activated", "closed"]


async def _closed(env: Env, incident_id: str) -> dict[str, object] | None:
    crisis = await db_crisis(env, incident_id)
    return crisis if crisis and crisis["status"] == "closed" else None


async def test_bad_events_go_to_the_dead_letter_topic_and_the_agent_goes_on(env: Env) -> None:
    async with running(env) as worker:
        await env.producer.send_and_wait(env.topic("travellers.registrations"), b"{not json", key=b"x")
        await env.producer.send_and_wait(env.topic("crisis.incidents"), json.dumps({
            "specversion": "1.0", "id": "e1", "source": "/ext", "type": "be.diplomatie.incident.reported",
            "time": NOW.isoformat(), "data": {"incident_id": "bad", "title": "x", "kind": "flood",
                                              "severity": "severe", "occurred_at": NOW.isoformat(),
                                              "area": {"country": "TR", "polygon": [[0, 0], [1, 1], [2, 2]]}},
        }).encode(), key=b"bad")
        await env.send(quake())  # after the bad one: the registries and the agents go on
        await env.send(registration(1))
        await eventually(lambda: worker.engine.travellers.get("t1") is not None)
    dead = await consume(env.topic("travellers.registrations.dlq"), count=1, timeout=30)
    reasons = {k: v.decode() for k, v in dead[0].headers}
    assert dead[0].value == b"{not json" and "not JSON" in reasons["dlq.reason"]
    # the topic it came from, without the prefix, as every consumer writes it: a replay adds its own prefix
    assert reasons["dlq.topic"] == "travellers.registrations" and reasons["dlq.consumer"] == "crisis_center"
    dead_incident = await consume(env.topic("crisis.incidents.dlq"), count=1, timeout=30)
    assert "polygon" in dict(dead_incident[0].headers)["dlq.reason"].decode()
