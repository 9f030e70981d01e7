"""POST/GET /v1/reports on the real database: validation, roles, idempotency, clocks, acknowledgements."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from services.intake import opening, reading
from services.intake.adapters.officer_cache import OfficerCache
from services.intake.bootstrap import intake_config
from services.intake.domain.clocks import BRUSSELS
from services.intake.domain.model import ReportIn
from services.intake.settings import Settings
from tests.support import auth, token

DUTY = auth("duty_officer")


def report(channel: str = "web", **overrides: Any) -> dict[str, Any]:
    reporter: dict[str, Any] = {"full_name": "Reporter Test", "language": "nl", "channel": channel,
                                "phone": "+32470" + str(uuid.uuid4().int)[:6], "email": "r@example.org"}
    if channel == "post":
        reporter["address"] = "Wetstraat 1, 1000 Brussel"
    body: dict[str, Any] = {"kind": "lost_document", "reporter": reporter,
                            "location": {"country": "MA", "city": "Marrakech"}, "description": "Paspoort kwijt"}
    body.update(overrides)
    return body


def end_of_brussels_day(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 23, 59, 59, tzinfo=BRUSSELS)


async def test_submit_returns_the_case(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/reports", json=report(), headers=DUTY)
    assert response.status_code == 201, response.text
    case = response.json()
    # the year of receipt in Brussels, from the instant the case itself gives (the test's own clock may have
    # crossed midnight on 31 December since)
    assert case["reference"].startswith(f"BE-{datetime.fromisoformat(case['received_at']).astimezone(BRUSSELS).year}-")
    assert case["status"] == "received" and case["kind"] == "lost_document" and case["post"] is None
    assert set(case["officer"]) == {"name", "role", "phone", "email"}
    assert case["provisional_reply_due_by"] is None


@pytest.mark.parametrize(("channel", "days"), [("phone", 15), ("sms", 15), ("email", 15), ("web", 15),
                                                ("counter", 15), ("post", 30)])
async def test_each_channel_due_date(client: httpx.AsyncClient, channel: str, days: int) -> None:
    before = datetime.now(BRUSSELS).date()
    case = (await client.post("/v1/reports", json=report(channel), headers=DUTY)).json()
    after = datetime.now(BRUSSELS).date()
    due = datetime.fromisoformat(case["reply_due_by"])
    assert due in {end_of_brussels_day(day + timedelta(days=days)) for day in (before, after)}


async def test_complex_case_has_provisional_deadline(client: httpx.AsyncClient, pool: asyncpg.Pool) -> None:
    case = (await client.post("/v1/reports", json=report(complex=True), headers=DUTY)).json()
    provisional = datetime.fromisoformat(case["provisional_reply_due_by"])
    reply = datetime.fromisoformat(case["reply_due_by"])
    assert reply - provisional >= timedelta(days=30)
    purpose = await pool.fetchval("SELECT purpose FROM messages WHERE reference = $1", case["reference"])
    assert purpose == "provisional_reply"


async def _submit_at(pool: asyncpg.Pool, settings: Settings, received_at: datetime, channel: str) -> dict[str, Any]:
    result = await opening.submit_report(ReportIn.model_validate(report(channel)), pool=pool,
                                         officers=OfficerCache(ttl_seconds=0), config=intake_config(settings),
                                         actor="tester", received_at=received_at)
    return await reading.get_case(result.reference, pool=pool)


async def test_received_on_31_january(pool: asyncpg.Pool, settings: Settings) -> None:
    received = datetime(2026, 1, 31, 15, 0, tzinfo=UTC)
    web = await _submit_at(pool, settings, received, "web")
    post = await _submit_at(pool, settings, received, "post")
    assert web["reply_due_by"] == end_of_brussels_day(date(2026, 2, 15))
    assert post["reply_due_by"] == end_of_brussels_day(date(2026, 3, 2))
    assert web["reference"].startswith("BE-2026-")


async def test_received_on_a_belgian_public_holiday(pool: asyncpg.Pool, settings: Settings) -> None:
    case = await _submit_at(pool, settings, datetime(2026, 7, 21, 10, 0, tzinfo=UTC), "sms")  # National Day
    assert case["reply_due_by"] == end_of_brussels_day(date(2026, 8, 5))
    rows = await pool.fetch("SELECT deadline, event, fire_at FROM deadlines WHERE reference = $1 ORDER BY fire_at",
                            case["reference"])
    assert [(r["deadline"], r["event"]) for r in rows] == [("reply", "approaching"), ("reply", "missed")]
    assert rows[1]["fire_at"] == datetime(2026, 8, 6, 0, 0, tzinfo=BRUSSELS)


async def test_reference_year_follows_brussels_new_year(pool: asyncpg.Pool, settings: Settings) -> None:
    case = await _submit_at(pool, settings, datetime(2027, 12, 31, 23, 30, tzinfo=UTC), "web")
    assert case["reference"].startswith("BE-2028-")


async def test_numbers_are_never_reused(pool: asyncpg.Pool, settings: Settings) -> None:
    first = await _submit_at(pool, settings, datetime(2029, 3, 1, 10, tzinfo=UTC), "web")
    async with pool.acquire() as conn:
        tx = conn.transaction()
        await tx.start()
        lost = await conn.fetchval("SELECT next_reference_number(2029)")
        await tx.rollback()
    second = await _submit_at(pool, settings, datetime(2029, 3, 1, 11, tzinfo=UTC), "web")
    numbers = [int(first["reference"][-6:]), lost, int(second["reference"][-6:])]
    assert numbers == sorted(set(numbers)), numbers


async def test_idempotent_replay_returns_the_same_case(client: httpx.AsyncClient, pool: asyncpg.Pool) -> None:
    key = {"Idempotency-Key": str(uuid.uuid4()), **DUTY}
    body = report()
    first = await client.post("/v1/reports", json=body, headers=key)
    second = await client.post("/v1/reports", json=body, headers=key)
    assert first.status_code == 201 and second.status_code == 200
    assert second.headers["Idempotent-Replayed"] == "true"
    assert first.json()["reference"] == second.json()["reference"]
    count = await pool.fetchval("SELECT count(*) FROM reports WHERE reporter_phone = $1", body["reporter"]["phone"])
    assert count == 1


async def test_concurrent_replays_make_one_case(client: httpx.AsyncClient, pool: asyncpg.Pool) -> None:
    key = {"Idempotency-Key": str(uuid.uuid4()), **DUTY}
    body = report()
    responses = await asyncio.gather(*[client.post("/v1/reports", json=body, headers=key) for _ in range(6)])
    assert sorted(r.status_code for r in responses) == [200] * 5 + [201]
    assert len({r.json()["reference"] for r in responses}) == 1
    assert await pool.fetchval("SELECT count(*) FROM reports WHERE reporter_phone = $1",
                               body["reporter"]["phone"]) == 1


async def test_same_key_other_body_is_a_conflict(client: httpx.AsyncClient) -> None:
    key = {"Idempotency-Key": str(uuid.uuid4()), **DUTY}
    assert (await client.post("/v1/reports", json=report(), headers=key)).status_code == 201
    response = await client.post("/v1/reports", json=report(), headers=key)
    assert response.status_code == 409 and response.json()["detail"][0]["rule"] == "same_body"


async def test_key_is_per_caller(client: httpx.AsyncClient) -> None:
    key = str(uuid.uuid4())
    body = report()
    a = await client.post("/v1/reports", json=body, headers={
        "Idempotency-Key": key, "Authorization": f"Bearer {token('duty_officer', subject='officer-a')}"})
    b = await client.post("/v1/reports", json=body, headers={
        "Idempotency-Key": key, "Authorization": f"Bearer {token('external_system', subject='system-b')}"})
    assert a.status_code == 201 and b.status_code == 201
    assert a.json()["reference"] != b.json()["reference"]


async def test_validation_names_field_and_rule(client: httpx.AsyncClient) -> None:
    body = report()
    body["reporter"]["phone"] = "+32 12"
    body["location"]["country"] = "XX"
    body["reporter"]["language"] = "es"
    response = await client.post("/v1/reports", json=body, headers=DUTY)
    assert response.status_code == 422
    found = {(d["field"], d["rule"]) for d in response.json()["detail"]}
    assert {("reporter.phone", "e164"), ("location.country", "iso3166_alpha2"), ("reporter.language", "one_of")} \
        <= found, found


async def test_no_way_to_reach_is_refused(client: httpx.AsyncClient) -> None:
    body = report()
    del body["reporter"]["phone"], body["reporter"]["email"]
    response = await client.post("/v1/reports", json=body, headers=DUTY)
    assert response.status_code == 422
    assert response.json()["detail"][0]["rule"] == "contact_required"


@pytest.mark.parametrize(("method", "path", "role", "status"), [
    ("POST", "/v1/reports", None, 401),
    ("POST", "/v1/reports", "coordinator", 403),
    ("GET", "/v1/reports/BE-2026-000001", None, 401),
    ("GET", "/v1/reports/BE-2026-000001", "external_system", 403),
    ("POST", "/v1/reports/BE-2026-000001/close", "external_system", 403),
])
async def test_roles(client: httpx.AsyncClient, method: str, path: str, role: str | None, status: int) -> None:
    headers = auth(role) if role else {}
    response = await client.request(method, path, json=report() if method == "POST" else None, headers=headers)
    assert response.status_code == status


async def test_get_shows_history_and_messages(client: httpx.AsyncClient) -> None:
    reference = (await client.post("/v1/reports", json=report("sms"), headers=DUTY)).json()["reference"]
    response = await client.get(f"/v1/reports/{reference}", headers=auth("coordinator"))
    assert response.status_code == 200
    case = response.json()
    assert [h["status"] for h in case["history"]] == ["received"]
    [message] = case["messages"]
    assert message["direction"] == "out" and message["channel"] == "sms" and message["status"] == "queued"
    assert reference in message["body"] and case["officer"]["email"] in message["body"]
    assert (await client.get("/v1/reports/BE-2001-000001", headers=DUTY)).status_code == 404
    assert (await client.get("/v1/reports/nonsense", headers=DUTY)).status_code == 422


@pytest.mark.parametrize(("channel", "expected"), [("sms", "sms"), ("email", "email"), ("web", "email"),
                                                    ("phone", "sms"), ("counter", "sms")])
async def test_acknowledgement_command_in_outbox(client: httpx.AsyncClient, pool: asyncpg.Pool, settings: Settings,
                                                 channel: str, expected: str) -> None:
    case = (await client.post("/v1/reports", json=report(channel), headers=DUTY)).json()
    rows = await pool.fetch("SELECT topic, key, payload FROM outbox WHERE convert_from(payload, 'UTF8') LIKE $1",
                            f"%{case['reference']}%")
    events = {row["topic"]: json.loads(bytes(row["payload"])) for row in rows}
    command = events[settings.kafka_topic_prefix + "notifications.commands"]["data"]
    assert command["channel"] == expected and command["language"] == "nl"
    assert command["case_reference"] == case["reference"] and command["officer"] == case["officer"]
    # the notifier's template words it: the params are its model's (shared/events/notifications.py)
    assert command["template"] == "case_acknowledgement"
    assert command["params"] == {"reference": case["reference"], "officer": case["officer"],
                                 "reply_due_by": command["params"]["reply_due_by"]}
    assert date.fromisoformat(command["params"]["reply_due_by"]) == datetime.fromisoformat(case["reply_due_by"]).date()
    submitted = events[settings.kafka_topic_prefix + "consular.reports"]
    assert submitted["type"] == "be.diplomatie.report.submitted" and submitted["source"] == "/services/intake"
    assert submitted["data"]["reference"] == case["reference"] and submitted["data"]["channel"] == channel


async def test_post_goes_to_the_print_queue(client: httpx.AsyncClient, pool: asyncpg.Pool) -> None:
    case = (await client.post("/v1/reports", json=report("post"), headers=DUTY)).json()
    letter = await pool.fetchrow("SELECT * FROM print_queue WHERE reference = $1", case["reference"])
    assert letter is not None and letter["address"].startswith("Wetstraat")
    assert case["reference"] in letter["body"] and letter["language"] == "nl"
    assert await pool.fetchval("SELECT count(*) FROM outbox WHERE topic LIKE '%notifications.commands'"
                               " AND convert_from(payload, 'UTF8') LIKE $1", f"%{case['reference']}%") == 0


async def test_complaint_goes_to_quality_team(client: httpx.AsyncClient) -> None:
    before = datetime.now(BRUSSELS).date()  # taken before the case: a Brussels midnight may pass meanwhile
    case = (await client.post("/v1/reports", json=report(kind="complaint"), headers=DUTY)).json()
    assert case["officer"]["role"] == "Complaints officer"
    due = datetime.fromisoformat(case["reply_due_by"]).astimezone(BRUSSELS).date()
    assert due == datetime.fromisoformat(case["received_at"]).astimezone(BRUSSELS).date() + timedelta(days=15)
    assert due >= before + timedelta(days=15)


async def test_forwarded_information_request(client: httpx.AsyncClient, pool: asyncpg.Pool) -> None:
    body = report(kind="information_request", forward_to="FPS Finance")
    case = (await client.post("/v1/reports", json=body, headers=DUTY)).json()
    assert case["status"] == "forwarded"
    message = await pool.fetchrow("SELECT purpose, body FROM messages WHERE reference = $1", case["reference"])
    assert message["purpose"] == "forward_notice" and "FPS Finance" in message["body"]


async def test_close_sends_the_survey(client: httpx.AsyncClient, pool: asyncpg.Pool) -> None:
    reference = (await client.post("/v1/reports", json=report("sms"), headers=DUTY)).json()["reference"]
    response = await client.post(f"/v1/reports/{reference}/close", json={"note": "done"}, headers=DUTY)
    assert response.status_code == 200 and response.json()["status"] == "closed"
    survey = await pool.fetchrow("SELECT channel, answer FROM surveys WHERE reference = $1", reference)
    assert survey["channel"] == "sms" and survey["answer"] is None
    assert await pool.fetchval("SELECT count(*) FROM deadlines WHERE reference = $1 AND cancelled_at IS NULL",
                               reference) == 0
    purposes = [r["purpose"] for r in await pool.fetch("SELECT purpose FROM messages WHERE reference = $1 ORDER BY id",
                                                      reference)]
    assert purposes == ["acknowledgement", "survey"]
