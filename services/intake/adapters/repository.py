"""SQL of intake's schema. Functions take a connection so the caller owns the transaction."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import asyncpg

from services.intake.adapters.outbox_rows import OutboxRow
from services.intake.domain.clocks import ScheduledClockEvent
from services.intake.domain.model import Kind
from services.intake.domain.officers import Officer
from services.intake.domain.reference import format_reference
from services.intake.domain.roster import RosterEntry
from services.intake.domain.voice import ActiveCrisis


async def _one(conn: asyncpg.Connection, query: str, *args: object) -> dict[str, Any] | None:
    """The row `query` selects (the first, when it selects several), as a dict; None when it selects none."""
    row = await conn.fetchrow(query, *args)
    return dict(row) if row else None


def _officer(row: asyncpg.Record) -> Officer:
    return Officer(officer_id=row["officer_id"], name=row["name"], role=row["role"], phone=row["phone"],
                   email=row["email"], post_id=row["post_id"], kinds=frozenset(Kind(k) for k in row["kinds"]),
                   team=row["team"], active=row["active"])


async def officers(conn: asyncpg.Connection) -> list[Officer]:
    return [_officer(r) for r in await conn.fetch("SELECT * FROM officers ORDER BY officer_id")]


async def officer(conn: asyncpg.Connection, officer_id: int) -> Officer | None:
    row = await conn.fetchrow("SELECT * FROM officers WHERE officer_id = $1", officer_id)
    return _officer(row) if row else None


async def open_case_counts(conn: asyncpg.Connection) -> dict[int, int]:
    rows = await conn.fetch("SELECT officer_id, count(*) AS n FROM reports WHERE status <> 'closed' GROUP BY 1")
    return {r["officer_id"]: r["n"] for r in rows}


async def next_number(conn: asyncpg.Connection, year: int) -> int:
    return int(await conn.fetchval("SELECT next_reference_number($1)", year))


async def next_reference(conn: asyncpg.Connection, year: int) -> str:
    number = await conn.fetchval("SELECT next_reference_number($1)", year)
    return format_reference(year, int(number))


async def idempotent_reference(conn: asyncpg.Connection, principal: str, key: str) -> tuple[str, str] | None:
    row = await conn.fetchrow(
        "SELECT request_hash, reference FROM idempotency_keys WHERE principal = $1 AND key = $2", principal, key)
    return (row["request_hash"], row["reference"]) if row else None


async def external_case(conn: asyncpg.Connection, source: str, external_id: str) -> str | None:
    ref: str | None = await conn.fetchval(
        "SELECT reference FROM reports WHERE source = $1 AND external_id = $2", source, external_id)
    return ref


@dataclass
class CaseWrite:
    """Everything a new case writes: one statement, hence one round trip and one implicit transaction."""

    report: dict[str, Any]
    deadlines: Sequence[ScheduledClockEvent] = ()
    history: list[tuple[str, str, str | None]] = field(default_factory=list)
    """(status, actor, note), in order."""
    messages: list[dict[str, Any]] = field(default_factory=list)
    letters: list[dict[str, Any]] = field(default_factory=list)
    outbox: list[OutboxRow] = field(default_factory=list)
    idempotency: tuple[str, str, str] | None = None
    """(principal, key, request hash)."""


def _column(rows: Sequence[dict[str, Any]], name: str) -> list[Any]:
    return [row.get(name) for row in rows]


def _json_column(rows: Sequence[dict[str, Any]], name: str) -> list[str | None]:
    return [None if row.get(name) is None else json.dumps(row[name], ensure_ascii=False) for row in rows]


_INSERT_CASE = """
WITH r AS (
    INSERT INTO reports (reference, kind, status, channel, language, reporter, reporter_phone, subject, location,
        description, occurred_at, complex, forward_to, received_at, reply_due_by, provisional_reply_due_by,
        forward_due_by, officer_id, source, external_id, answered_by, answered_at, answered_on_time)
    VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8::jsonb, $9::jsonb, $10, $11, $12, $13, $14, $15, $16, $17, $18,
            $19, $20, $50, CASE WHEN $50::text IS NOT NULL THEN $14::timestamptz END, CASE WHEN $50::text IS NOT NULL
            THEN true END)
    RETURNING reference, received_at
), h AS (
    INSERT INTO status_history (reference, status, at, actor, note)
    SELECT r.reference, x.status, r.received_at, x.actor, x.note
    FROM r, unnest($21::text[], $22::text[], $23::text[]) WITH ORDINALITY AS x(status, actor, note, n)
    ORDER BY x.n
), d AS (
    INSERT INTO deadlines (reference, deadline, event, due_by, fire_at)
    SELECT r.reference, x.deadline, x.event, x.due_by, x.fire_at
    FROM r, unnest($24::text[], $25::text[], $26::timestamptz[], $27::timestamptz[]) AS x(deadline, event, due_by,
                                                                                          fire_at)
), m AS (
    INSERT INTO messages (reference, direction, channel, purpose, notification_id, body, officer, status,
                          provider_id)
    SELECT r.reference, x.direction, x.channel, x.purpose, x.notification_id, x.body, x.officer::jsonb, x.status,
           x.provider_id
    FROM r, unnest($28::text[], $29::text[], $30::text[], $31::text[], $32::text[], $33::text[], $34::text[],
                   $35::text[]) WITH ORDINALITY AS x(direction, channel, purpose, notification_id, body, officer,
                                                      status, provider_id, n)
    ORDER BY x.n
), p AS (
    INSERT INTO print_queue (reference, purpose, language, address, subject, body, officer)
    SELECT r.reference, x.purpose, x.language, x.address, x.subject, x.body, x.officer::jsonb
    FROM r, unnest($36::text[], $37::text[], $38::text[], $39::text[], $40::text[], $41::text[])
         AS x(purpose, language, address, subject, body, officer)
), o AS (
    INSERT INTO outbox (event_id, topic, key, payload, headers)
    SELECT x.event_id, x.topic, x.key, x.payload, x.headers::jsonb
    FROM r, unnest($42::text[], $43::text[], $44::text[], $45::bytea[], $46::text[]) WITH ORDINALITY
         AS x(event_id, topic, key, payload, headers, n)
    ORDER BY x.n
)
INSERT INTO idempotency_keys (principal, key, request_hash, reference)
SELECT x.principal, x.key, x.request_hash, r.reference
FROM r, unnest($47::text[], $48::text[], $49::text[]) AS x(principal, key, request_hash)
"""


async def insert_case(conn: asyncpg.Connection, write: CaseWrite) -> None:
    """The case, its history, clocks, messages, letters, outbox events and idempotency key, in one statement.

    A concurrent request that committed the same idempotency key first makes this raise UniqueViolationError,
    and nothing of the case is written.
    """
    row, messages, letters, outbox = write.report, write.messages, write.letters, write.outbox
    keys = [write.idempotency] if write.idempotency else []
    await conn.execute(
        _INSERT_CASE,
        row["reference"], row["kind"], row["status"], row["channel"], row["language"],
        row["reporter"], row["reporter_phone"], row["subject"], row["location"], row["description"],
        row["occurred_at"], row["complex"],
        row["forward_to"], row["received_at"], row["reply_due_by"], row["provisional_reply_due_by"],
        row["forward_due_by"], row["officer_id"], row["source"], row["external_id"],
        [h[0] for h in write.history], [h[1] for h in write.history], [h[2] for h in write.history],
        [d.deadline.value for d in write.deadlines], [d.event.value for d in write.deadlines],
        [d.due_by for d in write.deadlines], [d.fire_at for d in write.deadlines],
        _column(messages, "direction"), _column(messages, "channel"), _column(messages, "purpose"),
        _column(messages, "notification_id"), _column(messages, "body"), _json_column(messages, "officer"),
        _column(messages, "status"), _column(messages, "provider_id"),
        _column(letters, "purpose"), _column(letters, "language"), _column(letters, "address"),
        _column(letters, "subject"), _column(letters, "body"), _json_column(letters, "officer"),
        [o.event_id for o in outbox], [o.topic for o in outbox], [o.key for o in outbox],
        [o.payload for o in outbox], [o.headers_json for o in outbox],
        [k[0] for k in keys], [k[1] for k in keys], [k[2] for k in keys],
        row.get("answered_by"),
    )


async def idempotent_or_number(conn: asyncpg.Connection, principal: str, key: str,
                               year: int) -> tuple[tuple[str, str] | None, int]:
    """The case already made under this key (request hash, reference), and a fresh case number, in one round trip.

    A replay leaves the number unused: a gap, never a reuse.
    """
    row = await conn.fetchrow(
        "SELECT k.request_hash, k.reference, next_reference_number($3) AS number"
        " FROM (SELECT 1) AS one LEFT JOIN idempotency_keys k ON k.principal = $1 AND k.key = $2", principal, key,
        year)
    assert row is not None
    known = (row["request_hash"], row["reference"]) if row["reference"] is not None else None
    return known, int(row["number"])


async def add_status(conn: asyncpg.Connection, reference: str, status: str, *, actor: str,
                     note: str | None = None) -> None:
    await conn.execute(
        "WITH u AS (UPDATE reports SET status = $2, closed_at = CASE WHEN $2 = 'closed' THEN now() END"
        " WHERE reference = $1)"
        " INSERT INTO status_history (reference, status, actor, note) VALUES ($1, $2, $3, $4)",
        reference, status, actor, note)


async def add_history_note(conn: asyncpg.Connection, reference: str, *, actor: str, note: str | None,
                           action: str | None = None, at: datetime | None = None) -> None:
    """A line of the case's history with its current status: a note, or an action (reply, forward, warning...)."""
    await conn.execute(
        "INSERT INTO status_history (reference, status, actor, note, action, at)"
        " SELECT reference, status, $2, $3, $4, coalesce($5, now()) FROM reports WHERE reference = $1",
        reference, actor, note, action, at)


