"""SQL of the check-ins on the public page: the forms with their codes, and the contacts they become.

One statement per function, over a connection (the caller owns the transaction) or the pool; `check_in` decides.
"""

from __future__ import annotations

from datetime import datetime

import asyncpg

from services.crisis_center.adapters.repository import Db


async def crisis_for_page(conn: Db, *, crisis_id: str) -> asyncpg.Record | None:
    """What the page shows of a crisis and whether it is active."""
    return await conn.fetchrow("SELECT crisis_id, title, hotline_number, status, area FROM crises"
                               " WHERE crisis_id = $1", crisis_id)


async def crisis_is_exercise(conn: Db, *, crisis_id: str) -> bool:
    return bool(await conn.fetchval("SELECT exercise FROM crises WHERE crisis_id = $1", crisis_id))


_RECENT = """SELECT count(*) FROM check_ins WHERE created_at > $1 AND
                   (phone = $2 OR lower(email) = lower($3) OR client_ip = $4)"""


async def started_since(conn: Db, *, since: datetime, phone: str | None, email: str | None,
                        client_ip: str | None) -> int:
    """The check-ins started after `since` from this phone, email (any case) or client address."""
    return await conn.fetchval(_RECENT, since, phone, email, client_ip)


_INSERT = """INSERT INTO check_ins (check_in_id, crisis_id, created_at, expires_at, code_hmac, full_name, phone,
                                      email, language, place, lat, lon, country, companions, answer, client_ip)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)"""


async def insert(conn: Db, *, check_in_id: str, crisis_id: str, created_at: datetime, expires_at: datetime,
                 code_hmac: bytes, full_name: str, phone: str | None, email: str | None, language: str,
                 place: str | None, lat: float, lon: float, country: str, companions: int, answer: str,
                 client_ip: str | None) -> None:
    await conn.execute(_INSERT, check_in_id, crisis_id, created_at, expires_at, code_hmac, full_name, phone, email,
                       language, place, lat, lon, country, companions, answer, client_ip)


async def is_test_address(conn: Db, *, crisis_id: str, phone: str | None, email: str | None) -> bool:
    """The phone (or, given none, the email in any case) is a test person's of the crisis (an exercise's)."""
    return bool(await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM crisis_contacts WHERE crisis_id = $1 AND source = 'exercise'"
        " AND (phone = $2 OR lower(email) = lower($3)))",
        crisis_id, phone, email))


async def check_in_for_update(conn: asyncpg.Connection, *, check_in_id: str,
                              crisis_id: str) -> asyncpg.Record | None:
    """The check-in of this crisis with the crisis's status (`crisis_status`), locked."""
    return await conn.fetchrow(
        "SELECT c.*, k.status AS crisis_status FROM check_ins c JOIN crises k USING (crisis_id)"
        " WHERE c.check_in_id = $1 AND c.crisis_id = $2 FOR UPDATE OF c", check_in_id, crisis_id)


async def count_attempt(conn: Db, *, check_in_id: str) -> None:
    await conn.execute("UPDATE check_ins SET attempts = attempts + 1 WHERE check_in_id = $1", check_in_id)


async def confirm(conn: Db, *, check_in_id: str, at: datetime, person_id: str) -> None:
    await conn.execute("UPDATE check_ins SET confirmed_at = $2, person_id = $3 WHERE check_in_id = $1",
                       check_in_id, at, person_id)


async def contact_by_address(conn: Db, *, crisis_id: str, phone: str | None, email: str | None) -> str | None:
    """The person id of the crisis's earliest contact with this phone or email (any case); None if none."""
    return await conn.fetchval(
        "SELECT person_id FROM crisis_contacts WHERE crisis_id = $1 AND (phone = $2 OR lower(email) = lower($3))"
        " ORDER BY added_at LIMIT 1", crisis_id, phone, email)


async def set_companions(conn: Db, *, crisis_id: str, person_id: str, companions: int) -> None:
    await conn.execute("UPDATE crisis_contacts SET companions = $3 WHERE crisis_id = $1 AND person_id = $2",
                       crisis_id, person_id, companions)


_UPSERT_CONTACT = """\
INSERT INTO crisis_contacts (crisis_id, person_id, phone, email, language, source, added_at, full_name,
                                        companions)
           VALUES ($1, $2, $3, $4, $5, 'check_in', $6, $7, $8)
           ON CONFLICT (crisis_id, person_id) DO UPDATE SET full_name = EXCLUDED.full_name,
               companions = EXCLUDED.companions"""


async def upsert_contact(conn: Db, *, crisis_id: str, person_id: str, phone: str | None, email: str | None,
                         language: str, added_at: datetime, full_name: str, companions: int) -> None:
    """The person who checked in as a contact of the crisis (source `check_in`); known already: their name and
    companions are updated."""
    await conn.execute(_UPSERT_CONTACT, crisis_id, person_id, phone, email, language, added_at, full_name,
                       companions)
