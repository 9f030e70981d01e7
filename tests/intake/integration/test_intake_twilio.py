"""Twilio webhooks signed with the twilio library: inbound SMS and the voice line, on the real database."""

from __future__ import annotations

import json
import random
import re
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

import asyncpg
import httpx
import phonenumbers
import pytest

from services.intake.domain.clocks import BRUSSELS
from tests.intake.conftest import PUBLIC_BASE, Clock
from tests.support import auth

Sign = Callable[[str, dict[str, str]], dict[str, str]]
REF = re.compile(r"BE-\d{4}-\d{6}")


def moroccan_mobile() -> str:
    while not phonenumbers.is_valid_number(phonenumbers.parse(number := f"+2126{random.randint(10**7, 10**8 - 1)}")):
        pass
    return number


def sid(prefix: str) -> str:
    return prefix + uuid.uuid4().hex


async def post(client: httpx.AsyncClient, sign: Sign, path: str, params: dict[str, str]) -> httpx.Response:
    return await client.post(path, data=params, headers=sign(path, params))


# --- signatures ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/twilio/sms", "/twilio/voice", "/twilio/voice/menu?lang=fr"])
async def test_forged_signature_is_refused(client: httpx.AsyncClient, sign: Sign, path: str) -> None:
    params = {"From": moroccan_mobile(), "Body": "passport stolen", "Digits": "1"}
    forged = sign(path, {**params, "Body": "something else"})
    assert (await client.post(path, data=params, headers=forged)).status_code == 403
    assert (await client.post(path, data=params)).status_code == 403
    other_url = sign("/twilio/other", params)
    assert (await client.post(path, data=params, headers=other_url)).status_code == 403


# --- SMS -------------------------------------------------------------------------------------------------------

async def test_sms_opens_a_typed_case_and_replies_in_the_senders_language(
        client: httpx.AsyncClient, sign: Sign, pool: asyncpg.Pool) -> None:
    sender = moroccan_mobile()
    response = await post(client, sign, "/twilio/sms",
                          {"From": sender, "Body": "Mijn paspoort is gestolen", "MessageSid": sid("SM")})
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/xml")
    assert "<Response><Message>" in response.text and "dossier" in response.text
    reference = REF.search(response.text).group(0)  # type: ignore[union-attr]
    case = await pool.fetchrow("SELECT * FROM reports WHERE reference = $1", reference)
    assert case["kind"] == "lost_document" and case["language"] == "nl" and case["channel"] == "sms"
    assert case["location"]["country"] == "MA" and case["reporter_phone"] == sender
    inbound = await pool.fetchrow("SELECT body, direction FROM messages WHERE reference = $1 AND direction = 'in'",
                                  reference)
    assert inbound["body"] == "Mijn paspoort is gestolen"


@pytest.mark.parametrize(("body", "kind", "marker"), [
    ("Mon fils a été arrêté", "detention", "Assistance consulaire"),
    ("Meine Tochter wird vermisst", "missing_person", "Aktenzeichen"),
    ("Help, I had an accident", "serious_difficulty", "Consular assistance"),
    ("Ayuda por favor", "serious_difficulty", "Consular assistance"),
])
async def test_sms_keywords_and_languages(client: httpx.AsyncClient, sign: Sign, pool: asyncpg.Pool, body: str,
                                          kind: str, marker: str) -> None:
    response = await post(client, sign, "/twilio/sms", {"From": moroccan_mobile(), "Body": body})
    assert marker in response.text
    reference = REF.search(response.text).group(0)  # type: ignore[union-attr]
    assert await pool.fetchval("SELECT kind FROM reports WHERE reference = $1", reference) == kind


async def test_sms_from_a_number_phonenumbers_does_not_know(client: httpx.AsyncClient, sign: Sign,
                                                            pool: asyncpg.Pool) -> None:
    sender = "+212686149751"  # a range phonenumbers does not (yet) consider valid
    assert not phonenumbers.is_valid_number(phonenumbers.parse(sender))
    response = await post(client, sign, "/twilio/sms", {"From": sender, "Body": "help"})
    assert response.status_code == 200 and REF.search(response.text)
    await pool.execute("UPDATE reports SET status = 'closed' WHERE reporter_phone = $1", sender)


