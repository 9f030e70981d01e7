"""Broadcasts on the real database and broker: the two-person rule (author refused, a second coordinator approves,
messages enqueued once), expiry on the test's clock, rejection, edit then approval, the audiences, the all-clear
and the planner behind the API."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import httpx

from services.crisis_center import welfare
from services.crisis_center.domain.engine import Recipient
from shared.events.welfare import WelfareAnswered
from tests.crisis_center.conftest import CONTACTS, Clock, Env, commands, new_crisis
from tests.support import token


def coordinator(subject: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token('coordinator', subject=subject)}"}


ANNE, BERT, CARL = coordinator("anne"), coordinator("bert"), coordinator("carl")
PEOPLE = (*CONTACTS, Recipient("registration:p4", "p4", "+32470000004", None, "en"))
TEXTS = {"fr": "Affaires étrangères - l'aéroport rouvre demain.", "nl": "Buitenlandse Zaken - de luchthaven gaat "
         "morgen open.", "en": "Belgian Foreign Affairs - the airport reopens tomorrow."}
DRAFT = {"texts": {**TEXTS, "de": None}}  # German speakers get the English text


async def submit(client: httpx.AsyncClient, crisis_id: str, body: dict[str, Any] | None = None,
                 headers: dict[str, str] = ANNE) -> dict[str, Any]:
    response = await client.post(f"/v1/crises/{crisis_id}/broadcasts", json=body or DRAFT, headers=headers)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def audit_actions(env: Env, broadcast_id: str) -> list[tuple[str, str]]:
    rows = await env.pool.fetch("SELECT actor, action FROM audit_log WHERE detail->>'broadcast_id' = $1 ORDER BY id",
                                broadcast_id)
    return [(r["actor"], r["action"]) for r in rows]


async def test_coordinators_only_and_unknown_things(client: httpx.AsyncClient, env: Env, clock: Clock) -> None:
    crisis_id = await new_crisis(env, clock, PEOPLE)
    path = f"/v1/crises/{crisis_id}/broadcasts"
    assert (await client.post(path, json=DRAFT)).status_code == 401
    assert (await client.post(path, json=DRAFT, headers={"Authorization": f"Bearer {token('duty_officer')}"})
            ).status_code == 403
    assert (await client.post("/v1/crises/nope/broadcasts", json=DRAFT, headers=ANNE)).status_code == 404
    assert (await client.get("/v1/broadcasts/nope", headers=ANNE)).status_code == 404
    assert (await client.post("/v1/broadcasts/nope/approve", json={"version": 1}, headers=BERT)).status_code == 404
    incomplete = {"texts": TEXTS}  # de neither given nor null (falling back to English)
    assert (await client.post(path, json=incomplete, headers=ANNE)).status_code == 422
    assert (await client.post(path, json={**DRAFT, "audience": "area"}, headers=ANNE)).status_code == 422


async def test_the_author_cannot_approve_a_second_coordinator_does_and_messages_go_once(
        client: httpx.AsyncClient, env: Env, clock: Clock) -> None:
    crisis_id = await new_crisis(env, clock, PEOPLE)
    created = await submit(client, crisis_id)
    broadcast_id = created["broadcast_id"]
    assert created["status"] == "pending" and created["author"] == "anne" and created["version"] == 1
    assert datetime.fromisoformat(created["expires_at"]) == clock() + timedelta(minutes=30)
    assert created["plan"]["people"] == 4
    assert created["plan"]["recipients"] == {"sms": {"fr": 1, "nl": 1, "de": 0, "en": 1},
                                             "email": {"fr": 1, "nl": 0, "de": 1, "en": 0}}

    mine = await client.post(f"/v1/broadcasts/{broadcast_id}/approve", json={"version": 1}, headers=ANNE)
    assert mine.status_code == 403, mine.text
    first = await client.post(f"/v1/broadcasts/{broadcast_id}/approve", json={"version": 1}, headers=BERT)
    assert first.status_code == 200, first.text
    assert first.json()["status"] == "approved" and first.json()["decided_by"] == "bert"
    assert first.json()["sent_people"] == 4 and first.json()["sent_messages"] == 5
    again = await client.post(f"/v1/broadcasts/{broadcast_id}/approve", json={"version": 1}, headers=BERT)
    assert again.status_code == 200 and again.json()["sent_messages"] == 5
    third = await client.post(f"/v1/broadcasts/{broadcast_id}/approve", json={"version": 1}, headers=CARL)
    assert third.status_code == 409

    sent = await commands(env, 6, timeout=8.0)  # one more than expected: none comes
    assert len(sent) == 5, "each person's SMS and email once, whatever the approvals"
    assert len({c["notification_id"] for c in sent}) == 5
    by_address = {(c["channel"], c["recipient"].get("phone") or c["recipient"].get("email")): c for c in sent}
    assert set(by_address) == {("sms", "+32470000001"), ("email", "p1@example.org"), ("sms", "+32470000002"),
                               ("email", "p3@example.org"), ("sms", "+32470000004")}
    assert {c["template"] for c in sent} == {"crisis_followup"} and {c["priority"] for c in sent} == {"crisis"}
    fr = by_address[("sms", "+32470000001")]
    assert fr["language"] == "fr" and fr["params"]["message"] == TEXTS["fr"]
    assert fr["params"]["crisis_title"] == "Earthquake in Kathmandu" and fr["crisis_id"] == crisis_id
    de = by_address[("email", "p3@example.org")]
    assert de["language"] == "en" and de["params"]["message"] == TEXTS["en"], "de was marked as falling back"
    assert await audit_actions(env, broadcast_id) == [
        ("anne", "broadcast.created"), ("anne", "broadcast.refused"), ("bert", "broadcast.approved"),
        ("carl", "broadcast.refused")]
    detail = (await client.get(f"/v1/broadcasts/{broadcast_id}", headers=CARL)).json()
    assert [h["action"] for h in detail["history"]] == [a for _, a in await audit_actions(env, broadcast_id)]
    timeline = await env.pool.fetch("SELECT event FROM crisis_timeline WHERE crisis_id = $1", crisis_id)
    assert "broadcast" in {r["event"] for r in timeline}


async def test_a_pending_broadcast_expires_on_the_clock(client: httpx.AsyncClient, env: Env, clock: Clock) -> None:
    crisis_id = await new_crisis(env, clock, PEOPLE)
    broadcast_id = (await submit(client, crisis_id))["broadcast_id"]
    clock.at += timedelta(minutes=29, seconds=59)
    assert (await client.get(f"/v1/broadcasts/{broadcast_id}", headers=BERT)).json()["status"] == "pending"
    clock.at += timedelta(seconds=1)
    late = await client.post(f"/v1/broadcasts/{broadcast_id}/approve", json={"version": 1}, headers=BERT)
    assert late.status_code == 409 and "expired" in late.text
    listed = (await client.get(f"/v1/crises/{crisis_id}/broadcasts", headers=BERT)).json()
    assert [(b["broadcast_id"], b["status"]) for b in listed] == [(broadcast_id, "expired")]
    assert await audit_actions(env, broadcast_id) == [
        ("anne", "broadcast.created"), ("system", "broadcast.expired"), ("bert", "broadcast.refused")]
    assert await env.pool.fetchval("SELECT count(*) FROM outbox WHERE topic LIKE '%notifications.commands'") == 0


async def test_rejection_with_a_reason(client: httpx.AsyncClient, env: Env, clock: Clock) -> None:
    crisis_id = await new_crisis(env, clock, PEOPLE)
    broadcast_id = (await submit(client, crisis_id))["broadcast_id"]
    assert (await client.post(f"/v1/broadcasts/{broadcast_id}/reject", json={"reason": "  "},
                              headers=BERT)).status_code == 422
    rejected = await client.post(f"/v1/broadcasts/{broadcast_id}/reject", json={"reason": "wrong airport"},
                                 headers=BERT)
    assert rejected.status_code == 200 and rejected.json()["status"] == "rejected"
    assert rejected.json()["reason"] == "wrong airport" and rejected.json()["decided_by"] == "bert"
    assert (await client.post(f"/v1/broadcasts/{broadcast_id}/approve", json={"version": 1},
                              headers=CARL)).status_code == 409
    assert ("bert", "broadcast.rejected") in await audit_actions(env, broadcast_id)


async def test_the_author_edits_and_the_edited_text_is_the_one_approved(
        client: httpx.AsyncClient, env: Env, clock: Clock) -> None:
    crisis_id = await new_crisis(env, clock, PEOPLE)
    broadcast_id = (await submit(client, crisis_id))["broadcast_id"]
    edited_texts = {**TEXTS, "en": "Belgian Foreign Affairs - the airport reopens on Monday."}
    body = {"texts": {**edited_texts, "de": None}, "audience": "everyone"}
    assert (await client.put(f"/v1/broadcasts/{broadcast_id}", json=body, headers=BERT)).status_code == 403
    clock.at += timedelta(minutes=20)
    edited = await client.put(f"/v1/broadcasts/{broadcast_id}", json=body, headers=ANNE)
    assert edited.status_code == 200, edited.text
    assert edited.json()["version"] == 2 and edited.json()["texts"]["en"] == edited_texts["en"]
    stale = await client.post(f"/v1/broadcasts/{broadcast_id}/approve", json={"version": 1}, headers=BERT)
    assert stale.status_code == 409, "the approver saw version 1"
    clock.at += timedelta(minutes=20)  # 40 min after submission, 20 after the edit: still pending
    approved = await client.post(f"/v1/broadcasts/{broadcast_id}/approve", json={"version": 2}, headers=BERT)
    assert approved.status_code == 200 and approved.json()["status"] == "approved"
    assert (await client.put(f"/v1/broadcasts/{broadcast_id}", json=body, headers=ANNE)).status_code == 409
    sent = await commands(env, 5)
    assert {c["params"]["message"] for c in sent if c["language"] == "en"} == {edited_texts["en"]}
    actions = [a for _, a in await audit_actions(env, broadcast_id)]
    assert actions == ["broadcast.created", "broadcast.refused", "broadcast.edited", "broadcast.refused",
                       "broadcast.approved", "broadcast.refused"]


async def test_audiences(client: httpx.AsyncClient, env: Env, clock: Clock) -> None:
    crisis_id = await new_crisis(env, clock, PEOPLE, incident_id="inc-audience")
    async with env.pool.acquire() as conn:
        await welfare.record_answers([
            WelfareAnswered(crisis_id=crisis_id, person_id="p1", answer="safe", channel="sms", at=clock()),
            WelfareAnswered(crisis_id=crisis_id, person_id="p2", answer="needs_help", channel="sms", at=clock())],
            conn)
        await conn.executemany(
            "INSERT INTO affected_people(incident_id, contribution_id, person, source, lat, lon)"
            " VALUES ('inc-audience', $1, $1, 'registration', $2, $3)",
            [("registration:p1", 27.70, 85.30), ("registration:p3", 27.72, 85.31),
             ("registration:p4", 27.95, 85.30)])

    async def people(**draft: Any) -> dict[str, dict[str, int]]:
        response = await client.post(f"/v1/crises/{crisis_id}/broadcasts/plan", json={**DRAFT, **draft},
                                     headers=ANNE)
        assert response.status_code == 200, response.text
        return dict(response.json()["recipients"])

    assert sum((await people(audience="everyone"))["sms"].values()) == 3  # p1, p2, p4 have phones
    not_answered = await people(audience="not_answered")  # p3 (email only), p4 (sms only)
    assert not_answered == {"sms": {"fr": 0, "nl": 0, "de": 0, "en": 1}, "email": {"fr": 0, "nl": 0, "de": 1, "en": 0}}
    assert await people(audience="needs_help") == {"sms": {"fr": 0, "nl": 1, "de": 0, "en": 0},
                                                   "email": {"fr": 0, "nl": 0, "de": 0, "en": 0}}
    square = [[85.2, 27.6], [85.4, 27.6], [85.4, 27.8], [85.2, 27.8]]  # p1 and p3 inside, p4 north of it
    assert await people(audience="area", polygon=square) == {"sms": {"fr": 1, "nl": 0, "de": 0, "en": 0},
                                                             "email": {"fr": 1, "nl": 0, "de": 1, "en": 0}}
    outside = [[85.2, 27.6], [85.4, 27.6], [85.4, 29.0]]
    response = await client.post(f"/v1/crises/{crisis_id}/broadcasts/plan",
                                 json={**DRAFT, "audience": "area", "polygon": outside}, headers=ANNE)
    assert response.status_code == 422 and "outside the crisis area" in response.text
    assert await env.pool.fetchval("SELECT count(*) FROM broadcasts") == 0, "planning writes nothing"

    # the approved area broadcast reaches exactly the people inside
    created = await submit(client, crisis_id, {**DRAFT, "audience": "area", "polygon": square})
    approved = await client.post(f"/v1/broadcasts/{created['broadcast_id']}/approve", json={"version": 1},
                                 headers=BERT)
    assert approved.status_code == 200 and approved.json()["sent_people"] == 2
    sent = await commands(env, 4, timeout=8.0)
    assert sorted(c["recipient"]["traveller_id"] for c in sent) == ["p1", "p1", "p3"]


async def test_the_plan_before_submitting_and_approving(client: httpx.AsyncClient, env: Env, clock: Clock) -> None:
    crisis_id = await new_crisis(env, clock, PEOPLE)
    texts = {**TEXTS, "fr": "Arrêt des vols: " + "x" * 60}  # ê: UCS-2, 76 units -> 2 segments (67 + 9)
    planned = await client.post(f"/v1/crises/{crisis_id}/broadcasts/plan", json={"texts": {**texts, "de": None}},
                                headers=ANNE)
    assert planned.status_code == 200, planned.text
    plan = planned.json()
    assert plan["sms"]["fr"] == {"encoding": "UCS-2", "units": 76, "segments": 2}
    assert plan["sms"]["de"] == plan["sms"]["en"], "de sends the English text"
    # 3 SMS at the default one sender of 50/s: 0.06 s; 2 emails at 50/s: 0.04 s
    assert plan["senders"] == [{"name": "notifier", "rate_per_second": 50.0}]
    assert plan["current"] == {"senders": 1, "sms_per_second": 50.0, "sms_seconds": 0.06, "seconds_to_last": 0.06}
    assert [s["sms_seconds"] for s in plan["more_senders"]] == [0.03, 0.02]
    assert plan["sms_segments"] == 2 + 1 + 1  # fr 2, nl 1, en 1
    broadcast_id = (await submit(client, crisis_id, {"texts": {**texts, "de": None}}))["broadcast_id"]
    again = await client.get(f"/v1/broadcasts/{broadcast_id}/plan", headers=BERT)
    assert again.status_code == 200 and again.json() == plan
    templates = (await client.get(f"/v1/crises/{crisis_id}/broadcasts/templates", headers=ANNE)).json()
    assert set(templates["followup"]) == {"fr", "nl", "de", "en"}
    assert "Earthquake in Kathmandu" in templates["all_clear_sms"]["nl"]


async def test_the_all_clear_under_the_two_person_rule_then_the_crisis_closes(
        client: httpx.AsyncClient, env: Env, clock: Clock) -> None:
    crisis_id = await new_crisis(env, clock, PEOPLE)
    pending = await submit(client, crisis_id)
    all_clear = await client.post(f"/v1/crises/{crisis_id}/all-clear", headers=ANNE)
    assert all_clear.status_code == 201, all_clear.text
    assert all_clear.json()["kind"] == "all_clear" and all_clear.json()["plan"]["people"] == 4
    assert (await client.post(f"/v1/crises/{crisis_id}/all-clear", headers=BERT)).status_code == 409
    all_clear_id = all_clear.json()["broadcast_id"]
    assert (await client.put(f"/v1/broadcasts/{all_clear_id}", json=DRAFT, headers=ANNE)).status_code == 409
    assert (await client.post(f"/v1/broadcasts/{all_clear_id}/approve", json={"version": 1},
                              headers=ANNE)).status_code == 403
    approved = await client.post(f"/v1/broadcasts/{all_clear_id}/approve", json={"version": 1}, headers=BERT)
    assert approved.status_code == 200 and approved.json()["sent_messages"] == 5
    crisis = (await client.get(f"/v1/crises/{crisis_id}", headers=ANNE)).json()
    assert crisis["status"] == "closed" and crisis["closed_by"] == "bert"
    again = await client.post(f"/v1/broadcasts/{all_clear_id}/approve", json={"version": 1}, headers=BERT)
    assert again.status_code == 200, "a repeated approval changes nothing"

    sent = await commands(env, 6, timeout=8.0)
    assert len(sent) == 5 and {c["template"] for c in sent} == {"crisis_closed"}
    assert {c["language"] for c in sent} == {"fr", "nl", "de", "en"}, "the all-clear in each person's language"
    assert {c["params"]["crisis_title"] for c in sent} == {"Earthquake in Kathmandu"}

    # once closed, nobody is left to reach
    late = await client.post(f"/v1/broadcasts/{pending['broadcast_id']}/approve", json={"version": 1}, headers=BERT)
    assert late.status_code == 409
    assert (await client.post(f"/v1/crises/{crisis_id}/broadcasts", json=DRAFT, headers=ANNE)).status_code == 409
    assert (await client.post(f"/v1/crises/{crisis_id}/all-clear", headers=ANNE)).status_code == 409
