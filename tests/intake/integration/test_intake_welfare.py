"""Answers to "are you safe?" at intake: an SMS from a number with an open question is an answer (in each
language), a help answer opens one case per person and crisis, link answers from the crisis center are
published the same way, and without an open question an SMS is a distress report as before."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from services.intake.settings import Settings
from services.intake.worker import Worker
from shared.events.crisis import CrisisActivated, CrisisClosed
from shared.events.welfare import WelfareAsked, WelfareReplied
from shared.kafka.producer import make_producer, publish
from tests.intake.conftest import Clock
from tests.intake.integration.test_intake_api import report
from tests.intake.integration.test_intake_twilio import REF, Sign, moroccan_mobile, post, sid
from tests.support import auth, bootstrap, consume, eventually


@pytest.fixture(scope="module")
async def producer() -> Any:
    producer = make_producer(bootstrap(), client_id="intake-welfare-tests")
    await producer.start()
    yield producer
    await producer.stop()


def crisis_data(crisis_id: str) -> dict[str, Any]:
    return {"crisis_id": crisis_id, "incident_id": None, "title": "Earthquake in Kathmandu", "status": "active",
            "affected_count": 60, "threshold": 50, "hotline_number": "+3225011000",
            "area": {"country": "NP"}, "activated_at": datetime.now(UTC), "closed_at": None}


async def ask(producer: Any, settings: Settings, pool: asyncpg.Pool, *, crisis_id: str, phone: str | None,
              language: str, person_id: str, email: str | None = None) -> str:
    check_id = uuid.uuid4().hex
    now = datetime.now(UTC)
    await publish(producer, WelfareAsked(
        check_id=check_id, crisis_id=crisis_id, crisis_title="Earthquake in Kathmandu", hotline_number="+3225011000",
        person_id=person_id, phone=phone, email=email, language=language,  # type: ignore[arg-type]
        step="question", asked_at=now, open_until=now + timedelta(days=14)),
        source="/tests", topic_prefix=settings.kafka_topic_prefix)
    if phone:
        await eventually(lambda: pool.fetchval("SELECT 1 FROM welfare_questions WHERE phone = $1 AND check_id = $2",
                                               phone, check_id))
    return check_id


async def active_crisis(producer: Any, settings: Settings, pool: asyncpg.Pool) -> str:
    crisis_id = f"crisis-{uuid.uuid4().hex[:8]}"
    await publish(producer, CrisisActivated.model_validate(crisis_data(crisis_id)), source="/tests",
                  topic_prefix=settings.kafka_topic_prefix)
    await eventually(lambda: pool.fetchval("SELECT 1 FROM active_crises WHERE crisis_id = $1", crisis_id))
    return crisis_id


async def sms(client: httpx.AsyncClient, sign: Sign, phone: str, body: str,
              message_sid: str | None = None) -> httpx.Response:
    """An SMS from `phone` as Twilio posts it to intake (signed; a new MessageSid unless a retry gives its own)."""
    params = {"From": phone, "Body": body, "MessageSid": message_sid or sid("SM")}
    return await post(client, sign, "/twilio/sms", params)


async def answers(settings: Settings, person_id: str, count: int = 1, timeout: float = 20) -> list[dict[str, Any]]:
    """The person's answers on the topic, one per event id (consumers deduplicate on it; a webhook retried after
    the outbox relayed the first copy may publish the same event again)."""
    records = await consume(settings.topic("welfare.answers"), count=count, timeout=timeout,
                            predicate=lambda r: r.key == person_id.encode())
    events = {json.loads(r.value)["id"]: json.loads(r.value)["data"] for r in records}
    return list(events.values())


@pytest.mark.parametrize(("language", "safe", "help_", "hotline_word"), [
    ("fr", "Sain et sauf", "AIDE", "Ligne de crise"), ("nl", "veilig", "hulp", "Crisislijn"),
    ("de", "in Sicherheit", "Hilfe", "Krisentelefon"), ("en", "1", "2", "hotline")])
async def test_sms_answers_in_each_language(client: httpx.AsyncClient, worker: Worker, settings: Settings,
                                            pool: asyncpg.Pool, producer: Any, sign: Sign, language: str, safe: str,
                                            help_: str, hotline_word: str) -> None:
    crisis_id = await active_crisis(producer, settings, pool)
    safe_phone, help_phone = moroccan_mobile(), moroccan_mobile()
    safe_person, help_person = f"t-{uuid.uuid4().hex[:8]}", f"t-{uuid.uuid4().hex[:8]}"
    check_id = await ask(producer, settings, pool, crisis_id=crisis_id, phone=safe_phone, language=language,
                         person_id=safe_person)
    await ask(producer, settings, pool, crisis_id=crisis_id, phone=help_phone, language=language,
              person_id=help_person)

    reply = await sms(client, sign, safe_phone, safe)
    assert reply.status_code == 200 and hotline_word in reply.text and not REF.search(reply.text)
    [answered] = await answers(settings, safe_person)
    assert (answered["answer"], answered["channel"], answered["case_reference"], answered["check_id"],
            answered["crisis_id"]) == ("safe", "sms", None, check_id, crisis_id)
    assert await pool.fetchval("SELECT count(*) FROM reports WHERE reporter_phone = $1", safe_phone) == 0

    reply = await sms(client, sign, help_phone, help_)
    found = REF.search(reply.text)
    assert found, reply.text
    [answered] = await answers(settings, help_person)
    assert answered["answer"] == "needs_help" and answered["case_reference"] == found.group()
    case = await pool.fetchrow("SELECT kind, crisis_id, language, channel FROM reports WHERE reference = $1",
                               found.group())
    assert dict(case) == {"kind": "serious_difficulty", "crisis_id": crisis_id, "language": language,
                          "channel": "sms"}


async def test_unclear_answers_a_second_help_and_a_retried_webhook(
        client: httpx.AsyncClient, worker: Worker, settings: Settings, pool: asyncpg.Pool, producer: Any,
        sign: Sign) -> None:
    crisis_id = await active_crisis(producer, settings, pool)
    phone, person = moroccan_mobile(), f"t-{uuid.uuid4().hex[:8]}"
    await ask(producer, settings, pool, crisis_id=crisis_id, phone=phone, language="en", person_id=person)

    unclear = await sms(client, sign, phone, "not safe, the hotel is damaged")
    assert "officer will read" in unclear.text
    help_sid = sid("SM")
    first = await sms(client, sign, phone, "HELP", help_sid)
    retried = await sms(client, sign, phone, "HELP", help_sid)
    again = await sms(client, sign, phone, "2")
    references = {m.group() for m in (REF.search(r.text) for r in (first, retried, again)) if m}
    assert len(references) == 1, "one case per person and crisis"
    published = await answers(settings, person, count=4, timeout=8)
    assert [a["answer"] for a in published] == ["unclear", "needs_help", "needs_help"], "the retry added nothing"
    assert published[0]["text"] == "not safe, the hotel is damaged"
    [reference] = references
    inbound = await pool.fetchval("SELECT count(*) FROM messages WHERE reference = $1 AND direction = 'in'",
                                  reference)
    assert inbound == 2, "the retried webhook is not stored twice"


async def test_without_an_open_question_an_sms_is_a_report(client: httpx.AsyncClient, worker: Worker,
                                                           settings: Settings, pool: asyncpg.Pool, producer: Any,
                                                           sign: Sign) -> None:
    crisis_id = await active_crisis(producer, settings, pool)
    asked, stranger = moroccan_mobile(), moroccan_mobile()
    person = f"t-{uuid.uuid4().hex[:8]}"
    await ask(producer, settings, pool, crisis_id=crisis_id, phone=asked, language="fr", person_id=person)
    reply = await sms(client, sign, stranger, "2")
    reference = REF.search(reply.text)
    assert reference is not None
    assert await pool.fetchval("SELECT crisis_id FROM reports WHERE reference = $1", reference.group()) is None

    # the crisis closes: the question is no longer open, and "2" is a report again
    closed = {**crisis_data(crisis_id), "status": "closed", "closed_at": datetime.now(UTC)}
    await publish(producer, CrisisClosed.model_validate(closed), source="/tests",
                  topic_prefix=settings.kafka_topic_prefix)
    await eventually(lambda: _gone(pool, asked))
    reply = await sms(client, sign, asked, "2")
    reference = REF.search(reply.text)
    assert reference is not None
    assert await pool.fetchval("SELECT crisis_id FROM reports WHERE reference = $1", reference.group()) is None
    assert await answers(settings, person, timeout=3) == []


async def _gone(pool: asyncpg.Pool, phone: str) -> bool:
    return await pool.fetchval("SELECT count(*) FROM welfare_questions WHERE phone = $1", phone) == 0


async def test_a_forged_answer_is_refused_and_changes_nothing(client: httpx.AsyncClient, worker: Worker,
                                                              settings: Settings, pool: asyncpg.Pool, producer: Any,
                                                              sign: Sign) -> None:
    crisis_id = await active_crisis(producer, settings, pool)
    phone, person = moroccan_mobile(), f"t-{uuid.uuid4().hex[:8]}"
    await ask(producer, settings, pool, crisis_id=crisis_id, phone=phone, language="nl", person_id=person)
    params = {"From": phone, "Body": "1", "MessageSid": sid("SM")}
    forged = sign("/twilio/sms", {**params, "Body": "2"})
    assert (await client.post("/twilio/sms", data=params, headers=forged)).status_code == 403
    assert await answers(settings, person, timeout=3) == []


async def test_a_link_answer_for_help_opens_a_case_by_email(worker: Worker, settings: Settings, pool: asyncpg.Pool,
                                                            producer: Any) -> None:
    crisis_id = await active_crisis(producer, settings, pool)
    person = f"t-{uuid.uuid4().hex[:8]}"
    reply = WelfareReplied(check_id="c-1", crisis_id=crisis_id, person_id=person, answer="needs_help",
                           channel="email", language="de", email="anna@example.org", at=datetime.now(UTC))
    for _ in range(2):  # redelivered: one case, one answer
        await publish(producer, reply, source="/tests", topic_prefix=settings.kafka_topic_prefix, event_id="reply-1")
    published = await answers(settings, person, count=2, timeout=10)
    assert len(published) == 1
    [answered] = published
    assert answered["answer"] == "needs_help" and answered["channel"] == "email" and answered["check_id"] == "c-1"
    case = await pool.fetchrow("SELECT kind, crisis_id, language, channel FROM reports WHERE reference = $1",
                               answered["case_reference"])
    assert dict(case) == {"kind": "serious_difficulty", "crisis_id": crisis_id, "language": "de", "channel": "email"}
    [ack] = await consume(settings.topic("notifications.commands"), count=1, predicate=lambda r: json.loads(
        r.value)["data"].get("case_reference") == answered["case_reference"])
    command = json.loads(ack.value)["data"]
    assert command["channel"] == "email" and command["recipient"]["email"] == "anna@example.org"
    assert command["officer"]["name"], "the officer card goes with the reference"


async def test_keys_pressed_on_the_welfare_call(client: httpx.AsyncClient, worker: Worker, settings: Settings,
                                               pool: asyncpg.Pool, producer: Any, sign: Sign) -> None:
    crisis_id = await active_crisis(producer, settings, pool)
    safe_phone, help_phone, stranger = moroccan_mobile(), moroccan_mobile(), moroccan_mobile()
    safe_person, help_person = f"t-{uuid.uuid4().hex[:8]}", f"t-{uuid.uuid4().hex[:8]}"
    await ask(producer, settings, pool, crisis_id=crisis_id, phone=safe_phone, language="nl", person_id=safe_person)
    await ask(producer, settings, pool, crisis_id=crisis_id, phone=help_phone, language="de", person_id=help_person)
    duty = "+3225013200"

    said = await post(client, sign, "/twilio/voice/welfare",
                      {"To": safe_phone, "From": duty, "Digits": "1", "CallSid": sid("CA")})
    assert said.status_code == 200 and '<Say language="nl-NL">Dank u.' in said.text and "<Hangup" in said.text
    [answered] = await answers(settings, safe_person)
    assert (answered["answer"], answered["channel"]) == ("safe", "voice")

    said = await post(client, sign, "/twilio/voice/welfare",
                      {"To": help_phone, "From": duty, "Digits": "2", "CallSid": sid("CA")})
    assert "Mitarbeiter ruft Sie zurück" in said.text
    [answered] = await answers(settings, help_person)
    assert answered["answer"] == "needs_help" and answered["channel"] == "voice"
    case = await pool.fetchrow("SELECT crisis_id, channel, reporter_phone FROM reports WHERE reference = $1",
                               answered["case_reference"])
    assert dict(case) == {"crisis_id": crisis_id, "channel": "phone", "reporter_phone": help_phone}

    nobody = await post(client, sign, "/twilio/voice/welfare",
                        {"To": stranger, "From": duty, "Digits": "1", "CallSid": sid("CA")})
    assert nobody.status_code == 200 and "<Say" not in nobody.text, "no open question: nothing recorded"
    params = {"To": safe_phone, "From": duty, "Digits": "2", "CallSid": sid("CA")}
    forged = sign("/twilio/voice/welfare", {**params, "Digits": "1"})
    assert (await client.post("/twilio/voice/welfare", data=params, headers=forged)).status_code == 403
    assert len(await answers(settings, safe_person, count=2, timeout=3)) == 1


# --- check-in by SMS from people who never registered --------------------------------------------------------------

MARRAKECH_AREA = {"country": "MA", "circle": {"lat": 31.63, "lon": -7.99, "radius_km": 50}}


@pytest.fixture(scope="module")
async def marrakech(producer: Any, settings: Settings, pool: asyncpg.Pool, worker: Worker) -> str:
    """One crisis around Marrakech for the module (two overlapping ones would compete for each check-in)."""
    crisis_id = f"crisis-{uuid.uuid4().hex[:8]}"
    data = {**crisis_data(crisis_id), "title": "Earthquake near Marrakech", "area": MARRAKECH_AREA}
    await publish(producer, CrisisActivated.model_validate(data), source="/tests",
                  topic_prefix=settings.kafka_topic_prefix)
    await eventually(lambda: pool.fetchval("SELECT 1 FROM active_crises WHERE crisis_id = $1 AND area IS NOT NULL",
                                           crisis_id))
    return crisis_id


async def registrations(settings: Settings, phone: str, count: int = 1, timeout: float = 20) -> list[Any]:
    records = await consume(settings.topic("travellers.registrations"), count=count, timeout=timeout,
                            predicate=lambda r: json.loads(r.value)["data"].get("phone") == phone)
    return [json.loads(r.value) for r in records]


@pytest.mark.usefixtures("worker")
async def test_a_check_in_inside_the_area_counts_the_person_and_records_the_answer(
        client: httpx.AsyncClient, settings: Settings, sign: Sign, marrakech: str) -> None:
    crisis_id = marrakech
    phone = moroccan_mobile()
    reply = await sms(client, sign, phone, "SAFE Marrakech")
    assert "You are counted as safe: Earthquake near Marrakech" in reply.text

    [registered] = await registrations(settings, phone)
    assert registered["source"] == "/services/intake/check-in"
    data = registered["data"]
    assert data["traveller_id"].startswith("checkin-") and data["country"] == "MA" and data["language"] == "en"
    assert abs(data["location"]["lat"] - 31.63) < 0.1 and data["city"] == "Marrakech"
    [answered] = await answers(settings, data["traveller_id"])
    assert (answered["crisis_id"], answered["answer"], answered["channel"], answered["check_id"]) == (
        crisis_id, "safe", "sms", None)


@pytest.mark.usefixtures("worker")
async def test_a_check_in_for_help_opens_a_case_where_the_person_is(
        client: httpx.AsyncClient, pool: asyncpg.Pool, sign: Sign, marrakech: str) -> None:
    crisis_id = marrakech
    phone = moroccan_mobile()
    reply = await sms(client, sign, phone, "HULP medina Marrakech")
    reference = REF.search(reply.text)
    assert reference and "geopend" in reply.text, reply.text
    case = await pool.fetchrow("SELECT crisis_id, language, location FROM reports WHERE reference = $1",
                               reference.group())
    assert case["crisis_id"] == crisis_id and case["language"] == "nl"
    location = case["location"] if isinstance(case["location"], dict) else json.loads(case["location"])
    assert location["country"] == "MA" and location["city"] == "Marrakech"


@pytest.mark.usefixtures("marrakech", "worker")
async def test_a_check_in_outside_the_area_is_not_counted(client: httpx.AsyncClient, settings: Settings,
                                                          pool: asyncpg.Pool, sign: Sign) -> None:
    phone = moroccan_mobile()
    reply = await sms(client, sign, phone, "sauf Casablanca")
    assert "hors de la zone" in reply.text
    assert await registrations(settings, phone, timeout=3) == []
    assert await pool.fetchval("SELECT count(*) FROM reports WHERE reporter_phone = $1", phone) == 0


@pytest.mark.usefixtures("marrakech", "worker")
async def test_a_check_in_without_a_known_place_asks_for_it(client: httpx.AsyncClient, settings: Settings,
                                                            sign: Sign) -> None:
    phone = moroccan_mobile()
    where = await sms(client, sign, phone, "SICHER")
    assert "Wo sind Sie?" in where.text
    unknown = await sms(client, sign, phone, "Atlantis")
    assert 'nicht gefunden' in unknown.text and "atlantis" in unknown.text
    assert await registrations(settings, phone, timeout=2) == []
    done = await sms(client, sign, phone, "Marrakech")
    assert "Sie sind als in Sicherheit erfasst" in done.text
    [registered] = await registrations(settings, phone)
    assert registered["data"]["language"] == "de"


async def test_a_registered_traveller_checking_in_is_not_counted_twice(
        client: httpx.AsyncClient, worker: Worker, settings: Settings, pool: asyncpg.Pool, producer: Any,
        sign: Sign, marrakech: str) -> None:
    crisis_id = marrakech
    phone = moroccan_mobile()
    traveller_id = f"t-{uuid.uuid4().hex[:8]}"
    await pool.execute("INSERT INTO registered_travellers (traveller_id, phone, language, country, departure)"
                       " VALUES ($1, $2, 'fr', 'MA', current_date + 10)", traveller_id, phone)
    await sms(client, sign, phone, "SAFE Marrakech")
    [answered] = await answers(settings, traveller_id)
    assert answered["crisis_id"] == crisis_id and answered["answer"] == "safe"
    assert await registrations(settings, phone, timeout=3) == [], "already registered: no second registration"


@pytest.mark.usefixtures("marrakech")
async def test_check_ins_from_one_number_are_limited_per_hour(client: httpx.AsyncClient, worker: Worker,
                                                              settings: Settings, pool: asyncpg.Pool, producer: Any,
                                                              sign: Sign) -> None:
    phone = moroccan_mobile()
    replies = [await sms(client, sign, phone, "SAFE Casablanca") for _ in range(6)]
    assert all("outside the crisis area" in r.text for r in replies[:5])
    assert "Too many messages" in replies[5].text


async def test_a_web_check_in_for_help_opens_a_case_with_the_name_and_place_given(
        worker: Worker, settings: Settings, pool: asyncpg.Pool, producer: Any, marrakech: str) -> None:
    person = f"checkin-{uuid.uuid4().hex[:8]}"
    phone = moroccan_mobile()
    reply = WelfareReplied(check_id=None, crisis_id=marrakech, person_id=person, answer="needs_help", channel="web",
                           language="fr", phone=phone, at=datetime.now(UTC), full_name="Anna Peeters",
                           location={"country": "MA", "city": "Marrakech", "lat": 31.63, "lon": -7.99})
    await publish(producer, reply, source="/tests", topic_prefix=settings.kafka_topic_prefix)
    [answered] = await answers(settings, person)
    case = await pool.fetchrow("SELECT reporter, location, channel FROM reports WHERE reference = $1",
                               answered["case_reference"])
    reporter = case["reporter"] if isinstance(case["reporter"], dict) else json.loads(case["reporter"])
    location = case["location"] if isinstance(case["location"], dict) else json.loads(case["location"])
    assert reporter["full_name"] == "Anna Peeters" and reporter["phone"] == phone
    assert (location["country"], location["city"]) == ("MA", "Marrakech") and case["channel"] == "web"


async def test_crisis_cases_come_first_on_the_charter_board(client: httpx.AsyncClient, worker: Worker,
                                                            settings: Settings, pool: asyncpg.Pool, producer: Any,
                                                            sign: Sign, clock: Clock, marrakech: str) -> None:
    ordinary = (await client.post("/v1/reports", json=report("email"), headers=auth("duty_officer"))).json()
    phone = moroccan_mobile()
    reply = await sms(client, sign, phone, "HELP Marrakech")
    crisis_case = REF.search(reply.text).group()  # type: ignore[union-attr]
    due = await pool.fetchval("SELECT reply_due_by FROM reports WHERE reference = $1", crisis_case)
    clock.at = due - timedelta(days=1)
    try:
        board = (await client.get("/v1/charter-board", headers=auth("duty_officer"))).json()["due_soon"]
    finally:
        clock.at = datetime.now(UTC)
    order = [row["reference"] for row in board]
    assert order.index(crisis_case) < order.index(ordinary["reference"]), "the later crisis case comes first"
    assert next(r for r in board if r["reference"] == crisis_case)["crisis_id"] == marrakech
    assert next(r for r in board if r["reference"] == ordinary["reference"])["crisis_id"] is None
