"""Intake's retention job (docs/privacy.md): registrations past departure, closed cases past their period, and
the families' inquiries' data (welfare answers, imported PFIF records) past theirs.

Registrations are deleted and a tombstone (key traveller_id, null value) is published on the compacted
`travellers.registrations`, so Kafka compaction and the crisis center's Faust tables forget the traveller too.
The deletion and the pending tombstone commit together (`traveller_tombstones`), then the tombstones are sent:
a crash between the two sends them on the next run. Closed cases are anonymised in place (the case number,
kind, dates, country and officer stay for statistics); a case under legal hold is kept and counted.
Every run leaves a row in `retention_runs` with counts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import asyncpg
from aiokafka import AIOKafkaProducer

from shared.events.travellers import TOPIC as REGISTRATIONS
from shared.logging import get_logger

log = get_logger(__name__)

ANONYMISED_NAME = "(anonymised)"


@dataclass(frozen=True)
class RetentionPolicy:
    traveller_days: int = 14
    case_days: int = 5 * 365
    days_by_kind: tuple[tuple[str, int], ...] = ()
    """Kinds whose closed cases are kept a different number of days (detention, missing_person)."""
    families_days: int = 90
    idempotency_key_days: int = 7
    """Days an `Idempotency-Key` answers with the same report (a client's retries come within minutes)."""
    """Days a welfare answer (and a person known only by it) and an imported PFIF record are kept for the
    families' inquiries."""

    def case_cutoffs(self, now: datetime) -> dict[str, datetime]:
        """Closed before this instant: anonymise. '*' is every kind not named."""
        cutoffs = {kind: now - timedelta(days=days) for kind, days in self.days_by_kind}
        cutoffs["*"] = now - timedelta(days=self.case_days)
        return cutoffs

    def departure_cutoff(self, today: date) -> date:
        """Departed before this day: remove."""
        return today - timedelta(days=self.traveller_days)


async def remove_departed_travellers(conn: asyncpg.Connection, *, cutoff: date) -> int:
    """Delete the registrations whose declared departure is before `cutoff`, queuing their tombstones."""
    ids = await conn.fetch(
        "WITH gone AS (DELETE FROM registered_travellers WHERE departure < $1 RETURNING traveller_id),"
        " known AS (DELETE FROM known_people WHERE person_id IN (SELECT traveller_id FROM gone))"
        " INSERT INTO traveller_tombstones (traveller_id) SELECT traveller_id FROM gone"
        " ON CONFLICT (traveller_id) DO NOTHING RETURNING traveller_id", cutoff)
    return len(ids)


async def forget_old_families_data(conn: asyncpg.Connection, *, cutoff: datetime) -> dict[str, int]:
    """Welfare answers older than `cutoff` (a person known only by such an answer goes with it), and PFIF
    persons imported before it with their notes."""
    people = await conn.fetchval(
        "WITH gone AS (DELETE FROM known_people k WHERE k.updated_at < $1 AND NOT EXISTS"
        "   (SELECT 1 FROM registered_travellers r WHERE r.traveller_id = k.person_id) RETURNING 1)"
        " SELECT count(*) FROM gone", cutoff)
    answers = await conn.fetchval(
        "WITH cleared AS (UPDATE known_people SET last_answer = NULL, last_answer_at = NULL, last_channel = NULL,"
        " crisis_id = NULL WHERE last_answer_at < $1 RETURNING 1) SELECT count(*) FROM cleared", cutoff)
    imported = await conn.fetchval(
        "WITH gone AS (DELETE FROM sought_people WHERE reference IS NULL AND created_at < $1"
        "              RETURNING pfif_record_id),"
        " notes AS (DELETE FROM pfif_notes WHERE person_record_id IN (SELECT pfif_record_id FROM gone))"
        " SELECT count(*) FROM gone", cutoff)
    return {"people_forgotten": people, "answers_cleared": answers, "pfif_persons_removed": imported}


async def forget_idempotency_keys(conn: asyncpg.Connection, *, cutoff: datetime) -> int:
    return int(await conn.fetchval(
        "WITH gone AS (DELETE FROM idempotency_keys WHERE created_at < $1 RETURNING 1) SELECT count(*) FROM gone",
        cutoff))


async def send_tombstones(pool: asyncpg.Pool, producer: AIOKafkaProducer, *, topic_prefix: str,
                          batch: int = 500) -> int:
    sent = 0
    while True:
        async with pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch("SELECT traveller_id FROM traveller_tombstones ORDER BY created_at LIMIT $1"
                                    " FOR UPDATE SKIP LOCKED", batch)
            if not rows:
                return sent
            ids = [r["traveller_id"] for r in rows]
            for traveller_id in ids:
                await producer.send_and_wait(topic_prefix + REGISTRATIONS, None, key=traveller_id.encode())
            await conn.execute("DELETE FROM traveller_tombstones WHERE traveller_id = ANY($1::text[])", ids)
            sent += len(ids)


_ANONYMISE = """
WITH due AS (
    SELECT reference FROM reports
    WHERE status = 'closed' AND anonymised_at IS NULL AND NOT legal_hold
      AND closed_at < coalesce(($1::jsonb ->> kind)::timestamptz, ($1::jsonb ->> '*')::timestamptz)
    ORDER BY closed_at LIMIT $2 FOR UPDATE SKIP LOCKED
), r AS (
    UPDATE reports SET
        reporter = jsonb_build_object('full_name', $3::text, 'language', reporter -> 'language',
                                      'channel', reporter -> 'channel'),
        reporter_phone = NULL, subject = NULL, description = '',
        location = jsonb_build_object('country', location -> 'country'), anonymised_at = now()
    WHERE reference IN (SELECT reference FROM due) RETURNING reference, kind
), h AS (
    UPDATE status_history SET note = NULL WHERE reference IN (SELECT reference FROM r) AND note IS NOT NULL
), m AS (
    UPDATE messages SET body = NULL WHERE reference IN (SELECT reference FROM r) AND body IS NOT NULL
), p AS (
    UPDATE print_queue SET address = '', body = '' WHERE reference IN (SELECT reference FROM r)
), s AS (
    UPDATE surveys SET phone = NULL, comment = NULL WHERE reference IN (SELECT reference FROM r)
        AND (phone IS NOT NULL OR comment IS NOT NULL)
), f AS (
    DELETE FROM sought_people WHERE reference IN (SELECT reference FROM r)
)
SELECT kind, count(*) AS n FROM r GROUP BY kind
"""


async def anonymise_closed_cases(conn: asyncpg.Connection, *, cutoffs: dict[str, datetime],
                                 batch: int = 1000) -> dict[str, int]:
    limits = {kind: at.isoformat() for kind, at in cutoffs.items()}
    rows = await conn.fetch(_ANONYMISE, limits, batch, ANONYMISED_NAME)  # the pool encodes jsonb
    return {r["kind"]: r["n"] for r in rows}


async def held_past_retention(conn: asyncpg.Connection, *, cutoffs: dict[str, datetime]) -> int:
    """Closed cases past their period that a legal hold keeps."""
    limits = {kind: at.isoformat() for kind, at in cutoffs.items()}
    return int(await conn.fetchval(
        "SELECT count(*) FROM reports WHERE status = 'closed' AND anonymised_at IS NULL AND legal_hold"
        " AND closed_at < coalesce(($1::jsonb ->> kind)::timestamptz, ($1::jsonb ->> '*')::timestamptz)", limits))


async def audit(conn: asyncpg.Connection, *, job: str, cutoff: dict[str, str], counts: dict[str, int]) -> None:
    await conn.execute("INSERT INTO retention_runs (job, cutoff, counts) VALUES ($1, $2, $3)", job, cutoff, counts)


async def run_retention(*, pool: asyncpg.Pool, producer: AIOKafkaProducer, policy: RetentionPolicy,
                        topic_prefix: str, now: datetime | None = None) -> dict[str, dict[str, int]]:
    """One pass of both jobs; returns the counts it audited."""
    now = now or datetime.now(UTC)
    departure_cutoff = policy.departure_cutoff(now.date())
    async with pool.acquire() as conn, conn.transaction():
        removed = await remove_departed_travellers(conn, cutoff=departure_cutoff)
    tombstones = await send_tombstones(pool, producer, topic_prefix=topic_prefix)
    cutoffs = policy.case_cutoffs(now)
    cases: dict[str, int] = {}
    while True:
        async with pool.acquire() as conn, conn.transaction():
            counts = await anonymise_closed_cases(conn, cutoffs=cutoffs)
        for kind, n in counts.items():
            cases[kind] = cases.get(kind, 0) + n
        if not counts:
            break
    families_cutoff = now - timedelta(days=policy.families_days)
    async with pool.acquire() as conn, conn.transaction():
        families = await forget_old_families_data(conn, cutoff=families_cutoff)
        families["idempotency_keys_forgotten"] = await forget_idempotency_keys(
            conn, cutoff=now - timedelta(days=policy.idempotency_key_days))
        await audit(conn, job="families", cutoff={"before": families_cutoff.isoformat()}, counts=families)
    async with pool.acquire() as conn, conn.transaction():
        held = await held_past_retention(conn, cutoffs=cutoffs)
        await audit(conn, job="travellers", cutoff={"departure_before": departure_cutoff.isoformat()},
                    counts={"removed": removed, "tombstones_sent": tombstones})
        await audit(conn, job="closed_cases", cutoff={k: v.isoformat() for k, v in cutoffs.items()},
                    counts={**cases, "on_legal_hold": held})
    log.info("retention_run", travellers_removed=removed, tombstones_sent=tombstones,
             cases_anonymised=sum(cases.values()), cases_on_legal_hold=held)
    return {"travellers": {"removed": removed, "tombstones_sent": tombstones}, "closed_cases": cases,
            "legal_hold": {"on_legal_hold": held}, "families": families}