async def add_message(conn: asyncpg.Connection, *, reference: str, direction: str, channel: str, status: str,
                      purpose: str | None = None, notification_id: str | None = None, body: str | None = None,
                      officer: dict[str, str] | None = None, provider_id: str | None = None) -> None:
    await conn.execute(
        "INSERT INTO messages (reference, direction, channel, purpose, notification_id, body, officer, status,"
        " provider_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING",
        reference, direction, channel, purpose, notification_id, body, officer, status, provider_id)


async def message_by_provider_id(conn: asyncpg.Connection, provider_id: str) -> dict[str, Any] | None:
    return await _one(
        conn, "SELECT m.reference, r.language, m.purpose FROM messages m JOIN reports r USING (reference)"
        " WHERE m.provider_id = $1", provider_id)


async def queue_letter(conn: asyncpg.Connection, *, reference: str, purpose: str, language: str, address: str,
                       subject: str, body: str, officer: dict[str, str]) -> None:
    await conn.execute(
        "INSERT INTO print_queue (reference, purpose, language, address, subject, body, officer)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (purpose) DO NOTHING",
        reference, purpose, language, address, subject, body, officer)


_LETTER_COLUMNS = ("id AS letter_id, reference, split_part(purpose, ':', 3) AS purpose, language, subject, created_at,"
                   " printed_at, posted_by")


