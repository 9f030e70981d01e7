"""What a duty officer does with a case: reply, provisional reply, forward, change its status, note, reassign.

Each action locks the case, checks the charter's rules (`domain/charter.py`), writes a line of the history with the
officer's subject, and queues any citizen-facing message through the case's channel (SMS, email or letter), in the
citizen's language, carrying the officer card and the reference: all in one transaction with the outbox.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import asyncpg

from services.intake import families
from services.intake.adapters import cases, people, repository
from services.intake.adapters.officer_cache import OfficerCache
from services.intake.closing import close_case
from services.intake.domain import charter
from services.intake.domain.acknowledgement import AckChannel, Destination, Unreachable, ack_channel, destination
from services.intake.domain.charter import Answer, Answered, CharterRuleError
from services.intake.domain.clocks import CaseClocks, Deadline, DeadlineKind, local, schedule
from services.intake.domain.model import Channel, Language, Status
from services.intake.domain.officers import Officer
from services.intake.domain.sensitive import open_row
from services.intake.handlers import UNKNOWN_NAME, CaseNotFound, IntakeConfig
from services.intake.messages import send_case_message
from shared.logging import get_logger

log = get_logger(__name__)


@dataclass(frozen=True)
class ActionContext:
    pool: asyncpg.Pool
    officers: OfficerCache
    config: IntakeConfig
    actor: str
    now: datetime


def answered_of(row: dict[str, Any]) -> Answered | None:
    return charter.answered_from(row.get("answered_by"), row.get("answered_at"), row.get("answered_on_time"))


async def _case(conn: asyncpg.Connection, reference: str) -> dict[str, Any]:
    row = await cases.locked_case(conn, reference)
    if row is None:
        raise CaseNotFound(reference)
    return row


def _open(row: dict[str, Any]) -> None:
    if row["status"] in (Status.CLOSED.value, Status.FORWARDED.value):
        raise CharterRuleError("closed", f"the case is {row['status']}: reopen it first")


async def _officer(conn: asyncpg.Connection, row: dict[str, Any]) -> Officer:
    officer = await repository.officer(conn, row["officer_id"])
    assert officer is not None  # a foreign key
    return officer


def _destination(row: dict[str, Any]) -> Destination:
    """The channel the request came in on, and its address."""
    reporter, language = row["reporter"], Language(row["language"])
    try:
        channel = ack_channel(Channel(row["channel"]), phone=reporter.get("phone"), email=reporter.get("email"),
                              address=reporter.get("address"))
    except Unreachable:
        raise CharterRuleError("unreachable", "the case gives no phone, email or address to write to") from None
    return destination(channel, language, phone=reporter.get("phone"), email=reporter.get("email"),
                       address=reporter.get("address"))


async def _send(conn: asyncpg.Connection, row: dict[str, Any], officer: Officer, *, purpose: str, template: str,
                params: dict[str, Any], config: IntakeConfig) -> str:
    """A message about the case through the case's channel, in its language: `template` (the notifier's, which
    words it and adds the officer's card) with `params` and the case's reference; returns what the history records,
    the text sent."""
    return await send_case_message(conn, reference=row["reference"], purpose=purpose, template=template,
                                   to=_destination(row), params={"reference": row["reference"], **params},
                                   officer=officer, recipient_name=row["reporter"].get("full_name", UNKNOWN_NAME),
                                   config=config)


async def _numbered_purpose(conn: asyncpg.Connection, reference: str, purpose: str) -> str:
    """Purposes name a message uniquely (the notifier deduplicates on them): reply-1, reply-2, ..."""
    return f"{purpose}-{await cases.count_messages(conn, reference, purpose + '-') + 1}"


def _reply_clock(due_by: datetime) -> list[Any]:
    return schedule(CaseClocks(reply=Deadline(DeadlineKind.REPLY, local(due_by).date())))


# --- the actions -----------------------------------------------------------------------------------------------

async def reply(reference: str, *, body: str, ctx: ActionContext) -> None:
    """A reply to the citizen; the first one answers the charter's clock (on time or late)."""
    async with ctx.pool.acquire() as conn, conn.transaction():
        row = await _case(conn, reference)
        _open(row)
        answered = await _reply(conn, row, template="case_message", params={"message": body.strip()},
                                purpose="reply", ctx=ctx)
        await repository.add_history_note(conn, reference, action="reply", actor=ctx.actor, note=None, at=ctx.now)
    log.info("case_replied", reference=reference, on_time=answered.on_time)