async def test_sms_from_a_number_with_an_open_case_appends(client: httpx.AsyncClient, sign: Sign,
                                                           pool: asyncpg.Pool) -> None:
    sender = moroccan_mobile()
    first = await post(client, sign, "/twilio/sms", {"From": sender, "Body": "passeport perdu"})
    reference = REF.search(first.text).group(0)  # type: ignore[union-attr]
    message_sid = sid("SM")
    params = {"From": sender, "Body": "je suis à l'hôtel Atlas", "MessageSid": message_sid}
    second = await post(client, sign, "/twilio/sms", params)
    assert reference in second.text and "ajouté" in second.text
    retried = await post(client, sign, "/twilio/sms", params)  # Twilio retries a webhook
    assert retried.text == second.text
    bodies = [r["body"] for r in await pool.fetch(
        "SELECT body FROM messages WHERE reference = $1 AND direction = 'in' ORDER BY id", reference)]
    assert bodies == ["passeport perdu", "je suis à l'hôtel Atlas"]
    assert await pool.fetchval("SELECT count(*) FROM reports WHERE reporter_phone = $1", sender) == 1


async def test_survey_answer_by_sms(client: httpx.AsyncClient, sign: Sign, pool: asyncpg.Pool) -> None:
    sender = moroccan_mobile()
    opened = await post(client, sign, "/twilio/sms", {"From": sender, "Body": "Reisepass gestohlen"})
    reference = REF.search(opened.text).group(0)  # type: ignore[union-attr]
    assert (await client.post(f"/v1/reports/{reference}/close", headers=auth("duty_officer"))).status_code == 200
    survey = await pool.fetchrow("SELECT m.body FROM messages m WHERE reference = $1 AND purpose = 'survey'",
                                 reference)
    assert "1" in survey["body"] and "5" in survey["body"]
    answer = await post(client, sign, "/twilio/sms", {"From": sender, "Body": "4"})
    assert "Danke" in answer.text
    assert await pool.fetchval("SELECT answer FROM surveys WHERE reference = $1", reference) == 4
    # after the answer a new message opens a new case
    again = await post(client, sign, "/twilio/sms", {"From": sender, "Body": "Pass verloren"})
    assert REF.search(again.text).group(0) != reference  # type: ignore[union-attr]


# --- voice -----------------------------------------------------------------------------------------------------

ON_CALL, BACKUP, CONSULAR_LINE = "+3225010003", "+3225010004", "+3225013200"


@pytest.fixture(scope="module")
async def roster(pool: asyncpg.Pool) -> None:
    await pool.execute(
        "INSERT INTO on_call_roster (starts_at, ends_at, officer_id, backup_officer_id)"
        " VALUES ('2026-12-01T00:00:00+01:00', '2027-01-01T00:00:00+01:00', 3, 4)")


def dialled(twiml: str) -> str | None:
    match = re.search(r"<Dial[^>]*>([^<]+)</Dial>", twiml)
    return match.group(1) if match else None


async def emergency(client: httpx.AsyncClient, sign: Sign, caller: str) -> httpx.Response:
    return await post(client, sign, "/twilio/voice/menu?lang=nl", {"From": caller, "Digits": "1",
                                                                  "CallSid": sid("CA")})


async def test_voice_menu_offers_four_languages(client: httpx.AsyncClient, sign: Sign) -> None:
    response = await post(client, sign, "/twilio/voice", {"From": moroccan_mobile(), "CallSid": sid("CA")})
    assert response.status_code == 200
    for locale in ("fr-FR", "nl-NL", "de-DE", "en-GB"):
        assert f'language="{locale}"' in response.text
    assert f'action="{PUBLIC_BASE}/twilio/voice/language"' in response.text
    chosen = await post(client, sign, "/twilio/voice/language", {"Digits": "3"})
    assert "Notfall" in chosen.text and "/twilio/voice/menu?lang=de" in chosen.text


async def test_voice_in_office_hours_goes_to_the_consular_line(
        client: httpx.AsyncClient, sign: Sign, clock: Clock, roster: None) -> None:
    clock.at = datetime(2026, 12, 1, 10, 30, tzinfo=BRUSSELS)  # a Tuesday
    assert dialled((await emergency(client, sign, moroccan_mobile())).text) == CONSULAR_LINE