async def letters_waiting(conn: asyncpg.Connection, limit: int) -> list[dict[str, Any]]:
    """Letters not yet printed, oldest first (an anonymised case's letter has no address left)."""
    rows = await conn.fetch(f"SELECT {_LETTER_COLUMNS} FROM print_queue WHERE printed_at IS NULL AND address <> ''"
                            " ORDER BY created_at, id LIMIT $1", limit)
    return [dict(r) for r in rows]


async def letter(conn: asyncpg.Connection, letter_id: int, *, lock: bool = False) -> dict[str, Any] | None:
    return await _one(conn, "SELECT * FROM print_queue WHERE id = $1 AND address <> ''"
                            + (" FOR UPDATE" if lock else ""), letter_id)


async def letter_posted(conn: asyncpg.Connection, letter_id: int, *, reference: str, purpose: str, at: datetime,
                        actor: str) -> dict[str, Any]:
    """Printed and posted: the letter, and the case's message it carries (now sent)."""
    await conn.execute("UPDATE messages SET status = 'sent', status_at = $3 WHERE reference = $1"
                       " AND channel = 'letter' AND purpose = $2", reference, purpose, at)
    row = await conn.fetchrow(f"UPDATE print_queue SET printed_at = $2, posted_by = $3 WHERE id = $1"
                              f" RETURNING {_LETTER_COLUMNS}", letter_id, at, actor)
    return dict(row)


