"""The duty officer's case actions (contract version 2) on the real database: each message through the case's
channel with the officer card and the reference, in the citizen's language; the charter's clock answered by a reply,
a provisional reply or a forward; statuses, notes, reassignment; every step in the history."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from services.intake.domain.clocks import BRUSSELS, end_of_local_day
from services.intake.settings import Settings
from tests.intake.conftest import Clock
from tests.support import auth

DUTY = auth("duty_officer")


def report(channel: str = "sms", language: str = "fr", **overrides: Any) -> dict[str, Any]:
    reporter: dict[str, Any] = {"full_name": "Citoyen Test", "language": language, "channel": channel,
                                "phone": "+32470" + str(uuid.uuid4().int)[:6], "email": "citoyen@example.org"}
    if channel == "post":
        reporter["address"] = "Rue de la Loi 15, 1040 Bruxelles"
    return {"kind": "lost_document", "reporter": reporter, "location": {"country": "MA", "city": "Fès"},
            "description": "Passeport volé", **overrides}


@pytest.fixture(autouse=True)
def _real_time(clock: Clock) -> Any:
    clock.at = datetime.now(UTC)
    yield
    clock.at = datetime.now(UTC)


async def open_case(client: httpx.AsyncClient, **kwargs: Any) -> dict[str, Any]:
    response = await client.post("/v1/reports", json=report(**kwargs), headers=DUTY)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def act(client: httpx.AsyncClient, reference: str, action: str, body: dict[str, Any],
              expect: int = 200) -> dict[str, Any]:
    response = await client.post(f"/v1/reports/{reference}/{action}", json=body, headers=DUTY)
    assert response.status_code == expect, response.text
    return dict(response.json())


async def commands(pool: asyncpg.Pool, settings: Settings, reference: str) -> list[dict[str, Any]]:
    """The notifier commands this case queued, oldest first."""
    rows = await pool.fetch("SELECT payload FROM outbox WHERE topic = $1 AND key = $2 ORDER BY id",
                            settings.topic("notifications.commands"), reference)
    by_key = [json.loads(bytes(r["payload"]))["data"] for r in rows]
    if by_key:
        return by_key
    rows = await pool.fetch("SELECT payload FROM outbox WHERE topic = $1 AND convert_from(payload, 'UTF8') LIKE $2"
                            " ORDER BY id", settings.topic("notifications.commands"), f"%{reference}%")
    return [json.loads(bytes(r["payload"]))["data"] for r in rows]


async def test_a_reply_goes_through_the_channel_signed_and_answers_the_clock(
        client: httpx.AsyncClient, pool: asyncpg.Pool, settings: Settings) -> None:
    case = await open_case(client, channel="sms", language="fr")
    reference = case["reference"]
    before = await client.get(f"/v1/reports/{reference}", headers=DUTY)
    charter = before.json()["charter"]
    assert datetime.fromisoformat(charter.pop("due_by")) == datetime.fromisoformat(case["reply_due_by"])
    assert charter == {"met": None, "met_by": None, "met_at": None}

    after = await act(client, reference, "messages", {"body": "Présentez-vous à l'ambassade lundi à 10 h."})
    assert after["status"] == "in_progress"
    assert after["charter"]["met"] is True and after["charter"]["met_by"] == "reply"
    assert [h["action"] for h in after["history"]][-1] == "reply" and after["history"][-1]["actor"] == "tester"
    sent = (await commands(pool, settings, reference))[-1]
    officer = case["officer"]
    assert sent["channel"] == "sms" and sent["language"] == "fr"
    assert sent["recipient"]["phone"] == case_phone(after) and sent["officer"] == officer
    assert sent["params"]["message"] == "Présentez-vous à l'ambassade lundi à 10 h."  # as written: the template signs
    text = after["messages"][-1]["body"]  # the SMS as the notifier renders that command
    assert "Présentez-vous" in text and reference in text
    for part in (officer["name"], officer["role"], officer["email"]):
        assert part in text
    assert "Votre agent" in text  # in the citizen's language
    assert after["messages"][-1]["purpose"] == "reply-1" and after["messages"][-1]["direction"] == "out"
    pending = await pool.fetchval("SELECT count(*) FROM deadlines WHERE reference = $1 AND fired_at IS NULL"
                                  " AND cancelled_at IS NULL", reference)
    assert pending == 0  # answered: no warning will fire

    second = await act(client, reference, "messages", {"body": "Bon voyage."})
    assert second["charter"]["met_at"] == after["charter"]["met_at"]  # the first reply answered the clock
    assert second["messages"][-1]["purpose"] == "reply-2"


def case_phone(case: dict[str, Any]) -> str:
    return str(case["reporter"]["phone"])


@pytest.mark.parametrize(("channel", "language", "expected", "marker"), [
    ("email", "nl", "email", "Uw contactpersoon"), ("web", "de", "email", "Ihr Ansprechpartner"),
    ("phone", "en", "sms", "Your case officer")])
async def test_a_reply_uses_the_channel_the_request_came_in_on(
        client: httpx.AsyncClient, pool: asyncpg.Pool, settings: Settings, channel: str, language: str,
        expected: str, marker: str) -> None:
    case = await open_case(client, channel=channel, language=language)
    after = await act(client, case["reference"], "messages", {"body": "..."})
    sent = (await commands(pool, settings, case["reference"]))[-1]
    assert sent["channel"] == expected and sent["language"] == language and marker in after["messages"][-1]["body"]


async def test_a_letter_for_a_request_by_post(client: httpx.AsyncClient, pool: asyncpg.Pool) -> None:
    case = await open_case(client, channel="post", language="fr")
    await act(client, case["reference"], "messages", {"body": "Votre attestation est jointe."})
    letter = await pool.fetchrow("SELECT * FROM print_queue WHERE reference = $1 AND purpose LIKE '%reply-1'",
                                 case["reference"])
    assert letter is not None and letter["address"].startswith("Rue de la Loi")
    assert case["reference"] in letter["body"] and case["officer"]["email"] in letter["body"]


async def test_a_late_reply_is_recorded_late(client: httpx.AsyncClient, clock: Clock) -> None:
    case = await open_case(client, channel="email")
    clock.at = datetime.fromisoformat(case["reply_due_by"]) + timedelta(seconds=1)
    late = await act(client, case["reference"], "messages", {"body": "Pardon pour le retard."})
    assert late["charter"]["met"] is False and late["charter"]["met_by"] == "reply"


async def test_an_unanswered_case_shows_missed_once_its_day_passed(client: httpx.AsyncClient, clock: Clock) -> None:
    case = await open_case(client, channel="email")
    clock.at = datetime.fromisoformat(case["reply_due_by"]) + timedelta(minutes=1)
    read = (await client.get(f"/v1/reports/{case['reference']}", headers=DUTY)).json()
    assert read["charter"]["met"] is False and read["charter"]["met_by"] is None


async def test_a_provisional_reply_moves_the_due_date_and_reschedules_the_clock(
        client: httpx.AsyncClient, pool: asyncpg.Pool, settings: Settings) -> None:
    case = await open_case(client, channel="email", language="de")
    reference = case["reference"]
    expected = datetime.now(BRUSSELS).date() + timedelta(days=50)
    after = await act(client, reference, "provisional-reply",
                      {"expected_by": expected.isoformat(), "body": "Wir müssen Unterlagen anfordern."})
    assert datetime.fromisoformat(after["reply_due_by"]) == end_of_local_day(expected)
    assert after["complex"] is True
    assert after["charter"]["met"] is True and after["charter"]["met_by"] == "provisional_reply"
    command = (await commands(pool, settings, reference))[-1]
    assert command["template"] == "case_provisional_reply" and command["language"] == "de"
    assert command["params"]["message"] == "Wir müssen Unterlagen anfordern."
    assert command["params"]["reply_due_by"] == expected.isoformat()
    text = after["messages"][-1]["body"]  # the e-mail's text as sent
    assert "Wir müssen Unterlagen anfordern." in text and reference in text
    assert text.index("Wir müssen Unterlagen anfordern.") < text.index("Ihre Anfrage ist komplex.")
    assert f"spätestens am {expected.day}. " in text  # the long date in German, written by the template
    assert text.count(case["officer"]["email"]) == 1  # the template signs once
    pending = await pool.fetch("SELECT deadline, due_by FROM deadlines WHERE reference = $1 AND fired_at IS NULL"
                               " AND cancelled_at IS NULL", reference)
    assert {r["deadline"] for r in pending} == {"reply"} and len(pending) == 2
    assert {r["due_by"] for r in pending} == {end_of_local_day(expected)}
    final = await act(client, reference, "messages", {"body": "Hier ist die Antwort."})
    assert final["charter"]["met_by"] == "reply" and final["charter"]["met"] is True

    refused = await client.post(f"/v1/reports/{reference}/provisional-reply", headers=DUTY,
                                json={"expected_by": (expected + timedelta(days=5)).isoformat()})
    assert refused.status_code == 409 and refused.json()["detail"][0]["rule"] == "already_answered"
    past = await open_case(client, channel="email")
    yesterday = (datetime.now(BRUSSELS).date() - timedelta(days=1)).isoformat()
    bad = await client.post(f"/v1/reports/{past['reference']}/provisional-reply", headers=DUTY,
                            json={"expected_by": yesterday})
    assert bad.status_code == 409 and bad.json()["detail"][0]["rule"] == "after_today"


async def test_forward_with_a_notice_and_the_request_to_the_service(
        client: httpx.AsyncClient, pool: asyncpg.Pool, settings: Settings) -> None:
    case = await open_case(client, channel="email", language="nl", kind="complaint",
                           description="Mijn pensioen wordt niet betaald")
    reference = case["reference"]
    after = await act(client, reference, "forward", {"service": "Federale Pensioendienst",
                                                     "contact": "klachten@sfpd.example"})
    assert after["status"] == "forwarded" and after["forward_to"] == "Federale Pensioendienst"
    assert after["charter"]["met"] is True and after["charter"]["met_by"] == "forward"
    notice, to_service = (await commands(pool, settings, reference))[-2:]
    assert notice["recipient"]["email"] == "citoyen@example.org" and notice["template"] == "case_forward_notice"
    assert notice["params"]["service"] == "Federale Pensioendienst"
    [sent_notice] = [m["body"] for m in after["messages"] if m["purpose"] == "forward_notice-1"]
    assert reference in sent_notice and "Uw contactpersoon" in sent_notice and "Federale Pensioendienst" in sent_notice
    assert sent_notice.count(case["officer"]["email"]) == 1 and notice["language"] == "nl"
    assert to_service["recipient"]["email"] == "klachten@sfpd.example"
    assert to_service["template"] == "case_forwarded_request" and to_service["language"] == "nl"
    assert to_service["params"]["description"] == "Mijn pensioen wordt niet betaald"
    assert to_service["params"]["contact"] == "Citoyen Test, " + case_phone(after) + ", citoyen@example.org"
    [sent_request] = [m["body"] for m in after["messages"] if m["purpose"] == "forward_notice-1-service"]
    assert "Mijn pensioen wordt niet betaald" in sent_request and "Taal van de burger: nl." in sent_request
    assert after["history"][-1]["action"] == "forward" and "by email" in after["history"][-1]["note"]
    # forwarded: no more reply owed, so off the charter board; a reply to a forwarded case is refused
    again = await client.post(f"/v1/reports/{reference}/messages", json={"body": "x"}, headers=DUTY)
    assert again.status_code == 409 and again.json()["detail"][0]["rule"] == "closed"


async def test_statuses_close_and_reopen(client: httpx.AsyncClient, pool: asyncpg.Pool, clock: Clock) -> None:
    case = await open_case(client, channel="email")
    reference = case["reference"]
    waiting = await act(client, reference, "status", {"status": "waiting_for_citizen",
                                                      "reason": "photo demandée"})
    assert waiting["status"] == "waiting_for_citizen" and waiting["history"][-1]["note"] == "photo demandée"
    await act(client, reference, "status", {"status": "waiting_for_citizen"}, expect=409)
    closed = await act(client, reference, "status", {"status": "closed", "reason": "résolu"})
    assert closed["status"] == "closed" and closed["closed_at"] is not None
    assert await pool.fetchval("SELECT count(*) FROM surveys WHERE reference = $1", reference) == 1
    await act(client, reference, "status", {"status": "in_progress"}, expect=409)
    await act(client, reference, "messages", {"body": "x"}, expect=409)

    clock.at = datetime.now(UTC) + timedelta(days=40)
    reopened = await act(client, reference, "status", {"status": "reopened", "reason": "nouvelle demande"})
    assert reopened["status"] == "reopened" and reopened["closed_at"] is None
    due = datetime.fromisoformat(reopened["reply_due_by"]).astimezone(BRUSSELS).date()
    assert due == clock.at.astimezone(BRUSSELS).date() + timedelta(days=15)
    assert reopened["charter"]["met"] is None
    replied = await act(client, reference, "messages", {"body": "Voici la suite."})
    assert replied["status"] == "in_progress" and replied["charter"]["met"] is True
    bad = await client.post(f"/v1/reports/{reference}/status", json={"status": "forwarded"}, headers=DUTY)
    assert bad.status_code == 422 and bad.json()["detail"][0]["field"] == "status"


async def test_a_note_stays_internal(client: httpx.AsyncClient, pool: asyncpg.Pool, settings: Settings) -> None:
    case = await open_case(client, channel="sms")
    before = len(await commands(pool, settings, case["reference"]))
    after = await act(client, case["reference"], "notes", {"body": "Appelé la police locale."})
    assert after["history"][-1]["action"] == "note" and after["history"][-1]["note"] == "Appelé la police locale."
    assert len(await commands(pool, settings, case["reference"])) == before
    assert after["charter"]["met"] is None


async def test_reassigning_puts_the_new_officer_card_on_the_next_message(
        client: httpx.AsyncClient, pool: asyncpg.Pool, settings: Settings) -> None:
    case = await open_case(client, channel="sms")
    reference = case["reference"]
    admin = auth("admin")
    new = (await client.post("/v1/admin/officers", headers=admin, json={
        "name": "Officier Nouveau", "role": "Vice-consul", "phone": "+212537268070",
        "email": "nouveau@diplomatie.example"})).json()
    moved = await act(client, reference, "assignee", {"officer_id": new["officer_id"]})
    assert moved["officer"]["name"] == "Officier Nouveau" and moved["history"][-1]["action"] == "assign"
    await act(client, reference, "assignee", {"officer_id": new["officer_id"]}, expect=409)
    unknown = await client.post(f"/v1/reports/{reference}/assignee", json={"officer_id": 999999}, headers=DUTY)
    assert unknown.status_code == 409 and unknown.json()["detail"][0]["rule"] == "exists"
    after = await act(client, reference, "messages", {"body": "Je reprends votre dossier."})
    assert (await commands(pool, settings, reference))[-1]["params"]["officer"]["name"] == "Officier Nouveau"
    text = after["messages"][-1]["body"]  # the SMS as sent: the template puts the card on it
    assert "Officier Nouveau" in text and "nouveau@diplomatie.example" in text


async def test_roles_and_unknown_cases(client: httpx.AsyncClient) -> None:
    case = await open_case(client)
    path = f"/v1/reports/{case['reference']}/messages"
    assert (await client.post(path, json={"body": "x"})).status_code == 401
    assert (await client.post(path, json={"body": "x"}, headers=auth("coordinator"))).status_code == 403
    for action in ("messages", "provisional-reply", "forward", "status", "notes", "assignee", "complex"):
        other = f"/v1/reports/{case['reference']}/{action}"
        assert (await client.post(other, json={}, headers=auth("coordinator"))).status_code == 403, action
        assert (await client.post(other, json={}, headers=auth("external_system"))).status_code == 403, action
    assert (await client.post(path, json={"body": ""}, headers=DUTY)).status_code == 422
    assert (await client.post("/v1/reports/BE-2031-999999/messages", json={"body": "x"},
                              headers=DUTY)).status_code == 404
    assert (await client.post("/v1/reports/BE-0000-000000/notes", json={"body": "x"},
                              headers=DUTY)).status_code == 404


async def test_the_charter_board_drops_answered_cases(client: httpx.AsyncClient, clock: Clock) -> None:
    replied, silent = await open_case(client, channel="email"), await open_case(client, channel="email")
    await act(client, replied["reference"], "messages", {"body": "Réponse."})
    clock.at = datetime.fromisoformat(silent["reply_due_by"]) + timedelta(days=1)
    board = (await client.get("/v1/charter-board", headers=DUTY)).json()
    overdue = [c["reference"] for c in board["overdue"]]
    assert silent["reference"] in overdue and replied["reference"] not in overdue


async def test_reply_templates_per_kind_and_language(client: httpx.AsyncClient) -> None:
    fr = (await client.get("/v1/reply-templates?kind=detention&language=fr", headers=DUTY)).json()
    de = (await client.get("/v1/reply-templates?kind=detention&language=de", headers=DUTY)).json()
    assert fr["body"] != de["body"] and "détention" in fr["body"] and "Festnahme" in de["body"]
    assert (await client.get("/v1/reply-templates?kind=x&language=fr", headers=DUTY)).status_code == 422



async def test_marking_a_case_complex_later_owes_a_provisional_reply(client: httpx.AsyncClient,
                                                                    pool: asyncpg.Pool) -> None:
    case = await open_case(client, channel="email")
    reference = case["reference"]
    marked = await act(client, reference, "complex", {})
    assert marked["complex"] is True and marked["history"][-1]["action"] == "complex"
    due = datetime.fromisoformat(marked["provisional_reply_due_by"]).astimezone(BRUSSELS).date()
    assert due == datetime.fromisoformat(case["received_at"]).astimezone(BRUSSELS).date() + timedelta(days=15)
    assert marked["reply_due_by"] == case["reply_due_by"] or datetime.fromisoformat(
        marked["reply_due_by"]) == datetime.fromisoformat(case["reply_due_by"])
    pending = await pool.fetch("SELECT DISTINCT deadline FROM deadlines WHERE reference = $1 AND fired_at IS NULL"
                               " AND cancelled_at IS NULL", reference)
    assert {r["deadline"] for r in pending} == {"reply", "provisional_reply"}
    await act(client, reference, "complex", {}, expect=409)
    expected = datetime.now(BRUSSELS).date() + timedelta(days=40)
    answered = await act(client, reference, "provisional-reply", {"expected_by": expected.isoformat()})
    assert answered["charter"]["met_by"] == "provisional_reply" and answered["charter"]["met"] is True
