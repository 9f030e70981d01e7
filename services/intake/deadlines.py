"""The charter's clocks: the scheduler publishing the clock events that fall due (`cases.deadlines`), and the warnings
their consumer emails to the case's officer (and the team lead once a deadline is missed).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg

from services.intake.adapters import repository
from services.intake.domain.clocks import ClockEvent
from services.intake.domain.model import Status
from services.intake.handlers import IntakeConfig
from shared.events.deadlines import DeadlineApproaching, DeadlineMissed
from shared.events.envelope import CloudEvent
from shared.events.notifications import OfficerCard, Recipient, SendNotification, notification_id_for
from shared.kafka.outbox import enqueue
from shared.logging import get_logger

log = get_logger(__name__)

_DEADLINE_NAMESPACE = uuid.UUID("2b0f6c64-1d57-4b8e-9f0e-6a7c4d2e9b31")


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
