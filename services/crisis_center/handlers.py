"""Use cases over PostgreSQL: activation, counts, notifications, closing, thresholds, reading.

Plain `async def`s with keyword-only dependencies; both the Faust worker and the HTTP API call them. The
database is the authority on crises (one per incident: unique index; hotline numbers: advisory lock plus a
unique index on active pool numbers); every event leaves through the outbox in the same transaction.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from services.crisis_center import welfare
from services.crisis_center.domain import texts
from services.crisis_center.domain.activation import ThresholdPolicy, allocate_hotline
from services.crisis_center.domain.crisis import Crisis
from services.crisis_center.domain.engine import Activate, PeopleChanged, PersonPoint, Recipient
from services.crisis_center.domain.membership import SEVERITIES
from services.crisis_center.records import Publishing, audit
from shared.events.crisis import CrisisActivated, CrisisClosed, CrisisUpdated
from shared.events.notifications import Recipient as WireRecipient
from shared.events.notifications import SendNotification, notification_id_for
from shared.geo import Area
from shared.kafka.outbox import OutboxRow, enqueue, enqueue_many, prepare
from shared.logging import get_logger

log = get_logger(__name__)

_CRISIS_NAMESPACE = uuid.UUID("0b0d2c1e-5f0c-4f57-9f3b-3b8a3c2d6e10")
_HOTLINE_LOCK = "crisis_center.hotline_pool"


def crisis_id_for_incident(incident_id: str) -> str:
    """Derived from the incident: a replayed activation finds the crisis it already made."""
    return str(uuid.uuid5(_CRISIS_NAMESPACE, incident_id))


def row_to_crisis(row: asyncpg.Record) -> Crisis:
    area = row["area"] if isinstance(row["area"], dict) else json.loads(row["area"])
    return Crisis(
        crisis_id=row["crisis_id"], incident_id=row["incident_id"], title=row["title"], kind=row["kind"],
        severity=row["severity"], status=row["status"], affected_count=row["affected_count"],
        threshold=row["threshold"], hotline_number=row["hotline_number"], area=Area.from_dict(area),
        activated_at=row["activated_at"], updated_at=row["updated_at"], closed_at=row["closed_at"],
    )


async def _publish_state(conn: asyncpg.Connection, crisis: Crisis, event: str, publishing: Publishing) -> None:
    model = {"activated": CrisisActivated, "updated": CrisisUpdated, "closed": CrisisClosed}[event]
    data = model.model_validate(crisis.status_data())
    await enqueue(conn, data, source=publishing.source, topic_prefix=publishing.topic_prefix)


async def _timeline(conn: asyncpg.Connection, crisis_id: str, at: datetime, event: str, actor: str,
                    count: int | None, detail: dict[str, Any] | None = None) -> None:
    await conn.execute(
        "INSERT INTO crisis_timeline(crisis_id, at, event, actor, affected_count, detail) VALUES ($1,$2,$3,$4,$5,$6)",
        crisis_id, at, event, actor, count, detail or {},
    )


async def _allocate(conn: asyncpg.Connection, *, pool_numbers: Sequence[str], general_number: str,
                    crisis_id: str, at: datetime) -> tuple[str, bool]:
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", _HOTLINE_LOCK)
    in_use = {r["hotline_number"] for r in await conn.fetch(
        "SELECT hotline_number FROM crises WHERE status = 'active' AND hotline_from_pool")}
    allocation = allocate_hotline(pool_numbers, in_use, general_number)
    if not allocation.from_pool:
        log.warning("hotline_pool_exhausted", crisis_id=crisis_id, pool_size=len(pool_numbers))
        await conn.execute("INSERT INTO alerts(at, kind, detail) VALUES ($1, 'hotline_pool_exhausted', $2)",
                           at, {"crisis_id": crisis_id, "pool_size": len(pool_numbers)})
    return allocation.number, allocation.from_pool


_INSERT_CRISIS = """
INSERT INTO crises(crisis_id, incident_id, title, kind, severity, status, affected_count, count_registrations,
                   count_reports, threshold, hotline_number, hotline_from_pool, area, activated_at, activated_by)
