"""SQL of the notifier (its own schema, on the pool's search_path). Plain functions over a connection."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
from pydantic_core import to_json

from services.notifier.domain.delivery import DeliveryStatus, Observation, can_move


@dataclass(slots=True)  # not frozen: a fan-out builds thousands, and a frozen one costs 4 us more each
class NewNotification:
    notification_id: str
    dedup_key: str
    purpose: str
    channel: str
    recipient: str
    language: str
    template: str
    priority: int
    case_reference: str | None
    crisis_id: str | None
    subject: str | None
    body: str
    html: str | None
    segments: int | None
    encoding: str | None
    status: DeliveryStatus
    reason: str | None
    sender: str = "notifier"
    alt_email: str | None = None
    """The person's e-mail and phone and the template parameters, kept when the purpose has a fallback."""
    alt_phone: str | None = None
    params: dict[str, Any] | None = None
    expires_at: datetime | None = None
    fallback_of: str | None = None


@dataclass(frozen=True)
class Claimed:
    id: int
    notification_id: str
    channel: str
    recipient: str
    subject: str | None
    body: str
    html: str | None
    priority: int
    dispatches: int
    claimed_at: datetime
    provider_id: str | None
    opted_out: bool
    sender: str = "notifier"
    language: str = "en"
    template: str = ""
    expires_at: datetime | None = None


@dataclass(frozen=True)
class Row:
    """What a status change needs to say who it belongs to."""

    notification_id: str
    channel: str
    status: DeliveryStatus
    case_reference: str | None
    crisis_id: str | None


async def insert_notification(conn: asyncpg.Connection, n: NewNotification) -> bool:
    """False when the same notification (id or purpose, channel and recipient) exists already."""
    return bool(await insert_notifications(conn, [n]))


async def insert_notifications(conn: asyncpg.Connection, rows: Sequence[NewNotification]) -> set[str]:
    """The rows and their first history lines in one statement (arrays unnested, in the given order, so that ids
    follow it); returns the notification ids stored. A row whose id or purpose, channel and recipient exists
    already is left out; the rows given must not repeat either among themselves (the caller keeps the first)."""
    if not rows:
        return set()
    stored = await conn.fetch(
        """WITH row AS (
               INSERT INTO notifications (notification_id, dedup_key, purpose, channel, recipient, language,
                   template, priority, case_reference, crisis_id, subject, body, html, segments, encoding, status,
                   reason, send_state, sender, alt_email, alt_phone, params, expires_at, fallback_of)
               SELECT notification_id, dedup_key, purpose, channel, recipient, language, template, priority,
                   case_reference, crisis_id, subject, body, html, segments, encoding, status, reason, send_state,
                   sender, alt_email, alt_phone, params::jsonb, expires_at, fallback_of
               FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
                           $8::smallint[], $9::text[], $10::text[], $11::text[], $12::text[], $13::text[],
                           $14::integer[], $15::text[], $16::text[], $17::text[], $18::text[], $19::text[],
                           $20::text[], $21::text[], $22::text[], $23::timestamptz[], $24::text[])
                    WITH ORDINALITY AS n(notification_id, dedup_key, purpose, channel, recipient, language,
                        template, priority, case_reference, crisis_id, subject, body, html, segments, encoding,
                        status, reason, send_state, sender, alt_email, alt_phone, params, expires_at, fallback_of,
                        position)
               ORDER BY position
               ON CONFLICT DO NOTHING RETURNING notification_id, status, reason)
           INSERT INTO status_history (notification_id, status, reason, source)
           SELECT notification_id, status, reason, 'command' FROM row RETURNING notification_id""",
        [n.notification_id for n in rows], [n.dedup_key for n in rows], [n.purpose for n in rows],
        [n.channel for n in rows], [n.recipient for n in rows], [n.language for n in rows],
        [n.template for n in rows], [n.priority for n in rows], [n.case_reference for n in rows],
        [n.crisis_id for n in rows], [n.subject for n in rows], [n.body for n in rows], [n.html for n in rows],
        [n.segments for n in rows], [n.encoding for n in rows], [n.status.value for n in rows],
        [n.reason for n in rows], ["pending" if n.status is DeliveryStatus.QUEUED else "done" for n in rows],
        [n.sender for n in rows], [n.alt_email for n in rows], [n.alt_phone for n in rows],
        [None if n.params is None else to_json(n.params, fallback=str).decode() for n in rows],
        [n.expires_at for n in rows], [n.fallback_of for n in rows],
    )
    return {r["notification_id"] for r in stored}