async def report(conn: asyncpg.Connection, reference: str) -> dict[str, Any] | None:
    return await _one(
        conn, "SELECT r.*, o.name AS officer_name, o.role AS officer_role, o.phone AS officer_phone,"
        " o.email AS officer_email FROM reports r JOIN officers o USING (officer_id) WHERE r.reference = $1",
        reference)


async def history(conn: asyncpg.Connection, reference: str, *, limit: int, before: int | None = None
                  ) -> list[dict[str, Any]]:
    """The latest `limit` entries (older than entry `before` when given), oldest first."""
    rows = await conn.fetch(
        "SELECT id, status, coalesce(action, 'status') AS action, at, actor, note FROM status_history"
        " WHERE reference = $1 AND ($2::bigint IS NULL OR id < $2) ORDER BY id DESC LIMIT $3", reference, before,
        limit)
    return [dict(r) for r in reversed(rows)]


async def messages(conn: asyncpg.Connection, reference: str, *, limit: int, before: int | None = None
                   ) -> list[dict[str, Any]]:
    """The latest `limit` messages (older than message `before` when given), oldest first."""
    rows = await conn.fetch(
        "SELECT m.id, m.direction, m.channel, m.purpose, m.notification_id, m.body, m.officer, m.status,"
        " m.status_reason, m.at, m.status_at,"
        " coalesce((SELECT json_agg(json_build_object('status', s.status, 'reason', s.reason, 'at', s.at)"
        "           ORDER BY s.at, s.id) FROM message_statuses s WHERE s.notification_id = m.notification_id),"
        "          '[]'::json) AS statuses"
        " FROM messages m WHERE m.reference = $1 AND ($2::bigint IS NULL OR m.id < $2) ORDER BY m.id DESC LIMIT $3",
        reference, before, limit)
    return [dict(r) for r in reversed(rows)]


async def case_for_follow_up(conn: asyncpg.Connection, reference: str) -> dict[str, Any] | None:
    """A case a message quotes: any that exists and is not anonymised (a closed one too: the officer sees it)."""
    return await _one(conn, "SELECT reference, language, status, reporter_phone FROM reports WHERE reference = $1"
                            " AND anonymised_at IS NULL", reference)


async def open_case_for_phone(conn: asyncpg.Connection, phone: str) -> dict[str, Any] | None:
    return await _one(
        conn, "SELECT reference, language FROM reports WHERE reporter_phone = $1 AND status <> 'closed'"
        " ORDER BY received_at DESC LIMIT 1", phone)


async def open_case_for_email(conn: asyncpg.Connection, email: str) -> dict[str, Any] | None:
    return await _one(
        conn, "SELECT reference, language FROM reports WHERE lower(reporter->>'email') = lower($1)"
        " AND status <> 'closed' ORDER BY received_at DESC LIMIT 1", email)


async def pending_survey_for_phone(conn: asyncpg.Connection, phone: str) -> dict[str, Any] | None:
    return await _one(
        conn, "SELECT s.reference, r.language FROM surveys s JOIN reports r USING (reference)"
        " WHERE s.phone = $1 AND s.answer IS NULL ORDER BY s.sent_at DESC LIMIT 1", phone)


