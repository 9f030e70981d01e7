"""Welfare rounds on the real database and broker: questions in each person's language and channel, the
escalation, answer links, the counts, and answers coming back on `welfare.answers`."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

from services.crisis_center import welfare
from services.crisis_center.domain.engine import Recipient
from services.crisis_center.privacy import PrivacyResponder
from services.crisis_center.welfare_desk import WelfareDesk
from shared.events.privacy import PrivacyRequested
from shared.events.welfare import WelfareAnswered
from shared.kafka.producer import publish
from tests.crisis_center.conftest import CONTACTS, Clock, Env, commands, new_crisis
from tests.support import auth, consume, consume_events, eventually

COORDINATOR = auth("coordinator")
NOBODY_SOUGHT = {"sought": 0, "sought_matched": 0, "sought_safe": 0}  # families' inquiries: test_inquiries.py


@pytest.fixture
async def desk(env: Env, clock: Clock) -> AsyncIterator[WelfareDesk]:
    desk = WelfareDesk(env.settings, clock=clock, pool=env.pool)
    yield desk
    await desk.stop()


async def start_round(client: httpx.AsyncClient, crisis_id: str, minutes: int = 30) -> dict[str, Any]:
    response = await client.post(f"/v1/crises/{crisis_id}/welfare-checks", json={"escalate_after_minutes": minutes},
                                 headers=COORDINATOR)
    assert response.status_code == 202, response.text
    return dict(response.json())


async def counts(client: httpx.AsyncClient, crisis_id: str) -> dict[str, int]:
    response = await client.get(f"/v1/crises/{crisis_id}/welfare", headers=COORDINATOR)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def test_coordinators_only(client: httpx.AsyncClient, env: Env, clock: Clock) -> None:
    crisis_id = await new_crisis(env, clock)
    for path in (f"/v1/crises/{crisis_id}/welfare", f"/v1/crises/{crisis_id}/welfare/people"):
        assert (await client.get(path)).status_code == 401
        assert (await client.get(path, headers=auth("duty_officer"))).status_code == 403
    checks = f"/v1/crises/{crisis_id}/welfare-checks"
    assert (await client.post(checks, headers=auth("external_system"))).status_code == 403
    assert (await client.post("/v1/crises/nope/welfare-checks", headers=COORDINATOR)).status_code == 404
    assert (await client.post(checks, json={"escalate_after_minutes": 0}, headers=COORDINATOR)).status_code == 422


async def test_a_round_asks_everyone_in_their_language_and_channel(client: httpx.AsyncClient, env: Env,
                                                                   clock: Clock, desk: WelfareDesk) -> None:
    crisis_id = await new_crisis(env, clock)
    started = await start_round(client, crisis_id)
    assert started["recipients"] == 3 and started["crisis_id"] == crisis_id
    assert await counts(client, crisis_id) == {"safe": 0, "needs_help": 0, "unclear": 0, "no_answer": 3,
                                               "unreachable": 0, "checked_in": 0, **NOBODY_SOUGHT}
    assert await desk.step_once() == 3
    assert await desk.step_once() == 0, "nothing more is due before the delay"

    sent = await commands(env, 4)
    by_address = {(c["channel"], c["recipient"].get("phone") or c["recipient"].get("email")): c for c in sent}
    assert set(by_address) == {("sms", "+32470000001"), ("email", "p1@example.org"), ("sms", "+32470000002"),
                               ("email", "p3@example.org")}
    assert {c["template"] for c in sent} == {"welfare_question"} and {c["priority"] for c in sent} == {"crisis"}
    assert by_address[("sms", "+32470000001")]["language"] == "fr"
    assert by_address[("sms", "+32470000002")]["language"] == "nl"
    assert by_address[("email", "p3@example.org")]["language"] == "de"
    assert {c["sender"] for c in sent if c["channel"] == "sms"} == {"duty_line"}, "replies must reach intake"
    email = by_address[("email", "p1@example.org")]["params"]
    assert email["crisis_title"] == "Earthquake in Kathmandu" and email["reminder"] is False
    assert email["safe_url"].startswith(env.settings.public_base_url + "/public/welfare/")
    assert email["safe_url"] != email["help_url"]
    assert "safe_url" not in by_address[("sms", "+32470000001")]["params"]

    asked = await consume_events(env.topic("welfare.questions"), count=3)
    assert {e.data["person_id"]: e.data.get("phone") for e in asked} == {
        "p1": "+32470000001", "p2": "+32470000002", "p3": None}
    assert {e.data["step"] for e in asked} == {"question"}


async def test_the_unanswered_are_reminded_then_called_then_listed_for_officers_to_phone(
        client: httpx.AsyncClient, env: Env, clock: Clock, desk: WelfareDesk) -> None:
    crisis_id = await new_crisis(env, clock)
    started = await start_round(client, crisis_id, minutes=30)
    await desk.step_once()
    clock.at += timedelta(minutes=30)
    assert await desk.step_once() == 3
    # p1 answers after the reminder: they are not chased any further
    async with env.pool.acquire() as conn:
        await welfare.record_answer(conn, WelfareAnswered(crisis_id=crisis_id, person_id="p1", answer="safe",
                                                          channel="sms", text="1", at=clock() + timedelta(minutes=5),
                                                          check_id=started["check_id"]))
    clock.at += timedelta(minutes=30)
    assert await desk.step_once() == 2, "p2 is called, p3 (no phone) is listed"
    assert await counts(client, crisis_id) == {"safe": 1, "needs_help": 0, "unclear": 0, "no_answer": 1,
                                               "unreachable": 1, "checked_in": 0, **NOBODY_SOUGHT}
    clock.at += timedelta(minutes=30)
    assert await desk.step_once() == 1, "the call was not answered: p2 is listed"
    assert await counts(client, crisis_id) == {"safe": 1, "needs_help": 0, "unclear": 0, "no_answer": 0,
                                               "unreachable": 2, "checked_in": 0, **NOBODY_SOUGHT}
    page = (await client.get(f"/v1/crises/{crisis_id}/welfare/people", params={"status": "unreachable"},
                             headers=COORDINATOR)).json()
    assert [(p["person_id"], p["phone"], p["escalation"]) for p in page["people"]] == [
        ("p2", "+32470000002", "to_phone"), ("p3", None, "to_phone")]
    clock.at += timedelta(hours=5)
    assert await desk.step_once() == 0, "nothing is left to do for anyone"

    sent = await commands(env, 4 + 4 + 1)
    reminders = [c for c in sent if c["params"].get("reminder")]  # a call (welfare_call) has no reminder
    assert sorted(c["recipient"].get("phone") or c["recipient"].get("email") for c in reminders) == [
        "+32470000001", "+32470000002", "p1@example.org", "p3@example.org"]
    [call] = [c for c in sent if c["channel"] == "voice"]
    assert (call["recipient"]["phone"], call["template"], call["language"]) == ("+32470000002", "welfare_call", "nl")
    assert len({c["notification_id"] for c in sent}) == len(sent) == 9


async def test_answer_links(client: httpx.AsyncClient, env: Env, clock: Clock, desk: WelfareDesk) -> None:
    crisis_id = await new_crisis(env, clock)
    await start_round(client, crisis_id)
    await desk.step_once()
    email = next(c for c in await commands(env, 4) if c["recipient"].get("email") == "p1@example.org")
    safe_path = email["params"]["safe_url"].removeprefix(env.settings.public_base_url)
    help_path = email["params"]["help_url"].removeprefix(env.settings.public_base_url)

    page = await client.get(safe_path)
    assert page.status_code == 200 and "Je suis en sécurité" in page.text and "<form method=\"post\">" in page.text
    assert (await counts(client, crisis_id))["safe"] == 0, "opening the link (a mail scanner) records nothing"

    answered = await client.post(safe_path)
    assert answered.status_code == 200 and "Merci" in answered.text
    assert (await counts(client, crisis_id))["safe"] == 1
    again = await client.post(safe_path)
    assert again.status_code == 200 and "déjà" in again.text
    changed = await client.post(help_path)
    assert changed.status_code == 200
    assert (await counts(client, crisis_id))["needs_help"] == 1, "the latest answer counts"

    replies = await consume_events(env.topic("welfare.replies"), count=3, timeout=5)
    assert [(e.data["person_id"], e.data["answer"], e.data["channel"]) for e in replies] == [
        ("p1", "safe", "email"), ("p1", "needs_help", "email")], "the second press sent nothing"

    forged = re.sub(r"\.[A-Za-z0-9_-]+$", ".AAAAAAAAAAAAAAAAAAAAAA", safe_path)
    assert (await client.post(forged)).status_code == 404
    assert (await client.get(forged)).status_code == 404
    clock.at += timedelta(days=env.settings.welfare_link_days, minutes=1)
    assert (await client.post(safe_path)).status_code == 410


async def test_a_closed_crisis_refuses_rounds_and_links_and_forgets_its_people(
        client: httpx.AsyncClient, env: Env, clock: Clock, desk: WelfareDesk) -> None:
    crisis_id = await new_crisis(env, clock)
    await start_round(client, crisis_id)
    await desk.step_once()
    email = next(c for c in await commands(env, 4) if c["recipient"].get("email") == "p3@example.org")
    assert (await client.post(f"/v1/crises/{crisis_id}/close", headers=COORDINATOR)).status_code == 200
    assert (await client.post(f"/v1/crises/{crisis_id}/welfare-checks", headers=COORDINATOR)).status_code == 409
    assert (await client.post(email["params"]["safe_url"].removeprefix(env.settings.public_base_url))).status_code \
        == 410
    assert await env.pool.fetchval("SELECT count(*) FROM crisis_contacts WHERE crisis_id = $1", crisis_id) == 0
    closed = await env.pool.fetchval("SELECT detail FROM crisis_timeline WHERE crisis_id = $1 AND event = 'closed'",
                                     crisis_id)
    assert closed["welfare"]["no_answer"] == 3, "the timeline keeps the counts"


async def test_a_late_older_answer_does_not_replace_a_newer_one(client: httpx.AsyncClient, env: Env,
                                                                clock: Clock, desk: WelfareDesk) -> None:
    crisis_id = await new_crisis(env, clock)
    await start_round(client, crisis_id)
    await desk.step_once()
    async with env.pool.acquire() as conn:
        for answer, minutes in (("safe", 10), ("needs_help", 5)):
            await welfare.record_answer(conn, WelfareAnswered(
                crisis_id=crisis_id, person_id="p2", answer=answer, channel="sms",  # type: ignore[arg-type]
                at=clock() + timedelta(minutes=minutes)))
    assert (await counts(client, crisis_id))["safe"] == 1


async def test_a_new_round_replaces_the_chase_of_the_last(client: httpx.AsyncClient, env: Env, clock: Clock,
                                                          desk: WelfareDesk) -> None:
    crisis_id = await new_crisis(env, clock)
    await start_round(client, crisis_id, minutes=30)
    await desk.step_once()
    clock.at += timedelta(minutes=20)
    second = await start_round(client, crisis_id, minutes=30)
    assert await desk.step_once() == 3
    clock.at += timedelta(minutes=15)  # past the first round's reminder time, not the second's
    assert await desk.step_once() == 0, "the first round no longer reminds anyone"
    sent = await commands(env, 8)
    assert sum(1 for c in sent if c["params"]["reminder"]) == 0
    assert sum(1 for c in sent if second["check_id"] in c["purpose"]) == 4


async def test_workers_share_a_large_round_without_asking_anyone_twice(client: httpx.AsyncClient, env: Env,
                                                                       clock: Clock) -> None:
    people = tuple(Recipient(f"registration:q{i}", f"q{i}", f"+3247100{i:04d}", None, "en") for i in range(400))
    crisis_id = await new_crisis(env, clock, people)
    await start_round(client, crisis_id)
    settings = env.settings.model_copy(update={"welfare_batch": 25})
    desks = [WelfareDesk(settings, clock=clock, pool=env.pool) for _ in range(3)]
    taken = await asyncio.gather(*(d.step_once() for d in desks))
    assert sum(taken) == 400 and all(t > 0 for t in taken), taken
    assert await env.pool.fetchval("SELECT count(*) FROM welfare_questions WHERE step = 'asked'") == 400
    sent = await commands(env, 400, timeout=30)
    assert len({c["notification_id"] for c in sent}) == len(sent) == 400


async def test_answers_on_kafka_are_counted_and_garbage_is_dead_lettered(client: httpx.AsyncClient, env: Env,
                                                                         clock: Clock) -> None:
    crisis_id = await new_crisis(env, clock)
    desk = WelfareDesk(env.settings, clock=clock)
    await desk.start()
    try:
        answer = WelfareAnswered(crisis_id=crisis_id, person_id="p3", answer="needs_help", channel="email",
                                 case_reference="BE-2026-000001", at=clock())
        for _ in range(2):  # redelivered: counted once
            await publish(env.producer, answer, source="/tests", topic_prefix=env.settings.kafka_topic_prefix,
                          event_id="answer-1")
        await env.producer.send_and_wait(env.topic("welfare.answers"), b"{not json", key=b"p3")
        await eventually(lambda: _needs_help(client, crisis_id))
        people = (await client.get(f"/v1/crises/{crisis_id}/welfare/people", params={"status": "needs_help"},
                                   headers=COORDINATOR)).json()["people"]
        assert [(p["person_id"], p["case_reference"]) for p in people] == [("p3", "BE-2026-000001")]
        dead = await consume(env.topic("welfare.answers.dlq"), count=1)
        assert dead and dead[0].value == b"{not json"
    finally:
        await desk.stop()


async def _needs_help(client: httpx.AsyncClient, crisis_id: str) -> bool:
    return (await counts(client, crisis_id))["needs_help"] == 1


async def test_an_erasure_request_removes_the_persons_welfare_rows(client: httpx.AsyncClient, env: Env,
                                                                   clock: Clock, desk: WelfareDesk) -> None:
    crisis_id = await new_crisis(env, clock)
    await start_round(client, crisis_id)
    await desk.step_once()
    responder = PrivacyResponder(env.settings, pool=env.pool, producer=env.producer)
    request = {"request_id": "r-1", "phones": ["+32470000002"], "emails": ["P3@example.org"],
               "requested_by": "admin", "requested_at": clock()}
    async with env.pool.acquire() as conn:
        found = await responder.part(conn, PrivacyRequested.model_validate({**request, "kind": "access"}))
        assert sorted(i.item_id for i in found if i.category == "welfare") == [f"{crisis_id}:p2", f"{crisis_id}:p3"]
        erased = await responder.part(conn, PrivacyRequested.model_validate({**request, "kind": "erasure"}))
    deleted = sorted(i.item_id for i in erased if i.category == "welfare" and i.outcome == "deleted")
    assert deleted == [f"{crisis_id}:p2", f"{crisis_id}:p3"]
    people = (await client.get(f"/v1/crises/{crisis_id}/welfare/people", headers=COORDINATOR)).json()["people"]
    assert [p["person_id"] for p in people] == ["p1"]
    assert await env.pool.fetchval("SELECT count(*) FROM welfare_questions WHERE person_id IN ('p2', 'p3')") == 0


async def test_people_who_checked_in_are_counted_as_such(client: httpx.AsyncClient, env: Env, clock: Clock) -> None:
    checked_in = Recipient("registration:checkin-1", "checkin-1", "+32470000009", None, "en")
    crisis_id = await new_crisis(env, clock, (*CONTACTS, checked_in))
    async with env.pool.acquire() as conn:
        await welfare.record_answer(conn, WelfareAnswered(crisis_id=crisis_id, person_id="checkin-1", answer="safe",
                                                          channel="sms", at=clock()))
    assert await counts(client, crisis_id) == {"safe": 1, "needs_help": 0, "unclear": 0, "no_answer": 3,
                                               "unreachable": 0, "checked_in": 1, **NOBODY_SOUGHT}
    listed = (await client.get(f"/v1/crises/{crisis_id}/welfare/people", params={"status": "checked_in"},
                               headers=COORDINATOR)).json()["people"]
    assert [(p["person_id"], p["source"], p["status"]) for p in listed] == [("checkin-1", "check_in", "safe")]


async def test_a_batch_of_answers_keeps_each_persons_latest(env: Env, clock: Clock) -> None:
    crisis_id = await new_crisis(env, clock)
    at = clock()
    batch = [WelfareAnswered(crisis_id=crisis_id, person_id="p1", answer="needs_help", channel="sms",
                             case_reference="BE-2026-000009", at=at + timedelta(minutes=2)),
             WelfareAnswered(crisis_id=crisis_id, person_id="p1", answer="safe", channel="sms", at=at),
             WelfareAnswered(crisis_id=crisis_id, person_id="p2", answer="unclear", channel="sms", text="?", at=at),
             WelfareAnswered(crisis_id="not-ours", person_id="p9", answer="safe", channel="sms", at=at)]
    async with env.pool.acquire() as conn:
        assert await welfare.record_answers(batch, conn) == 2
        assert await welfare.record_answers([batch[1]], conn) == 1  # older than what is held: changes nothing
    rows = {r["person_id"]: (r["answer"], r["case_reference"]) for r in await env.pool.fetch(
        "SELECT person_id, answer, case_reference FROM welfare_status WHERE crisis_id = $1", crisis_id)}
    assert rows == {"p1": ("needs_help", "BE-2026-000009"), "p2": ("unclear", None)}


async def test_a_round_without_a_body_escalates_after_sixty_minutes(client: httpx.AsyncClient, env: Env,
                                                                    clock: Clock, desk: WelfareDesk) -> None:
    """The contract's default: `escalate_after_minutes` is optional, 60."""
    crisis_id = await new_crisis(env, clock)
    started = await client.post(f"/v1/crises/{crisis_id}/welfare-checks", headers=COORDINATOR)
    assert started.status_code == 202 and started.json()["recipients"] == 3
    assert await env.pool.fetchval("SELECT escalate_after_minutes FROM welfare_checks WHERE check_id = $1",
                                   started.json()["check_id"]) == 60
    await desk.step_once()
    clock.at += timedelta(minutes=59)
    assert await desk.step_once() == 0, "no reminder before the hour"
    clock.at += timedelta(minutes=1)
    assert await desk.step_once() == 3
