"""Acceptance of the welfare loop through all four services as processes: a crisis asks everyone whether they
are safe; people answer by SMS (safe, help), by an email's link and by a key on the call; the silent are called
and then listed to be phoned; a late answer still counts; and a kill -9 of the notifier just after the round
starts sends no question twice and skips no one. A family seeking one of them (issue 18) finds them, sees them
answer safe at the top of the officer's board and on the dashboard's counts, and is told by email."""

from __future__ import annotations

import os
import re
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest
from twilio.request_validator import RequestValidator

from shared.kafka.producer import make_producer, publish
from tests.e2e.scenario import earthquake, travellers
from tests.e2e.stack import Stack, start_stack, stop_stack
from tests.support import auth, bootstrap, database_url, eventually

pytestmark = pytest.mark.e2e
INSIDE, THRESHOLD = 12, 10
COORDINATOR = auth("coordinator")
DUTY_LINE = "+3225013200"
REMINDER = ("REMINDER", "RAPPEL", "HERINNERING", "ERINNERUNG")
REF = re.compile(r"BE-\d{4}-\d{6}")
LINK = re.compile(r"https?://\S+/public/welfare/[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")


@pytest.fixture(scope="module")
async def stack() -> AsyncIterator[Stack]:
    stack = await start_stack({"CRISIS_THRESHOLD": str(THRESHOLD), "CRISIS_UPDATE_INTERVAL_SECONDS": "1",
                               "VOICE_ANSWER_URL": "{intake}/twilio/voice/welfare", "WELFARE_POLL_SECONDS": "0.5"})
    yield stack
    await stop_stack(stack)


async def twilio_messages(client: httpx.AsyncClient, stack: Stack) -> list[dict[str, Any]]:
    return list((await client.get(stack.url("twilio") + "/_dev/messages")).json()["messages"])


async def twilio_calls(client: httpx.AsyncClient, stack: Stack) -> list[dict[str, Any]]:
    return list((await client.get(stack.url("twilio") + "/_dev/calls")).json()["calls"])


async def sms_from(client: httpx.AsyncClient, stack: Stack, phone: str, body: str) -> httpx.Response:
    """What Twilio does with an SMS a person sends to the duty line: a signed POST to intake."""
    url = stack.url("intake") + "/twilio/sms"
    form = {"From": phone, "To": "+3225013200", "Body": body, "MessageSid": "SM" + uuid.uuid4().hex}
    signature = RequestValidator(os.environ["TWILIO_AUTH_TOKEN"]).compute_signature(url, form)
    return await client.post(url, data=form, headers={"X-Twilio-Signature": signature})


async def time_passes(stack: Stack) -> None:
    """The round's next step is due now (instead of waiting `escalate_after_minutes`)."""
    conn = await asyncpg.connect(database_url(), server_settings={"search_path": stack.schemas["crisis_center"]})
    try:
        await conn.execute("UPDATE welfare_questions SET due_at = now() WHERE due_at IS NOT NULL")
    finally:
        await conn.close()


