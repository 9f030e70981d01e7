"""Issue 21: a case's history records the text the person is sent. Intake renders the notifier's template
(shared/notifications) with the template, language, params and channel of the command it puts in the outbox, and
the notifier, storing that very command (read back from the outbox as it reads it), renders the same words; a letter
prints the template's e-mail subject and text."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from services.intake import opening, reading
from services.intake.adapters.officer_cache import OfficerCache
from services.intake.bootstrap import intake_config
from services.intake.domain.acknowledgement import AckChannel, Destination
from services.intake.domain.model import Language, ReportIn
from services.intake.domain.officers import Officer
from services.intake.handlers import IntakeConfig
from services.intake.messages import prepare_message
from services.intake.settings import Settings
from services.notifier.handlers import Publisher, accept_command
from shared.events.envelope import decode
from shared.events.notifications import SendNotification
from shared.events.registry import parse_data
from shared.notifications.rendering import Renderer
from tests.intake.conftest import Clock
from tests.support import auth, drop_schema, new_pool, new_schema

DUTY = auth("duty_officer")
RECEIVED = datetime(2026, 3, 10, 9, 30, tzinfo=UTC)


@pytest.fixture(scope="module")
async def notifier_pool() -> AsyncIterator[asyncpg.Pool]:
    schema = await new_schema("notifier")
    pool = await new_pool(schema)
    yield pool
    await pool.close()
    await drop_schema(schema)


def report(channel: str, language: str, *, phone: bool = True, **overrides: Any) -> ReportIn:
    reporter: dict[str, Any] = {"full_name": "Reporter Sent", "language": language, "channel": channel,
                                "email": "sent@example.org"}
    if phone:
        reporter["phone"] = "+32470" + str(uuid.uuid4().int)[:6]
    if channel == "post":
        reporter["address"] = "Rue de la Loi 15, 1040 Bruxelles"
    return ReportIn.model_validate({"kind": "lost_document", "reporter": reporter,
                                    "location": {"country": "MA", "city": "Fès"}, "description": "Passeport volé",
                                    **overrides})


async def submit(pool: asyncpg.Pool, settings: Settings, body: ReportIn) -> str:
    submitted = await opening.submit_report(body, pool=pool, officers=OfficerCache(ttl_seconds=0),
                                            config=intake_config(settings), actor="tester", received_at=RECEIVED)
    return submitted.reference


async def sent(pool: asyncpg.Pool, settings: Settings, reference: str) -> list[tuple[dict[str, Any], SendNotification]]:
    """Each outgoing line of the case's history with the command queued for it, as the notifier will read it."""
    rows = await pool.fetch("SELECT payload FROM outbox WHERE topic = $1 ORDER BY id",
                            settings.topic("notifications.commands"))
    commands = {}
    for row in rows:
        data = parse_data(decode(bytes(row["payload"])))
        assert isinstance(data, SendNotification)
        if data.case_reference == reference:
            commands[data.notification_id] = data
    lines = await pool.fetch("SELECT * FROM messages WHERE reference = $1 AND direction = 'out' ORDER BY id",
                             reference)
    assert lines and all(line["notification_id"] in commands for line in lines)
    return [(dict(line), commands[line["notification_id"]]) for line in lines]


async def the_notifier_sends(notifier_pool: asyncpg.Pool, command: SendNotification) -> str:
    async with notifier_pool.acquire() as conn, conn.transaction():
        assert await accept_command(conn, command, renderer=Renderer(), publisher=Publisher(), now=RECEIVED)
        body = await conn.fetchval("SELECT body FROM notifications WHERE notification_id = $1",
                                   command.notification_id)
    return str(body)


def rendered(command: SendNotification) -> str:
    return Renderer().render(command.template, command.language, command.params,
                             channel=command.channel).body(command.channel)


@pytest.mark.parametrize(("channel", "language", "overrides", "template", "sent_by", "marker"), [
    ("email", "nl", {}, "case_acknowledgement", "email", "25 maart 2026"),
    ("sms", "fr", {}, "case_acknowledgement", "sms", "25 mars 2026"),
    ("web", "de", {"complex": True}, "case_acknowledgement", "email", "komplex"),
    ("sms", "en", {"kind": "information_request", "forward_to": "FPS Finance"}, "case_forward_notice", "sms",
     "a matter for FPS Finance"),
])
async def test_the_history_records_what_the_notifier_sends(
        pool: asyncpg.Pool, settings: Settings, notifier_pool: asyncpg.Pool, channel: str, language: str,
        overrides: dict[str, Any], template: str, sent_by: str, marker: str) -> None:
    reference = await submit(pool, settings, report(channel, language, **overrides))
    [(line, command)] = await sent(pool, settings, reference)
    assert command.template == template and command.channel == sent_by == line["channel"]
    assert command.language == language
    assert line["body"] == rendered(command)
    assert line["body"] == await the_notifier_sends(notifier_pool, command)
    assert reference in line["body"] and marker in line["body"]
    assert line["body"].count(command.params["officer"]["email"]) == 1  # signed once, by the template


