"""Exercise mode (issue 23) on the real database and broker: a crisis opened with `exercise: true` messages the test
list (EXERCISE_RECIPIENTS) and nobody else (the activation alert, a follow-up, a welfare round with its escalation,
the all-clear), every command marked `exercise: true`; real people counted in its area (by the worker) or found
among its contacts never get anything, read back from the notification commands topic. The API's views, the SSE
payload, `crisis.status`, the CAP document (status Exercise) and the public feeds (left out unless
EXERCISE_IN_PUBLIC_FEEDS, then marked) say it is one."""

from __future__ import annotations

import asyncio
import json
import xml.etree.ElementTree as ET
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from services.crisis_center import welfare
from services.crisis_center.api import create_app
from services.crisis_center.domain.cap import CAP_NS
from services.crisis_center.domain.engine import Recipient
from services.crisis_center.domain.exercise import BANNER, is_test_person
from services.crisis_center.welfare_desk import WelfareDesk
from shared.sms import analyse, tidy_sms
from tests.crisis_center.conftest import Clock, Env, registration, running
from tests.crisis_center.conftest import commands as sends
from tests.support import consume_events, eventually, token

TESTERS = "+32470990001, drill@example.org:fr"
TEST_ADDRESSES = {("sms", "+32470990001"), ("email", "drill@example.org")}
ANNE = {"Authorization": f"Bearer {token('coordinator', subject='anne')}"}
BERT = {"Authorization": f"Bearer {token('coordinator', subject='bert')}"}
#: A real person who is somehow among the exercise's contacts (a check-in, a bug): never messaged either.
INTRUDER = Recipient("registration:real-1", "real-1", "+32470123456", "real@example.org", "nl")
DRILL = {"title": "Drill: earthquake near Istanbul", "kind": "earthquake", "severity": "severe",
         "area": {"country": "TR", "circle": {"lat": 41.0082, "lon": 28.9784, "radius_km": 30}}, "exercise": True}
FOLLOWUP = {"texts": {"fr": "Exercice - rendez-vous au point A.", "nl": "Oefening - verzamelen op punt A.",
                      "de": "Übung - Treffpunkt A.", "en": "Drill - meet at point A."}}


@pytest.fixture
def env(env: Env) -> Env:
    """The crisis center of this module's tests has the test list (conftest's `app`, the worker and the desk are
    made from these settings)."""
    env.settings = env.settings.model_copy(update={"exercise_recipients": TESTERS})
    return env


def address(command: dict[str, Any]) -> tuple[str, str]:
    recipient = command["recipient"]
    return command["channel"], recipient.get("phone") or recipient.get("email")


def only_testers(commands: list[dict[str, Any]]) -> None:
    strangers = [address(c) for c in commands if address(c) not in TEST_ADDRESSES]
    assert not strangers, f"an exercise messaged someone off the test list: {strangers}"
    assert all(c["params"].get("exercise") is True for c in commands), "every text is marked EXERCISE"
    assert all(is_test_person(c["recipient"]["traveller_id"]) for c in commands)


