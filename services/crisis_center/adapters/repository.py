"""SQL of the crisis center's crises, map, proposals, watch list, thresholds and histories (timeline, audit).

One statement per function, over a connection (the caller owns the transaction) or the pool (one implicit
transaction); they return records or values and decide nothing: `handlers` decides what to write, in which
transaction, and what leaves through the outbox. The welfare checks', broadcasts', check-ins' and families'
inquiries' SQL is in the modules beside this one (`welfare_repository`...).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, TypeAlias

import asyncpg

from services.crisis_center.domain.engine import PersonPoint

Db: TypeAlias = asyncpg.Connection | asyncpg.Pool
"""A connection inside the caller's transaction, or the pool for a statement on its own."""

_HOTLINE_LOCK = "crisis_center.hotline_pool"


# crises ---------------------------------------------------------------------------------------------------------
async def lock_hotline_pool(conn: asyncpg.Connection) -> None:
    """Until the end of the transaction: one allocation of a hotline number at a time."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", _HOTLINE_LOCK)


async def pool_numbers_in_use(conn: Db) -> set[str]:
    rows = await conn.fetch("SELECT hotline_number FROM crises WHERE status = 'active' AND hotline_from_pool")
    return {r["hotline_number"] for r in rows}


async def insert_alert(conn: Db, *, at: datetime, kind: str, detail: dict[str, Any]) -> None:
    await conn.execute("INSERT INTO alerts(at, kind, detail) VALUES ($1, $2, $3)", at, kind, detail)


_INSERT_CRISIS = """
INSERT INTO crises(crisis_id, incident_id, title, kind, severity, status, affected_count, count_registrations,
                   count_reports, threshold, hotline_number, hotline_from_pool, area, activated_at, activated_by,
                   source, link)