async def record_survey(conn: asyncpg.Connection, *, reference: str, channel: str, phone: str | None,
                        token: str) -> bool:
    status = await conn.execute(
        "INSERT INTO surveys (reference, channel, phone, token) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
        reference, channel, phone, token)
    return bool(status.endswith(" 1"))


async def survey_by_token(conn: asyncpg.Connection, token: str) -> dict[str, Any] | None:
    return await _one(conn, "SELECT s.reference, s.answer, s.comment, r.language FROM surveys s"
                            " JOIN reports r USING (reference) WHERE s.token = $1", token)


async def answer_survey_page(conn: asyncpg.Connection, token: str, answer: int, comment: str | None) -> None:
    """The latest answer counts."""
    await conn.execute("UPDATE surveys SET answer = $2, comment = $3, answered_at = now() WHERE token = $1",
                       token, answer, comment)


async def satisfaction(conn: asyncpg.Connection, *, since: datetime, until: datetime) -> list[dict[str, Any]]:
    """Surveys sent in [since, until) per month (Brussels), kind and post: sent, answered, mean score, 1-5 counts."""
    rows = await conn.fetch(
        "SELECT to_char(s.sent_at AT TIME ZONE 'Europe/Brussels', 'YYYY-MM') AS month, r.kind, r.post_id,"
        " count(*) AS sent, count(s.answer) AS answered, round(avg(s.answer)::numeric, 2)::float8 AS mean,"
        " array[count(*) FILTER (WHERE s.answer = 1), count(*) FILTER (WHERE s.answer = 2),"
        "       count(*) FILTER (WHERE s.answer = 3), count(*) FILTER (WHERE s.answer = 4),"
        "       count(*) FILTER (WHERE s.answer = 5)] AS scores"
        " FROM surveys s JOIN reports r USING (reference) WHERE s.sent_at >= $1 AND s.sent_at < $2"
        " GROUP BY 1, 2, 3 ORDER BY 1, 2, 3 NULLS FIRST", since, until)
    return [dict(r) for r in rows]


async def answer_survey(conn: asyncpg.Connection, reference: str, answer: int) -> None:
    await conn.execute("UPDATE surveys SET answer = $2, answered_at = now() WHERE reference = $1", reference, answer)


async def cancel_deadlines(conn: asyncpg.Connection, reference: str) -> None:
    await conn.execute(
        "UPDATE deadlines SET cancelled_at = now() WHERE reference = $1 AND fired_at IS NULL"
        " AND cancelled_at IS NULL", reference)


async def due_deadlines(conn: asyncpg.Connection, now: datetime, limit: int) -> list[asyncpg.Record]:
    """Clock instants due now, locked for this transaction (replicas share the work)."""
    rows: list[asyncpg.Record] = await conn.fetch(
        "SELECT d.id, d.reference, d.deadline, d.event, d.due_by, o.email AS officer_email"
        " FROM deadlines d JOIN reports r USING (reference) JOIN officers o ON o.officer_id = r.officer_id"
        " WHERE d.fired_at IS NULL AND d.cancelled_at IS NULL AND d.fire_at <= $1"
        " ORDER BY d.fire_at LIMIT $2 FOR UPDATE OF d SKIP LOCKED", now, limit)
    return rows


async def next_fire_at(conn: asyncpg.Connection) -> datetime | None:
    value: datetime | None = await conn.fetchval(
        "SELECT min(fire_at) FROM deadlines WHERE fired_at IS NULL AND cancelled_at IS NULL")
    return value


async def mark_fired(conn: asyncpg.Connection, ids: list[int]) -> None:
    await conn.execute("UPDATE deadlines SET fired_at = now() WHERE id = ANY($1::bigint[])", ids)


async def message_status(conn: asyncpg.Connection, *, notification_id: str, status: str, reason: str | None,
                         at: datetime) -> bool:
    """Record a delivery status; the message shows the latest one. False when the message is not ours."""
    await conn.execute(
        "INSERT INTO message_statuses (notification_id, status, reason, at) VALUES ($1, $2, $3, $4)",
        notification_id, status, reason, at)
    result = await conn.execute(
        "UPDATE messages SET status = $2, status_reason = $3, status_at = $4"
        " WHERE notification_id = $1 AND status_at <= $4", notification_id, status, reason, at)
    return bool(result != "UPDATE 0")


