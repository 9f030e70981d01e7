"""SQL of the case actions: the case locked for one action, its charter answer, history lines with their action,
clocks rescheduled. Functions take a connection so the caller owns the transaction."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import asyncpg

from services.intake.domain.charter import Answered
from services.intake.domain.clocks import ScheduledClockEvent


async def locked_case(conn: asyncpg.Connection, reference: str) -> dict[str, Any] | None:
    """The case row, locked until the transaction ends: actions on one case happen one after the other."""
    row = await conn.fetchrow("SELECT * FROM reports WHERE reference = $1 FOR UPDATE", reference)
    return dict(row) if row else None


async def record_answer(conn: asyncpg.Connection, reference: str, answered: Answered) -> None:
    await conn.execute("UPDATE reports SET answered_by = $2, answered_at = $3, answered_on_time = $4"
                       " WHERE reference = $1", reference, answered.by.value, answered.at, answered.on_time)


async def set_reply_due(conn: asyncpg.Connection, reference: str, due_by: datetime, *, complex_case: bool) -> None:
    await conn.execute("UPDATE reports SET reply_due_by = $2, complex = complex OR $3 WHERE reference = $1",
                       reference, due_by, complex_case)


async def reopen(conn: asyncpg.Connection, reference: str, reply_due_by: datetime) -> None:
    """Open again, owing a new reply: the earlier answer no longer counts."""
    await conn.execute(
        "UPDATE reports SET status = 'reopened', closed_at = NULL, reply_due_by = $2, answered_by = NULL,"
        " answered_at = NULL, answered_on_time = NULL WHERE reference = $1", reference, reply_due_by)


async def set_status(conn: asyncpg.Connection, reference: str, status: str) -> None:
    await conn.execute("UPDATE reports SET status = $2 WHERE reference = $1", reference, status)


async def forwarded(conn: asyncpg.Connection, reference: str, service: str) -> None:
    await conn.execute("UPDATE reports SET status = 'forwarded', forward_to = $2 WHERE reference = $1",
                       reference, service)


async def assign(conn: asyncpg.Connection, reference: str, officer_id: int) -> None:
    await conn.execute("UPDATE reports SET officer_id = $2 WHERE reference = $1", reference, officer_id)


async def cancel_pending_deadlines(conn: asyncpg.Connection, reference: str, at: datetime) -> None:
    await conn.execute("UPDATE deadlines SET cancelled_at = $2 WHERE reference = $1 AND fired_at IS NULL"
                       " AND cancelled_at IS NULL", reference, at)


async def schedule_deadlines(conn: asyncpg.Connection, reference: str, events: Sequence[ScheduledClockEvent]) -> None:
    """New clock instants for the case; an earlier instant of the same deadline and event is replaced (a reopened
    case's reply clock starts again)."""
    await conn.execute(
        "INSERT INTO deadlines (reference, deadline, event, due_by, fire_at)"
        " SELECT $1, x.deadline, x.event, x.due_by, x.fire_at"
        " FROM unnest($2::text[], $3::text[], $4::timestamptz[], $5::timestamptz[]) AS x(deadline, event, due_by,"
        " fire_at)"
        " ON CONFLICT (reference, deadline, event) DO UPDATE SET due_by = excluded.due_by,"
        " fire_at = excluded.fire_at, fired_at = NULL, cancelled_at = NULL",
        reference, [e.deadline.value for e in events], [e.event.value for e in events],
        [e.due_by for e in events], [e.fire_at for e in events])


async def count_messages(conn: asyncpg.Connection, reference: str, purpose_prefix: str) -> int:
    return int(await conn.fetchval(
        "SELECT count(*) FROM messages WHERE reference = $1 AND direction = 'out' AND purpose LIKE $2 || '%'",
        reference, purpose_prefix))
