"""The worker on the real broker and database: outbox to Kafka, external reports, statuses, routings, crises,
and the charter-clock scheduler."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaProducer

from services.intake import deadlines, opening
from services.intake.adapters.officer_cache import OfficerCache
from services.intake.bootstrap import intake_config
from services.intake.domain.clocks import BRUSSELS
from services.intake.domain.model import ReportIn
from services.intake.settings import Settings
from services.intake.worker import Worker
from shared.events.crisis import CrisisActivated, CrisisClosed
from shared.events.directory import CaseRouted, PostSummary
from shared.events.envelope import decode, encode, new_event
from shared.events.notifications import NotificationStatus
from shared.events.reports import ReportSubmitted
from shared.kafka.producer import kafka_headers, make_producer, publish
from tests.intake.integration.test_intake_api import report
from tests.intake.integration.test_intake_twilio import Sign, post
from tests.support import auth, bootstrap, consume, eventually

DUTY = auth("duty_officer")


@pytest.fixture(scope="module")
async def producer() -> Any:
    producer = make_producer(bootstrap(), client_id="intake-tests")
    await producer.start()
    yield producer
    await producer.stop()


def data_of(record: Any) -> dict[str, Any]:
    return json.loads(record.value)["data"]  # type: ignore[no-any-return]


async def test_accepted_report_reaches_kafka_with_its_acknowledgement(
        client: httpx.AsyncClient, worker: Worker, settings: Settings) -> None:
    case = (await client.post("/v1/reports", json=report("sms"), headers=DUTY)).json()
    reference = case["reference"]
    [submitted] = await consume(settings.topic("consular.reports"), count=1,
                                predicate=lambda r: r.key == reference.encode())
    event = decode(submitted.value)
    assert event.type == "be.diplomatie.report.submitted" and event.source == "/services/intake"
    assert event.data["reference"] == reference and event.data["kind"] == "lost_document"
    assert dict(submitted.headers)["content-type"] == b"application/cloudevents+json"
    [command] = await consume(settings.topic("notifications.commands"), count=1,
                              predicate=lambda r: data_of(r).get("case_reference") == reference)
    data = data_of(command)
    assert data["channel"] == "sms" and data["officer"] == case["officer"] and data["priority"] == "case"
    assert command.key == data["notification_id"].encode()


async def external(producer: AIOKafkaProducer, settings: Settings, *, report_id: str, event_id: str,
                   source: str = "/external/ngo-helpline") -> None:
    body = report("email")
    data = ReportSubmitted.model_validate({**body, "report_id": report_id, "received_at": datetime.now(UTC),
                                           "channel": "email"})
    event = new_event(data, source=source, event_id=event_id)
    await producer.send_and_wait(settings.topic("consular.reports"), encode(event), key=report_id.encode(),
                                 headers=kafka_headers(event))


async def test_duplicate_external_event_makes_one_case(producer: AIOKafkaProducer, worker: Worker,
                                                       settings: Settings, pool: asyncpg.Pool) -> None:
    report_id, event_id = f"ngo-{uuid.uuid4()}", str(uuid.uuid4())
    await external(producer, settings, report_id=report_id, event_id=event_id)
    await external(producer, settings, report_id=report_id, event_id=event_id)  # the same event again
    await external(producer, settings, report_id=report_id, event_id=str(uuid.uuid4()))  # same report, new event
    marker_id = f"ngo-{uuid.uuid4()}"
    await external(producer, settings, report_id=marker_id, event_id=str(uuid.uuid4()))
    # the partition is the same only per key: wait for the later report, then for the first to be in
    await eventually(lambda: pool.fetchval("SELECT count(*) FROM reports WHERE external_id = $1", marker_id))
    await eventually(lambda: pool.fetchval("SELECT count(*) FROM reports WHERE external_id = $1", report_id))
    processed = await eventually(lambda: pool.fetchval(
        "SELECT count(*) FROM processed_events WHERE event_id LIKE '/external/ngo-helpline|%'"))
    assert processed >= 3
    assert await pool.fetchval("SELECT count(*) FROM reports WHERE external_id = $1", report_id) == 1
    row = await pool.fetchrow("SELECT reference, source, channel FROM reports WHERE external_id = $1", report_id)
    assert row["source"] == "/external/ngo-helpline" and row["channel"] == "email"
    # taken in as our case, it is published again under our reference (for the directory to route it)
    [again] = await consume(settings.topic("consular.reports"), count=1,
                            predicate=lambda r: r.key == row["reference"].encode())
    assert decode(again.value).data["report_id"] == report_id


async def test_our_own_reports_are_not_taken_in_twice(client: httpx.AsyncClient, worker: Worker,
                                                      settings: Settings, pool: asyncpg.Pool,
                                                      producer: AIOKafkaProducer) -> None:
    reference = (await client.post("/v1/reports", json=report(), headers=DUTY)).json()["reference"]
    await consume(settings.topic("consular.reports"), count=1, predicate=lambda r: r.key == reference.encode())
    marker_id = f"ngo-{uuid.uuid4()}"
    await external(producer, settings, report_id=marker_id, event_id=str(uuid.uuid4()))
    await eventually(lambda: pool.fetchval("SELECT count(*) FROM reports WHERE external_id = $1", marker_id))
    assert await pool.fetchval("SELECT count(*) FROM reports WHERE source = '/services/intake'"
                               " AND external_id IS NOT NULL") == 0


async def test_invalid_external_report_is_dead_lettered(producer: AIOKafkaProducer, worker: Worker,
                                                        settings: Settings) -> None:
    key = f"bad-{uuid.uuid4()}"
    await producer.send_and_wait(settings.topic("consular.reports"), b'{"not": "an event"}', key=key.encode())
    [dead] = await consume(settings.topic("consular.reports.dlq"), count=1, predicate=lambda r: r.key == key.encode())
    assert dict(dead.headers)["dlq.reason"]


async def test_notification_status_updates_message_history(client: httpx.AsyncClient, worker: Worker,
                                                            settings: Settings, producer: AIOKafkaProducer,
                                                            pool: asyncpg.Pool) -> None:
    reference = (await client.post("/v1/reports", json=report("email"), headers=DUTY)).json()["reference"]
    notification_id = await pool.fetchval("SELECT notification_id FROM messages WHERE reference = $1", reference)
    now = datetime.now(UTC)
    for status, at in (("sent", now), ("delivered", now + timedelta(seconds=2))):
        await publish(producer, NotificationStatus(notification_id=notification_id, channel="email", status=status,
                                                   at=at, case_reference=reference),
                      source="/services/notifier", topic_prefix=settings.kafka_topic_prefix)

    async def delivered() -> Any:
        case = await client.get(f"/v1/reports/{reference}", headers=DUTY)
        message = case.json()["messages"][0]
        return message if message["status"] == "delivered" else None

    message = await eventually(delivered)
    assert [s["status"] for s in message["statuses"]] == ["sent", "delivered"]


async def test_routing_attaches_the_post_and_hands_over(client: httpx.AsyncClient, worker: Worker,
                                                        settings: Settings, producer: AIOKafkaProducer,
                                                        pool: asyncpg.Pool) -> None:
    post_id = f"post-{uuid.uuid4().hex[:8]}"
    officer_id = await pool.fetchval(
        "INSERT INTO officers (name, role, phone, email, post_id, kinds) VALUES"
        " ('Rabat Officer', 'Consul', '+212537268060', 'rabat@diplomatie.example', $1, '{lost_document}')"
        " RETURNING officer_id", post_id)
    worker_officers = worker.consumer._handler
    del worker_officers
    case = (await client.post("/v1/reports", json=report(), headers=DUTY)).json()
    assert case["post"] is None
    summary = PostSummary(post_id=post_id, name="Embassy in Rabat", type="embassy", city="Rabat", country="MA")
    await publish(producer, CaseRouted(reference=case["reference"], service="passport", post=summary,
                                       basis="resident", resolved_at=datetime.now(UTC)),
                  source="/services/directory", topic_prefix=settings.kafka_topic_prefix)

    async def routed() -> Any:
        body = (await client.get(f"/v1/reports/{case['reference']}", headers=DUTY)).json()
        return body if body["post"] and body["officer"]["name"] == "Rabat Officer" else None

    body = await eventually(routed)
    assert body["post"]["post_id"] == post_id
    notes = [h["note"] for h in body["history"]]
    assert any(n and post_id in n for n in notes) and any(n and f"to {officer_id}" in n for n in notes)


async def test_crisis_status_drives_the_voice_announcement(client: httpx.AsyncClient, worker: Worker, sign: Sign,
                                                           settings: Settings, producer: AIOKafkaProducer,
                                                           pool: asyncpg.Pool) -> None:
    crisis: dict[str, Any] = {"crisis_id": f"crisis-{uuid.uuid4().hex[:8]}", "incident_id": None,
                              "title": "Earthquake near Agadir", "status": "active", "affected_count": 80,
                              "threshold": 50, "hotline_number": "+3225011001", "area": {"country": "MA"},
                              "activated_at": datetime.now(UTC)}
    await publish(producer, CrisisActivated(**crisis), source="/services/crisis_center",
                  topic_prefix=settings.kafka_topic_prefix)

    async def greeting() -> str:
        return (await post(client, sign, "/twilio/voice", {"From": "+32470000000"})).text

    announced = await eventually(lambda: _contains(greeting(), "Earthquake near Agadir"))
    assert announced.index("Earthquake near Agadir") < announced.index("<Gather")
    assert " ".join("+3225011001") in announced
    await publish(producer, CrisisClosed(**{**crisis, "status": "closed", "closed_at": datetime.now(UTC)}),
                  source="/services/crisis_center", topic_prefix=settings.kafka_topic_prefix)
    await eventually(lambda: _lacks(greeting(), "Earthquake near Agadir"))
    # an exercise (issue 23) is never announced to the public line, nor matched to a real person's SMS
    drill = {**crisis, "crisis_id": f"drill-{uuid.uuid4().hex[:8]}", "title": "Drill in Agadir", "exercise": True}
    event_id = f"drill-event-{uuid.uuid4().hex[:8]}"
    await publish(producer, CrisisActivated(**drill), source="/services/crisis_center",
                  topic_prefix=settings.kafka_topic_prefix, event_id=event_id)
    await eventually(lambda: pool.fetchval("SELECT 1 FROM processed_events WHERE event_id = $1",
                                           f"/services/crisis_center|{event_id}"))  # handled (source|id)
    assert await pool.fetchval("SELECT count(*) FROM active_crises") == 0
    assert "Drill in Agadir" not in await greeting()


async def _contains(text: Any, needle: str) -> str | None:
    value = await text
    return value if needle in value else None


async def _lacks(text: Any, needle: str) -> bool:
    return needle not in await text


async def test_deadline_events_fire_once_across_restarts(worker: Worker, settings: Settings,
                                                         pool: asyncpg.Pool) -> None:
    # a case received 20 days ago: its reply deadline is missed and was approaching; the running scheduler fires both
    received = datetime.now(UTC) - timedelta(days=20)
    result = await opening.submit_report(ReportIn.model_validate(report("web")), pool=pool,
                                         officers=OfficerCache(ttl_seconds=0), config=intake_config(settings),
                                         actor="tester", received_at=received)
    events = await consume(settings.topic("cases.deadlines"), count=2,
                           predicate=lambda r: r.key == result.reference.encode())
    kinds = sorted(decode(r.value).type for r in events)
    assert kinds == ["be.diplomatie.case.deadline_approaching", "be.diplomatie.case.deadline_missed"]
    due = datetime.fromisoformat(decode(events[0].value).data["due_by"])
    # calendar days in Brussels (the charter's clock), whatever offset daylight saving gives either instant
    assert due.astimezone(BRUSSELS).date() == received.astimezone(BRUSSELS).date() + timedelta(days=15)
    # a restarted scheduler finds nothing left to fire for this case
    assert await deadlines.fire_due_deadlines(pool=pool, config=intake_config(settings)) == 0
    fired = await pool.fetchval("SELECT count(*) FROM deadlines WHERE reference = $1 AND fired_at IS NOT NULL",
                                result.reference)
    assert fired == 2


async def test_scheduler_fires_each_instant_when_due(pool: asyncpg.Pool, settings: Settings) -> None:
    # A year from now: the module's running scheduler (real clock) must not fire it before the test does.
    received = datetime.now(UTC) + timedelta(days=365)
    result = await opening.submit_report(ReportIn.model_validate(report("web")), pool=pool,
                                         officers=OfficerCache(ttl_seconds=0), config=intake_config(settings),
                                         actor="tester", received_at=received)
    rows = await pool.fetch("SELECT event, fire_at FROM deadlines WHERE reference = $1 ORDER BY fire_at",
                            result.reference)
    approaching, missed = rows[0]["fire_at"], rows[1]["fire_at"]
    assert received + timedelta(days=11) < approaching < missed

    async def fired() -> list[str]:
        return [r["event"] for r in await pool.fetch(
            "SELECT event FROM deadlines WHERE reference = $1 AND fired_at IS NOT NULL ORDER BY fire_at",
            result.reference)]

    config = intake_config(settings)
    await deadlines.fire_due_deadlines(pool=pool, config=config, now=approaching - timedelta(seconds=1))
    assert await fired() == []
    await deadlines.fire_due_deadlines(pool=pool, config=config, now=approaching)
    assert await fired() == ["approaching"]
    await deadlines.fire_due_deadlines(pool=pool, config=config, now=missed)
    assert await fired() == ["approaching", "missed"]


async def test_an_sms_from_a_registered_traveller_is_located_where_the_traveller_stays(
        client: httpx.AsyncClient, worker: Worker, sign: Sign, settings: Settings, producer: AIOKafkaProducer,
        pool: asyncpg.Pool) -> None:
    from shared.events.travellers import TravellerCancelled, TravellerRegistered

    phone = f"+3247{uuid.uuid4().int % 10**7:07d}"
    traveller = TravellerRegistered(
        traveller_id=f"tr-{uuid.uuid4().hex[:8]}", full_name="Roaming Belgian", phone=phone, language="nl",
        country="NP", city="Pokhara", location={"lat": 28.21, "lon": 83.99},
        arrival=date.today() - timedelta(days=2), departure=date.today() + timedelta(days=10))
    await publish(producer, traveller, source="/tests/travellers", topic_prefix=settings.kafka_topic_prefix)
    await eventually(lambda: pool.fetchval("SELECT count(*) FROM registered_travellers WHERE phone = $1", phone))
    reply = await post(client, sign, "/twilio/sms", {"From": phone, "Body": "paspoort gestolen"})
    reference = reply.text.split("BE-", 1)[1][:11]
    case = (await client.get(f"/v1/reports/BE-{reference}", headers=DUTY)).json()
    assert case["location"]["country"] == "NP", "located by the registration, not by the +32 number"
    assert case["location"]["lat"] == pytest.approx(28.21)

    # Cancelled: the next sender with that number is placed by the number again.
    await publish(producer, TravellerCancelled(traveller_id=traveller.traveller_id), source="/tests/travellers",
                  topic_prefix=settings.kafka_topic_prefix)
    await eventually(lambda: pool.fetchval("SELECT count(*) = 0 FROM registered_travellers WHERE phone = $1",
                                           phone))


async def test_deadline_events_warn_the_officer_by_email_once(worker: Worker, pool: asyncpg.Pool,
                                                              settings: Settings) -> None:
    """The running scheduler fires a late case's clock; the consumer of cases.deadlines emails its officer."""
    received = datetime.now(UTC) - timedelta(days=20)
    result = await opening.submit_report(ReportIn.model_validate(report("web")), pool=pool,
                                         officers=OfficerCache(ttl_seconds=0), config=intake_config(settings),
                                         actor="tester", received_at=received)

    async def warnings() -> list[dict[str, Any]]:
        rows = await pool.fetch("SELECT payload FROM outbox WHERE topic = $1", settings.topic("notifications.commands"))
        commands = [json.loads(bytes(r["payload"]))["data"] for r in rows]
        return [c for c in commands if c["template"] == "staff_deadline" and c["case_reference"] == result.reference]

    async def both() -> list[dict[str, Any]] | None:
        found = await warnings()
        return found if len(found) == 2 else None

    # The relay may already have published them: read the topic instead of the outbox then.
    found = await both() or [json.loads(r.value)["data"] for r in await consume(
        settings.topic("notifications.commands"), count=2, timeout=60,
        predicate=lambda r: json.loads(r.value)["data"].get("template") == "staff_deadline"
        and json.loads(r.value)["data"].get("case_reference") == result.reference)]
    assert sorted(c["params"]["event"] for c in found) == ["approaching", "missed"]
    officer = await pool.fetchrow("SELECT o.email FROM reports r JOIN officers o USING (officer_id)"
                                  " WHERE r.reference = $1", result.reference)
    assert {c["recipient"]["email"] for c in found} == {officer["email"]}
    assert all(c["channel"] == "email" and c["language"] == "en" for c in found)
    notes = await eventually(lambda: pool.fetch(
        "SELECT note FROM status_history WHERE reference = $1 AND action = 'warning'", result.reference))
    assert any("missed" in n["note"] for n in notes)