async def test_an_exercise_messages_the_test_list_only_from_alert_to_all_clear(
        client: httpx.AsyncClient, env: Env, clock: Clock) -> None:
    opened = await client.post("/v1/crises", json=DRILL, headers=ANNE)
    assert opened.status_code == 201, opened.text
    crisis_id = opened.json()["crisis_id"]
    assert opened.json()["exercise"] is True
    async with env.pool.acquire() as conn:  # a real person among its contacts, whatever the way in
        await welfare.record_contacts(conn, crisis_id, [INTRUDER], at=clock())

    # the alert: the test list, in their languages, marked
    alert = [c for c in await sends(env, 2) if c["template"] == "crisis_alert"]
    assert {address(c) for c in alert} == TEST_ADDRESSES
    assert {address(c): c["language"] for c in alert} == {("sms", "+32470990001"): "en",
                                                          ("email", "drill@example.org"): "fr"}
    only_testers(alert)

    # a follow-up to everyone: planned and sent to the test list only
    draft = await client.post(f"/v1/crises/{crisis_id}/broadcasts", json=FOLLOWUP, headers=ANNE)
    assert draft.status_code == 201, draft.text
    assert draft.json()["plan"]["people"] == 2, "the plan counts the test list, not the intruder"
    planned_en = draft.json()["plan"]["sms"]["en"]  # the SMS as sent: the EXERCISE line first
    assert planned_en["units"] == analyse(tidy_sms(f"{BANNER}\n{FOLLOWUP['texts']['en']}")).units
    assert planned_en["units"] > analyse(FOLLOWUP["texts"]["en"]).units
    approved = await client.post(f"/v1/broadcasts/{draft.json()['broadcast_id']}/approve", json={"version": 1},
                                 headers=BERT)
    assert approved.status_code == 200 and approved.json()["sent_people"] == 2, approved.text

    # a welfare round and its reminder: the test list only
    started = await client.post(f"/v1/crises/{crisis_id}/welfare-checks", json={"escalate_after_minutes": 5},
                                headers=ANNE)
    assert started.status_code == 202 and started.json()["recipients"] == 2, started.text
    desk = WelfareDesk(env.settings, clock=clock, pool=env.pool)
    try:
        assert await desk.step_once() == 2
        clock.at += timedelta(minutes=5)
        assert await desk.step_once() == 2  # the reminder
    finally:
        await desk.stop()

    # the all-clear, then the crisis is closed
    all_clear = await client.post(f"/v1/crises/{crisis_id}/all-clear", headers=ANNE)
    assert all_clear.status_code == 201 and all_clear.json()["plan"]["people"] == 2, all_clear.text
    done = await client.post(f"/v1/broadcasts/{all_clear.json()['broadcast_id']}/approve", json={"version": 1},
                             headers=BERT)
    assert done.status_code == 200, done.text

    # 2 alert + 2 follow-up + 2 questions + 2 reminders + 2 all-clear; one more asked for: none comes
    commands = await sends(env, 11, timeout=10.0)
    only_testers(commands)
    assert len(commands) == 10, [(c["template"], address(c)) for c in commands]
    assert sorted(c["template"] for c in commands) == sorted(
        ["crisis_alert"] * 2 + ["crisis_followup"] * 2 + ["welfare_question"] * 4 + ["crisis_closed"] * 2)
    assert not [c for c in commands if INTRUDER.phone in json.dumps(c) or "real@example.org" in json.dumps(c)]


async def test_people_the_worker_counts_in_an_exercise_are_never_messaged(
        client: httpx.AsyncClient, env: Env) -> None:
    """Real travellers inside the drill's area: counted and mapped like a manual crisis's, never alerted."""
    async with running(env):
        for n in range(3):
            await env.send(registration(n, phone=f"+3247055{n:04d}"))
        opened = await client.post("/v1/crises", json=DRILL, headers=ANNE)
        assert opened.status_code == 201, opened.text
        crisis_id = opened.json()["crisis_id"]

        async def counted() -> bool:
            row = await client.get(f"/v1/crises/{crisis_id}", headers=ANNE)
            return bool(row.json()["affected_count"] == 3)

        await eventually(counted, timeout=45)
        await asyncio.sleep(3)  # the worker's alert to the counted people would be on its way by now
    commands = await sends(env, 3, timeout=8.0)
    only_testers(commands)
    assert {address(c) for c in commands} == TEST_ADDRESSES
    assert await env.pool.fetchval("SELECT count(*) FROM crisis_contacts WHERE crisis_id = $1"
                                   " AND source <> 'exercise'", crisis_id) == 0


async def test_an_empty_test_list_messages_nobody(env: Env, clock: Clock) -> None:
    env.settings = env.settings.model_copy(update={"exercise_recipients": ""})
    application = create_app(env.settings, clock=clock)
    async with application.router.lifespan_context(application), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=application), base_url="http://test") as c:
        opened = await c.post("/v1/crises", json=DRILL, headers=ANNE)
        assert opened.status_code == 201 and opened.json()["exercise"] is True
        started = await c.post(f"/v1/crises/{opened.json()['crisis_id']}/welfare-checks", headers=ANNE)
        assert started.status_code == 202 and started.json()["recipients"] == 0
    await eventually(lambda: env.pool.fetchval("SELECT count(*) = 0 FROM outbox"), timeout=20)
    assert await sends(env, 1, timeout=5.0) == []


