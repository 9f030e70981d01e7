"""SQL of the welfare checks: contacts, rounds and their steps, answers, the desk's reading, and forgetting.

One statement per function unless its docstring says otherwise, over a connection (the caller owns the
transaction) or the pool; they return records or values and decide nothing: `welfare` decides.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TypeAlias

import asyncpg

from services.crisis_center.adapters.repository import Db
from services.crisis_center.domain import exercise
from shared.events.welfare import WelfareAnswered

Contact: TypeAlias = tuple[str, str | None, str | None, str, str]
"""A contact of a crisis: person id, phone, email, language, source (`registration`, `check_in`, `exercise`)."""

StepUpdate: TypeAlias = tuple[str, str, str, datetime | None, datetime | None]
"""Where a person's question of a round stands: check id, person id, step, due at (None: nothing more), asked at."""


# contacts ---------------------------------------------------------------------------------------------------------
_UPSERT_CONTACT = """INSERT INTO crisis_contacts(crisis_id, person_id, phone, email, language, source, added_at)
               VALUES ($1, $2, $3, $4, $5, $6, $7)
               ON CONFLICT (crisis_id, person_id) DO UPDATE
               SET phone = EXCLUDED.phone, email = EXCLUDED.email, language = EXCLUDED.language"""


async def upsert_contacts(conn: asyncpg.Connection, *, crisis_id: str, contacts: Sequence[Contact],
                          at: datetime) -> None:
    await conn.executemany(_UPSERT_CONTACT, [(crisis_id, *c, at) for c in contacts])


# rounds -----------------------------------------------------------------------------------------------------------
async def crisis_for_share(conn: asyncpg.Connection, *, crisis_id: str) -> asyncpg.Record | None:
    """The crisis's status and exercise flag, locked against closing until the end of the transaction."""
    return await conn.fetchrow("SELECT status, exercise FROM crises WHERE crisis_id = $1 FOR SHARE", crisis_id)


async def insert_round(conn: Db, *, check_id: str, crisis_id: str, started_at: datetime, started_by: str,
                       escalate_after_minutes: int) -> None:
    """The round with no recipients yet (`set_recipients` counts them once its questions are written)."""
    await conn.execute(
        "INSERT INTO welfare_checks(check_id, crisis_id, started_at, started_by, escalate_after_minutes,"
        " recipients) VALUES ($1, $2, $3, $4, $5, 0)", check_id, crisis_id, started_at, started_by,
        escalate_after_minutes)


async def stop_chasing(conn: Db, *, crisis_id: str) -> None:
    """Nobody of the crisis is due a step any more (a new round's question replaces the earlier ones)."""
    await conn.execute("UPDATE welfare_questions SET due_at = NULL WHERE crisis_id = $1 AND due_at IS NOT NULL",
                       crisis_id)


async def insert_questions(conn: Db, *, check_id: str, crisis_id: str, due_at: datetime, drill: bool) -> int:
    """One question per contact of the crisis (of an exercise: its test list's only), due at once; how many."""
    status = await conn.execute(
        "INSERT INTO welfare_questions(check_id, person_id, crisis_id, step, due_at)"
        " SELECT $1, person_id, crisis_id, 'pending', $3 FROM crisis_contacts WHERE crisis_id = $2"
        " AND (NOT $4 OR person_id LIKE $5)",  # an exercise asks its test list only
        check_id, crisis_id, due_at, drill, exercise.PREFIX + "%")
    return int(status.split()[-1])


async def set_recipients(conn: Db, *, check_id: str, recipients: int) -> None:
    await conn.execute("UPDATE welfare_checks SET recipients = $2 WHERE check_id = $1", check_id, recipients)


_DUE = """
SELECT q.check_id, q.person_id, q.crisis_id, q.step, q.asked_at, c.phone, c.email, c.language,
       w.escalate_after_minutes, w.started_at, k.title, k.hotline_number, k.status, k.exercise
FROM welfare_questions q
JOIN crisis_contacts c ON c.crisis_id = q.crisis_id AND c.person_id = q.person_id
JOIN welfare_checks w ON w.check_id = q.check_id
JOIN crises k ON k.crisis_id = q.crisis_id
WHERE q.due_at <= $1
ORDER BY q.due_at
LIMIT $2
FOR UPDATE OF q SKIP LOCKED
"""


async def due_steps(conn: asyncpg.Connection, *, now: datetime, batch: int) -> list[asyncpg.Record]:
    """Up to `batch` questions due by `now`, soonest first, with their contact, round and crisis; locked until the
    end of the transaction (the ones other workers hold are skipped)."""
    return await conn.fetch(_DUE, now, batch)


async def move_steps(conn: asyncpg.Connection, updates: Sequence[StepUpdate]) -> None:
    await conn.executemany(
        "UPDATE welfare_questions SET step = $3, due_at = $4, asked_at = $5 WHERE check_id = $1 AND person_id = $2",
        updates)