async def test_voice_outside_office_hours_goes_on_call_then_backup_then_voicemail(
        client: httpx.AsyncClient, sign: Sign, clock: Clock, roster: None, pool: asyncpg.Pool) -> None:
    clock.at = datetime(2026, 12, 1, 17, 0, tzinfo=BRUSSELS)
    caller = moroccan_mobile()
    first = await emergency(client, sign, caller)
    assert dialled(first.text) == ON_CALL and "attempt=0" in first.text
    second = await post(client, sign, "/twilio/voice/dial?lang=nl&attempt=0",
                        {"From": caller, "DialCallStatus": "no-answer"})
    assert dialled(second.text) == BACKUP
    third = await post(client, sign, "/twilio/voice/dial?lang=nl&attempt=1",
                       {"From": caller, "DialCallStatus": "busy"})
    assert dialled(third.text) is None and "<Record" in third.text and "/twilio/voice/recorded?lang=nl" in third.text
    call_sid = sid("CA")
    params = {"From": caller, "CallSid": call_sid, "RecordingUrl": "https://api.twilio.test/rec/RE1"}
    recorded = await post(client, sign, "/twilio/voice/recorded?lang=nl", params)
    row = await pool.fetchrow("SELECT reference, kind, channel, language FROM reports WHERE reporter_phone = $1",
                              caller)
    assert (row["kind"], row["channel"], row["language"]) == ("serious_difficulty", "phone", "nl")
    assert " ".join(row["reference"].replace("-", " ")) in recorded.text
    await post(client, sign, "/twilio/voice/recorded?lang=nl", params)  # a retried webhook: no second case
    assert await pool.fetchval("SELECT count(*) FROM reports WHERE reporter_phone = $1", caller) == 1


async def test_answered_call_hangs_up(client: httpx.AsyncClient, sign: Sign) -> None:
    response = await post(client, sign, "/twilio/voice/dial?lang=fr&attempt=0", {"DialCallStatus": "completed"})
    assert "<Hangup" in response.text and "<Dial" not in response.text


async def test_voice_on_a_belgian_public_holiday_goes_on_call(
        client: httpx.AsyncClient, sign: Sign, clock: Clock, roster: None) -> None:
    clock.at = datetime(2026, 12, 25, 10, 30, tzinfo=BRUSSELS)  # Christmas, a Friday, in office hours otherwise
    assert dialled((await emergency(client, sign, moroccan_mobile())).text) == ON_CALL
    clock.at = datetime(2026, 12, 24, 10, 30, tzinfo=BRUSSELS)
    assert dialled((await emergency(client, sign, moroccan_mobile())).text) == CONSULAR_LINE


async def test_leave_a_message_records(client: httpx.AsyncClient, sign: Sign) -> None:
    response = await post(client, sign, "/twilio/voice/menu?lang=en", {"Digits": "2"})
    assert "<Record" in response.text and "tone" in response.text


# --- follow-ups and opt-outs on the duty line ---------------------------------------------------------------------

@pytest.mark.parametrize(("body", "opted_out", "language_marker"), [
    ("STOP", True, "no longer receive"), ("Arrêt", True, "ne recevrez plus"), ("stoppen", True, "geen niet-dringende"),
    ("START", False, "receive our messages again")])
async def test_stop_and_start_on_the_duty_line_never_open_a_case(
        client: httpx.AsyncClient, sign: Sign, pool: asyncpg.Pool, settings: Any, body: str, opted_out: bool,
        language_marker: str) -> None:
    sender = moroccan_mobile()
    message_sid = sid("SM")
    for _ in range(2):  # Twilio retries the webhook: one command
        response = await post(client, sign, "/twilio/sms", {"From": sender, "Body": body, "MessageSid": message_sid})
        assert response.status_code == 200 and language_marker in response.text
    assert await pool.fetchval("SELECT count(*) FROM reports WHERE reporter_phone = $1", sender) == 0
    rows = await pool.fetch("SELECT key, payload FROM outbox WHERE topic = $1 AND key = $2",
                            settings.topic("notifications.commands"), sender)
    assert len(rows) == 1
    event = json.loads(bytes(rows[0]["payload"]))
    assert event["type"] == "be.diplomatie.notification.sms_preference"
    assert event["data"]["phone"] == sender and event["data"]["opted_out"] is opted_out