async def test_views_feeds_and_events_mark_the_exercise(client: httpx.AsyncClient, env: Env, app: FastAPI) -> None:
    real = (await client.post("/v1/crises", json={**DRILL, "title": "Real floods", "exercise": False},
                              headers=ANNE)).json()
    unmarked = {k: v for k, v in DRILL.items() if k != "exercise"}
    assert (await client.post("/v1/crises", json=unmarked, headers=ANNE)).json()["exercise"] is False
    drill = (await client.post("/v1/crises", json=DRILL, headers=ANNE)).json()
    assert real["exercise"] is False and drill["exercise"] is True
    assert (await client.post("/v1/crises", json={**DRILL, "exercise": "yes"}, headers=ANNE)).status_code == 422

    listed = {c["crisis_id"]: c["exercise"] for c in (await client.get("/v1/crises", headers=ANNE)).json()}
    assert listed[drill["crisis_id"]] is True and listed[real["crisis_id"]] is False
    detail = (await client.get(f"/v1/crises/{drill['crisis_id']}", headers=ANNE)).json()
    assert detail["exercise"] is True
    assert detail["timeline"][0]["detail"] == {"manual": True, "exercise": True}

    # the dashboard's stream: the snapshot carries the flag
    ticket = (await client.post("/v1/crises/events/ticket", headers=ANNE)).json()["ticket"]

    async def close_real_when_subscribed() -> None:
        await eventually(lambda: len(app.state.api.resources.feed._subscribers) == 1)
        await client.post(f"/v1/crises/{real['crisis_id']}/close", headers=ANNE)

    closer = asyncio.create_task(close_real_when_subscribed())
    stream = await client.get("/v1/crises/events", params={"ticket": ticket, "max_events": 1})
    await closer
    snapshot = json.loads(stream.text.split("\n\n")[0].split("\n")[1].removeprefix("data: "))
    assert {c["crisis_id"]: c["exercise"] for c in snapshot}[drill["crisis_id"]] is True

    # crisis.status says it too
    events = await consume_events(env.topic("crisis.status"), count=4)
    flags = {e.data["crisis_id"]: e.data["exercise"] for e in events}
    assert flags[drill["crisis_id"]] is True and flags[real["crisis_id"]] is False

    # public: left out of the JSON and Atom feeds; its CAP is status Exercise
    public = (await client.get("/public/crises")).json()
    assert drill["crisis_id"] not in {c["crisis_id"] for c in public}
    assert drill["crisis_id"] not in (await client.get("/public/crises.atom")).text
    cap = await client.get(f"/public/crises/{drill['crisis_id']}.cap")
    assert cap.status_code == 200
    root = ET.fromstring(cap.content)  # noqa: S314 (our own output)
    assert root.findtext(f"{{{CAP_NS}}}status") == "Exercise"
    real_cap = ET.fromstring((await client.get(f"/public/crises/{real['crisis_id']}.cap")).content)  # noqa: S314
    assert real_cap.findtext(f"{{{CAP_NS}}}status") == "Actual"


async def test_exercises_listed_in_the_public_feeds_when_asked_marked(env: Env, clock: Clock) -> None:
    env.settings = env.settings.model_copy(update={"exercise_in_public_feeds": True, "public_cache_seconds": 0})
    application = create_app(env.settings, clock=clock)
    async with application.router.lifespan_context(application), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=application), base_url="http://test") as c:
        drill = (await c.post("/v1/crises", json=DRILL, headers=ANNE)).json()
        public = {p["crisis_id"]: p for p in (await c.get("/public/crises")).json()}
        assert public[drill["crisis_id"]]["exercise"] is True
        assert public[drill["crisis_id"]]["title"] == f"{BANNER}: {DRILL['title']}"
        atom = (await c.get("/public/crises.atom")).text
        assert f"<title>{BANNER}: {DRILL['title']}</title>" in atom


async def test_a_check_in_code_of_an_exercise_goes_to_the_test_list_only(client: httpx.AsyncClient, env: Env) -> None:
    crisis_id = (await client.post("/v1/crises", json=DRILL, headers=ANNE)).json()["crisis_id"]
    here = {"full_name": "Anna Peeters", "email": "", "language": "nl", "place": "Sultanahmet", "lat": "41.0082",
            "lon": "28.9784", "companions": "0", "answer": "safe"}
    for phone in ("0470 12 34 56", "+32470990001"):  # a stranger, then the test list's phone
        page = await client.post(f"/public/crises/{crisis_id}/check-in", data={**here, "phone": phone})
        assert page.status_code == 200, page.text
    codes = [c for c in await sends(env, 4, timeout=8.0) if c["template"] == "check_in_code"]
    assert [address(c) for c in codes] == [("sms", "+32470990001")]
    only_testers([{**c, "recipient": {**c["recipient"], "traveller_id": "exercise:-"}} for c in codes])