async def attach_post(conn: asyncpg.Connection, reference: str, post: dict[str, Any] | None) -> dict[str, Any] | None:
    return await _one(
        conn, "UPDATE reports SET post = $2, post_id = $3 WHERE reference = $1 RETURNING kind, officer_id",
        reference, post, post["post_id"] if post else None)


async def reassign(conn: asyncpg.Connection, reference: str, officer_id: int) -> None:
    await conn.execute("UPDATE reports SET officer_id = $2 WHERE reference = $1", reference, officer_id)


async def roster(conn: asyncpg.Connection, at: datetime) -> list[RosterEntry]:
    rows = await conn.fetch(
        "SELECT c.id, c.starts_at, c.ends_at, c.precedence, c.officer_id, o.phone AS officer_phone,"
        " c.backup_officer_id, b.phone AS backup_phone FROM on_call_roster c"
        " JOIN officers o ON o.officer_id = c.officer_id LEFT JOIN officers b ON b.officer_id = c.backup_officer_id"
        " WHERE c.starts_at <= $1 AND c.ends_at > $1", at)
    return [RosterEntry(starts_at=r["starts_at"], ends_at=r["ends_at"], officer_phone=r["officer_phone"],
                        backup_phone=r["backup_phone"], officer_id=r["officer_id"],
                        backup_officer_id=r["backup_officer_id"], precedence=r["precedence"], entry_id=r["id"])
            for r in rows]


async def active_crises(conn: asyncpg.Connection) -> list[ActiveCrisis]:
    rows = await conn.fetch("SELECT crisis_id, title, hotline_number FROM active_crises ORDER BY updated_at")
    return [ActiveCrisis(crisis_id=r["crisis_id"], title=r["title"], hotline_number=r["hotline_number"])
            for r in rows]


async def crisis_state(conn: asyncpg.Connection, *, crisis_id: str, title: str, hotline_number: str,
                       active: bool, area: dict[str, Any] | None = None) -> None:
    if active:
        await conn.execute(
            "INSERT INTO active_crises (crisis_id, title, hotline_number, area, updated_at)"
            " VALUES ($1, $2, $3, $4, now())"
            " ON CONFLICT (crisis_id) DO UPDATE SET title = excluded.title,"
            " hotline_number = excluded.hotline_number, area = excluded.area, updated_at = now()",
            crisis_id, title, hotline_number, area)
    else:
        await conn.execute("DELETE FROM active_crises WHERE crisis_id = $1", crisis_id)
        await conn.execute("DELETE FROM welfare_questions WHERE crisis_id = $1", crisis_id)


# --- welfare checks ------------------------------------------------------------------------------------------

async def welfare_asked(conn: asyncpg.Connection, *, phone: str, crisis_id: str, check_id: str, person_id: str,
                        language: str, crisis_title: str, hotline_number: str, email: str | None,
                        asked_at: datetime, open_until: datetime) -> None:
    """The number's open question in this crisis (the latest asked wins; a late copy of an older one loses)."""
    await conn.execute(
        """INSERT INTO welfare_questions AS q (phone, crisis_id, check_id, person_id, language, crisis_title,
                                              hotline_number, email, asked_at, open_until)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
           ON CONFLICT (phone, crisis_id) DO UPDATE
           SET check_id = EXCLUDED.check_id, person_id = EXCLUDED.person_id, language = EXCLUDED.language,
               crisis_title = EXCLUDED.crisis_title, hotline_number = EXCLUDED.hotline_number,
               email = EXCLUDED.email, asked_at = EXCLUDED.asked_at, open_until = EXCLUDED.open_until
           WHERE q.asked_at <= EXCLUDED.asked_at""",
        phone, crisis_id, check_id, person_id, language, crisis_title, hotline_number, email, asked_at, open_until)


