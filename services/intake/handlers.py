"""Intake's use cases as plain `async def`s with explicit keyword dependencies; no FastAPI, Kafka or Twilio here.

Every state change and the events or commands it causes commit in one transaction (outbox).
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

import asyncpg
import phonenumbers
from pydantic import ValidationError

from services.intake import families
from services.intake.adapters import people, repository
from services.intake.adapters.officer_cache import OfficerCache
from services.intake.adapters.outbox_rows import OutboxRow, outbox_row
from services.intake.domain import texts
from services.intake.domain.acknowledgement import AckChannel, Destination, Unreachable, ack_channel, destination
from services.intake.domain.charter import answered_from, charter_view
from services.intake.domain.check_in import CheckInText, crises_with_areas, locate, parse_check_in
from services.intake.domain.clocks import CaseClocks, ClockEvent, case_clocks, schedule
from services.intake.domain.model import Channel, Kind, Language, Reporter, ReportIn, Status
from services.intake.domain.officers import Officer, choose_officer, needs_handover
from services.intake.domain.reference import format_reference, reference_year
from services.intake.domain.sensitive import SENSITIVE_KINDS, open_row, seal_row
from services.intake.domain.sms import appended_reply, classify, keyword_language, new_case_reply, quoted_reference
from services.intake.domain.survey import parse_answer, survey_question
from services.intake.domain.welfare import WelfareAnswer, read_answer, words
from shared.crypto import FieldCipher
from shared.events.crisis import CrisisActivated, CrisisClosed, CrisisUpdated
from shared.events.deadlines import DeadlineApproaching, DeadlineMissed
from shared.events.directory import CaseRouted
from shared.events.envelope import CloudEvent
from shared.events.notifications import (
    NotificationStatus,
    OfficerCard,
    Recipient,
    SendNotification,
    SmsPreference,
    notification_id_for,
    template_params,
)
from shared.events.reports import ReportSubmitted
from shared.events.travellers import TravellerCancelled, TravellerRegistered
from shared.events.welfare import CHECK_IN_PREFIX, AnswerChannel, WelfareAnswered, WelfareAsked, WelfareReplied
from shared.gazetteer import Gazetteer
from shared.geo import Point
from shared.kafka.outbox import enqueue, enqueue_many
from shared.logging import get_logger
from shared.notifications.rendering import default_renderer
from shared.sms_keywords import Keyword
from shared.sms_keywords import classify as sms_keyword
from shared.sms_keywords import normalise as normalise_keyword

log = get_logger(__name__)

UNKNOWN_NAME = "(unknown)"
_DEADLINE_NAMESPACE = uuid.UUID("2b0f6c64-1d57-4b8e-9f0e-6a7c4d2e9b31")
_PREFERENCE_NAMESPACE = uuid.UUID("9d3e51a2-7c44-4f0b-8a6e-2f5b1c0d7e93")
_WELFARE_NAMESPACE = uuid.UUID("c3a1f9e2-6b7d-4c58-8e0f-7a2b9d4e1c36")


@dataclass(frozen=True)
class IntakeConfig:
    """What the use cases need from the settings."""

    source: str
    topic_prefix: str = ""
    complex_reply_days: int = 60
    survey_link_base: str = "http://127.0.0.1:8001/public/survey"
    cipher: FieldCipher | None = None
    """Seals the sensitive fields of new cases (domain/sensitive.py); None only in tests of other rules."""
    check_ins_per_hour: int = 5
    check_in_stay_days: int = 14


class IdempotencyConflict(Exception):
    """The same Idempotency-Key came with a different body."""


class CaseNotFound(LookupError):
    pass


@dataclass(frozen=True)
class Submitted:
    reference: str
    created: bool
    view: dict[str, Any] | None = None
    """The case as the API answers, when it was just created (no second read)."""


def request_hash(report: ReportIn) -> str:
    return hashlib.sha256(report.model_dump_json().encode()).hexdigest()


async def submit_report(
    report: ReportIn,
    *,
    pool: asyncpg.Pool,
    officers: OfficerCache,
    config: IntakeConfig,
    actor: str,
    idempotency_key: str | None = None,
    received_at: datetime | None = None,
) -> Submitted:
    """Open a case from `POST /v1/reports`; the same idempotency key (per caller) returns the same case.

    Two round trips: the key lookup with a fresh case number, then one statement writing the case, its events
    and the key. Two concurrent requests with one key: the second statement fails on the key, writes nothing,
    and the request answers with the first one's case.
    """
    received_at = received_at or datetime.now(UTC)
    year = reference_year(received_at)
    async with pool.acquire() as conn:
        if idempotency_key:
            digest = request_hash(report)
            known, number = await repository.idempotent_or_number(conn, actor, idempotency_key, year)
            if known is not None:
                return _replay(known, digest)
        else:
            digest, number = "", await repository.next_number(conn, year)
        try:
            opened = await open_case(conn, report, officers=officers, config=config, actor=actor,
                                     received_at=received_at, number=number,
                                     idempotency=(actor, idempotency_key, digest) if idempotency_key else None)
        except asyncpg.UniqueViolationError:
            if not idempotency_key:
                raise
            known = await repository.idempotent_reference(conn, actor, idempotency_key)
            if known is None:
                raise
            return _replay(known, digest)
    return Submitted(opened.reference, created=True, view=opened.view)


def _replay(known: tuple[str, str], digest: str) -> Submitted:
    if known[0] != digest:
        raise IdempotencyConflict("the key was used with a different body")
    return Submitted(known[1], created=False)


@dataclass(frozen=True)
class Opened:
    reference: str
    view: dict[str, Any]


async def open_case(
    conn: asyncpg.Connection,
    report: ReportIn,
    *,
    officers: OfficerCache,
    config: IntakeConfig,
    actor: str,
    received_at: datetime,
    source: str | None = None,
    external_id: str | None = None,
    inbound: tuple[str, str, str | None] | None = None,
    note: str | None = None,
    number: int | None = None,
    idempotency: tuple[str, str, str] | None = None,
) -> Opened:
    """Create the case with its clocks, its acknowledgement and its `report.submitted` event, in one statement.

    `inbound` is the message that opened the case: (channel, body, provider id); `number` a case number already
    taken from this year's sequence.
    """
    year = reference_year(received_at)
    reference = format_reference(year, number) if number is not None else await repository.next_reference(conn, year)
    forwarded = report.forward_to is not None
    clocks = case_clocks(received_at=received_at, channel=report.reporter.channel, kind=report.kind,
                         complex_case=report.complex, forwarded=forwarded,
                         complex_reply_days=config.complex_reply_days)
    officer = await officers.assign(conn, kind=report.kind, post_id=None)
    reporter = report.reporter
    status = Status.FORWARDED if forwarded else Status.RECEIVED
    write = repository.CaseWrite(report=seal_row({
        "reference": reference, "kind": report.kind.value, "status": status.value,
        "channel": reporter.channel.value, "language": reporter.language.value,
        "reporter": reporter.model_dump(mode="json", exclude_none=True), "reporter_phone": reporter.phone,
        "subject": report.subject.model_dump(mode="json", exclude_none=True) if report.subject else None,
        "location": report.location.model_dump(mode="json", exclude_none=True),
        "description": report.description, "occurred_at": report.occurred_at, "complex": report.complex,
        "forward_to": report.forward_to, "received_at": received_at, "reply_due_by": clocks.reply.due_by,
        "provisional_reply_due_by": clocks.provisional_reply.due_by if clocks.provisional_reply else None,
        "forward_due_by": clocks.forward_notice.due_by if clocks.forward_notice else None,
        "officer_id": officer.officer_id, "source": source or config.source, "external_id": external_id,
    }, config.cipher), idempotency=idempotency)
    # The acknowledgement goes out now: for a complex case it is the provisional reply (stating the expected
    # delay), for a forwarded request it is the notice; those deadlines are met at receipt, the reply is not.
    write.deadlines = [] if forwarded else schedule(CaseClocks(reply=clocks.reply))
    write.history.append((Status.RECEIVED.value, actor, note))
    if forwarded:
        write.history.append((Status.FORWARDED.value, actor, f"forwarded to {report.forward_to}"))
    if inbound is not None:
        channel, body, provider_id = inbound
        write.messages.append({"direction": "in", "channel": channel, "status": "received", "body": body,
                               "provider_id": provider_id})
    if _acknowledge(write, report, reference=reference, clocks=clocks, officer=officer, config=config):
        # The notice of a forward, the provisional reply of a complex case: the charter's clock answered at receipt.
        write.report["answered_by"] = ("forward" if forwarded else
                                       "provisional_reply" if clocks.provisional_reply is not None else None)
    write.outbox.append(outbox_row(_submitted(report, reference=reference, received_at=received_at,
                                              report_id=external_id),
                                   source=config.source, topic_prefix=config.topic_prefix))
    await repository.insert_case(conn, write)
    if report.kind is Kind.MISSING_PERSON:
        await families.open_inquiry(conn, report, reference=reference, crisis_id=await _crisis_at(conn, report),
                                    source=config.source, topic_prefix=config.topic_prefix)
    log.info("case_opened", reference=reference, kind=report.kind.value, channel=reporter.channel.value,
             officer_id=officer.officer_id)
    view = {"reference": reference, "status": status.value, "kind": report.kind.value, "received_at": received_at,
            "reply_due_by": clocks.reply.due_by,
            "provisional_reply_due_by": clocks.provisional_reply.due_by if clocks.provisional_reply else None,
            "officer": officer.card().as_dict(), "post": None}
    return Opened(reference, view)


async def _crisis_at(conn: asyncpg.Connection, report: ReportIn) -> str | None:
    """The active crisis whose area holds the report's place (its point, else its country; the latest of two),
    if any."""
    location = report.location
    point = Point(location.lat, location.lon) if location.lat is not None and location.lon is not None else None
    crises = crises_with_areas(await repository.crisis_areas(conn))
    found = ([c for c in crises if c.area.contains(point, location.country)]
             or [c for c in crises if c.area.country == location.country])
    return found[-1].crisis_id if found else None


def _submitted(report: ReportIn, *, reference: str, received_at: datetime, report_id: str | None) -> ReportSubmitted:
    body = report.model_dump(mode="json", exclude_none=True, exclude={"forward_to"})
    body["reporter"].pop("address", None)
    return ReportSubmitted.model_validate({**body, "reference": reference, "report_id": report_id,
                                           "received_at": received_at, "channel": report.reporter.channel.value})


def _acknowledge(write: repository.CaseWrite, report: ReportIn, *, reference: str, clocks: CaseClocks,
                 officer: Officer, config: IntakeConfig) -> bool:
    """Queue the acknowledgement; False when the reporter cannot be reached."""
    reporter = report.reporter
    try:
        channel = ack_channel(reporter.channel, phone=reporter.phone, email=reporter.email, address=reporter.address)
    except Unreachable:
        write.history.append((write.report["status"], "intake", "no way to acknowledge"))
        return False
    to = destination(channel, reporter.language, phone=reporter.phone, email=reporter.email,
                     address=reporter.address)
    # `case_acknowledgement` states the reply date (for a complex case, the expected delay too: that acknowledgement
    # is the provisional reply); the notice of a forward is a `case_message`.
    params: dict[str, Any]
    if report.forward_to is not None:
        purpose, template = "forward_notice", "case_message"
        params = {"reference": reference, "message": forward_text(reporter.language, reference=reference,
                                                                  service=report.forward_to)}
    else:
        provisional = clocks.provisional_reply
        purpose = "provisional_reply" if provisional is not None else "acknowledgement"
        template, params = "case_acknowledgement", {
            "reference": reference, "reply_due_by": clocks.reply.due_date.isoformat(),
            "provisional_reply_due_by": provisional.due_date.isoformat() if provisional is not None else None}
    outgoing = prepare_message(reference=reference, purpose=purpose, template=template, to=to, params=params,
                               officer=officer, recipient_name=reporter.full_name, config=config)
    write.messages.append(outgoing.message)
    write.letters.extend(outgoing.letters)
    write.outbox.extend(outgoing.outbox)
    return True


@dataclass(frozen=True)
class Outgoing:
    message: dict[str, Any]
    letters: list[dict[str, Any]]
    outbox: list[OutboxRow]


def forward_text(language: Language, *, reference: str, service: str) -> str:
    """The notice of a forward, the `message` of its `case_message` (the template adds the officer's card)."""
    return texts.render(texts.FORWARD_BODY, language, reference=reference, service=service)


def prepare_message(*, reference: str, purpose: str, template: str, to: Destination, params: dict[str, Any],
                    officer: Officer, recipient_name: str, config: IntakeConfig) -> Outgoing:
    """A letter for the print queue, or a command to the notifier; either way a line in the case's history.
    `params` are the template's (shared/events/notifications.py TEMPLATE_PARAMS) but for the officer's card, added
    here (a template that does not show it drops it). The history's body is the template rendered as the notifier
    renders the command (its SMS text, or its e-mail's text); a letter prints the e-mail's subject and text."""
    card = officer.card().as_dict()
    full_purpose = f"case:{reference}:{purpose}"
    if to.channel is AckChannel.LETTER:
        rendered = default_renderer().render(template, to.language.value,
                                             template_params(template, {"officer": card, **params}), channel="email")
        letter = {"purpose": full_purpose, "language": to.language.value, "address": to.to,
                  "subject": rendered.subject, "body": rendered.text, "officer": card}
        return Outgoing(message={"direction": "out", "channel": "letter", "purpose": purpose, "body": rendered.text,
                                 "officer": card, "status": "queued"}, letters=[letter], outbox=[])
    notification_id = notification_id_for(full_purpose, to.channel.value, to.to)
    name = None if recipient_name == UNKNOWN_NAME else recipient_name
    recipient = Recipient(name=name, phone=to.to if to.channel is AckChannel.SMS else None,
                          email=to.to if to.channel is AckChannel.EMAIL else None)
    channel: Literal["sms", "email"] = "sms" if to.channel is AckChannel.SMS else "email"
    command = SendNotification(
        notification_id=notification_id, purpose=full_purpose, channel=channel, recipient=recipient,
        language=to.language.value, template=template, params={"officer": card, **params}, priority="case",
        case_reference=reference, officer=OfficerCard(**card))
    return Outgoing(message={"direction": "out", "channel": channel, "purpose": purpose,
                             "notification_id": notification_id, "body": as_sent(command), "officer": card,
                             "status": "queued"},
                    letters=[], outbox=[outbox_row(command, source=config.source, topic_prefix=config.topic_prefix)])


def as_sent(command: SendNotification) -> str:
    """The text the notifier sends for `command`: its template, language and params rendered for its channel."""
    return default_renderer().render(command.template, command.language, command.params,
                                     channel=command.channel).body(command.channel)


async def send_case_message(conn: asyncpg.Connection, *, reference: str, purpose: str, template: str,
                            to: Destination, params: dict[str, Any], officer: Officer, recipient_name: str,
                            config: IntakeConfig) -> str:
    """Queue a message about an existing case (caller's transaction): letter, or command through the outbox.
    Returns the text recorded in the history (what is sent)."""
    outgoing = prepare_message(reference=reference, purpose=purpose, template=template, to=to, params=params,
                               officer=officer, recipient_name=recipient_name, config=config)
    for letter in outgoing.letters:
        await repository.queue_letter(conn, reference=reference, **letter)
    await enqueue_many(conn, outgoing.outbox)
    await repository.add_message(conn, reference=reference, **outgoing.message)
    return str(outgoing.message["body"])


# --- reading -------------------------------------------------------------------------------------------------

def case_view(row: dict[str, Any]) -> dict[str, Any]:
    """The case as `POST /v1/reports` answers it."""
    return {
        "reference": row["reference"], "status": row["status"], "kind": row["kind"],
        "received_at": row["received_at"], "reply_due_by": row["reply_due_by"],
        "provisional_reply_due_by": row["provisional_reply_due_by"],
        "officer": {"name": row["officer_name"], "role": row["officer_role"], "phone": row["officer_phone"],
                    "email": row["officer_email"]},
        "post": row["post"], "crisis_id": row.get("crisis_id"), "attention": row.get("attention"),
    }


@dataclass(frozen=True)
class Reader:
    """Who reads a case, for the read audit of detention and missing-person cases."""

    subject: str
    roles: tuple[str, ...]


#: History entries and messages shown with a case at most (the latest ones): a long case pages back for the rest.
CASE_LIST_DEFAULT, CASE_LIST_MAX = 200, 1000


@dataclass(frozen=True)
class CasePage:
    """How much of a case's history and messages to show: the latest `limit` of each, before the given ids."""

    limit: int = CASE_LIST_DEFAULT
    history_before: int | None = None
    messages_before: int | None = None


async def get_case(reference: str, *, pool: asyncpg.Pool, details: bool = True, cipher: FieldCipher | None = None,
                   reader: Reader | None = None, now: datetime | None = None,
                   page: CasePage | None = None) -> dict[str, Any]:
    """The case; with `details`, in clear, and a read of a detention or missing-person case is recorded."""
    page = page or CasePage()
    async with pool.acquire() as conn:
        row = await repository.report(conn, reference)
        if row is None:
            raise CaseNotFound(reference)
        view = case_view(row)
        if details:
            row = open_row(row, cipher)
            if reader is not None and row["kind"] in SENSITIVE_KINDS:
                await repository.record_read(conn, reference=reference, kind=row["kind"], actor=reader.subject,
                                             roles=list(reader.roles))
            view.update({
                "channel": row["channel"], "language": row["language"], "reporter": row["reporter"],
                "subject": row["subject"], "location": row["location"], "description": row["description"],
                "occurred_at": row["occurred_at"], "complex": row["complex"], "forward_to": row["forward_to"],
                "forward_due_by": row["forward_due_by"], "closed_at": row["closed_at"],
                **_paged("history", await repository.history(conn, reference, limit=page.limit + 1,
                                                              before=page.history_before), page.limit),
                **_paged("messages", await repository.messages(conn, reference, limit=page.limit + 1,
                                                                before=page.messages_before), page.limit),
                "matches": await _matches(conn, reference) if row["kind"] == Kind.MISSING_PERSON.value else [],
                "charter": charter_view(
                    reply_due_by=row["reply_due_by"], now=now or datetime.now(UTC),
                    answered=answered_from(row["answered_by"], row["answered_at"], row["answered_on_time"])),
            })
        return view


def _paged(name: str, rows: list[dict[str, Any]], limit: int) -> dict[str, Any]:
    """`rows` (oldest first, one more than `limit` asked for) as `name` and `<name>_next_before`: the id to page
    back from, or None when there is nothing older."""
    more = len(rows) > limit
    kept = rows[1:] if more else rows  # the extra row is the oldest
    return {name: kept, f"{name}_next_before": kept[0]["id"] if more else None}


async def _matches(conn: asyncpg.Connection, reference: str) -> list[dict[str, Any]]:
    sought = await people.sought_of_case(conn, reference)
    return [families.match_view(m) for m in await people.matches(conn, sought["sought_id"])] if sought else []


# --- closing and the satisfaction survey ---------------------------------------------------------------------

async def close_case(reference: str, *, pool: asyncpg.Pool, officers: OfficerCache, config: IntakeConfig,
                     actor: str, note: str | None = None) -> None:
    """Close a case, stop its clocks, and send the satisfaction survey (SMS 1-5, else a link by email)."""
    async with pool.acquire() as conn, conn.transaction():
        row = await repository.report(conn, reference)
        if row is None:
            raise CaseNotFound(reference)
        if row["status"] == Status.CLOSED.value:
            return
        await repository.add_status(conn, reference, Status.CLOSED.value, actor=actor, note=note)
        await repository.cancel_deadlines(conn, reference)
        await families.close_inquiry(conn, reference, source=config.source, topic_prefix=config.topic_prefix)
        await conn.execute("UPDATE reports SET attention = NULL WHERE reference = $1", reference)
        officers.released(row["officer_id"])
        reporter = row["reporter"]
        phone, email = reporter.get("phone"), reporter.get("email")
        channel = AckChannel.SMS if phone else AckChannel.EMAIL if email else None
        if channel is None:
            return
        officer = await repository.officer(conn, row["officer_id"])
        assert officer is not None
        language = Language(row["language"])
        token = secrets.token_urlsafe(24)  # the survey page's capability: unguessable, one per case
        link = f"{config.survey_link_base.rstrip('/')}/{token}"
        if await repository.record_survey(conn, reference=reference, channel=channel.value, phone=phone,
                                          token=token):
            # by SMS the question asks for a digit 1-5 (answered through /twilio/sms); by email, a link
            template, params = (("case_message", {"reference": reference,
                                                  "message": survey_question(language, reference=reference)})
                                if channel is AckChannel.SMS
                                else ("survey_request", {"reference": reference, "survey_url": link}))
            await send_case_message(conn, reference=reference, purpose="survey", template=template,
                                    to=destination(channel, language, phone=phone, email=email), params=params,
                                    officer=officer, recipient_name=reporter.get("full_name", UNKNOWN_NAME),
                                    config=config)


# --- Twilio: SMS and voicemail -------------------------------------------------------------------------------

def country_of(phone: str, hint: str | None = None) -> str:
    """Where a caller probably is: Twilio's FromCountry when given, else the number's country, else Belgium."""
    if hint and len(hint) == 2 and hint.isalpha():
        return hint.upper()
    try:
        region = phonenumbers.region_code_for_number(phonenumbers.parse(phone, None))
    except phonenumbers.NumberParseException:
        region = None
    return region if region and region != "ZZ" else "BE"


async def traveller_registration(data: TravellerRegistered | TravellerCancelled, conn: asyncpg.Connection, *,
                                 config: IntakeConfig) -> None:
    """Keep where each registered traveller stays (a newer registration replaces the older one), and look for
    the families' inquiries the traveller might answer."""
    if isinstance(data, TravellerCancelled):
        await conn.execute("DELETE FROM registered_travellers WHERE traveller_id = $1", data.traveller_id)
        await families.forget(conn, data.traveller_id)
        return
    location = data.location
    await conn.execute(
        "INSERT INTO registered_travellers (traveller_id, phone, language, country, city, lat, lon, departure)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (traveller_id) DO UPDATE SET phone = $2,"
        " language = $3, country = $4, city = $5, lat = $6, lon = $7, departure = $8, updated_at = now()",
        data.traveller_id, data.phone, data.language, data.country, data.city,
        location.lat if location else None, location.lon if location else None, data.departure)
    await families.learn(conn, person_id=data.traveller_id, full_name=data.full_name, phone=data.phone,
                         country=data.country, place=", ".join(p for p in (data.city, data.country) if p),
                         source=config.source, topic_prefix=config.topic_prefix)


async def registration_tombstone(topic: str, key: str, conn: asyncpg.Connection | None) -> None:
    """A tombstone on `travellers.registrations` (erasure, retention, compaction) removes the registration."""
    if topic == "travellers.registrations" and conn is not None:
        await conn.execute("DELETE FROM registered_travellers WHERE traveller_id = $1", key)
        await families.forget(conn, key)


async def whereabouts(conn: asyncpg.Connection, phone: str, *, today: date) -> dict[str, Any] | None:
    """Where a registered traveller with this phone stays now (the latest registration), if anywhere."""
    row = await conn.fetchrow(
        "SELECT country, city, lat, lon FROM registered_travellers WHERE phone = $1 AND departure >= $2"
        " ORDER BY updated_at DESC LIMIT 1", phone, today)
    if row is None:
        return None
    return {k: v for k, v in dict(row).items() if v is not None}


def _unknown_reporter_report(*, kind: Kind, phone: str, language: Language, channel: Channel,
                             country: str | dict[str, Any], description: str) -> ReportIn:
    """A report from a caller we only know by number. Twilio's `From` is E.164 already; a number `phonenumbers`
    does not know yet (a new range) is kept as Twilio gave it rather than losing the distress call."""
    location = country if isinstance(country, dict) else {"country": country}
    body = {"kind": kind, "description": description or "(empty message)", "location": location,
            "reporter": {"full_name": UNKNOWN_NAME, "phone": phone, "language": language, "channel": channel}}
    try:
        return ReportIn.model_validate(body)
    except ValidationError:
        reporter = Reporter.model_construct(full_name=UNKNOWN_NAME, phone=phone, email=None, address=None,
                                            language=language, channel=channel)
        return ReportIn.model_validate({**body, "reporter": reporter})


async def inbound_sms(*, sender: str, body: str, message_sid: str | None, from_country: str | None,
                      pool: asyncpg.Pool, officers: OfficerCache, config: IntakeConfig) -> str:
    """An SMS in: a survey answer, a message for the sender's open case, or a new case. Returns the reply text."""
    provider_id = f"twilio:{message_sid}" if message_sid else None
    async with pool.acquire() as conn, conn.transaction():
        question = await repository.open_welfare_question(conn, sender, datetime.now(UTC))
        if question is not None and sms_keyword(body) is None:
            # An answer to "are you safe?", never a new distress report; a retried webhook has no second effect
            # (the answer's event id and the case's message both derive from the MessageSid).
            return await _sms_welfare_answer(conn, question, body=body, provider_id=provider_id, sender=sender,
                                             officers=officers, config=config)
        if provider_id:
            seen = await repository.message_by_provider_id(conn, provider_id)
            if seen is not None:  # Twilio retried the webhook: same answer, no second effect
                return _sms_reply(seen["purpose"], Language(seen["language"]), seen["reference"])
        keyword = sms_keyword(body)
        if keyword is not None:  # STOP or START: a preference for the notifier, never a case
            await enqueue(conn, SmsPreference(phone=sender, opted_out=keyword is Keyword.OPT_OUT,
                                              keyword=normalise_keyword(body), at=datetime.now(UTC)),
                          source=config.source, topic_prefix=config.topic_prefix,
                          event_id=str(uuid.uuid5(_PREFERENCE_NAMESPACE, provider_id or f"{sender}|{body}")))
            language = keyword_language(normalise_keyword(body))
            log.info("sms_preference", opted_out=keyword is Keyword.OPT_OUT)
            return texts.render(texts.SMS_OPTED_OUT if keyword is Keyword.OPT_OUT else texts.SMS_OPTED_IN, language)
        survey = await repository.pending_survey_for_phone(conn, sender)
        answer = parse_answer(body)
        if survey is not None and answer is not None:
            await repository.answer_survey(conn, survey["reference"], answer)
            await repository.add_message(conn, reference=survey["reference"], direction="in", channel="sms",
                                         purpose="survey_answer", body=body, status="received",
                                         provider_id=provider_id)
            return texts.render(texts.SURVEY_THANKS, Language(survey["language"]))
        check_in = await _sms_check_in(conn, sender=sender, body=body, provider_id=provider_id, officers=officers,
                                       config=config)
        if check_in is not None:
            return check_in
        quoted = quoted_reference(body)
        case = await repository.case_for_follow_up(conn, quoted) if quoted else None
        if case is not None and case["reporter_phone"] != sender:
            # A follow-up quoting its case from another number (a relative, a new SIM): attached, and flagged.
            await repository.add_history_note(conn, case["reference"], actor="sms",
                                              note=f"follow-up quoting the reference from another number ({sender})")
        case = case or await repository.open_case_for_phone(conn, sender)
        if case is not None:
            await repository.add_message(conn, reference=case["reference"], direction="in", channel="sms",
                                         purpose="follow_up", body=body, status="received", provider_id=provider_id)
            return appended_reply(Language(case["language"]), case["reference"])
        found = classify(body)
        received_at = datetime.now(UTC)
        registered = await whereabouts(conn, sender, today=received_at.date())
        report = _unknown_reporter_report(kind=found.kind, phone=sender, language=found.language,
                                          channel=Channel.SMS, country=registered or country_of(sender, from_country),
                                          description=body)
        opened = await open_case(conn, report, officers=officers, config=config, actor="sms",
                                 received_at=received_at, inbound=("sms", body, provider_id),
                                 note="opened by SMS; located by the sender's registration" if registered
                                 else "opened by SMS; country inferred from the number")
        return new_case_reply(found.language, opened.reference)


async def inbound_email(*, sender: str, sender_name: str | None, subject: str, body: str, message_id: str | None,
                        pool: asyncpg.Pool, officers: OfficerCache, config: IntakeConfig) -> tuple[str, bool]:
    """An email to the consular inbox: joins the case its subject or text quotes, else the sender's open case, else
    opens one (the kind and language read from the words, as for an SMS). Returns (reference, opened)."""
    provider_id = f"email:{message_id}" if message_id else None
    text = f"{subject}\n\n{body}".strip()
    async with pool.acquire() as conn, conn.transaction():
        if provider_id:
            seen = await repository.message_by_provider_id(conn, provider_id)
            if seen is not None:  # the same message delivered twice
                return str(seen["reference"]), False
        quoted = quoted_reference(text)
        case = await repository.case_for_follow_up(conn, quoted) if quoted else None
        if case is None:
            case = await repository.open_case_for_email(conn, sender)
        if case is not None:
            await repository.add_message(conn, reference=case["reference"], direction="in", channel="email",
                                         purpose="follow_up", body=text, status="received", provider_id=provider_id)
            return str(case["reference"]), False
        found = classify(text)
        report = ReportIn.model_validate({
            "kind": found.kind, "description": text[:10_000] or "(empty message)", "location": {"country": "BE"},
            "reporter": {"full_name": (sender_name or "").strip()[:200] or UNKNOWN_NAME, "email": sender,
                         "language": found.language, "channel": Channel.EMAIL}})
        opened = await open_case(conn, report, officers=officers, config=config, actor="email",
                                 received_at=datetime.now(UTC), inbound=("email", text, provider_id),
                                 note="opened by email; the country is to be confirmed")
        return opened.reference, True


async def _sms_welfare_answer(conn: asyncpg.Connection, question: dict[str, Any], *, body: str,
                              provider_id: str | None, sender: str, officers: OfficerCache,
                              config: IntakeConfig) -> str:
    language = Language(question["language"])
    answer = read_answer(body)
    at = datetime.now(UTC)
    reference = await answer_welfare(
        conn, crisis_id=question["crisis_id"], check_id=question["check_id"], person_id=question["person_id"],
        answer=answer, channel="sms", text=body, language=language, phone=sender, email=question["email"],
        crisis_title=question["crisis_title"], at=at, officers=officers, config=config, provider_id=provider_id,
        event_id=str(uuid.uuid5(_WELFARE_NAMESPACE, provider_id or f"{sender}|{at.isoformat()}")))
    hotline = question["hotline_number"]
    if answer == "safe":
        return texts.render(texts.WELFARE_SAFE, language, hotline=hotline)
    if answer == "needs_help":
        return texts.render(texts.WELFARE_HELP, language, reference=reference, hotline=hotline)
    return texts.render(texts.WELFARE_UNCLEAR, language, hotline=hotline)


_GAZETTEER = Gazetteer()  # GeoNames cities, loaded on the first check-in
_CHECK_IN_NAMESPACE = uuid.UUID("e8b2c6d4-0f1a-4b3c-9d7e-5a6f8b9c0d21")
_PLACE_WAIT = timedelta(hours=1)


async def _sms_check_in(conn: asyncpg.Connection, *, sender: str, body: str, provider_id: str | None,
                        officers: OfficerCache, config: IntakeConfig) -> str | None:
    """A check-in during an active crisis by someone not asked (`SAFE Pokhara`), or the place it was waiting for;
    None when the message is neither (it is then a report or a follow-up, as before)."""
    crises = crises_with_areas(await repository.crisis_areas(conn))
    if not crises:
        return None
    now = datetime.now(UTC)
    parsed = parse_check_in(body)
    if parsed is None:
        waiting = await repository.take_waiting_check_in(conn, sender, now - _PLACE_WAIT)
        if waiting is None:
            return None
        parsed = CheckInText(waiting["answer"], Language(waiting["language"]), " ".join(words(body)))
    language, hotline = parsed.language, crises[0].hotline_number
    if await repository.check_ins_in_the_last_hour(conn, sender, now) >= config.check_ins_per_hour:
        log.info("check_in_refused", reason="rate")
        return texts.render(texts.CHECK_IN_TOO_MANY, language, hotline=hotline)
    found = locate(parsed.place, crises, _GAZETTEER) if parsed.place else None
    if found is None:
        await repository.wait_for_place(conn, sender, answer=parsed.answer, language=language.value, at=now)
        log.info("check_in_waiting_for_place", known_place=bool(parsed.place))
        if parsed.place:
            return texts.render(texts.CHECK_IN_NOT_FOUND, language, place=parsed.place[:60])
        return texts.render(texts.CHECK_IN_WHERE, language)
    if found.crisis is None:
        log.info("check_in_outside")
        return texts.render(texts.CHECK_IN_OUTSIDE, language, place=found.place.title(), crisis=crises[0].title,
                            hotline=hotline)
    crisis = found.crisis
    person_id = await repository.registered_traveller_id(conn, sender)
    if person_id is None:  # counted like any registration: the crisis worker merges people by phone number
        person_id = CHECK_IN_PREFIX + str(uuid.uuid5(_CHECK_IN_NAMESPACE, sender))
        await enqueue(conn, TravellerRegistered(
            traveller_id=person_id, full_name=UNKNOWN_NAME, phone=sender, language=language.value,
            country=found.country, city=found.place.title(),
            location={"lat": found.point.lat, "lon": found.point.lon},  # type: ignore[arg-type]
            arrival=now.date(), departure=now.date() + timedelta(days=config.check_in_stay_days)),
            source=f"{config.source}/check-in", topic_prefix=config.topic_prefix)
    reference = await answer_welfare(
        conn, crisis_id=crisis.crisis_id, check_id=None, person_id=person_id, answer=parsed.answer, channel="sms",
        text=body, language=language, phone=sender, email=None, crisis_title=crisis.title, at=now,
        officers=officers, config=config, provider_id=provider_id,
        location={"country": found.country, "city": found.place.title(), "lat": found.point.lat,
                  "lon": found.point.lon},
        event_id=str(uuid.uuid5(_WELFARE_NAMESPACE, f"check-in:{provider_id or sender + now.isoformat()}")))
    log.info("check_in", crisis_id=crisis.crisis_id, answer=parsed.answer, reference=reference)
    if reference is not None:
        return texts.render(texts.WELFARE_HELP, language, reference=reference, hotline=crisis.hotline_number)
    return texts.render(texts.CHECK_IN_SAFE, language, crisis=crisis.title, hotline=crisis.hotline_number)


async def voice_welfare_answer(*, phone: str, digits: str, call_sid: str | None, pool: asyncpg.Pool,
                               officers: OfficerCache, config: IntakeConfig) -> tuple[str, Language] | None:
    """A key pressed on the welfare call to `phone`: the answer to its open question. Returns what to say, or
    None when the number has no open question (the crisis closed meanwhile)."""
    async with pool.acquire() as conn, conn.transaction():
        question = await repository.open_welfare_question(conn, phone, datetime.now(UTC))
        if question is None:
            return None
        language = Language(question["language"])
        key = digits.strip()[:1]
        answer: WelfareAnswer = "safe" if key == "1" else "needs_help" if key == "2" else "unclear"
        at = datetime.now(UTC)
        await answer_welfare(
            conn, crisis_id=question["crisis_id"], check_id=question["check_id"], person_id=question["person_id"],
            answer=answer, channel="voice", text=f"keypad {key}" if key else None, language=language, phone=phone,
            email=question["email"], crisis_title=question["crisis_title"], at=at, officers=officers, config=config,
            event_id=str(uuid.uuid5(_WELFARE_NAMESPACE, f"call:{call_sid or phone + at.isoformat()}:{key}")))
    spoken = {"safe": texts.VOICE_WELFARE_SAFE, "needs_help": texts.VOICE_WELFARE_HELP,
              "unclear": texts.VOICE_WELFARE_UNCLEAR}[answer]
    return texts.render(spoken, language), language


async def answer_welfare(conn: asyncpg.Connection, *, crisis_id: str, check_id: str | None, person_id: str,
                         answer: WelfareAnswer, channel: AnswerChannel, text: str | None, language: Language,
                         phone: str | None, email: str | None, crisis_title: str, at: datetime,
                         officers: OfficerCache, config: IntakeConfig, event_id: str,
                         provider_id: str | None = None, location: dict[str, Any] | None = None,
                         full_name: str | None = None) -> str | None:
    """Publish the answer; for needs_help first open the person's case for this crisis (one per person and
    crisis: a second help answer joins it). Returns the case reference, if any."""
    reference = None
    if answer == "needs_help":
        reference = await _welfare_case(conn, crisis_id=crisis_id, person_id=person_id, text=text, language=language,
                                        channel=channel, phone=phone, email=email, crisis_title=crisis_title, at=at,
                                        officers=officers, config=config, provider_id=provider_id,
                                        location=location, full_name=full_name)
    await families.heard_from(conn, person_id=person_id, crisis_id=crisis_id, answer=answer, channel=channel, at=at,
                              full_name=full_name, phone=phone, location=location, source=config.source,
                              topic_prefix=config.topic_prefix)
    await enqueue(conn, WelfareAnswered(crisis_id=crisis_id, person_id=person_id, answer=answer, channel=channel,
                                        text=text, case_reference=reference, at=at, check_id=check_id),
                  source=config.source, topic_prefix=config.topic_prefix, event_id=event_id)
    log.info("welfare_answer", crisis_id=crisis_id, answer=answer, channel=channel, reference=reference)
    return reference


async def _welfare_case(conn: asyncpg.Connection, *, crisis_id: str, person_id: str, text: str | None,
                        language: Language, channel: AnswerChannel, phone: str | None, email: str | None,
                        crisis_title: str, at: datetime, officers: OfficerCache, config: IntakeConfig,
                        provider_id: str | None, location: dict[str, Any] | None, full_name: str | None) -> str:
    source, external_id = f"{config.source}#welfare", f"{crisis_id}:{person_id}"
    existing = await repository.external_case(conn, source, external_id)
    if existing is not None:
        if provider_id is None or await repository.message_by_provider_id(conn, provider_id) is None:
            await repository.add_message(conn, reference=existing, direction="in", channel=_case_channel(channel),
                                         purpose="follow_up", body=text or "needs help (welfare check)",
                                         status="received", provider_id=provider_id)
            await repository.add_history_note(conn, existing, actor=f"welfare:{channel}",
                                              note="answered the welfare check again: needs help")
        return existing
    location = location or await repository.traveller_location(conn, person_id) or (
        {"country": country_of(phone)} if phone else {"country": "BE"})
    description = texts.render(texts.WELFARE_CASE_DESCRIPTION, language, crisis=crisis_title)
    if text:
        description += "\n\n" + text
    report = ReportIn.model_validate({
        "kind": Kind.SERIOUS_DIFFICULTY, "description": description[:10_000], "location": location,
        "reporter": {"full_name": (full_name or "").strip()[:200] or UNKNOWN_NAME, "phone": phone, "email": email,
                     "language": language,
                     "channel": _REPORT_CHANNEL[channel]}})
    opened = await open_case(conn, report, officers=officers, config=config, actor=f"welfare:{channel}",
                             received_at=at, source=source, external_id=external_id,
                             inbound=(_case_channel(channel), text, provider_id) if text else None,
                             note=f"opened by a needs-help answer to the welfare check of crisis {crisis_id}")
    await repository.link_case_to_crisis(conn, opened.reference, crisis_id)
    return opened.reference


# The case a help answer opens came in on the answer's channel (the acknowledgement follows it, domain/acknowledgement).
_REPORT_CHANNEL: dict[str, Channel] = {"sms": Channel.SMS, "voice": Channel.PHONE, "web": Channel.WEB,
                                       "email": Channel.EMAIL, "officer": Channel.PHONE}


def _case_channel(channel: AnswerChannel) -> str:
    return "sms" if channel == "sms" else "email" if channel in ("email", "web") else "phone"


async def welfare_asked(data: WelfareAsked, conn: asyncpg.Connection) -> None:
    """Remember the number's open question, so that its next SMS is read as the answer."""
    if data.phone is None:
        return
    await repository.welfare_asked(conn, phone=data.phone, crisis_id=data.crisis_id, check_id=data.check_id,
                                   person_id=data.person_id, language=data.language, crisis_title=data.crisis_title,
                                   hotline_number=data.hotline_number,
                                   email=str(data.email) if data.email else None, asked_at=data.asked_at,
                                   open_until=data.open_until)


async def welfare_replied(event: CloudEvent, data: WelfareReplied, conn: asyncpg.Connection, *,
                          officers: OfficerCache, config: IntakeConfig) -> None:
    """An answer the crisis center took itself (an email's link): published like an SMS answer."""
    crisis = await repository.crisis_facts(conn, data.crisis_id)
    await answer_welfare(conn, crisis_id=data.crisis_id, check_id=data.check_id, person_id=data.person_id,
                         answer=data.answer, channel=data.channel, text=None, language=Language(data.language),
                         phone=data.phone, email=str(data.email) if data.email else None,
                         crisis_title=crisis["title"] if crisis else data.crisis_id, at=data.at, officers=officers,
                         config=config, event_id=str(uuid.uuid5(_WELFARE_NAMESPACE, event.id)),
                         location=data.location.model_dump(mode="json", exclude_none=True) if data.location else None,
                         full_name=data.full_name)


def _sms_reply(purpose: str | None, language: Language, reference: str) -> str:
    if purpose == "survey_answer":
        return texts.render(texts.SURVEY_THANKS, language)
    if purpose == "follow_up":
        return appended_reply(language, reference)
    return new_case_reply(language, reference)


async def voicemail(*, caller: str, recording_url: str, call_sid: str | None, language: Language,
                    from_country: str | None, pool: asyncpg.Pool, officers: OfficerCache,
                    config: IntakeConfig) -> str:
    """A voicemail left on the voice line opens a case (or joins the caller's open one); returns the reference."""
    provider_id = f"twilio:{call_sid}" if call_sid else None
    body = f"Voicemail: {recording_url}"
    async with pool.acquire() as conn, conn.transaction():
        if provider_id:
            seen = await repository.message_by_provider_id(conn, provider_id)
            if seen is not None:
                return str(seen["reference"])
        case = await repository.open_case_for_phone(conn, caller)
        if case is not None:
            await repository.add_message(conn, reference=case["reference"], direction="in", channel="voice",
                                         purpose="voicemail", body=body, status="received", provider_id=provider_id)
            return str(case["reference"])
        registered = await whereabouts(conn, caller, today=datetime.now(UTC).date())
        report = _unknown_reporter_report(kind=Kind.SERIOUS_DIFFICULTY, phone=caller, language=language,
                                          channel=Channel.PHONE, country=registered or country_of(caller, from_country),
                                          description=body)
        opened = await open_case(conn, report, officers=officers, config=config, actor="voice",
                                 received_at=datetime.now(UTC), inbound=("voice", body, provider_id),
                                 note="opened from a voicemail; country inferred from the number")
        return opened.reference


# --- events coming in ----------------------------------------------------------------------------------------

async def external_report(event: CloudEvent, data: ReportSubmitted, conn: asyncpg.Connection, *,
                          officers: OfficerCache, config: IntakeConfig) -> str | None:
    """A report published on `consular.reports` by another system becomes a case; our own events are skipped."""
    if event.source == config.source:
        return None
    external_id = data.report_id or data.reference or event.id
    known = await repository.external_case(conn, event.source, external_id)
    if known is not None:
        return None
    body = data.model_dump(mode="json", exclude_none=True,
                           exclude={"reference", "report_id", "received_at", "channel"})
    try:
        report = ReportIn.model_validate(body)
    except ValidationError as exc:
        raise ValueError(f"external report {external_id} is not acceptable: {exc.error_count()} error(s)") from exc
    opened = await open_case(conn, report, officers=officers, config=config, actor=f"external:{event.source}",
                             received_at=data.received_at, source=event.source, external_id=external_id)
    return opened.reference


async def case_routed(data: CaseRouted, conn: asyncpg.Connection, *, officers: OfficerCache) -> None:
    """The directory's routing attaches the post; an officer there takes over (handover) when there is one."""
    post = data.post.model_dump(mode="json") if data.post else None
    row = await repository.attach_post(conn, data.reference, post)
    if row is None:
        return  # a case of another intake deployment (or schema)
    await repository.add_history_note(conn, data.reference, actor="directory",
                                      note=f"routed to post {post['post_id']} ({data.basis})" if post
                                      else "no post found")
    if post is None:
        return
    current = await repository.officer(conn, row["officer_id"])
    candidates = await repository.officers(conn)  # fresh: a routing is rare, and officers may have just changed
    kind = Kind(row["kind"])
    if current is None or not needs_handover(current, post_id=post["post_id"], candidates=candidates, kind=kind):
        return
    counts = await repository.open_case_counts(conn)
    new = choose_officer(candidates, kind=kind, post_id=post["post_id"], open_cases=counts)
    await repository.reassign(conn, data.reference, new.officer_id)
    await repository.add_history_note(conn, data.reference, actor="intake",
                                      note=f"handover from officer {current.officer_id} to {new.officer_id}")
    officers.released(current.officer_id)


async def notification_status(data: NotificationStatus, conn: asyncpg.Connection) -> None:
    if data.case_reference is None:
        return
    await repository.message_status(conn, notification_id=data.notification_id, status=data.status,
                                    reason=data.reason, at=data.at)


async def crisis_status(data: CrisisActivated | CrisisUpdated | CrisisClosed, conn: asyncpg.Connection) -> None:
    """Keep the active crises (hotline numbers for the voice line, areas for check-ins by SMS). An exercise is
    never one: the public line does not announce it, and a real person's SMS is never matched to it."""
    active = data.status == "active" and not isinstance(data, CrisisClosed) and not data.exercise
    await repository.crisis_state(conn, crisis_id=data.crisis_id, title=data.title,
                                  hotline_number=data.hotline_number, active=active,
                                  area=data.area.model_dump(mode="json", exclude_none=True) if data.area else None)


# --- deadline warnings (consumer of cases.deadlines) ---------------------------------------------------------

@dataclass(frozen=True)
class WarningConfig:
    staff_language: str = "en"
    team_lead_email: str | None = None
    console_url: str = "http://127.0.0.1:8001/console"


def warning_still_due(row: dict[str, Any], data: DeadlineApproaching | DeadlineMissed) -> bool:
    """A clock event is stale once the case was closed, forwarded or answered, or its due date moved."""
    if row["status"] in (Status.CLOSED.value, Status.FORWARDED.value):
        return False
    if data.deadline == "provisional_reply":
        return row["answered_by"] is None
    if data.deadline == "reply":
        return row["answered_by"] in (None, "provisional_reply") and row["reply_due_by"] == data.due_by
    return row["answered_by"] is None


async def deadline_warning(event: CloudEvent, data: DeadlineApproaching | DeadlineMissed, conn: asyncpg.Connection,
                           *, config: IntakeConfig, warnings: WarningConfig) -> int:
    """Warn the case's officer by email (and the team lead once a deadline is missed); returns how many emails."""
    row = await repository.report(conn, data.reference)
    if row is None or not warning_still_due(row, data):
        return 0
    missed = isinstance(data, DeadlineMissed)
    officer = await repository.officer(conn, row["officer_id"])
    assert officer is not None
    recipients = [officer.email] + ([warnings.team_lead_email] if missed and warnings.team_lead_email else [])
    event_name = "missed" if missed else "approaching"
    params = {"reference": data.reference, "kind": row["kind"], "deadline": data.deadline, "event": event_name,
              "due_by": data.due_by.isoformat(), "officer": officer.card().as_dict(),
              "console_url": warnings.console_url}
    purpose = f"case:{data.reference}:deadline:{data.deadline}:{event_name}:{data.due_by.isoformat()}"
    for email in dict.fromkeys(recipients):
        command = SendNotification(
            notification_id=notification_id_for(purpose, "email", email), purpose=purpose, channel="email",
            recipient=Recipient(email=email), language=warnings.staff_language, template="staff_deadline",
            params=params, priority="case", case_reference=data.reference, officer=OfficerCard(**params["officer"]))
        await enqueue(conn, command, source=config.source, topic_prefix=config.topic_prefix,
                      event_id=str(uuid.uuid5(_DEADLINE_NAMESPACE, f"{purpose}|{email}")))
    await repository.add_history_note(
        conn, data.reference, actor="intake", action="warning",
        note=f"{data.deadline} deadline {event_name} ({data.due_by.date().isoformat()}): "
        + ("officer and team lead warned" if len(recipients) > 1 else "officer warned"))
    log.info("deadline_warning", reference=data.reference, deadline=data.deadline, clock_event=event_name,
             emails=len(set(recipients)))
    return len(set(recipients))


# --- charter clock scheduler ---------------------------------------------------------------------------------

async def fire_due_deadlines(*, pool: asyncpg.Pool, config: IntakeConfig, now: datetime | None = None,
                             limit: int = 200) -> int:
    """Publish the clock events that are due and mark them fired, in one transaction; returns how many.

    The event id is derived from the case, deadline and instant, so a relay retry never makes a second event.
    """
    now = now or datetime.now(UTC)
    async with pool.acquire() as conn, conn.transaction():
        rows = await repository.due_deadlines(conn, now, limit)
        for row in rows:
            model = DeadlineApproaching if row["event"] == ClockEvent.APPROACHING.value else DeadlineMissed
            event_id = str(uuid.uuid5(_DEADLINE_NAMESPACE, f"{row['reference']}|{row['deadline']}|{row['event']}"))
            await enqueue(conn, model(reference=row["reference"], deadline=row["deadline"], due_by=row["due_by"],
                                      officer_email=row["officer_email"]),
                          source=config.source, topic_prefix=config.topic_prefix, event_id=event_id)
        if rows:
            await repository.mark_fired(conn, [row["id"] for row in rows])
    return len(rows)


async def seconds_to_next_deadline(*, pool: asyncpg.Pool, now: datetime | None = None) -> float | None:
    async with pool.acquire() as conn:
        at = await repository.next_fire_at(conn)
    if at is None:
        return None
    return max(0.0, (at - (now or datetime.now(UTC))).total_seconds())