async def test_the_welfare_loop(stack: Stack) -> None:
    run = uuid.uuid4().hex[:6]
    people = travellers(run, INSIDE, 0, email_every=6)
    phones = [str(p.registration.phone) for p in people if p.registration.phone]
    emails = [str(p.registration.email) for p in people if p.registration.email]
    assert len(phones) == 10 and len(emails) == 2
    sms_safe, sms_help, called_safe, late = phones[:4]
    producer = make_producer(bootstrap(), client_id="e2e-welfare")
    await producer.start()
    try:
        await publish(producer, earthquake(f"quake-{run}"), source="/tests/e2e", topic_prefix=stack.prefix)
        for person in people:
            await publish(producer, person.registration, source="/tests/e2e", topic_prefix=stack.prefix)
    finally:
        await producer.stop()

    async with httpx.AsyncClient(timeout=15) as client:
        crisis_center = stack.url("crisis_center")

        async def crisis() -> dict[str, Any] | None:
            crises = (await client.get(crisis_center + "/v1/crises", headers=COORDINATOR)).json()
            return crises[0] if crises and crises[0]["affected_count"] == INSIDE else None

        crisis_id = (await eventually(crisis, timeout=120))["crisis_id"]
        welfare = f"{crisis_center}/v1/crises/{crisis_id}/welfare"

        async def contacts_known() -> bool:
            return bool((await client.get(welfare, headers=COORDINATOR)).json()["no_answer"] == INSIDE)

        await eventually(contacts_known, timeout=60)
        await client.put(stack.url("twilio") + "/_dev/config", json={"numbers": {called_safe: {"keypad": "1"}}})

        # a family asks about the traveller who will answer safe by SMS, spelling the name their own way
        sought = next(p.registration for p in people if p.registration.phone == sms_safe)
        family = await client.post(stack.url("intake") + "/v1/reports", headers=auth("duty_officer"), json={
            "kind": "missing_person", "description": "No news since the earthquake",
            "subject": {"full_name": sought.full_name.upper()}, "location": {"country": "NP"},
            "reporter": {"full_name": "A Parent", "language": "nl", "channel": "email",
                         "email": f"parent-{run}@example.org"}})
        assert family.status_code == 201, family.text
        family_case = stack.url("intake") + f"/v1/reports/{family.json()['reference']}"
        matches = (await client.get(family_case, headers=auth("duty_officer"))).json()["matches"]
        assert [m["person_id"] for m in matches] == [sought.traveller_id]

        started = await client.post(f"{crisis_center}/v1/crises/{crisis_id}/welfare-checks",
                                    json={"escalate_after_minutes": 30}, headers=COORDINATOR)
        assert started.status_code == 202 and started.json()["recipients"] == INSIDE
        stack.kill("notifier-worker")  # kill -9 while the round's questions are being handed over
        stack.start("notifier-worker")
        await stack.wait_process_ready("notifier-worker")

        async def from_duty_line(reminders: bool, count: int) -> list[dict[str, Any]] | None:
            found = [m for m in await twilio_messages(client, stack) if m["from"] == DUTY_LINE
                     and any(word in m["body"] for word in REMINDER) is reminders]
            return found if len(found) >= count else None

        asked = await eventually(lambda: from_duty_line(False, len(phones)), timeout=120)
        assert Counter(m["to"] for m in asked) == Counter(phones), "each phone asked exactly once"

        # answers: SMS safe and help, an email link, nothing from the rest
        safe_reply = await sms_from(client, stack, sms_safe, "1")
        assert safe_reply.status_code == 200 and not REF.search(safe_reply.text)
        help_reply = await sms_from(client, stack, sms_help, "2")
        reference = REF.search(help_reply.text)
        assert reference, help_reply.text

        async def link_mail() -> str | None:
            mails = (await client.get(stack.url("smtp_http") + "/messages")).json()["messages"]
            for mail in mails:
                if emails[0] in mail["rcpt_tos"]:
                    links = LINK.findall(mail["text"])
                    if len(links) == 2:
                        return str(links[0])
            return None

        safe_link = await eventually(link_mail, timeout=60)
        assert (await client.get(safe_link)).status_code == 200
        assert (await client.post(safe_link)).status_code == 200

        async def counted(expected: dict[str, int]) -> dict[str, int] | None:
            current = (await client.get(welfare, headers=COORDINATOR)).json()
            return current if all(current[k] == v for k, v in expected.items()) else None

        await eventually(lambda: counted({"safe": 2, "needs_help": 1, "no_answer": INSIDE - 3}), timeout=60)

        # the family's case: first on the board, counted on the dashboard, the family told through their channel
        board = (await client.get(stack.url("intake") + "/v1/charter-board", headers=auth("duty_officer"))).json()
        assert [c["reference"] for c in board["attention"]] == [family.json()["reference"]]
        await eventually(lambda: counted({"sought": 1, "sought_matched": 1, "sought_safe": 1}), timeout=60)
        told = await client.post(family_case + "/family-notice", json={"person_id": sought.traveller_id},
                                 headers=auth("duty_officer"))
        assert told.status_code == 200, told.text

        async def family_mail() -> dict[str, Any] | None:
            mails = (await client.get(stack.url("smtp_http") + "/messages")).json()["messages"]
            return next((m for m in mails if f"parent-{run}@example.org" in m["rcpt_tos"]
                         and sought.full_name.upper() in m["text"]), None)

        mail = await eventually(family_mail, timeout=60)
        assert family.json()["reference"] in mail["text"] and family.json()["officer"]["name"] in mail["text"]

        # time passes: reminders, then calls (one picked up: 1), then the list to phone
        await time_passes(stack)
        reminded = await eventually(lambda: from_duty_line(True, len(phones) - 2), timeout=60)
        assert sorted(m["to"] for m in reminded) == sorted(set(phones) - {sms_safe, sms_help})
        await time_passes(stack)

        async def calls_done() -> list[dict[str, Any]] | None:
            calls = await twilio_calls(client, stack)
            return calls if len(calls) == len(phones) - 2 and all(c["status"] in ("completed", "no-answer")
                                                                 for c in calls) else None

        calls = await eventually(calls_done, timeout=90)
        assert sorted(c["to"] for c in calls) == sorted(set(phones) - {sms_safe, sms_help})
        await eventually(lambda: counted({"safe": 3, "needs_help": 1}), timeout=60)
        await time_passes(stack)
        unreachable = INSIDE - 4  # the silent: called in vain (6) and emailed only (1)
        await eventually(lambda: counted({"safe": 3, "needs_help": 1, "unreachable": unreachable,
                                          "no_answer": 0}), timeout=60)
        to_phone = (await client.get(welfare + "/people", params={"status": "unreachable"},
                                     headers=COORDINATOR)).json()["people"]
        assert {p["phone"] for p in to_phone if p["phone"]} == set(phones) - {sms_safe, sms_help, called_safe}

        # a late answer still counts
        await sms_from(client, stack, late, "OK")
        await eventually(lambda: counted({"safe": 4, "unreachable": unreachable - 1}), timeout=60)
        helped = (await client.get(welfare + "/people", params={"status": "needs_help"},
                                   headers=COORDINATOR)).json()["people"]
        assert [(p["phone"], p["case_reference"]) for p in helped] == [(sms_help, reference.group())]

        # nobody was asked the same thing twice in any step
        per_step = Counter((m["to"], any(word in m["body"] for word in REMINDER))
                           for m in await twilio_messages(client, stack) if m["from"] == DUTY_LINE)
        assert len(per_step) == 2 * len(phones) - 2 and max(per_step.values()) == 1, per_step