async def open_welfare_question(conn: asyncpg.Connection, phone: str, now: datetime) -> dict[str, Any] | None:
    """The latest question still open for this number, in a crisis still active."""
    return await _one(
        conn, "SELECT q.* FROM welfare_questions q JOIN active_crises a USING (crisis_id)"
        " WHERE q.phone = $1 AND q.open_until > $2 ORDER BY q.asked_at DESC LIMIT 1", phone, now)


async def crisis_areas(conn: asyncpg.Connection) -> list[dict[str, Any]]:
    rows = await conn.fetch("SELECT crisis_id, title, hotline_number, area FROM active_crises ORDER BY updated_at")
    return [dict(r) for r in rows]


async def check_ins_in_the_last_hour(conn: asyncpg.Connection, phone: str, now: datetime) -> int:
    """Counts this number's check-ins of the last hour, and records one more (what is older than a day, and
    check-ins that waited a day for a place, are dropped)."""
    await conn.execute("DELETE FROM sms_check_ins WHERE at < $1::timestamptz - interval '1 day'", now)
    await conn.execute("DELETE FROM check_ins_waiting_for_place WHERE asked_at < $1::timestamptz - interval '1 day'",
                       now)
    count = await conn.fetchval(
        "SELECT count(*) FROM sms_check_ins WHERE phone = $1 AND at > $2::timestamptz - interval '1 hour'", phone, now)
    await conn.execute("INSERT INTO sms_check_ins (phone, at) VALUES ($1, $2)", phone, now)
    return int(count)


async def wait_for_place(conn: asyncpg.Connection, phone: str, *, answer: str, language: str, at: datetime) -> None:
    await conn.execute(
        "INSERT INTO check_ins_waiting_for_place (phone, answer, language, asked_at) VALUES ($1, $2, $3, $4)"
        " ON CONFLICT (phone) DO UPDATE SET answer = EXCLUDED.answer, language = EXCLUDED.language,"
        " asked_at = EXCLUDED.asked_at", phone, answer, language, at)


async def take_waiting_check_in(conn: asyncpg.Connection, phone: str, since: datetime) -> dict[str, Any] | None:
    """The number's check-in waiting for a place, if asked after `since`; it is removed either way."""
    row = await conn.fetchrow("DELETE FROM check_ins_waiting_for_place WHERE phone = $1 RETURNING *", phone)
    return dict(row) if row is not None and row["asked_at"] > since else None


async def registered_traveller_id(conn: asyncpg.Connection, phone: str) -> str | None:
    value = await conn.fetchval("SELECT traveller_id FROM registered_travellers WHERE phone = $1"
                                " ORDER BY updated_at DESC LIMIT 1", phone)
    return str(value) if value is not None else None


async def crisis_facts(conn: asyncpg.Connection, crisis_id: str) -> dict[str, Any] | None:
    return await _one(conn, "SELECT title, hotline_number FROM active_crises WHERE crisis_id = $1", crisis_id)


async def traveller_location(conn: asyncpg.Connection, traveller_id: str) -> dict[str, Any] | None:
    row = await conn.fetchrow("SELECT country, city, lat, lon FROM registered_travellers WHERE traveller_id = $1",
                              traveller_id)
    return {k: v for k, v in dict(row).items() if v is not None} if row else None


async def link_case_to_crisis(conn: asyncpg.Connection, reference: str, crisis_id: str) -> None:
    await conn.execute("UPDATE reports SET crisis_id = $2 WHERE reference = $1", reference, crisis_id)



# --- search of cases and the charter board (the duty officers' console) ----------------------------------------

_CASE_COLUMNS = (
    "r.reference, r.status, r.kind, r.received_at, r.reply_due_by, r.provisional_reply_due_by, r.post, r.crisis_id,"
    " r.attention,"
    " o.name AS officer_name, o.role AS officer_role, o.phone AS officer_phone, o.email AS officer_email"
)


