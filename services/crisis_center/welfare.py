"""Welfare checks over PostgreSQL: contacts, rounds, the escalation steps, answers, counts and lists.

A round is written at once (one row per person, due now) and its messages are sent by `take_due_steps`, which
moves a batch of due rows and enqueues their messages in one transaction (`FOR UPDATE SKIP LOCKED`: workers
share the work; a crash rolls back both, so no step is taken twice and none is lost). Answers come from
`welfare.answers`; the latest one of each person counts.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import asyncpg

from services.crisis_center import inquiries
from services.crisis_center.adapters import repository, welfare_repository
from services.crisis_center.domain import exercise, texts
from services.crisis_center.domain.engine import Recipient
from services.crisis_center.domain.welfare import (
    STATUSES,
    LinkClaim,
    Message,
    Step,
    make_token,
    next_step,
)
from services.crisis_center.records import Publishing, audit
from shared.events.notifications import Recipient as WireRecipient
from shared.events.notifications import SendNotification, notification_id_for
from shared.events.welfare import CHECK_IN_PREFIX, WelfareAnswered, WelfareAsked, WelfareReplied
from shared.kafka.outbox import OutboxRow, enqueue, enqueue_many, prepare
from shared.logging import get_logger

log = get_logger(__name__)

_REPLY_NAMESPACE = uuid.UUID("5a7e0c1d-3b2f-4e6a-9c8d-1f0e2d3c4b5a")


@dataclass(frozen=True)
class Links:
    """How answer links are made: the signing key, the public base URL, and how long they stay valid."""

    key: bytes
    base_url: str
    valid_for: timedelta

    def url(self, claim: LinkClaim) -> str:
        return f"{self.base_url.rstrip('/')}/public/welfare/{make_token(self.key, claim)}"


# contacts ---------------------------------------------------------------------------------------------------------
async def record_contacts(conn: asyncpg.Connection, crisis_id: str, recipients: Sequence[Recipient],
                          at: datetime) -> None:
    """Everyone a crisis alerts can later be asked whether they are safe (called with the alert's transaction)."""
    if recipients:
        await welfare_repository.upsert_contacts(conn, crisis_id=crisis_id, at=at, contacts=[
            (r.traveller_id, r.phone, r.email, texts.as_language(r.language),
             "check_in" if r.traveller_id.startswith(CHECK_IN_PREFIX)
             else "exercise" if exercise.is_test_person(r.traveller_id) else "registration")
            for r in recipients])


# rounds -------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Round:
    check_id: str
    crisis_id: str
    recipients: int


class CrisisNotActive(Exception):
    pass


async def start_round(*, pool: asyncpg.Pool, crisis_id: str, actor: str, escalate_after_minutes: int,
                      now: datetime) -> Round | None:
    """A new round asking every contact of the crisis; None when there is no such crisis. A person still being
    chased by an earlier round stops being so: the new question replaces it."""
    check_id = uuid.uuid4().hex
    async with pool.acquire() as conn, conn.transaction():
        crisis = await welfare_repository.crisis_for_share(conn, crisis_id=crisis_id)
        if crisis is None:
            return None
        if crisis["status"] != "active":
            raise CrisisNotActive(crisis_id)
        await welfare_repository.insert_round(conn, check_id=check_id, crisis_id=crisis_id, started_at=now,
                                              started_by=actor, escalate_after_minutes=escalate_after_minutes)
        await welfare_repository.stop_chasing(conn, crisis_id=crisis_id)
        recipients = await welfare_repository.insert_questions(conn, check_id=check_id, crisis_id=crisis_id,
                                                               due_at=now, drill=crisis["exercise"])
        await welfare_repository.set_recipients(conn, check_id=check_id, recipients=recipients)
        await repository.insert_timeline(conn, crisis_id=crisis_id, at=now, event="welfare_check", actor=actor,
                                         affected_count=None, detail={
                                             "check_id": check_id, "recipients": recipients,
                                             "escalate_after_minutes": escalate_after_minutes})
        await audit(conn, actor=actor, action="crisis.welfare_check", target=crisis_id, at=now,
                    detail={"check_id": check_id, "recipients": recipients})
    log.info("welfare_round_started", crisis_id=crisis_id, check_id=check_id, recipients=recipients)
    return Round(check_id, crisis_id, recipients)


async def take_due_steps(*, pool: asyncpg.Pool, now: datetime, batch: int, can_call: bool, links: Links,
                         publishing: Publishing) -> int:
    """Take up to `batch` due steps in one transaction; the number taken (0: nothing was due)."""
    async with pool.acquire() as conn, conn.transaction():
        rows = await welfare_repository.due_steps(conn, now=now, batch=batch)
        if not rows:
            return 0
        updates: list[welfare_repository.StepUpdate] = []
        outbox: list[OutboxRow] = []
        for row in rows:
            if row["status"] != "active":  # a closed crisis asks nothing more
                updates.append((row["check_id"], row["person_id"], row["step"], None, row["asked_at"]))
                continue
            move = next_step(row["step"], asked_at=row["asked_at"], now=now,
                             escalate_after=timedelta(minutes=row["escalate_after_minutes"]),
                             can_call=can_call and row["phone"] is not None)
            if move is None:
                updates.append((row["check_id"], row["person_id"], row["step"], None, row["asked_at"]))
                continue
            asked_at = row["asked_at"] or now
            updates.append((row["check_id"], row["person_id"], move.step, move.due_at, asked_at))
            if move.message is not None:
                outbox += _question_rows(row, step=move.message, now=now, links=links, publishing=publishing)
        await welfare_repository.move_steps(conn, updates)
        await enqueue_many(conn, outbox)
    return len(rows)


def _question_rows(row: asyncpg.Record, *, step: Message, now: datetime, links: Links,
                   publishing: Publishing) -> list[OutboxRow]:
    """The question (or reminder) by SMS from the duty line and by email with two answer links, or the call; and
    the fact that it was asked (for intake, which reads the reply)."""
    check_id, person_id, crisis_id = row["check_id"], row["person_id"], row["crisis_id"]
    language = texts.as_language(row["language"])
    purpose = f"crisis:{crisis_id}:welfare:{check_id}:{step}:{person_id}"
    params: dict[str, Any] = exercise.mark({"crisis_title": row["title"], "hotline_number": row["hotline_number"],
                                            "reminder": step == "reminder"}, row["exercise"])
    rows: list[OutboxRow] = []
    if not exercise.only_test_people(row["exercise"], [person_id], str):
        return rows  # an exercise's question goes to its test list only
    addresses = ((("voice", row["phone"]),) if step == "call"
                 else (("sms", row["phone"]), ("email", row["email"])))
    for channel, address in addresses:
        if not address:
            continue
        extra = {} if channel != "email" else {
            "safe_url": links.url(LinkClaim(check_id, person_id, "safe")),
            "help_url": links.url(LinkClaim(check_id, person_id, "needs_help"))}
        notification_id = notification_id_for(purpose, channel, address)
        command = SendNotification(
            notification_id=notification_id, purpose=purpose, channel=channel,  # type: ignore[arg-type]
            recipient=WireRecipient(phone=address if channel != "email" else None,
                                    email=address if channel == "email" else None, traveller_id=person_id),
            language=language, template="welfare_call" if channel == "voice" else "welfare_question",
            priority="crisis", crisis_id=crisis_id,
            params={**params, **extra}, sender="duty_line" if channel == "sms" else "notifier")
        rows.append(prepare(command, source=publishing.source, topic_prefix=publishing.topic_prefix,
                            event_id=f"send:{notification_id}"))
    asked = WelfareAsked(check_id=check_id, crisis_id=crisis_id, crisis_title=row["title"],
                         hotline_number=row["hotline_number"], person_id=person_id, phone=row["phone"],
                         email=row["email"], language=language, step=step, asked_at=now,
                         open_until=row["started_at"] + links.valid_for)
    rows.append(prepare(asked, source=publishing.source, topic_prefix=publishing.topic_prefix,
                        event_id=f"asked:{check_id}:{step}:{person_id}"))
    return rows


# answers ------------------------------------------------------------------------------------------------------------
class LinkRefused(Exception):
    """A valid signature, but the link cannot be used (its round is over, or unknown)."""

    def __init__(self, reason: str, *, gone: bool) -> None:
        super().__init__(reason)
        self.gone = gone


async def answer_by_link(*, pool: asyncpg.Pool, claim: LinkClaim, now: datetime, valid_for: timedelta,
                         publishing: Publishing) -> bool:
    """Record an answer given through an email link, for intake to turn into `welfare.answered`. False when the
    person's latest answer by link in this round is this one already (a second click, a mail scanner): nothing
    is sent again."""
    async with pool.acquire() as conn, conn.transaction():
        row = await welfare_repository.question_for_link(conn, check_id=claim.check_id, person_id=claim.person_id)
        if row is None:
            raise LinkRefused("no such question", gone=True)
        if row["status"] != "active":
            raise LinkRefused("the crisis is closed", gone=True)
        if now > row["started_at"] + valid_for:
            raise LinkRefused("the link has expired", gone=True)
        if row["link_answer"] == claim.answer:
            return False
        crisis_id = await welfare_repository.crisis_of_round(conn, check_id=claim.check_id)
        reply = WelfareReplied(check_id=claim.check_id, crisis_id=crisis_id, person_id=claim.person_id,
                               answer=claim.answer, channel="email", language=texts.as_language(row["language"]),
                               phone=row["phone"], email=row["email"], at=now)
        event_id = str(uuid.uuid5(_REPLY_NAMESPACE, f"{claim.check_id}|{claim.person_id}|{claim.answer}|"
                                                    f"{now.isoformat()}"))
        await enqueue(conn, reply, source=publishing.source, topic_prefix=publishing.topic_prefix, event_id=event_id)
        # Recorded at once as this round's link answer, so a second click is recognised before intake answers.
        await record_answers([WelfareAnswered(crisis_id=crisis_id, person_id=claim.person_id, answer=claim.answer,
                                              channel="email", check_id=claim.check_id, at=now)], conn)
    return True


async def record_answer(conn: asyncpg.Connection, data: WelfareAnswered) -> bool:
    """An answer from `welfare.answers`; False when the crisis is not ours (nothing to count it in)."""
    return await record_answers([data], conn) == 1


async def record_answers(answers: Sequence[WelfareAnswered], conn: asyncpg.Connection) -> int:
    """A batch of answers from `welfare.answers` in three statements (the desk's consumer handles a polled batch
    in one transaction): the latest answer per person counts (an older one arriving late changes nothing), an
    answer ends the person's chase, unknown crises are skipped. Returns how many were counted."""
    latest: dict[tuple[str, str], WelfareAnswered] = {}
    for answer in answers:  # one row per person in a statement: ON CONFLICT cannot touch a row twice
        known = latest.get((answer.crisis_id, answer.person_id))
        if known is None or known.at <= answer.at:
            latest[(answer.crisis_id, answer.person_id)] = answer
    ours = await welfare_repository.known_crises(conn, crisis_ids=list({k[0] for k in latest}))
    rows = [a for key, a in latest.items() if key[0] in ours]
    if not rows:
        return 0
    await welfare_repository.upsert_answers(conn, rows)
    await welfare_repository.end_chases(conn, rows)
    return len(rows)


# reading ----------------------------------------------------------------------------------------------------------
async def counts(*, pool: asyncpg.Pool, crisis_id: str) -> dict[str, int] | None:
    """The welfare counts of a crisis; None when there is no such crisis."""
    async with pool.acquire() as conn:
        if not await repository.crisis_exists(conn, crisis_id=crisis_id):
            return None
        return await counts_in(conn, crisis_id)


async def counts_in(conn: asyncpg.Connection, crisis_id: str) -> dict[str, int]:
    """The answers by status (`STATUSES`) and the families' inquiries (`inquiries.SOUGHT`) of a crisis."""
    row = await welfare_repository.status_counts(conn, crisis_id=crisis_id)
    return {**{name: int(row[name]) for name in STATUSES}, **await inquiries.counts_in(conn, crisis_id)}


async def people(*, pool: asyncpg.Pool, crisis_id: str, status: str | None, limit: int,
                 after: str | None) -> list[dict[str, Any]] | None:
    """A page of the crisis's people, by person id, with where their answer or escalation stands."""
    async with pool.acquire() as conn:
        if not await repository.crisis_exists(conn, crisis_id=crisis_id):
            return None
        rows = await welfare_repository.people_page(conn, crisis_id=crisis_id, status=status, after=after,
                                                    limit=limit)
    return [_person(dict(r)) for r in rows]


def _person(row: dict[str, Any]) -> dict[str, Any]:
    step: Step | None = row["step"]
    return {
        "person_id": row["person_id"], "status": row["status"], "source": row["source"],
        "language": row["language"], "phone": row["phone"], "email": row["email"],
        "answer": row["answer"], "channel": row["channel"], "text": row["answer_text"],
        "case_reference": row["case_reference"], "answered_at": row["answered_at"],
        "escalation": step, "asked_at": row["asked_at"], "check_id": row["check_id"],
    }


async def forget_crisis(conn: asyncpg.Connection, crisis_id: str) -> None:
    """At closing: the contacts, rounds, answers and families' inquiries go (docs/privacy.md); the timeline keeps
    the counts."""
    await welfare_repository.delete_crisis_rows(conn, crisis_id=crisis_id)
    await inquiries.forget_crisis(conn, crisis_id)


async def contacts_of(conn: asyncpg.Connection, *, person_ids: Sequence[str], phones: Sequence[str],
                      emails: Sequence[str]) -> list[dict[str, Any]]:
    """A person's contacts and answers in every crisis (a privacy request: access or erasure)."""
    rows = await welfare_repository.contacts_of(conn, person_ids=person_ids, phones=phones, emails=emails)
    return [{k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in dict(r).items()} for r in rows]


async def forget_people(conn: asyncpg.Connection, people: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    """Delete these (crisis, person) contacts with their rounds and answers; the pairs deleted."""
    if not people:
        return []
    crises, persons = [p[0] for p in people], [p[1] for p in people]
    await welfare_repository.delete_people_rows(conn, crisis_ids=crises, person_ids=persons)
    return await welfare_repository.delete_contacts(conn, crisis_ids=crises, person_ids=persons)