VALUES ($1,$2,$3,$4,$5,'active',$6,$7,$8,$9,$10,$11,$12,$13,$14)
ON CONFLICT DO NOTHING
RETURNING *
"""


@dataclass(frozen=True, slots=True)
class Activation:
    crisis: Crisis
    created: bool  # False: the incident already had its crisis (a replay, a restart): nothing published again


async def activate_for_incident(
    *, pool: asyncpg.Pool, activate: Activate, pool_numbers: Sequence[str], general_number: str, now: datetime,
    publishing: Publishing,
) -> Activation:
    """Activate the incident's crisis, publish `crisis.activated` and one message per affected traveller."""
    incident = activate.incident
    crisis_id = crisis_id_for_incident(incident.incident_id)
    async with pool.acquire() as conn, conn.transaction():
        existing = await conn.fetchrow("SELECT * FROM crises WHERE incident_id = $1", incident.incident_id)
        if existing is not None:
            if existing["status"] == "active":  # a replay: the map rows again (idempotent), nothing published
                await _place_people(conn, incident.incident_id, activate.people)
            return Activation(row_to_crisis(existing), False)
        number, from_pool = await _allocate(conn, pool_numbers=pool_numbers, general_number=general_number,
                                            crisis_id=crisis_id, at=now)
        row = await conn.fetchrow(
            _INSERT_CRISIS, crisis_id, incident.incident_id, incident.title, incident.kind, incident.severity,
            activate.count, activate.by_source["registration"], activate.by_source["report"], activate.threshold,
            number, from_pool, incident.area.to_dict(), now, "system:threshold",
        )
        if row is None:  # lost a race with another activation of the same incident
            existing = await conn.fetchrow("SELECT * FROM crises WHERE incident_id = $1", incident.incident_id)
            assert existing is not None
            return Activation(row_to_crisis(existing), False)
        crisis = row_to_crisis(row)
        await _timeline(conn, crisis_id, now, "activated", "system:threshold", activate.count,
                        {"threshold": activate.threshold, "hotline_from_pool": from_pool})
        await _publish_state(conn, crisis, "activated", publishing)
        await _enqueue_messages(conn, crisis, activate.recipients, publishing, now)
        await _place_people(conn, incident.incident_id, activate.people)
    log.info("crisis_activated", crisis_id=crisis_id, incident_id=incident.incident_id, count=activate.count,
             recipients=len(activate.recipients))
    return Activation(crisis, True)


async def _enqueue_messages(conn: asyncpg.Connection, crisis: Crisis, recipients: Sequence[Recipient],
                            publishing: Publishing, now: datetime) -> int:
    rows: list[OutboxRow] = []
    for recipient in recipients:
        language = texts.as_language(recipient.language)
        purpose = f"crisis:{crisis.crisis_id}:alert:{recipient.traveller_id}"
        for channel, address in (("sms", recipient.phone), ("email", recipient.email)):
            if not address:
                continue
            notification_id = notification_id_for(purpose, channel, address)
            command = SendNotification(
                notification_id=notification_id, purpose=purpose, channel=channel,  # type: ignore[arg-type]
                recipient=WireRecipient(phone=recipient.phone if channel == "sms" else None,
                                        email=recipient.email if channel == "email" else None,
                                        traveller_id=recipient.traveller_id),
                language=language, template="crisis_alert", priority="crisis", crisis_id=crisis.crisis_id,
                params={"crisis_title": crisis.title, "hotline_number": crisis.hotline_number,
                        "instructions": texts.instruction(crisis.hotline_number, language)},
            )
            rows.append(prepare(command, source=publishing.source, topic_prefix=publishing.topic_prefix,
                                event_id=f"send:{notification_id}"))
    await enqueue_many(conn, rows)
    await welfare.record_contacts(conn, crisis.crisis_id, recipients, at=now)
    return len(rows)


async def notify_joiners(*, pool: asyncpg.Pool, crisis_id: str, recipients: Sequence[Recipient],
                         publishing: Publishing, now: datetime, people: PeopleChanged | None = None) -> bool:
    """Message travellers who joined an active crisis, and store the map rows that changed with them in the same
    transaction; False when the crisis is no longer active."""
    async with pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow("SELECT * FROM crises WHERE crisis_id = $1 FOR SHARE", crisis_id)
        if row is None or row["status"] != "active":
            return False
        sent = await _enqueue_messages(conn, row_to_crisis(row), recipients, publishing, now)
        await _timeline(conn, crisis_id, now, "notified", "system:registration", None, {"messages": sent})
        if people is not None:
            await _apply_people(conn, people)
    return True


# the map of affected people -------------------------------------------------------------------------------------
_UPSERT_PERSON = """
INSERT INTO affected_people(incident_id, contribution_id, person, source, lat, lon) VALUES ($1,$2,$3,$4,$5,$6)
ON CONFLICT (incident_id, contribution_id) DO UPDATE
SET person = EXCLUDED.person, source = EXCLUDED.source, lat = EXCLUDED.lat, lon = EXCLUDED.lon
"""