# answers ----------------------------------------------------------------------------------------------------------
_QUESTION_FOR_LINK = """SELECT q.step, w.started_at, k.status, c.phone, c.email, c.language,
                      (SELECT s.answer FROM welfare_status s
                       WHERE s.crisis_id = q.crisis_id AND s.person_id = q.person_id
                         AND s.check_id = q.check_id AND s.channel = 'email') AS link_answer
               FROM welfare_questions q
               JOIN welfare_checks w ON w.check_id = q.check_id
               JOIN crises k ON k.crisis_id = q.crisis_id
               JOIN crisis_contacts c ON c.crisis_id = q.crisis_id AND c.person_id = q.person_id
               WHERE q.check_id = $1 AND q.person_id = $2 FOR UPDATE OF q"""


async def question_for_link(conn: asyncpg.Connection, *, check_id: str, person_id: str) -> asyncpg.Record | None:
    """The person's question of the round, locked, with its round's start, the crisis's status, the contact, and
    the person's answer by link in this round (`link_answer`, None if none)."""
    return await conn.fetchrow(_QUESTION_FOR_LINK, check_id, person_id)


async def crisis_of_round(conn: Db, *, check_id: str) -> str | None:
    return await conn.fetchval("SELECT crisis_id FROM welfare_checks WHERE check_id = $1", check_id)


async def contact_language(conn: Db, *, check_id: str, person_id: str) -> str | None:
    """The language of the person a round asked (None: no such round or person)."""
    return await conn.fetchval(
        "SELECT c.language FROM welfare_checks w JOIN crisis_contacts c ON c.crisis_id = w.crisis_id"
        " WHERE w.check_id = $1 AND c.person_id = $2", check_id, person_id)


async def known_crises(conn: Db, *, crisis_ids: Sequence[str]) -> set[str]:
    """Those of `crisis_ids` that are crises of ours."""
    return set(await conn.fetchval("SELECT coalesce(array_agg(crisis_id), '{}') FROM crises"
                                   " WHERE crisis_id = ANY($1::text[])", list(crisis_ids)))


_UPSERT_ANSWERS = """\
INSERT INTO welfare_status AS s (crisis_id, person_id, answer, channel, answer_text, case_reference,
                                           check_id, at)
           SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
                                $7::text[], $8::timestamptz[])
           ON CONFLICT (crisis_id, person_id) DO UPDATE
           SET answer = EXCLUDED.answer, channel = EXCLUDED.channel, answer_text = EXCLUDED.answer_text,
               case_reference = COALESCE(EXCLUDED.case_reference,
                                         CASE WHEN EXCLUDED.answer = s.answer THEN s.case_reference END),
               check_id = EXCLUDED.check_id, at = EXCLUDED.at
           WHERE s.at <= EXCLUDED.at"""


async def upsert_answers(conn: Db, answers: Sequence[WelfareAnswered]) -> None:
    """Each answer as its person's latest in the crisis, unless a later one is stored (one answer per person: ON
    CONFLICT cannot touch a row twice in a statement). A case reference is kept while the answer stays the same."""
    await conn.execute(
        _UPSERT_ANSWERS, [a.crisis_id for a in answers], [a.person_id for a in answers], [a.answer for a in answers],
        [a.channel for a in answers], [a.text for a in answers], [a.case_reference for a in answers],
        [a.check_id for a in answers], [a.at for a in answers])


_END_CHASES = """UPDATE welfare_questions q SET answered_at = COALESCE(q.answered_at, a.at), due_at = NULL
           FROM unnest($1::text[], $2::text[], $3::timestamptz[]) AS a(crisis_id, person_id, at)
           WHERE q.crisis_id = a.crisis_id AND q.person_id = a.person_id AND q.asked_at IS NOT NULL
             AND q.asked_at <= a.at"""


async def end_chases(conn: Db, answers: Sequence[WelfareAnswered]) -> None:
    """The questions asked before each answer are answered and due nothing more."""
    await conn.execute(_END_CHASES, [a.crisis_id for a in answers], [a.person_id for a in answers],
                       [a.at for a in answers])


# reading ----------------------------------------------------------------------------------------------------------
# Each contact of the crisis with their latest answer and their latest round's step, and the status that makes.
_PEOPLE = """
WITH latest AS (
    SELECT DISTINCT ON (q.person_id) q.person_id, q.step, q.check_id, q.asked_at
    FROM welfare_questions q JOIN welfare_checks w ON w.check_id = q.check_id
    WHERE q.crisis_id = $1
    ORDER BY q.person_id, w.started_at DESC
)
SELECT c.person_id, c.source, c.language, c.phone, c.email, c.added_at,
       s.answer, s.channel, s.answer_text, s.case_reference, s.at AS answered_at,
       l.step, l.check_id, l.asked_at,
       CASE WHEN s.answer IS NOT NULL THEN s.answer
            WHEN l.step = 'to_phone' THEN 'unreachable'
            ELSE 'no_answer' END AS status
FROM crisis_contacts c
LEFT JOIN welfare_status s ON s.crisis_id = c.crisis_id AND s.person_id = c.person_id
LEFT JOIN latest l ON l.person_id = c.person_id
WHERE c.crisis_id = $1
"""