async def add_history(conn: asyncpg.Connection, notification_id: str, status: DeliveryStatus, reason: str | None,
                      source: str) -> None:
    await conn.execute(
        "INSERT INTO status_history (notification_id, status, reason, source) VALUES ($1, $2, $3, $4)",
        notification_id, status.value, reason, source,
    )


async def is_opted_out(conn: asyncpg.Connection, address: str) -> bool:
    return bool(await conn.fetchval("SELECT true FROM opt_outs WHERE address = $1", address))


async def opted_out_among(conn: asyncpg.Connection, addresses: Sequence[str]) -> set[str]:
    """Those of `addresses` that opted out."""
    rows = await conn.fetch("SELECT address FROM opt_outs WHERE address = ANY($1::text[])", list(addresses))
    return {r["address"] for r in rows}


async def add_opt_out(conn: asyncpg.Connection, address: str, *, keyword: str | None, source: str) -> None:
    await conn.execute(
        "INSERT INTO opt_outs (address, keyword, source) VALUES ($1, $2, $3) ON CONFLICT (address) DO NOTHING",
        address, keyword, source,
    )


async def remove_opt_out(conn: asyncpg.Connection, address: str) -> bool:
    return (await conn.execute("DELETE FROM opt_outs WHERE address = $1", address)) != "DELETE 0"


_CLAIM_COLUMNS = """n.id, n.notification_id, n.channel, n.recipient, n.subject, n.body, n.html, n.priority,
    n.dispatches, n.claimed_at, n.provider_id, n.sender, n.language, n.template, n.expires_at,
    (n.channel = 'sms' AND EXISTS (SELECT 1 FROM opt_outs o WHERE o.address = n.recipient)) AS opted_out"""


def _claimed(rows: Sequence[asyncpg.Record]) -> list[Claimed]:
    items = [Claimed(**dict(r)) for r in rows]
    return sorted(items, key=lambda c: (c.priority, c.id))


async def claim(conn: asyncpg.Connection, sender_id: str, limit: int) -> list[Claimed]:
    """Reserve up to `limit` messages, most urgent first; the reservation is committed before any call.
    (Without the carriers' limits: the dispatcher takes messages through `handlers.take_due`.)"""
    rows = await conn.fetch(
        f"""UPDATE notifications n
            SET send_state = 'reserved', claimed_by = $1, claimed_at = clock_timestamp(),
                dispatches = n.dispatches + 1, updated_at = now()
            WHERE n.id IN (SELECT id FROM notifications
                           WHERE send_state = 'pending' AND next_attempt_at <= now()
                           ORDER BY priority, id LIMIT $2 FOR UPDATE SKIP LOCKED)
            RETURNING {_CLAIM_COLUMNS}""",
        sender_id, limit,
    )
    return _claimed(rows)


