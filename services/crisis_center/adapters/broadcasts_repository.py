"""SQL of the coordinators' broadcasts: the broadcasts and their versions, whom they reach, their history.

One statement per function, over a connection (the caller owns the transaction) or the pool; `broadcasts`
decides (the two-person rule, the audience, what is enqueued).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import asyncpg

from services.crisis_center.adapters.repository import Db

Polygon = Sequence[tuple[float, float]]
"""A drawn area's corners, (latitude, longitude) pairs; stored as a JSON list of pairs."""


async def crisis(conn: Db, *, crisis_id: str, lock: bool = False) -> asyncpg.Record | None:
    """What a broadcast needs of its crisis; `lock`: locked against closing until the end of the transaction."""
    return await conn.fetchrow(
        "SELECT crisis_id, incident_id, title, hotline_number, status, area, exercise FROM crises"
        f" WHERE crisis_id = $1{' FOR SHARE' if lock else ''}", crisis_id)


async def crisis_title_and_hotline(conn: Db, *, crisis_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT title, hotline_number FROM crises WHERE crisis_id = $1", crisis_id)


# whom a broadcast reaches -----------------------------------------------------------------------------------------
_CONTACTS = {
    "everyone": "SELECT c.person_id, c.phone, c.email, c.language FROM crisis_contacts c WHERE c.crisis_id = $1",
    "not_answered": "SELECT c.person_id, c.phone, c.email, c.language FROM crisis_contacts c"
                    " LEFT JOIN welfare_status s ON s.crisis_id = c.crisis_id AND s.person_id = c.person_id"
                    " WHERE c.crisis_id = $1 AND s.person_id IS NULL",
    "needs_help": "SELECT c.person_id, c.phone, c.email, c.language FROM crisis_contacts c"
                  " JOIN welfare_status s ON s.crisis_id = c.crisis_id AND s.person_id = c.person_id"
                  " WHERE c.crisis_id = $1 AND s.answer = 'needs_help'",
}
_CONTACTS_PLACED = ("SELECT DISTINCT ON (c.person_id) c.person_id, c.phone, c.email, c.language, a.lat, a.lon"
                    " FROM crisis_contacts c JOIN affected_people a"
                    " ON a.incident_id = $2 AND a.contribution_id = 'registration:' || c.person_id"
                    " WHERE c.crisis_id = $1")


async def contacts(conn: Db, *, audience: str, crisis_id: str) -> list[asyncpg.Record]:
    """The crisis's contacts of an audience (`everyone`, `not_answered`: no welfare answer, `needs_help`: their
    latest answer), by person id."""
    return list(await conn.fetch(_CONTACTS[audience] + " ORDER BY c.person_id", crisis_id))


async def contacts_placed(conn: Db, *, crisis_id: str, incident_key: str) -> list[asyncpg.Record]:
    """The crisis's contacts with a position on the map (counted under `incident_key`), by person id."""
    return await conn.fetch(_CONTACTS_PLACED + " ORDER BY c.person_id", crisis_id, incident_key)


# writing and deciding ---------------------------------------------------------------------------------------------
async def all_clear_taken(conn: Db, *, crisis_id: str) -> str | None:
    """The id of the crisis's all-clear pending or approved; None if none."""
    return await conn.fetchval("SELECT broadcast_id FROM broadcasts WHERE crisis_id = $1 AND kind ="
                               " 'all_clear' AND status IN ('pending', 'approved')", crisis_id)


async def insert(conn: Db, *, broadcast_id: str, crisis_id: str, kind: str, audience: str, polygon: Polygon | None,
                 texts: dict[str, str], fallback: Sequence[str], author: str, created_at: datetime,
                 expires_at: datetime) -> None:
    """A pending broadcast, version 1 (edited when created)."""
    await conn.execute(
        "INSERT INTO broadcasts(broadcast_id, crisis_id, kind, status, audience, polygon, texts, fallback,"
        " version, author, created_at, edited_at, expires_at)"
        " VALUES ($1, $2, $3, 'pending', $4, $5, $6, $7, 1, $8, $9, $9, $10)",
        broadcast_id, crisis_id, kind, audience, [list(c) for c in polygon] if polygon is not None else None, texts,
        list(fallback), author, created_at, expires_at)


async def expire(conn: Db, *, now: datetime, crisis_id: str | None,
                 broadcast_id: str | None) -> list[asyncpg.Record]:
    """Pending broadcasts past their window (of a crisis, or one; None: any) marked expired when their window
    closed; their id, crisis, version and expiry."""
    return await conn.fetch(
        "UPDATE broadcasts SET status = 'expired', decided_at = expires_at"
        " WHERE status = 'pending' AND expires_at <= $1 AND ($2::text IS NULL OR crisis_id = $2)"
        " AND ($3::text IS NULL OR broadcast_id = $3) RETURNING broadcast_id, crisis_id, version, expires_at",
        now, crisis_id, broadcast_id)


async def broadcast_for_update(conn: asyncpg.Connection, *, broadcast_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM broadcasts WHERE broadcast_id = $1 FOR UPDATE", broadcast_id)


async def update_draft(conn: Db, *, broadcast_id: str, audience: str, polygon: Polygon | None,
                       texts: dict[str, str], fallback: Sequence[str], version: int, edited_at: datetime,
                       expires_at: datetime) -> None:
    await conn.execute(
        "UPDATE broadcasts SET audience = $2, polygon = $3, texts = $4, fallback = $5, version = $6,"
        " edited_at = $7, expires_at = $8 WHERE broadcast_id = $1",
        broadcast_id, audience, [list(c) for c in polygon] if polygon else None, texts, list(fallback), version,
        edited_at, expires_at)


async def mark_rejected(conn: Db, *, broadcast_id: str, actor: str, at: datetime, reason: str) -> None:
    await conn.execute("UPDATE broadcasts SET status = 'rejected', decided_by = $2, decided_at = $3,"
                       " reason = $4 WHERE broadcast_id = $1", broadcast_id, actor, at, reason)


async def mark_approved(conn: Db, *, broadcast_id: str, actor: str, at: datetime, people: int,
                        messages: int) -> None:
    await conn.execute("UPDATE broadcasts SET status = 'approved', decided_by = $2, decided_at = $3,"
                       " sent_people = $4, sent_messages = $5 WHERE broadcast_id = $1",
                       broadcast_id, actor, at, people, messages)


# reading ----------------------------------------------------------------------------------------------------------
async def broadcast(conn: Db, *, broadcast_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM broadcasts WHERE broadcast_id = $1", broadcast_id)


async def list_broadcasts(conn: Db, *, crisis_id: str, status: str | None) -> list[asyncpg.Record]:
    """The crisis's broadcasts (of one status, or all), newest first."""
    return list(await conn.fetch(
        "SELECT * FROM broadcasts WHERE crisis_id = $1 AND ($2::text IS NULL OR status = $2)"
        " ORDER BY created_at DESC, broadcast_id", crisis_id, status))


async def history(conn: Db, *, crisis_id: str, broadcast_id: str) -> list[asyncpg.Record]:
    """The broadcast's audit entries (`broadcast.*`), oldest first."""
    return list(await conn.fetch(
        "SELECT at, actor, action, detail FROM audit_log WHERE target = $1 AND action LIKE 'broadcast.%'"
        " AND detail->>'broadcast_id' = $2 ORDER BY id", crisis_id, broadcast_id))
