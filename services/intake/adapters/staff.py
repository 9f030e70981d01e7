"""SQL of officers, the on-call roster and their audit. Functions take a connection so the caller owns the
transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg

from services.intake.domain.roster import RosterEntry

_OFFICER_COLUMNS = "officer_id, name, role, phone, email, post_id, kinds, team, active, ended_at, login"
_ROSTER_SELECT = (
    "SELECT c.id, c.starts_at, c.ends_at, c.precedence, c.note, c.officer_id, c.backup_officer_id,"
    " o.name AS officer_name, o.role AS officer_role, o.phone AS officer_phone, o.email AS officer_email,"
    " b.name AS backup_name, b.role AS backup_role, b.phone AS backup_phone, b.email AS backup_email"
    " FROM on_call_roster c JOIN officers o ON o.officer_id = c.officer_id"
    " LEFT JOIN officers b ON b.officer_id = c.backup_officer_id")


def roster_entry(row: asyncpg.Record) -> RosterEntry:
    return RosterEntry(starts_at=row["starts_at"], ends_at=row["ends_at"], officer_phone=row["officer_phone"],
                       backup_phone=row["backup_phone"], officer_id=row["officer_id"],
                       backup_officer_id=row["backup_officer_id"], precedence=row["precedence"],
                       entry_id=row["id"])


def roster_view(row: asyncpg.Record) -> dict[str, Any]:
    def card(officer_id: int | None, prefix: str) -> dict[str, Any] | None:
        if officer_id is None:
            return None
        return {"officer_id": officer_id, "name": row[f"{prefix}_name"], "role": row[f"{prefix}_role"],
                "phone": row[f"{prefix}_phone"], "email": row[f"{prefix}_email"]}

    return {"entry_id": row["id"], "starts_at": row["starts_at"], "ends_at": row["ends_at"],
            "precedence": row["precedence"], "note": row["note"],
            "officer": card(row["officer_id"], "officer"), "backup": card(row["backup_officer_id"], "backup")}


# --- officers -------------------------------------------------------------------------------------------------

async def list_officers(conn: asyncpg.Connection, *, include_ended: bool) -> list[dict[str, Any]]:
    where = "" if include_ended else " WHERE active"
    return [dict(r) for r in await conn.fetch(f"SELECT {_OFFICER_COLUMNS} FROM officers{where} ORDER BY officer_id")]


async def get_officer(conn: asyncpg.Connection, officer_id: int, *, lock: bool = False) -> dict[str, Any] | None:
    row = await conn.fetchrow(f"SELECT {_OFFICER_COLUMNS} FROM officers WHERE officer_id = $1"
                              + (" FOR UPDATE" if lock else ""), officer_id)
    return dict(row) if row else None


async def add_officer(conn: asyncpg.Connection, values: dict[str, Any]) -> dict[str, Any]:
    row = await conn.fetchrow(
        "INSERT INTO officers (name, role, phone, email, post_id, kinds, team) VALUES ($1, $2, $3, $4, $5, $6, $7)"
        f" RETURNING {_OFFICER_COLUMNS}", values["name"], values["role"], values["phone"], values["email"],
        values["post_id"], values["kinds"], values["team"])
    return dict(row)


async def change_officer(conn: asyncpg.Connection, officer_id: int, changes: dict[str, Any]) -> dict[str, Any]:
    """`changes` holds only known column names (the API's model fields)."""
    assignments = ", ".join(f"{column} = ${i}" for i, column in enumerate(changes, start=2))
    row = await conn.fetchrow(f"UPDATE officers SET {assignments} WHERE officer_id = $1 RETURNING {_OFFICER_COLUMNS}",
                              officer_id, *changes.values())
    return dict(row)


async def end_officer(conn: asyncpg.Connection, officer_id: int, at: datetime) -> dict[str, Any]:
    row = await conn.fetchrow(f"UPDATE officers SET active = false, ended_at = $2 WHERE officer_id = $1"
                              f" RETURNING {_OFFICER_COLUMNS}", officer_id, at)
    return dict(row)


async def password_hash(conn: asyncpg.Connection, login: str) -> str | None:
    """The console password hash of an active officer's sign-in name."""
    value: str | None = await conn.fetchval(
        "SELECT password_hash FROM officers WHERE login = $1 AND active AND password_hash IS NOT NULL", login)
    return value


async def set_sign_in(conn: asyncpg.Connection, officer_id: int, login: str, encoded: str) -> None:
    await conn.execute("UPDATE officers SET login = $2, password_hash = $3 WHERE officer_id = $1",
                       officer_id, login, encoded)


async def login_taken(conn: asyncpg.Connection, login: str, officer_id: int) -> bool:
    return bool(await conn.fetchval("SELECT 1 FROM officers WHERE login = $1 AND officer_id <> $2", login, officer_id))


async def open_cases_of(conn: asyncpg.Connection, officer_id: int) -> int:
    return int(await conn.fetchval(
        "SELECT count(*) FROM reports WHERE officer_id = $1 AND status <> 'closed'", officer_id))


# --- roster ---------------------------------------------------------------------------------------------------

async def lock_roster(conn: asyncpg.Connection) -> None:
    """Serialise roster writers, so that two overlapping entries cannot both pass the conflict check."""
    await conn.execute("LOCK TABLE on_call_roster IN SHARE ROW EXCLUSIVE MODE")


async def roster_between(conn: asyncpg.Connection, starts: datetime, ends: datetime | None) -> list[asyncpg.Record]:
    """Entries overlapping [starts, ends) (ends None: every entry ending after `starts`), by start."""
    return list(await conn.fetch(
        f"{_ROSTER_SELECT} WHERE c.ends_at > $1 AND ($2::timestamptz IS NULL OR c.starts_at < $2)"
        " ORDER BY c.starts_at, c.id", starts, ends))


async def roster_row(conn: asyncpg.Connection, entry_id: int) -> asyncpg.Record | None:
    row: asyncpg.Record | None = await conn.fetchrow(f"{_ROSTER_SELECT} WHERE c.id = $1", entry_id)
    return row


async def future_entries_of(conn: asyncpg.Connection, officer_id: int, at: datetime) -> list[int]:
    """Roster entries not yet over in which the officer is on call or backup."""
    rows = await conn.fetch("SELECT id FROM on_call_roster WHERE ends_at > $2"
                            " AND (officer_id = $1 OR backup_officer_id = $1) ORDER BY starts_at", officer_id, at)
    return [r["id"] for r in rows]


async def add_roster_entry(conn: asyncpg.Connection, values: dict[str, Any]) -> int:
    entry_id: int = await conn.fetchval(
        "INSERT INTO on_call_roster (starts_at, ends_at, officer_id, backup_officer_id, precedence, note)"
        " VALUES ($1, $2, $3, $4, $5, $6) RETURNING id", values["starts_at"], values["ends_at"],
        values["officer_id"], values["backup_officer_id"], values["precedence"], values["note"])
    return entry_id


async def change_roster_entry(conn: asyncpg.Connection, entry_id: int, values: dict[str, Any]) -> None:
    await conn.execute(
        "UPDATE on_call_roster SET starts_at = $2, ends_at = $3, officer_id = $4, backup_officer_id = $5,"
        " precedence = $6, note = $7 WHERE id = $1", entry_id, values["starts_at"], values["ends_at"],
        values["officer_id"], values["backup_officer_id"], values["precedence"], values["note"])


async def cut_roster_entry(conn: asyncpg.Connection, entry_id: int, at: datetime) -> None:
    await conn.execute("UPDATE on_call_roster SET ends_at = $2 WHERE id = $1", entry_id, at)


async def delete_roster_entry(conn: asyncpg.Connection, entry_id: int) -> None:
    await conn.execute("DELETE FROM on_call_roster WHERE id = $1", entry_id)


# --- audit ----------------------------------------------------------------------------------------------------

async def audit(conn: asyncpg.Connection, *, actor: str, action: str, target: str, detail: dict[str, Any]) -> None:
    await conn.execute("INSERT INTO admin_audit (actor, action, target, detail) VALUES ($1, $2, $3, $4)",
                       actor, action, target, detail)


async def audit_entries(conn: asyncpg.Connection, *, target: str | None, limit: int, before: int | None = None
                        ) -> list[dict[str, Any]]:
    """The latest `limit` entries (older than entry `before` when given), newest first."""
    rows = await conn.fetch("SELECT id, at, actor, action, target, detail FROM admin_audit"
                            " WHERE ($1::text IS NULL OR target = $1) AND ($2::bigint IS NULL OR id < $2)"
                            " ORDER BY id DESC LIMIT $3", target, before, limit)
    return [dict(r) for r in rows]