async def test_a_stale_or_answered_deadline_warns_nobody(pool: asyncpg.Pool, settings: Settings) -> None:
    from shared.events.deadlines import DeadlineMissed

    received = datetime.now(UTC) + timedelta(days=400)  # far ahead: the running scheduler leaves it alone
    result = await opening.submit_report(ReportIn.model_validate(report("web")), pool=pool,
                                         officers=OfficerCache(ttl_seconds=0), config=intake_config(settings),
                                         actor="tester", received_at=received)
    due_by = await pool.fetchval("SELECT reply_due_by FROM reports WHERE reference = $1", result.reference)
    missed = DeadlineMissed(reference=result.reference, deadline="reply", due_by=due_by)
    event = new_event(missed, source="/tests")
    lead = deadlines.WarningConfig(team_lead_email="lead@diplomatie.example")
    async with pool.acquire() as conn, conn.transaction():
        moved = DeadlineMissed(reference=result.reference, deadline="reply", due_by=due_by - timedelta(days=3))
        assert await deadlines.deadline_warning(event, moved, conn, config=intake_config(settings),
                                                warnings=lead) == 0  # the due date moved since
        assert await deadlines.deadline_warning(event, missed, conn, config=intake_config(settings),
                                                warnings=lead) == 2  # the officer and the team lead
        await conn.execute("UPDATE reports SET answered_by = 'reply', answered_at = now(), answered_on_time = true"
                           " WHERE reference = $1", result.reference)
        assert await deadlines.deadline_warning(event, missed, conn, config=intake_config(settings),
                                                warnings=lead) == 0
