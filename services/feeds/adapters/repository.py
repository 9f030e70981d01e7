"""The feeds schema (migrations/0001_feeds.sql): the state as published, and the GDACS geometries per episode."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import asyncpg

from services.feeds.domain.model import FeedEvent, IncidentState, LonLat, SourceState, State

#: A closed incident is forgotten once none of its sources has been in its feed for this long (longer than any
#: feed keeps an item after its incident closed by age: the USGS week feed keeps a quake 7 days).
FORGET_AFTER = timedelta(days=14)
GEOMETRIES_KEPT = timedelta(days=30)


async def load_state(conn: asyncpg.Connection) -> State:
    """Every incident with its sources (a few hundred rows at most: closed ones are forgotten after 14 days)."""
    state = State()
    for row in await conn.fetch("SELECT * FROM incidents"):
        state.incidents[row["incident_id"]] = IncidentState(
            incident_id=row["incident_id"], country=row["country"], status=row["status"], published=row["published"],
            revision=row["revision"], reported_at=row["reported_at"], changed_at=row["changed_at"],
            closed_at=row["closed_at"], close_reason=row["close_reason"])
    for row in await conn.fetch("SELECT * FROM sources ORDER BY first_seen_at, source_id"):
        incident = state.incidents[row["incident_id"]]
        incident.sources[row["source_id"]] = SourceState(
            event=FeedEvent.from_json(row["event"]), incident_id=row["incident_id"], signature=row["signature"],
            polygon=_ring(row["polygon"]), first_seen_at=row["first_seen_at"], last_seen_at=row["last_seen_at"],
            absent_polls=row["absent_polls"], gone=row["gone"])
    return state


async def save_state(conn: asyncpg.Connection, state: State) -> None:
    """Write what the plan changed (incidents first: sources refer to them)."""
    incidents = [i for i in state.incidents.values() if i.dirty]
    if incidents:
        await conn.executemany(_UPSERT_INCIDENT, [
            (i.incident_id, i.country, i.status, i.published, i.revision, i.reported_at, i.changed_at, i.closed_at,
             i.close_reason) for i in incidents])
    sources = [s for i in state.incidents.values() for s in i.sources.values() if s.dirty]
    if sources:
        await conn.executemany(_UPSERT_SOURCE, [
            (s.source_id, s.feed, s.incident_id, s.event.episode, s.signature, s.event.to_json(),
             [list(p) for p in s.polygon] if s.polygon else None, s.absent_polls, s.gone, s.first_seen_at,
             s.last_seen_at) for s in sources])


_UPSERT_INCIDENT = """
INSERT INTO incidents (incident_id, country, status, published, revision, reported_at, changed_at, closed_at,
                       close_reason)
VALUES ($1, $2, $3, $4::jsonb, $5, $6, $7, $8, $9)
ON CONFLICT (incident_id) DO UPDATE SET status = EXCLUDED.status, published = EXCLUDED.published,
    revision = EXCLUDED.revision, changed_at = EXCLUDED.changed_at, closed_at = EXCLUDED.closed_at,
    close_reason = EXCLUDED.close_reason"""

_UPSERT_SOURCE = """
INSERT INTO sources (source_id, feed, incident_id, episode, signature, event, polygon, absent_polls, gone,
                     first_seen_at, last_seen_at)
VALUES ($1, $2, $3, $4, $5::jsonb, $6::jsonb, $7::jsonb, $8, $9, $10, $11)
ON CONFLICT (source_id) DO UPDATE SET episode = EXCLUDED.episode, signature = EXCLUDED.signature,
    event = EXCLUDED.event, polygon = EXCLUDED.polygon, absent_polls = EXCLUDED.absent_polls, gone = EXCLUDED.gone,
    last_seen_at = EXCLUDED.last_seen_at"""


async def cached_geometries(conn: asyncpg.Connection | asyncpg.Pool,
                            keys: list[tuple[str, str]]) -> dict[tuple[str, str], list[LonLat] | None]:
    """(source_id, episode) -> polygon (None: that episode links none usable) for the keys already fetched."""
    if not keys:
        return {}
    rows = await conn.fetch(
        "SELECT g.source_id, g.episode, g.polygon FROM geometries g"
        " JOIN unnest($1::text[], $2::text[]) AS k(source_id, episode) USING (source_id, episode)",
        [k[0] for k in keys], [k[1] for k in keys])
    return {(r["source_id"], r["episode"]): _ring(r["polygon"]) for r in rows}


async def store_geometry(conn: asyncpg.Connection | asyncpg.Pool, source_id: str, episode: str,
                         polygon: list[LonLat] | None, now: datetime) -> None:
    await conn.execute(
        "INSERT INTO geometries (source_id, episode, polygon, fetched_at) VALUES ($1, $2, $3::jsonb, $4)"
        " ON CONFLICT (source_id, episode) DO NOTHING",
        source_id, episode, [list(p) for p in polygon] if polygon else None, now)


async def forget_old(pool: asyncpg.Pool, now: datetime) -> int:
    """Closed incidents none of whose sources has been seen for FORGET_AFTER, and old geometries."""
    async with pool.acquire() as conn, conn.transaction():
        status = await conn.execute(
            "DELETE FROM incidents i WHERE i.status = 'closed' AND NOT EXISTS"
            " (SELECT 1 FROM sources s WHERE s.incident_id = i.incident_id AND s.last_seen_at > $1)",
            now - FORGET_AFTER)
        await conn.execute("DELETE FROM geometries WHERE fetched_at < $1", now - GEOMETRIES_KEPT)
    return int(status.split()[-1])


def _ring(raw: Any) -> list[LonLat] | None:
    if not raw:
        return None
    return [(float(p[0]), float(p[1])) for p in raw]