async def _reply(conn: asyncpg.Connection, row: dict[str, Any], *, template: str, params: dict[str, Any],
                 purpose: str, ctx: ActionContext) -> Answered:
    officer = await _officer(conn, row)
    previous = answered_of(row)
    answered = charter.reply(at=ctx.now, reply_due_by=row["reply_due_by"], previous=previous)
    if answered != previous:
        await cases.record_answer(conn, row["reference"], answered)
        await cases.cancel_pending_deadlines(conn, row["reference"], ctx.now)
    if row["status"] in (Status.RECEIVED.value, Status.REOPENED.value):
        await cases.set_status(conn, row["reference"], Status.IN_PROGRESS.value)
    await _send(conn, row, officer, purpose=await _numbered_purpose(conn, row["reference"], purpose),
                template=template, params=params, config=ctx.config)
    return answered


# --- a family's inquiry: its matches and what the family is told ------------------------------------------------

async def _inquiry(conn: asyncpg.Connection, reference: str) -> dict[str, Any]:
    sought = await people.sought_of_case(conn, reference)
    if sought is None:
        raise CharterRuleError("inquiry", f"case {reference} seeks nobody (only a missing-person report with a "
                                          "subject does)")
    return sought


async def decide_match(reference: str, *, person_id: str, confirmed: bool, ctx: ActionContext) -> None:
    """The officer confirms or rejects a proposed match; a rejected pair is never proposed again."""
    async with ctx.pool.acquire() as conn, conn.transaction():
        row = await _case(conn, reference)
        sought = await _inquiry(conn, reference)
        state = "confirmed" if confirmed else "rejected"
        if not await people.decide(conn, sought_id=sought["sought_id"], person_id=person_id, state=state,
                                   actor=ctx.actor):
            raise CharterRuleError("match", f"case {reference} has no match with person {person_id}")
        if not confirmed and row["attention"] == families.ANSWERED_SAFE:
            await people.set_attention(conn, reference, None)
        await families.seek(conn, sought["sought_id"], source=ctx.config.source, topic_prefix=ctx.config.topic_prefix)
        await repository.add_history_note(conn, reference, action="match", actor=ctx.actor,
                                          note=f"match {state}", at=ctx.now)


async def tell_family(reference: str, *, person_id: str, ctx: ActionContext) -> None:
    """Tell the family, through their channel and in their language, that the person they seek answered safe
    (the agreed wording, with the officer card and the reference: never where the person is). It is a reply:
    the first one answers the charter's clock."""
    async with ctx.pool.acquire() as conn, conn.transaction():
        row = await _case(conn, reference)
        _open(row)
        sought = await _inquiry(conn, reference)
        match = next((m for m in await people.matches(conn, sought["sought_id"]) if m["person_id"] == person_id),
                     None)
        if match is None or match["state"] == "rejected":
            raise CharterRuleError("match", f"case {reference} has no match with person {person_id}")
        if match["last_answer"] != "safe" or match["last_answer_at"] is None:
            raise CharterRuleError("safe", "the matched person has not answered safe: there is nothing agreed to "
                                           "tell the family")
        await _reply(conn, row, template="case_family_safe_notice", params={
            "sought_name": sought["full_name"], "answered_safe_on": local(match["last_answer_at"]).date()},
            purpose="family_notice", ctx=ctx)
        if match["state"] == "proposed":
            await people.decide(conn, sought_id=sought["sought_id"], person_id=person_id, state="confirmed",
                                actor=ctx.actor)
        await people.set_attention(conn, reference, None)
        await repository.add_history_note(conn, reference, action="family_notice", actor=ctx.actor,
                                          note="the family was told the person answered safe", at=ctx.now)
    log.info("family_told", reference=reference)