async def search_cases(conn: asyncpg.Connection, *, reference_prefix: str | None, phone: str | None,
                       name_pattern: str | None, status: str | None, limit: int) -> list[dict[str, Any]]:
    """Cases matching any given reading (reference prefix, E.164 phone, LIKE pattern on folded names), newest first.

    `name_pattern` is already folded and LIKE-escaped (backslash) by the caller, e.g. `%dupont%`.
    """
    rows = await conn.fetch(
        f"SELECT {_CASE_COLUMNS} FROM reports r JOIN officers o USING (officer_id)"
        " WHERE (($1::text IS NOT NULL AND r.reference LIKE $1 || '%')"
        "     OR ($2::text IS NOT NULL AND r.reporter_phone = $2)"
        "     OR ($3::text IS NOT NULL AND (fold_text(r.reporter->>'full_name') LIKE $3 ESCAPE '\\'"
        "                                    OR fold_text(r.subject->>'full_name') LIKE $3 ESCAPE '\\')))"
        "   AND ($4::text IS NULL OR r.status = $4)"
        " ORDER BY r.received_at DESC, r.reference DESC LIMIT $5",
        reference_prefix, phone, name_pattern, status, limit)
    return [dict(r) for r in rows]


async def charter_board(conn: asyncpg.Connection, *, horizon: datetime, officer_email: str | None,
                        post_id: str | None, limit: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Open cases whose reply is due before `horizon` or that need attention now (those first: a sought person
    answered safe; then crisis cases, then earliest first), and open complex
    cases whose provisional reply is due before `horizon` with none sent yet (a provisional reply message that did
    not fail)."""
    filters = ("r.status NOT IN ('closed', 'forwarded')"
               " AND ($2::text IS NULL OR o.login = $2 OR lower(o.email) = lower($2))"
               " AND ($3::text IS NULL OR r.post_id = $3)")
    # A case answered by a reply or a forward owes nothing more; a provisional reply defers the reply, still owed.
    replies = await conn.fetch(
        f"SELECT {_CASE_COLUMNS} FROM reports r JOIN officers o USING (officer_id)"
        f" WHERE {filters} AND (r.answered_by IS NULL OR r.answered_by = 'provisional_reply')"
        " AND (r.reply_due_by <= $1 OR r.attention IS NOT NULL)"
        " ORDER BY (r.attention IS NULL), (r.crisis_id IS NULL), r.reply_due_by, r.reference LIMIT $4",
        horizon, officer_email, post_id, limit)
    provisional = await conn.fetch(
        f"SELECT {_CASE_COLUMNS} FROM reports r JOIN officers o USING (officer_id)"
        f" WHERE {filters} AND r.provisional_reply_due_by <= $1"
        "   AND (r.answered_by IS NULL OR r.answered_by = 'provisional_reply')"
        "   AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.reference = r.reference AND m.direction = 'out'"
        "                   AND m.purpose LIKE 'provisional\\_reply%' AND m.status NOT IN ('failed', 'undeliverable'))"
        " ORDER BY (r.crisis_id IS NULL), r.provisional_reply_due_by, r.reference LIMIT $4",
        horizon, officer_email, post_id, limit)
    return [dict(r) for r in replies], [dict(r) for r in provisional]


# --- read audit ----------------------------------------------------------------------------------------------

async def record_read(conn: asyncpg.Connection, *, reference: str, kind: str, actor: str, roles: list[str]) -> None:
    await conn.execute("INSERT INTO case_reads (reference, kind, actor, roles) VALUES ($1, $2, $3, $4)",
                       reference, kind, actor, roles)


async def case_reads(conn: asyncpg.Connection, *, reference: str | None, limit: int, before: int | None = None
                     ) -> list[dict[str, Any]]:
    """The latest `limit` reads (older than read `before` when given), newest first."""
    rows = await conn.fetch(
        "SELECT id, reference, kind, actor, roles, read_at FROM case_reads"
        " WHERE ($1::text IS NULL OR reference = $1) AND ($2::bigint IS NULL OR id < $2) ORDER BY id DESC LIMIT $3",
        reference, before, limit)
    return [dict(r) for r in rows]
