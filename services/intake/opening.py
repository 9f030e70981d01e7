"""Opening a case: from `POST /v1/reports` (idempotent per key), from another system's `report.submitted`, or for the
other use cases (SMS, email, voicemail, a welfare answer); with its clocks, its acknowledgement and its event, in one
statement.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg
from pydantic import ValidationError

from services.intake import families
from services.intake.adapters import repository
from services.intake.adapters.officer_cache import OfficerCache
from services.intake.adapters.outbox_rows import outbox_row
from services.intake.crises import crisis_at
from services.intake.domain.acknowledgement import Unreachable, ack_channel, destination
from services.intake.domain.clocks import CaseClocks, case_clocks, schedule
from services.intake.domain.model import Kind, ReportIn, Status
from services.intake.domain.officers import Officer
from services.intake.domain.reference import format_reference, reference_year
from services.intake.domain.sensitive import seal_row
from services.intake.handlers import IntakeConfig
from services.intake.messages import prepare_message
from shared.events.envelope import CloudEvent
from shared.events.reports import ReportSubmitted
from shared.logging import get_logger

log = get_logger(__name__)


class IdempotencyConflict(Exception):
    """The same Idempotency-Key came with a different body."""


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
        await families.open_inquiry(conn, report, reference=reference, crisis_id=await crisis_at(conn, report),
                                    source=config.source, topic_prefix=config.topic_prefix)
    log.info("case_opened", reference=reference, kind=report.kind.value, channel=reporter.channel.value,
             officer_id=officer.officer_id)
    view = {"reference": reference, "status": status.value, "kind": report.kind.value, "received_at": received_at,
            "reply_due_by": clocks.reply.due_by,
            "provisional_reply_due_by": clocks.provisional_reply.due_by if clocks.provisional_reply else None,
            "officer": officer.card().as_dict(), "post": None}
    return Opened(reference, view)


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
    # is the provisional reply); the notice of a forward is a `case_forward_notice` naming the service.
    params: dict[str, Any]
    if report.forward_to is not None:
        purpose, template = "forward_notice", "case_forward_notice"
        params = {"reference": reference, "service": report.forward_to}
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