async def _place_people(conn: asyncpg.Connection, incident_id: str, points: Sequence[PersonPoint]) -> None:
    if points:
        await conn.executemany(_UPSERT_PERSON, [(incident_id, p.contribution_id, p.person, p.source, p.lat, p.lon)
                                                for p in points])


async def _apply_people(conn: asyncpg.Connection, change: PeopleChanged) -> None:
    if change.replace:
        await conn.execute(
            "DELETE FROM affected_people WHERE incident_id = $1 AND NOT (contribution_id = ANY($2::text[]))",
            change.incident_id, [p.contribution_id for p in change.placed])
    elif change.removed:
        await conn.execute("DELETE FROM affected_people WHERE incident_id = $1 AND contribution_id = ANY($2::text[])",
                           change.incident_id, list(change.removed))
    await _place_people(conn, change.incident_id, change.placed)


async def record_people(*, pool: asyncpg.Pool, change: PeopleChanged) -> bool:
    """Store where an active crisis's people are; False (nothing stored) when the crisis is no longer active."""
    async with pool.acquire() as conn, conn.transaction():
        status = await conn.fetchval("SELECT status FROM crises WHERE crisis_id = $1 FOR SHARE", change.crisis_id)
        if status != "active":
            return False
        await _apply_people(conn, change)
    return True


async def people_on_map(*, pool: asyncpg.Pool, crisis_id: str) -> list[asyncpg.Record] | None:
    """One point per affected person of an active crisis (a registration's position before a report's);
    None for an unknown crisis, nothing for a closed or manual one."""
    async with pool.acquire() as conn:
        crisis = await conn.fetchrow("SELECT incident_id, status FROM crises WHERE crisis_id = $1", crisis_id)
        if crisis is None:
            return None
        if crisis["status"] != "active" or crisis["incident_id"] is None:
            return []
        return await conn.fetch(_PEOPLE_ON_MAP, crisis["incident_id"], crisis_id)


# A person's welfare for the map: their latest answer, else where their latest round stands (to phone: unreachable).
_PEOPLE_ON_MAP = """
SELECT DISTINCT ON (a.person) a.lat, a.lon, a.source,
       COALESCE(s.answer, CASE WHEN q.step IS NULL THEN NULL WHEN q.step = 'to_phone' THEN 'unreachable'
                               ELSE 'no_answer' END) AS welfare
FROM affected_people a
LEFT JOIN welfare_status s ON s.crisis_id = $2 AND a.contribution_id = 'registration:' || s.person_id
LEFT JOIN LATERAL (
    SELECT q.step FROM welfare_questions q JOIN welfare_checks w ON w.check_id = q.check_id
    WHERE q.crisis_id = $2 AND a.contribution_id = 'registration:' || q.person_id
    ORDER BY w.started_at DESC LIMIT 1) q ON true
WHERE a.incident_id = $1
ORDER BY a.person, s.answer IS NULL, a.source = 'registration' DESC, a.contribution_id
"""


async def record_count(*, pool: asyncpg.Pool, crisis_id: str, count: int, by_source: dict[str, int],
                       now: datetime, publishing: Publishing) -> bool:
    """Store the new count and publish `crisis.updated`; False when the crisis is no longer active."""
    async with pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(
            "UPDATE crises SET affected_count = $2, count_registrations = $3, count_reports = $4, updated_at = $5"
            " WHERE crisis_id = $1 AND status = 'active' RETURNING *",
            crisis_id, count, by_source.get("registration", 0), by_source.get("report", 0), now,
        )
        if row is None:
            return False
        await _timeline(conn, crisis_id, now, "updated", "system:count", count, dict(by_source))
        await _publish_state(conn, row_to_crisis(row), "updated", publishing)
    return True


async def close_crisis(*, pool: asyncpg.Pool, crisis_id: str, actor: str, now: datetime,
                       publishing: Publishing) -> Crisis | None:
    """Close, free the hotline number, publish `crisis.closed`; None if unknown. Closing twice is a no-op."""
    async with pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(
            "UPDATE crises SET status = 'closed', closed_at = $2, closed_by = $3"
            " WHERE crisis_id = $1 AND status = 'active' RETURNING *", crisis_id, now, actor)
        if row is None:
            existing = await conn.fetchrow("SELECT * FROM crises WHERE crisis_id = $1", crisis_id)
            return row_to_crisis(existing) if existing is not None else None
        crisis = row_to_crisis(row)
        if crisis.incident_id is not None:  # a closed crisis has no map: nobody's whereabouts are kept
            await conn.execute("DELETE FROM affected_people WHERE incident_id = $1", crisis.incident_id)
        answers = await welfare.counts_in(conn, crisis_id)
        await welfare.forget_crisis(conn, crisis_id)
        await _timeline(conn, crisis_id, now, "closed", actor, crisis.affected_count,
                        {"welfare": answers} if answers else None)
        await audit(conn, actor=actor, action="crisis.close", target=crisis_id, at=now)
        await _publish_state(conn, crisis, "closed", publishing)
    log.info("crisis_closed", crisis_id=crisis_id)
    return crisis