async def test_a_sentence_with_stop_in_it_is_a_case(client: httpx.AsyncClient, sign: Sign, pool: asyncpg.Pool) -> None:
    sender = moroccan_mobile()
    response = await post(client, sign, "/twilio/sms", {"From": sender, "Body": "Please stop, my passport is lost"})
    assert REF.search(response.text) is not None


async def test_a_follow_up_quoting_its_reference_from_another_number_joins_that_case(
        client: httpx.AsyncClient, sign: Sign, pool: asyncpg.Pool) -> None:
    first, other = moroccan_mobile(), moroccan_mobile()
    opened = await post(client, sign, "/twilio/sms", {"From": first, "Body": "Mon passeport est volé"})
    reference = REF.search(opened.text).group(0)  # type: ignore[union-attr]
    # The other number has an open case of its own: the quoted reference wins over it.
    own = REF.search((await post(client, sign, "/twilio/sms", {"From": other, "Body": "Help, accident"})).text)
    assert own is not None and own.group(0) != reference
    typed = reference.replace("-", " ").lower()  # "be 2026 000123", as typed on a phone
    reply = await post(client, sign, "/twilio/sms", {"From": other, "Body": f"C'est sa sœur, dossier {typed}",
                                                       "MessageSid": sid("SM")})
    assert reference in reply.text
    inbound = await pool.fetch("SELECT body FROM messages WHERE reference = $1 AND direction = 'in'", reference)
    assert [r["body"] for r in inbound][-1] == f"C'est sa sœur, dossier {typed}"
    note = await pool.fetchval("SELECT note FROM status_history WHERE reference = $1 ORDER BY id DESC LIMIT 1",
                               reference)
    assert "another number" in note
    assert await pool.fetchval("SELECT count(*) FROM messages WHERE reference = $1 AND direction = 'in'",
                               own.group(0)) == 1  # only its own first message


async def test_a_quoted_reference_that_does_not_exist_falls_back_to_the_sender(
        client: httpx.AsyncClient, sign: Sign) -> None:
    sender = moroccan_mobile()
    opened = REF.search((await post(client, sign, "/twilio/sms", {"From": sender, "Body": "Passport lost"})).text)
    assert opened is not None
    reply = await post(client, sign, "/twilio/sms", {"From": sender, "Body": "about BE-1999-000001, any news?"})
    assert opened.group(0) in reply.text


# --- what the document says ------------------------------------------------------------------------------------

@pytest.mark.parametrize(("path", "params", "status"), [
    ("/twilio/sms", {"Body": "help"}, 422),  # no sender
    ("/twilio/sms", {"From": "ACME", "Body": "help"}, 422),  # an alphanumeric sender: no case answers it by SMS
    ("/twilio/voice/menu?lang=xx", {"Digits": "1"}, 422),  # only the languages of the voice line
    ("/twilio/voice/language?lang=xx", {}, 422),
    ("/twilio/voice/dial?lang=nl&attempt=-1", {"DialCallStatus": "no-answer"}, 422),
    ("/twilio/voice/dial?lang=nl&attempt=10", {"DialCallStatus": "no-answer"}, 422),
    ("/twilio/voice/dial?lang=nl&attempt=9", {"DialCallStatus": "no-answer"}, 200),  # past the targets: voicemail
    ("/twilio/voice/recorded?lang=de", {"From": "anonymous"}, 200),
])
async def test_webhooks_answer_what_their_document_says(client: httpx.AsyncClient, sign: Sign, path: str,
                                                        params: dict[str, str], status: int) -> None:
    from tests.fuzz.openapi_harness import undocumented

    operation = (await client.get("/openapi.json")).json()["paths"][path.split("?")[0]]["post"]
    response = await post(client, sign, path, params)
    assert response.status_code == status, response.text
    assert undocumented(operation["responses"], response.status_code, response.headers.get("content-type"),
                        response.content) is None
    if status == 422:
        assert response.json()["detail"][0]["field"] in ("From", "lang", "attempt")