async def lock_claims(conn: asyncpg.Connection) -> None:
    """One sender at a time decides what to take (in a transaction): the per-number limit holds across senders."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext(current_schema() || '.notifier_claims'))")


async def due(conn: asyncpg.Connection, limit: int, now: datetime) -> list[asyncpg.Record]:
    """Pending messages due at `now`, most urgent first, locked (in a transaction) for `reserve` or a verdict."""
    return await conn.fetch(
        """SELECT n.id, n.notification_id, n.channel, n.recipient, n.body, n.expires_at, n.status, n.case_reference,
                  n.crisis_id,
                  (n.channel = 'sms' AND EXISTS (SELECT 1 FROM opt_outs o WHERE o.address = n.recipient)) AS opted_out
           FROM notifications n WHERE n.send_state = 'pending' AND n.next_attempt_at <= $2
           ORDER BY n.priority, n.id LIMIT $1 FOR UPDATE OF n SKIP LOCKED""",
        limit, now)


async def recent_sms(conn: asyncpg.Connection, recipients: Sequence[str], since: datetime) -> list[asyncpg.Record]:
    """SMS handed to the provider since `since` for these numbers (the per-number window)."""
    if not recipients:
        return []
    return await conn.fetch(
        "SELECT notification_id, recipient, body, sent_at, status FROM notifications"
        " WHERE channel = 'sms' AND sent_at IS NOT NULL AND recipient = ANY($1::text[]) AND sent_at > $2",
        list(recipients), since)


async def reserve(conn: asyncpg.Connection, sender_id: str, ids: Sequence[int], now: datetime,
                  stamp: Sequence[int] = ()) -> list[Claimed]:
    """Reserve these (locked, pending) messages for `sender_id`; those in `stamp` (SMS that count toward their
    number's hourly limit) get `sent_at` = `now`."""
    if not ids:
        return []
    rows = await conn.fetch(
        f"""UPDATE notifications n
            SET send_state = 'reserved', claimed_by = $1, claimed_at = clock_timestamp(),
                dispatches = n.dispatches + 1, updated_at = now(),
                sent_at = CASE WHEN n.id = ANY($4::bigint[]) THEN $3::timestamptz ELSE n.sent_at END
            WHERE n.id = ANY($2::bigint[])
            RETURNING {_CLAIM_COLUMNS}""",
        sender_id, list(ids), now, list(stamp),
    )
    return _claimed(rows)


async def hold(conn: asyncpg.Connection, until: Sequence[tuple[int, datetime]]) -> None:
    """Put these pending messages off until a time each (the per-number limit)."""
    if until:
        await conn.execute(
            "UPDATE notifications n SET next_attempt_at = u.at, updated_at = now()"
            " FROM unnest($1::bigint[], $2::timestamptz[]) AS u(id, at) WHERE n.id = u.id",
            [u[0] for u in until], [u[1] for u in until])


async def end_unsent(conn: asyncpg.Connection, ended: Sequence[tuple[int, str, str]]) -> set[str]:
    """(id, status, reason): messages ended without a send (expired, deduplicated), with a history line each;
    returns their notification ids."""
    if not ended:
        return set()
    rows = await conn.fetch(
        """WITH e AS (
                   UPDATE notifications n SET status = u.status, reason = u.reason, send_state = 'done',
                       updated_at = now()
                   FROM unnest($1::bigint[], $2::text[], $3::text[]) AS u(id, status, reason) WHERE n.id = u.id
                   RETURNING n.notification_id, u.status, u.reason)
               INSERT INTO status_history (notification_id, status, reason, source)
               SELECT notification_id, status, reason, 'dispatcher' FROM e RETURNING notification_id""",
        [e[0] for e in ended], [e[1] for e in ended], [e[2] for e in ended])
    return {r["notification_id"] for r in rows}


async def mark_throttled(conn: asyncpg.Connection, ids: Sequence[int]) -> set[str]:
    """`throttled` for those of these messages still `queued`, with a history line each; returns their ids."""
    if not ids:
        return set()
    rows = await conn.fetch(
        """WITH t AS (
                   UPDATE notifications SET status = 'throttled', reason = 'per_number_limit', updated_at = now()
                   WHERE id = ANY($1::bigint[]) AND status = 'queued' RETURNING notification_id)
               INSERT INTO status_history (notification_id, status, reason, source)
               SELECT notification_id, 'throttled', 'per_number_limit', 'dispatcher' FROM t
               RETURNING notification_id""",
        list(ids))
    return {r["notification_id"] for r in rows}


async def fallback_facts(conn: asyncpg.Connection, notification_id: str) -> asyncpg.Record | None:
    """What a fallback of this message needs (its purpose, texts, the person's other addresses)."""
    return await conn.fetchrow(
        "SELECT notification_id, purpose, channel, recipient, language, template, priority, case_reference,"
        " crisis_id, body, reason, sender, alt_email, alt_phone, params, expires_at FROM notifications"
        " WHERE notification_id = $1", notification_id)


async def claim_orphans(conn: asyncpg.Connection, sender_id: str, dead_after: float, limit: int) -> list[Claimed]:
    """Take over messages reserved by a sender that stopped beating (killed mid-call): they need reconciling."""
    rows = await conn.fetch(
        f"""UPDATE notifications n
            SET claimed_by = $1, updated_at = now()
            WHERE n.id IN (SELECT x.id FROM notifications x
                           WHERE x.send_state = 'reserved' AND x.claimed_by IS DISTINCT FROM $1
                             AND NOT EXISTS (SELECT 1 FROM senders s WHERE s.sender_id = x.claimed_by
                                             AND s.heartbeat_at > now() - make_interval(secs => $2))
                           ORDER BY x.priority, x.id LIMIT $3 FOR UPDATE SKIP LOCKED)
            RETURNING {_CLAIM_COLUMNS}""",
        sender_id, dead_after, limit,
    )
    return _claimed(rows)


async def heartbeat(conn: asyncpg.Connection, sender_id: str) -> None:
    await conn.execute(
        "INSERT INTO senders (sender_id) VALUES ($1)"
        " ON CONFLICT (sender_id) DO UPDATE SET heartbeat_at = now()",
        sender_id,
    )


async def live_senders(conn: asyncpg.Connection, within_seconds: float) -> int:
    """Senders whose heartbeat is at most `within_seconds` old: those that may be sending now."""
    return int(await conn.fetchval(
        "SELECT count(*) FROM senders WHERE heartbeat_at >= now() - make_interval(secs => $1)", within_seconds))


async def forget_sender(conn: asyncpg.Connection, sender_id: str) -> None:
    await conn.execute("DELETE FROM senders WHERE sender_id = $1", sender_id)


async def prune_senders(conn: asyncpg.Connection, older_than_seconds: float) -> None:
    await conn.execute(
        "DELETE FROM senders WHERE heartbeat_at < now() - make_interval(secs => $1)"
        " AND NOT EXISTS (SELECT 1 FROM notifications n WHERE n.send_state = 'reserved'"
        "                 AND n.claimed_by = senders.sender_id)",
        older_than_seconds,
    )


async def mark_accepted(conn: asyncpg.Connection, accepted: Sequence[tuple[str, str]]) -> set[str]:
    """(notification_id, provider_id) pairs the provider took, in one statement (the sender batches them).
    Returns the ids recorded; a sid already recorded for another message is refused (see reconciliation)."""
    if not accepted:
        return set()
    rows = await conn.fetch(
        """UPDATE notifications n SET send_state = 'accepted', provider_id = a.provider_id, updated_at = now()
           FROM unnest($1::text[], $2::text[]) AS a(notification_id, provider_id)
           WHERE n.notification_id = a.notification_id AND n.send_state IN ('reserved', 'pending')
             AND (n.provider_id IS NULL OR n.provider_id = a.provider_id)
             AND NOT EXISTS (SELECT 1 FROM notifications m
                             WHERE m.provider_id = a.provider_id AND m.notification_id <> a.notification_id)
           RETURNING n.notification_id""",
        [a[0] for a in accepted], [a[1] for a in accepted],
    )
    return {r["notification_id"] for r in rows}


async def reconciliation_facts(conn: asyncpg.Connection, notification_id: str,
                               recipient: str) -> tuple[str | None, frozenset[str]]:
    """The message's own sid if one is recorded already (a status callback can name it while the row is still
    reserved), and the sids of the recipient's other messages, which a reconciliation must not claim."""
    rows = await conn.fetch(
        "SELECT notification_id, provider_id FROM notifications WHERE recipient = $1 AND provider_id IS NOT NULL",
        recipient)
    own = next((r["provider_id"] for r in rows if r["notification_id"] == notification_id), None)
    return own, frozenset(r["provider_id"] for r in rows if r["notification_id"] != notification_id)


async def release(conn: asyncpg.Connection, notification_id: str, next_attempt_at: datetime, *,
                  uncount: bool = False) -> None:
    """Back to pending (nothing was sent, established by the provider's answer or by reconciliation); `uncount`
    takes back this dispatch (the provider failed, not the message)."""
    await conn.execute(
        "UPDATE notifications SET send_state = 'pending', next_attempt_at = $2, claimed_by = NULL, updated_at = now(),"
        " sent_at = NULL,"
        " dispatches = CASE WHEN $3 THEN greatest(dispatches - 1, 0) ELSE dispatches END"
        " WHERE notification_id = $1 AND send_state = 'reserved'",
        notification_id, next_attempt_at, uncount,
    )


async def lock_row(conn: asyncpg.Connection, *, notification_id: str | None = None,
                   provider_id: str | None = None) -> Row | None:
    if notification_id is not None:
        record = await conn.fetchrow(
            "SELECT notification_id, channel, status, case_reference, crisis_id FROM notifications"
            " WHERE notification_id = $1 FOR UPDATE", notification_id)
    else:
        record = await conn.fetchrow(
            "SELECT notification_id, channel, status, case_reference, crisis_id FROM notifications"
            " WHERE provider_id = $1 FOR UPDATE", provider_id)
    if record is None:
        return None
    return Row(record["notification_id"], record["channel"], DeliveryStatus(record["status"]),
               record["case_reference"], record["crisis_id"])


async def apply_status(conn: asyncpg.Connection, row: Row, observation: Observation, *, source: str,
                       provider_id: str | None = None, finish_sending: bool = False) -> bool:
    """Move the row's state forward (never back); True when it moved. Call with the row locked."""
    if provider_id is not None:
        await conn.execute(
            "UPDATE notifications SET provider_id = $2 WHERE notification_id = $1 AND provider_id IS NULL",
            row.notification_id, provider_id)
    if finish_sending:
        await conn.execute(
            "UPDATE notifications SET send_state = 'done', updated_at = now() WHERE notification_id = $1",
            row.notification_id)
    if not can_move(row.status, observation.status):
        return False
    await conn.execute(
        "UPDATE notifications SET status = $2, reason = COALESCE($3, reason), updated_at = now()"
        " WHERE notification_id = $1",
        row.notification_id, observation.status.value, observation.reason)
    await add_history(conn, row.notification_id, observation.status, observation.reason, source)
    return True


async def counts(conn: asyncpg.Connection, *, case_reference: str | None, crisis_id: str | None) -> dict[str, int]:
    rows = await conn.fetch(
        "SELECT status, count(*) AS n FROM notifications"
        " WHERE ($1::text IS NULL OR case_reference = $1) AND ($2::text IS NULL OR crisis_id = $2)"
        " GROUP BY status",
        case_reference, crisis_id)
    return {r["status"]: int(r["n"]) for r in rows}


async def fallback_count(conn: asyncpg.Connection, *, case_reference: str | None, crisis_id: str | None) -> int:
    return int(await conn.fetchval(
        "SELECT count(*) FROM notifications WHERE fallback_of IS NOT NULL"
        " AND ($1::text IS NULL OR case_reference = $1) AND ($2::text IS NULL OR crisis_id = $2)",
        case_reference, crisis_id))


async def list_notifications(conn: asyncpg.Connection, *, case_reference: str | None, crisis_id: str | None,
                             limit: int) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        "SELECT notification_id, purpose, channel, recipient, language, template, status, reason, segments,"
        "       created_at, updated_at FROM notifications"
        " WHERE ($1::text IS NULL OR case_reference = $1) AND ($2::text IS NULL OR crisis_id = $2)"
        " ORDER BY id LIMIT $3",
        case_reference, crisis_id, limit)
    return [dict(r) for r in rows]


async def history(conn: asyncpg.Connection, notification_id: str) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        "SELECT status, reason, source, at FROM status_history WHERE notification_id = $1 ORDER BY id",
        notification_id)
    return [dict(r) for r in rows]
