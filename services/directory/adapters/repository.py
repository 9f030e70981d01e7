"""SQL of the directory schema (the pool's search_path names it): overrides, audit, routings."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg


async def overrides(conn: asyncpg.Connection | asyncpg.Pool) -> dict[str, dict[str, Any]]:
    rows = await conn.fetch("SELECT post_id, state FROM post_overrides")
    return {row["post_id"]: row["state"] for row in rows}


async def overrides_marker(conn: asyncpg.Connection | asyncpg.Pool) -> tuple[int, int]:
    """Changes whenever any override changes: (rows, sum of versions)."""
    row = await conn.fetchrow("SELECT count(*) AS n, coalesce(sum(version), 0) AS v FROM post_overrides")
    assert row is not None
    return int(row["n"]), int(row["v"])


async def lock_override(conn: asyncpg.Connection, post_id: str) -> dict[str, Any] | None:
    """The post's stored state, locked until the transaction ends (changes to one post are serialised)."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext('directory.post:' || $1))", post_id)
    state: dict[str, Any] | None = await conn.fetchval("SELECT state FROM post_overrides WHERE post_id = $1", post_id)
    return state


async def save_override(conn: asyncpg.Connection, post_id: str, state: dict[str, Any], *, by: str) -> None:
    await conn.execute(
        "INSERT INTO post_overrides(post_id, state, updated_by) VALUES ($1, $2, $3)"
        " ON CONFLICT (post_id) DO UPDATE SET state = EXCLUDED.state, version = post_overrides.version + 1,"
        " updated_by = EXCLUDED.updated_by, updated_at = now()",
        post_id,
        state,
        by,
    )


async def audit(
    conn: asyncpg.Connection,
    *,
    post_id: str,
    change: str,
    payload: dict[str, Any],
    before: dict[str, Any],
    after: dict[str, Any],
    by: str,
    roles: list[str],
    at: datetime,
) -> int:
    change_id: int = await conn.fetchval(
        "INSERT INTO post_changes(post_id, change, payload, before, after, changed_by, roles, changed_at)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
        post_id,
        change,
        payload,
        before,
        after,
        by,
        roles,
        at,
    )
    return change_id


async def changes(conn: asyncpg.Connection | asyncpg.Pool, post_id: str, *, limit: int = 100) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        "SELECT id, change, payload, before, after, changed_by, roles, changed_at FROM post_changes"
        " WHERE post_id = $1 ORDER BY id DESC LIMIT $2",
        post_id,
        limit,
    )
    return [dict(row) for row in rows]


async def save_routing(conn: asyncpg.Connection, **values: Any) -> None:
    await conn.execute(
        "INSERT INTO routings(reference, kind, service, country, post_id, basis, eu_member_state, distance_km,"
        " routed_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
        " ON CONFLICT (reference) DO UPDATE SET kind = EXCLUDED.kind, service = EXCLUDED.service,"
        " country = EXCLUDED.country, post_id = EXCLUDED.post_id, basis = EXCLUDED.basis,"
        " eu_member_state = EXCLUDED.eu_member_state, distance_km = EXCLUDED.distance_km,"
        " routed_at = EXCLUDED.routed_at",
        values["reference"],
        values["kind"],
        values["service"],
        values["country"],
        values["post_id"],
        values["basis"],
        values["eu_member_state"],
        values["distance_km"],
        values["routed_at"],
    )


async def routing(conn: asyncpg.Connection | asyncpg.Pool, reference: str) -> dict[str, Any] | None:
    row = await conn.fetchrow("SELECT * FROM routings WHERE reference = $1", reference)
    return dict(row) if row is not None else None