async def activate_manually(
    *, pool: asyncpg.Pool, title: str, kind: str, severity: str | None, area: Area, actor: str,
    pool_numbers: Sequence[str], general_number: str, threshold: int, now: datetime, publishing: Publishing,
) -> Crisis:
    """A crisis without an incident (a coordinator's decision): no automatic count, hotline from the pool."""
    crisis_id = str(uuid.uuid4())
    async with pool.acquire() as conn, conn.transaction():
        number, from_pool = await _allocate(conn, pool_numbers=pool_numbers, general_number=general_number,
                                            crisis_id=crisis_id, at=now)
        row = await conn.fetchrow(_INSERT_CRISIS, crisis_id, None, title, kind, severity, 0, 0, 0, threshold,
                                  number, from_pool, area.to_dict(), now, actor)
        assert row is not None
        crisis = row_to_crisis(row)
        await _timeline(conn, crisis_id, now, "activated", actor, 0, {"manual": True})
        await audit(conn, actor=actor, action="crisis.activate", target=crisis_id, at=now,
                    detail={"title": title, "kind": kind, "severity": severity})
        await _publish_state(conn, crisis, "activated", publishing)
    return crisis


async def active_closed_among(*, pool: asyncpg.Pool, crisis_ids: Sequence[str]) -> set[str]:
    """Those of `crisis_ids` that are closed (by a coordinator, while the worker still holds them active)."""
    if not crisis_ids:
        return set()
    rows = await pool.fetch("SELECT crisis_id FROM crises WHERE crisis_id = ANY($1::text[]) AND status = 'closed'",
                            list(crisis_ids))
    return {r["crisis_id"] for r in rows}


# thresholds ---------------------------------------------------------------------------------------------------
async def load_policy(*, pool: asyncpg.Pool, defaults: ThresholdPolicy) -> ThresholdPolicy:
    rows = await pool.fetch("SELECT severity, value FROM thresholds")
    values = {r["severity"]: r["value"] for r in rows}
    by_severity = {**defaults.by_severity, **{k: v for k, v in values.items() if k != "default"}}
    return ThresholdPolicy(values.get("default", defaults.default), by_severity)


async def set_thresholds(*, pool: asyncpg.Pool, actor: str, now: datetime, default: int | None,
                         by_severity: dict[str, int]) -> None:
    ThresholdPolicy(default or 1, by_severity)  # validates severities and values
    async with pool.acquire() as conn, conn.transaction():
        items = ([("default", default)] if default is not None else []) + list(by_severity.items())
        for severity, value in items:
            await conn.execute(
                "INSERT INTO thresholds(severity, value, updated_by, updated_at) VALUES ($1,$2,$3,$4)"
                " ON CONFLICT (severity) DO UPDATE SET value = $2, updated_by = $3, updated_at = $4",
                severity, value, actor, now)
        await audit(conn, actor=actor, action="threshold.set", target=None, at=now,
                    detail={"default": default, "by_severity": by_severity})


# reading ------------------------------------------------------------------------------------------------------
async def list_crises(*, pool: asyncpg.Pool, status: str | None = None) -> list[asyncpg.Record]:
    if status is None:
        return await pool.fetch("SELECT * FROM crises ORDER BY activated_at DESC LIMIT 500")
    return await pool.fetch("SELECT * FROM crises WHERE status = $1 ORDER BY activated_at DESC LIMIT 500", status)


async def get_crisis(*, pool: asyncpg.Pool, crisis_id: str) -> asyncpg.Record | None:
    return await pool.fetchrow("SELECT * FROM crises WHERE crisis_id = $1", crisis_id)


async def timeline(*, pool: asyncpg.Pool, crisis_id: str) -> list[asyncpg.Record]:
    return await pool.fetch(
        "SELECT at, event, actor, affected_count, detail FROM crisis_timeline WHERE crisis_id = $1 ORDER BY id",
        crisis_id)


async def audit_entries(*, pool: asyncpg.Pool, target: str | None = None) -> list[asyncpg.Record]:
    if target is None:
        return await pool.fetch("SELECT at, actor, action, target, detail FROM audit_log ORDER BY id DESC LIMIT 200")
    return await pool.fetch("SELECT at, actor, action, target, detail FROM audit_log WHERE target = $1 ORDER BY id",
                            target)


__all__ = ["SEVERITIES"]