_COUNTS = f"""SELECT count(*) FILTER (WHERE status = 'safe') AS safe,
                   count(*) FILTER (WHERE status = 'needs_help') AS needs_help,
                   count(*) FILTER (WHERE status = 'unclear') AS unclear,
                   count(*) FILTER (WHERE status = 'no_answer') AS no_answer,
                   count(*) FILTER (WHERE status = 'unreachable') AS unreachable,
                   count(*) FILTER (WHERE source = 'check_in') AS checked_in
            FROM ({_PEOPLE}) people"""


async def status_counts(conn: Db, *, crisis_id: str) -> asyncpg.Record:
    """The crisis's people by status (`safe` ... `unreachable`), and `checked_in`: those who checked in."""
    return await conn.fetchrow(_COUNTS, crisis_id)


async def people_page(conn: Db, *, crisis_id: str, status: str | None, after: str | None,
                      limit: int) -> list[asyncpg.Record]:
    """Up to `limit` people of the crisis after the person id `after`, by person id; of one status (`checked_in`:
    those who checked in) or all."""
    if status == "checked_in":
        where, args = "source = 'check_in'", []
    elif status is not None:
        where, args = "status = $4", [status]
    else:
        where, args = "true", []
    return await conn.fetch(
        f"SELECT * FROM ({_PEOPLE}) people WHERE person_id > $2 AND {where} ORDER BY person_id LIMIT $3",
        crisis_id, after or "", limit, *args)


# forgetting -------------------------------------------------------------------------------------------------------
async def delete_crisis_rows(conn: asyncpg.Connection, *, crisis_id: str) -> None:
    """Five statements: the crisis's answers, questions, rounds, check-ins and contacts, in this order."""
    await conn.execute("DELETE FROM welfare_status WHERE crisis_id = $1", crisis_id)
    await conn.execute("DELETE FROM welfare_questions WHERE crisis_id = $1", crisis_id)
    await conn.execute("DELETE FROM welfare_checks WHERE crisis_id = $1", crisis_id)
    await conn.execute("DELETE FROM check_ins WHERE crisis_id = $1", crisis_id)
    await conn.execute("DELETE FROM crisis_contacts WHERE crisis_id = $1", crisis_id)


_CONTACTS_OF = """SELECT c.crisis_id, c.person_id, c.phone, c.email, c.language, c.source, c.added_at,
                  s.answer, s.channel, s.answer_text, s.case_reference, s.at AS answered_at
           FROM crisis_contacts c
           LEFT JOIN welfare_status s ON s.crisis_id = c.crisis_id AND s.person_id = c.person_id
           WHERE c.person_id = ANY($1::text[]) OR c.phone = ANY($2::text[])
              OR lower(c.email) = ANY($3::text[])
           ORDER BY c.crisis_id, c.person_id"""


async def contacts_of(conn: Db, *, person_ids: Sequence[str], phones: Sequence[str],
                      emails: Sequence[str]) -> list[asyncpg.Record]:
    """Every crisis contact with one of these ids, phones or emails (any case), with their answer."""
    return await conn.fetch(_CONTACTS_OF, list(person_ids), list(phones), [e.lower() for e in emails])


async def delete_people_rows(conn: asyncpg.Connection, *, crisis_ids: Sequence[str],
                             person_ids: Sequence[str]) -> None:
    """Three statements: the answers, questions and check-ins of these (crisis, person) pairs (the lists pair up)."""
    for table in ("welfare_status", "welfare_questions", "check_ins"):
        await conn.execute(
            f"DELETE FROM {table} t USING unnest($1::text[], $2::text[]) AS p(crisis_id, person_id)"
            " WHERE t.crisis_id = p.crisis_id AND t.person_id = p.person_id", crisis_ids, person_ids)


async def delete_contacts(conn: Db, *, crisis_ids: Sequence[str], person_ids: Sequence[str]) -> list[tuple[str, str]]:
    """The contacts of these (crisis, person) pairs; the pairs deleted."""
    rows = await conn.fetch(
        "DELETE FROM crisis_contacts t USING unnest($1::text[], $2::text[]) AS p(crisis_id, person_id)"
        " WHERE t.crisis_id = p.crisis_id AND t.person_id = p.person_id RETURNING t.crisis_id, t.person_id",
        crisis_ids, person_ids)
    return [(r["crisis_id"], r["person_id"]) for r in rows]