async def test_a_letter_prints_the_templates_subject_and_text(pool: asyncpg.Pool, settings: Settings) -> None:
    reference = await submit(pool, settings, report("post", "fr"))
    case = await reading.get_case(reference, pool=pool)
    letter = await pool.fetchrow("SELECT * FROM print_queue WHERE reference = $1", reference)
    [line] = await pool.fetch("SELECT * FROM messages WHERE reference = $1 AND direction = 'out'", reference)
    expected = Renderer().render("case_acknowledgement", "fr", {
        "reference": reference, "officer": case["officer"], "reply_due_by": date(2026, 4, 9).isoformat()},
        channel="email")
    assert line["channel"] == "letter" and line["body"] == letter["body"] == expected.text
    assert letter["subject"] == expected.subject and reference in letter["subject"]
    assert "9 avril 2026" in letter["body"]


@pytest.mark.parametrize("phone", [True, False])
async def test_an_officers_reply_and_the_survey_as_sent(
        client: httpx.AsyncClient, pool: asyncpg.Pool, settings: Settings, notifier_pool: asyncpg.Pool,
        phone: bool) -> None:
    """The survey (`survey_request`) asks by SMS (answered 1-5) when there is a phone, else sends its link by
    e-mail."""
    reference = await submit(pool, settings, report("email", "nl", phone=phone))
    response = await client.post(f"/v1/reports/{reference}/messages", json={"body": "Uw paspoort is klaar."},
                                 headers=DUTY)
    assert response.status_code == 200, response.text
    assert (await client.post(f"/v1/reports/{reference}/close", json={}, headers=DUTY)).status_code == 200
    lines = await sent(pool, settings, reference)
    assert [line["purpose"] for line, _ in lines] == ["acknowledgement", "reply-1", "survey"]
    for line, command in lines:
        assert line["body"] == rendered(command) == await the_notifier_sends(notifier_pool, command)
    (_, _), (reply, reply_command), (survey, survey_command) = lines
    assert reply_command.params["message"] == "Uw paspoort is klaar." and "Uw paspoort is klaar." in reply["body"]
    assert reply["body"].count(reply_command.params["officer"]["email"]) == 1
    assert survey_command.template == "survey_request" and survey["channel"] == ("sms" if phone else "email")
    assert survey_command.params.get("survey_url", "1 (helemaal niet)") in survey["body"]
    assert ("survey_url" in survey_command.params) is not phone  # the SMS asks, it gives no link


async def test_the_provisional_reply_and_the_forward_as_sent(
        client: httpx.AsyncClient, pool: asyncpg.Pool, settings: Settings, notifier_pool: asyncpg.Pool,
        clock: Clock) -> None:
    """Issue 21 (item 5): the provisional reply, the forward notice and the request sent to the service are templates
    of their own, worded by the notifier's templates from typed params; the history holds the very words sent."""
    reference = await submit(pool, settings, report("sms", "fr", kind="information_request"))
    clock.at = RECEIVED + timedelta(days=1)
    try:
        provisional = await client.post(f"/v1/reports/{reference}/provisional-reply", headers=DUTY,
                                        json={"expected_by": "2026-05-04", "body": "Nous attendons la préfecture."})
        assert provisional.status_code == 200, provisional.text
        forwarded = await client.post(f"/v1/reports/{reference}/forward", headers=DUTY,
                                      json={"service": "SPF Finances", "contact": "contact@finances.example"})
        assert forwarded.status_code == 200, forwarded.text
    finally:
        clock.at = datetime.now(UTC)
    lines = await sent(pool, settings, reference)
    assert [(line["purpose"], command.template, command.channel) for line, command in lines] == [
        ("acknowledgement", "case_acknowledgement", "sms"),
        ("provisional_reply-1", "case_provisional_reply", "sms"),
        ("forward_notice-1", "case_forward_notice", "sms"),
        ("forward_notice-1-service", "case_forwarded_request", "email")]
    for line, command in lines:
        assert line["body"] == rendered(command) == await the_notifier_sends(notifier_pool, command)
        assert reference in line["body"] and line["body"].count(command.params["officer"]["email"]) == 1
    (_, _), (reply, _), (notice, _), (request, request_command) = lines
    assert "Nous attendons la préfecture." in reply["body"] and "au plus tard le 4 mai 2026" in reply["body"]
    assert "Votre demande relève de SPF Finances" in notice["body"]
    assert request_command.recipient.email == "contact@finances.example" and "Passeport volé" in request["body"]


def test_an_sms_about_a_case_names_no_email_so_it_is_never_rerouted() -> None:
    """The notifier sends an own-case SMS to an opted-out number by e-mail when the command names an address
    (services/notifier/domain/policy.py `route`); intake's commands name only the channel's own address, so an SMS is
    sent as the SMS the history records (or ends opted_out), never as an e-mail the history would not hold."""
    officer = Officer(officer_id=1, name="Anne Peeters", role="Consular officer", phone="+3225018111",
                      email="anne@example.be")
    outgoing = prepare_message(reference="BE-2026-000123", purpose="reply-1", template="case_message",
                               to=Destination(channel=AckChannel.SMS, to="+32470123456", language=Language.FR),
                               params={"reference": "BE-2026-000123", "message": "Votre passeport est prêt."},
                               officer=officer, recipient_name="Jan", config=IntakeConfig(source="/tests"))
    [row] = outgoing.outbox
    command = parse_data(decode(row.payload))
    assert isinstance(command, SendNotification) and command.channel == "sms"
    assert command.recipient.email is None and command.recipient.phone == "+32470123456"
    assert outgoing.message["body"] == rendered(command) == Renderer().render(
        "case_message", "fr", command.params, channel="sms").sms