async def provisional_reply(reference: str, *, expected_by: date, body: str | None, ctx: ActionContext) -> None:
    """A provisional reply announcing when the reply will come; the reply is then due at the end of that day."""
    async with ctx.pool.acquire() as conn, conn.transaction():
        row = await _case(conn, reference)
        _open(row)
        officer = await _officer(conn, row)
        deferral = charter.provisional_reply(
            at=ctx.now, received_at=row["received_at"], expected_by=expected_by,
            provisional_due_by=row["provisional_reply_due_by"], reply_due_by=row["reply_due_by"],
            previous=answered_of(row))
        await cases.record_answer(conn, reference, deferral.answered)
        await cases.set_reply_due(conn, reference, deferral.reply_due_by, complex_case=True)
        await cases.cancel_pending_deadlines(conn, reference, ctx.now)
        await cases.schedule_deadlines(conn, reference, _reply_clock(deferral.reply_due_by))
        purpose = await _numbered_purpose(conn, reference, "provisional_reply")
        await _send(conn, row, officer, purpose=purpose, template="case_provisional_reply",
                    params={"reply_due_by": expected_by, "message": body.strip() if body else None},
                    config=ctx.config)
        await repository.add_history_note(conn, reference, action="provisional_reply", actor=ctx.actor,
                                 note=f"reply expected by {expected_by.isoformat()}", at=ctx.now)


async def forward(reference: str, *, service: str, contact: str | None, ctx: ActionContext) -> None:
    """Forward to the competent service: a notice to the citizen naming it, and the request itself to the service's
    contact by email when one is given. The notice answers the charter's clock."""
    async with ctx.pool.acquire() as conn, conn.transaction():
        row = await _case(conn, reference)
        _open(row)
        officer = await _officer(conn, row)
        previous = answered_of(row)
        if previous is None or previous.by is Answer.PROVISIONAL_REPLY:
            answered = charter.forward(at=ctx.now, received_at=row["received_at"], reply_due_by=row["reply_due_by"])
            await cases.record_answer(conn, reference, answered)
        await cases.cancel_pending_deadlines(conn, reference, ctx.now)
        await cases.forwarded(conn, reference, service)
        purpose = await _numbered_purpose(conn, reference, "forward_notice")
        await _send(conn, row, officer, purpose=purpose, template="case_forward_notice", params={"service": service},
                    config=ctx.config)
        if contact:
            await _send_to_service(conn, row, officer, contact=contact, purpose=purpose + "-service", ctx=ctx)
        note = f"forwarded to {service}" + (" (request sent by email)" if contact
                                           else " (no contact given: hand the request over)")
        await repository.add_history_note(conn, reference, action="forward", actor=ctx.actor, note=note, at=ctx.now)


async def _send_to_service(conn: asyncpg.Connection, row: dict[str, Any], officer: Officer, *, contact: str,
                           purpose: str, ctx: ActionContext) -> None:
    """The request itself, to the receiving service's address, in the citizen's language."""
    opened = open_row(row, ctx.config.cipher)
    reporter, language = opened["reporter"], Language(opened["language"])
    contact_line = ", ".join(str(reporter[k]) for k in ("full_name", "phone", "email", "address") if reporter.get(k))
    await send_case_message(conn, reference=row["reference"], purpose=purpose, template="case_forwarded_request",
                            to=Destination(channel=AckChannel.EMAIL, to=contact, language=language),
                            params={"reference": row["reference"], "citizen_language": language.value,
                                    "contact": contact_line or None, "description": opened["description"]},
                            officer=officer, recipient_name=UNKNOWN_NAME, config=ctx.config)