VALUES ($1,$2,$3,$4,$5,'active',$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16)
ON CONFLICT DO NOTHING
RETURNING *
"""


async def insert_crisis(
    conn: Db, *, crisis_id: str, incident_id: str | None, title: str, kind: str, severity: str | None,
    affected_count: int, count_registrations: int, count_reports: int, threshold: int, hotline_number: str,
    hotline_from_pool: bool, area: dict[str, Any], activated_at: datetime, activated_by: str, source: str,
    link: str | None,
) -> asyncpg.Record | None:
    """The new active crisis; None when it exists already (its incident's crisis: a race lost)."""
    return await conn.fetchrow(
        _INSERT_CRISIS, crisis_id, incident_id, title, kind, severity, affected_count, count_registrations,
        count_reports, threshold, hotline_number, hotline_from_pool, area, activated_at, activated_by, source, link)


async def crisis(conn: Db, *, crisis_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM crises WHERE crisis_id = $1", crisis_id)


async def crisis_for_share(conn: asyncpg.Connection, *, crisis_id: str) -> asyncpg.Record | None:
    """The crisis, locked against closing until the end of the transaction."""
    return await conn.fetchrow("SELECT * FROM crises WHERE crisis_id = $1 FOR SHARE", crisis_id)


async def manual_crisis_for_share(conn: asyncpg.Connection, *, crisis_id: str) -> asyncpg.Record | None:
    """A crisis a coordinator opened (no incident), locked against closing until the end of the transaction."""
    return await conn.fetchrow("SELECT * FROM crises WHERE crisis_id = $1 AND incident_id IS NULL"
                               " AND source = 'manual' FOR SHARE", crisis_id)


async def crisis_exists(conn: Db, *, crisis_id: str) -> bool:
    return await conn.fetchval("SELECT 1 FROM crises WHERE crisis_id = $1", crisis_id) is not None


async def crisis_of_incident(conn: Db, *, incident_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM crises WHERE incident_id = $1", incident_id)


async def crisis_incident_and_status(conn: Db, *, crisis_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT incident_id, status FROM crises WHERE crisis_id = $1", crisis_id)


async def mark_exercise(conn: Db, *, crisis_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow("UPDATE crises SET exercise = true WHERE crisis_id = $1 RETURNING *", crisis_id)


async def update_count(conn: Db, *, crisis_id: str, count: int, registrations: int, reports: int,
                       at: datetime) -> asyncpg.Record | None:
    """The active crisis with its new count; None when it is not active."""
    return await conn.fetchrow(
        "UPDATE crises SET affected_count = $2, count_registrations = $3, count_reports = $4, updated_at = $5"
        " WHERE crisis_id = $1 AND status = 'active' RETURNING *",
        crisis_id, count, registrations, reports, at,
    )


async def close(conn: Db, *, crisis_id: str, at: datetime, actor: str) -> asyncpg.Record | None:
    """The crisis just closed; None when it is unknown or closed already."""
    return await conn.fetchrow(
        "UPDATE crises SET status = 'closed', closed_at = $2, closed_by = $3"
        " WHERE crisis_id = $1 AND status = 'active' RETURNING *", crisis_id, at, actor)


async def closed_among(conn: Db, *, crisis_ids: Sequence[str]) -> set[str]:
    rows = await conn.fetch("SELECT crisis_id FROM crises WHERE crisis_id = ANY($1::text[]) AND status = 'closed'",
                            list(crisis_ids))
    return {r["crisis_id"] for r in rows}


async def list_crises(conn: Db, *, status: str | None = None) -> list[asyncpg.Record]:
    if status is None:
        return await conn.fetch("SELECT * FROM crises ORDER BY activated_at DESC LIMIT 500")
    return await conn.fetch("SELECT * FROM crises WHERE status = $1 ORDER BY activated_at DESC LIMIT 500", status)


# histories ------------------------------------------------------------------------------------------------------
async def insert_timeline(conn: Db, *, crisis_id: str, at: datetime, event: str, actor: str,
                          affected_count: int | None, detail: dict[str, Any]) -> None:
    await conn.execute(
        "INSERT INTO crisis_timeline(crisis_id, at, event, actor, affected_count, detail) VALUES ($1,$2,$3,$4,$5,$6)",
        crisis_id, at, event, actor, affected_count, detail,
    )


async def timeline_newest_first(conn: Db, *, crisis_id: str, limit: int, before: int | None) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT id, at, event, actor, affected_count, detail FROM crisis_timeline"
        " WHERE crisis_id = $1 AND ($2::bigint IS NULL OR id < $2) ORDER BY id DESC LIMIT $3",
        crisis_id, before, limit)


async def insert_audit(conn: Db, *, at: datetime, actor: str, action: str, target: str | None,
                       detail: dict[str, Any]) -> None:
    await conn.execute("INSERT INTO audit_log(at, actor, action, target, detail) VALUES ($1,$2,$3,$4,$5)",
                       at, actor, action, target, detail)


async def audit_newest_first(conn: Db, *, target: str | None, limit: int,
                             before: int | None) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT id, at, actor, action, target, detail FROM audit_log"
        " WHERE ($1::text IS NULL OR target = $1) AND ($2::bigint IS NULL OR id < $2) ORDER BY id DESC LIMIT $3",
        target, before, limit)


# the map of affected people -------------------------------------------------------------------------------------
_UPSERT_PERSON = """
INSERT INTO affected_people(incident_id, contribution_id, person, source, lat, lon) VALUES ($1,$2,$3,$4,$5,$6)
ON CONFLICT (incident_id, contribution_id) DO UPDATE
SET person = EXCLUDED.person, source = EXCLUDED.source, lat = EXCLUDED.lat, lon = EXCLUDED.lon
"""


async def upsert_people(conn: asyncpg.Connection, *, incident_id: str, points: Sequence[PersonPoint]) -> None:
    await conn.executemany(_UPSERT_PERSON, [(incident_id, p.contribution_id, p.person, p.source, p.lat, p.lon)
                                            for p in points])


async def delete_people_except(conn: Db, *, incident_id: str, contribution_ids: Sequence[str]) -> None:
    await conn.execute(
        "DELETE FROM affected_people WHERE incident_id = $1 AND NOT (contribution_id = ANY($2::text[]))",
        incident_id, list(contribution_ids))


async def delete_people(conn: Db, *, incident_id: str, contribution_ids: Sequence[str]) -> None:
    await conn.execute("DELETE FROM affected_people WHERE incident_id = $1 AND contribution_id = ANY($2::text[])",
                       incident_id, list(contribution_ids))


async def delete_map(conn: Db, *, incident_id: str) -> None:
    await conn.execute("DELETE FROM affected_people WHERE incident_id = $1", incident_id)


async def without_jit(conn: asyncpg.Connection) -> None:
    """For the rest of the transaction. Compiling the people's query (JIT: its estimate crosses jit_above_cost from
    ~10,000 people) cost ~1.1 s at 100,000 people, more than running it (bench.crisis.people_map)."""
    await conn.execute("SET LOCAL jit = off")


# A person's welfare for the map: their latest answer, else where their latest round stands (to phone: unreachable).
_PEOPLE_ON_MAP = """
SELECT DISTINCT ON (a.person) a.lat, a.lon, a.source,
       COALESCE(s.answer, CASE WHEN q.step IS NULL THEN NULL WHEN q.step = 'to_phone' THEN 'unreachable'
                               ELSE 'no_answer' END) AS welfare
FROM affected_people a
LEFT JOIN welfare_status s ON s.crisis_id = $2 AND a.contribution_id = 'registration:' || s.person_id
LEFT JOIN (  -- each person's latest round, once for the crisis (a LATERAL probe per person cost ~1 s at 100,000)
    SELECT DISTINCT ON (q.person_id) q.person_id, q.step
    FROM welfare_questions q JOIN welfare_checks w ON w.check_id = q.check_id
    WHERE q.crisis_id = $2
    ORDER BY q.person_id, w.started_at DESC) q ON a.contribution_id = 'registration:' || q.person_id
WHERE a.incident_id = $1
ORDER BY a.person, s.answer IS NULL, a.source = 'registration' DESC, a.contribution_id
"""


def _in_box(first: int) -> str:
    """SQL: the person `p` is inside the box given as parameters $first..$first+3 (west, south, east, north;
    all NULL: anywhere)."""
    w, s, e, n = (f"${first + i}::float8" for i in range(4))
    return (f"({w} IS NULL OR (p.lat BETWEEN {s} AND {n} AND CASE WHEN {w} <= {e} THEN p.lon BETWEEN {w} AND {e}"
            f" ELSE p.lon >= {w} OR p.lon <= {e} END))")


# One person once (as _PEOPLE_ON_MAP), counted in the grid cell of their position: the cell's people, their mean
# position, how many are known through a report, and the most urgent welfare among them (an index of $4).
_PEOPLE_CLUSTERS = f"""
SELECT count(*)::int AS count, avg(p.lat) AS lat, avg(p.lon) AS lon,
       (count(*) FILTER (WHERE p.source = 'report'))::int AS reports,
       min(array_position($4::text[], p.welfare)) AS urgency
FROM ({_PEOPLE_ON_MAP}) p
WHERE {_in_box(5)}
GROUP BY floor(p.lat / $3::float8), floor(p.lon / $3::float8)
"""
_PEOPLE_IN_BOX = f"SELECT p.lat, p.lon, p.source, p.welfare FROM ({_PEOPLE_ON_MAP}) p WHERE {_in_box(3)}"

Box: TypeAlias = tuple[float | None, float | None, float | None, float | None]
"""West, south, east, north in degrees (`west > east` crosses the antimeridian); all None: anywhere."""


async def people_on_map(conn: Db, *, incident_key: str, crisis_id: str) -> list[asyncpg.Record]:
    """One point per person counted under `incident_key` with their welfare in the crisis."""
    return await conn.fetch(_PEOPLE_ON_MAP, incident_key, crisis_id)


async def people_clusters(conn: Db, *, incident_key: str, crisis_id: str, cell: float, urgency: Sequence[str],
                          box: Box) -> list[asyncpg.Record]:
    """The people inside `box` counted per grid cell of `cell` degrees; a cell's `urgency` is the 1-based position
    in `urgency` (most urgent first) of its people's most urgent welfare."""
    return await conn.fetch(_PEOPLE_CLUSTERS, incident_key, crisis_id, cell, list(urgency), *box)


async def people_in_box(conn: Db, *, incident_key: str, crisis_id: str, box: Box) -> list[asyncpg.Record]:
    return await conn.fetch(_PEOPLE_IN_BOX, incident_key, crisis_id, *box)


# proposals ------------------------------------------------------------------------------------------------------
_UPSERT_PROPOSAL = """
INSERT INTO proposals(incident_id, crisis_id, round, title, severity, origin, country, affected_count,
                      threshold, status, proposed_at)
VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,'pending',$10)
ON CONFLICT (incident_id) DO UPDATE
SET round = EXCLUDED.round, title = EXCLUDED.title, severity = EXCLUDED.severity,
    affected_count = EXCLUDED.affected_count, threshold = EXCLUDED.threshold, status = 'pending',
    proposed_at = EXCLUDED.proposed_at, escalated_at = NULL, decided_at = NULL, decided_by = NULL,
    applied_at = NULL
WHERE proposals.round < EXCLUDED.round
RETURNING incident_id
"""


async def upsert_proposal(conn: Db, *, incident_id: str, crisis_id: str, round: int, title: str,
                          severity: str | None, origin: str, country: str | None, affected_count: int,
                          threshold: int, proposed_at: datetime) -> bool:
    """A pending proposal of this round (a later round replaces an earlier one); False when this round or a
    later one is stored already."""
    row = await conn.fetchrow(_UPSERT_PROPOSAL, incident_id, crisis_id, round, title, severity, origin, country,
                              affected_count, threshold, proposed_at)
    return row is not None


async def mark_round_applied(conn: Db, *, incident_id: str, round: int, at: datetime) -> None:
    await conn.execute("UPDATE proposals SET applied_at = $3 WHERE incident_id = $1 AND round = $2"
                       " AND applied_at IS NULL", incident_id, round, at)


async def supersede_pending(conn: Db, *, incident_id: str, at: datetime) -> None:
    await conn.execute("UPDATE proposals SET status = 'superseded', applied_at = $2 WHERE incident_id = $1"
                       " AND status = 'pending'", incident_id, at)


async def mark_decision_applied(conn: Db, *, incident_id: str, round: int, at: datetime) -> None:
    await conn.execute("UPDATE proposals SET applied_at = $3 WHERE incident_id = $1 AND round = $2"
                       " AND applied_at IS NULL AND status IN ('confirmed', 'dismissed')", incident_id, round, at)


async def decisions_to_apply(conn: Db, *, limit: int) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT incident_id, round, status, decided_by, country FROM proposals"
        " WHERE status IN ('confirmed', 'dismissed') AND applied_at IS NULL ORDER BY decided_at LIMIT $1", limit)


async def proposal_for_update(conn: asyncpg.Connection, *, incident_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM proposals WHERE incident_id = $1 FOR UPDATE", incident_id)


async def decide(conn: Db, *, incident_id: str, status: str, at: datetime, actor: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "UPDATE proposals SET status = $2, decided_at = $3, decided_by = $4 WHERE incident_id = $1 RETURNING *",
        incident_id, status, at, actor)


async def pending_to_escalate(conn: asyncpg.Connection, *, proposed_before: datetime) -> list[asyncpg.Record]:
    """Up to 100 pending proposals not escalated yet, proposed by then, locked (others' locked ones skipped)."""
    return await conn.fetch(
        "SELECT * FROM proposals WHERE status = 'pending' AND escalated_at IS NULL AND proposed_at <= $1"
        " ORDER BY proposed_at LIMIT 100 FOR UPDATE SKIP LOCKED", proposed_before)


async def mark_escalated(conn: Db, *, incident_id: str, at: datetime) -> None:
    await conn.execute("UPDATE proposals SET escalated_at = $2 WHERE incident_id = $1", incident_id, at)


async def withdraw_pending(conn: Db, *, incident_id: str, at: datetime) -> asyncpg.Record | None:
    """The withdrawn proposal's crisis_id and round; None when none was pending."""
    return await conn.fetchrow(
        "UPDATE proposals SET status = 'withdrawn', applied_at = $2 WHERE incident_id = $1 AND status = 'pending'"
        " RETURNING crisis_id, round", incident_id, at)


async def list_proposals(conn: Db, *, status: str | None = None) -> list[asyncpg.Record]:
    if status is None:
        return await conn.fetch("SELECT * FROM proposals ORDER BY proposed_at DESC LIMIT 500")
    return await conn.fetch("SELECT * FROM proposals WHERE status = $1 ORDER BY proposed_at DESC LIMIT 500", status)


# the watch list -------------------------------------------------------------------------------------------------
_UPSERT_WATCH = """
INSERT INTO watched_incidents(incident_id, title, kind, severity, country, area, origin, link, occurred_at,
                              affected_count, count_registrations, count_reports, threshold, mode, updated_at)
VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15)
ON CONFLICT (incident_id) DO UPDATE
SET title = EXCLUDED.title, kind = EXCLUDED.kind, severity = EXCLUDED.severity, area = EXCLUDED.area,
    origin = EXCLUDED.origin, link = EXCLUDED.link, occurred_at = EXCLUDED.occurred_at,
    affected_count = EXCLUDED.affected_count, count_registrations = EXCLUDED.count_registrations,
    count_reports = EXCLUDED.count_reports, threshold = EXCLUDED.threshold, mode = EXCLUDED.mode,
    updated_at = EXCLUDED.updated_at
"""


async def upsert_watch(
    conn: Db, *, incident_id: str, title: str, kind: str, severity: str | None, country: str | None,
    area: dict[str, Any], origin: str, link: str | None, occurred_at: datetime | None, affected_count: int,
    count_registrations: int, count_reports: int, threshold: int, mode: str, updated_at: datetime,
) -> None:
    await conn.execute(
        _UPSERT_WATCH, incident_id, title, kind, severity, country, area, origin, link, occurred_at, affected_count,
        count_registrations, count_reports, threshold, mode, updated_at)


async def delete_watch(conn: Db, *, incident_id: str) -> None:
    await conn.execute("DELETE FROM watched_incidents WHERE incident_id = $1", incident_id)


async def watch_list(conn: Db) -> list[asyncpg.Record]:
    """Every watched incident with its proposal and crisis (if any): pending proposals first, then nearest to its
    threshold."""
    return await conn.fetch("""
        SELECT w.*, p.round AS proposal_round, p.status AS proposal_status, p.proposed_at, p.escalated_at,
               p.decided_at, p.decided_by, c.crisis_id, c.status AS crisis_status
        FROM watched_incidents w
        LEFT JOIN proposals p ON p.incident_id = w.incident_id
        LEFT JOIN crises c ON c.incident_id = w.incident_id
        ORDER BY (p.status = 'pending') IS TRUE DESC, w.affected_count::float / w.threshold DESC, w.incident_id
        LIMIT 1000""")


# thresholds -----------------------------------------------------------------------------------------------------
async def thresholds(conn: Db) -> dict[str, int]:
    """The stored thresholds by severity (`default`: the one for every other severity)."""
    rows = await conn.fetch("SELECT severity, value FROM thresholds")
    return {r["severity"]: r["value"] for r in rows}


async def upsert_threshold(conn: Db, *, severity: str, value: int | None, actor: str, at: datetime) -> None:
    await conn.execute(
        "INSERT INTO thresholds(severity, value, updated_by, updated_at) VALUES ($1,$2,$3,$4)"
        " ON CONFLICT (severity) DO UPDATE SET value = $2, updated_by = $3, updated_at = $4",
        severity, value, actor, at)