async def set_status(reference: str, *, status: Status, reason: str | None, ctx: ActionContext) -> None:
    """in_progress, waiting_for_citizen, closed (with the survey) or reopened (owing a new reply)."""
    async with ctx.pool.acquire() as conn, conn.transaction():
        row = await _case(conn, reference)
        charter.check_transition(Status(row["status"]), status)
        if status is Status.REOPENED:
            due = charter.reopened_reply_due(at=ctx.now, channel=Channel(row["channel"]))
            await cases.reopen(conn, reference, due)
            await cases.schedule_deadlines(conn, reference, _reply_clock(due))
            if row["status"] == Status.CLOSED.value:
                ctx.officers.taken(row["officer_id"])
            await families.reopen_inquiry(conn, reference, source=ctx.config.source,
                                          topic_prefix=ctx.config.topic_prefix)
        elif status is not Status.CLOSED:
            await cases.set_status(conn, reference, status.value)
        if status is not Status.CLOSED:
            await repository.add_history_note(conn, reference, action="status", actor=ctx.actor, note=reason,
                                              at=ctx.now)
    if status is Status.CLOSED:  # close_case locks and checks again, stops the clocks and sends the survey
        await close_case(reference, pool=ctx.pool, officers=ctx.officers, config=ctx.config, actor=ctx.actor,
                         note=reason)


async def mark_complex(reference: str, *, ctx: ActionContext) -> None:
    """A case found complex after receipt: it now owes a provisional reply within 15 days of receipt (unless that
    day has passed: then at once, which the board shows as due), and the reply keeps its date until that reply
    announces another."""
    async with ctx.pool.acquire() as conn, conn.transaction():
        row = await _case(conn, reference)
        _open(row)
        if row["complex"]:
            raise CharterRuleError("unchanged", "the case is already complex")
        due = charter.provisional_due(received_at=row["received_at"])
        await conn.execute("UPDATE reports SET complex = true, provisional_reply_due_by = $2 WHERE reference = $1",
                           reference, due)
        if charter.answered_from(row["answered_by"], row["answered_at"], row["answered_on_time"]) is None:
            await cases.schedule_deadlines(conn, reference, schedule(CaseClocks(
                reply=Deadline(DeadlineKind.REPLY, local(row["reply_due_by"]).date()),
                provisional_reply=Deadline(DeadlineKind.PROVISIONAL_REPLY, local(due).date()))))
        await repository.add_history_note(conn, reference, action="complex", actor=ctx.actor,
                                 note=f"complex: provisional reply due {local(due).date().isoformat()}", at=ctx.now)


async def add_note(reference: str, *, body: str, ctx: ActionContext) -> None:
    """An internal note: never sent to the citizen."""
    async with ctx.pool.acquire() as conn, conn.transaction():
        await _case(conn, reference)
        await repository.add_history_note(conn, reference, action="note", actor=ctx.actor, note=body, at=ctx.now)


async def assign(reference: str, *, officer_id: int, ctx: ActionContext) -> Officer:
    """Another officer takes the case: their card goes on every message from now on."""
    async with ctx.pool.acquire() as conn, conn.transaction():
        row = await _case(conn, reference)
        if row["officer_id"] == officer_id:
            raise CharterRuleError("unchanged", f"officer {officer_id} already has the case")
        officer = await repository.officer(conn, officer_id)
        if officer is None:
            raise CharterRuleError("exists", f"no officer {officer_id}")
        if not officer.active:
            raise CharterRuleError("active", f"officer {officer_id} has ended")
        await cases.assign(conn, reference, officer_id)
        await repository.add_history_note(conn, reference, action="assign", actor=ctx.actor,
                                 note=f"assigned to {officer.name} (officer {officer_id})", at=ctx.now)
    if row["status"] != Status.CLOSED.value:
        ctx.officers.released(row["officer_id"])
        ctx.officers.taken(officer_id)
    return officer

