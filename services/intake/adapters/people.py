"""SQL of the families' inquiries: the people we know of, the people sought, their name codes and their matches."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg

#: The most candidates a sought person's name may bring back from the index (scored in Python).
CANDIDATES_LIMIT = 2_000
#: A name code fewer people than this share is enough, alone, to make someone a candidate.
RARE_CODE = 1_000
#: A code one edit away counts when fewer people than this share it: a typo's neighbour shared by hundreds is a
#: family of names (`Aertsbroek...`), not the misspelt one.
RARE_NEAR_CODE = 50
#: The most candidates found by common words alone: past a few namesakes a name is not proposed on the name alone
#: (`matching.COMMON_NAME_PEOPLE`), so hundreds more would change nothing but the time.
COMMON_WORDS_LIMIT = 300


async def upsert_known(conn: asyncpg.Connection, *, person_id: str, full_name: str | None, phone: str | None,
                       country: str | None, place: str | None, codes: list[tuple[str, int]]) -> None:
    """What we learnt of a person (a registration, a check-in); a value not given keeps the one we had."""
    previous = await conn.fetchval(
        "INSERT INTO known_people AS k (person_id, full_name, phone, country, place) VALUES ($1, $2, $3, $4, $5)"
        " ON CONFLICT (person_id) DO UPDATE SET full_name = coalesce($2, k.full_name),"
        " phone = coalesce($3, k.phone), country = coalesce($4, k.country), place = coalesce($5, k.place),"
        " updated_at = now()"
        " RETURNING (SELECT full_name FROM known_people WHERE person_id = $1)",
        person_id, full_name, phone, country, place)
    if full_name is not None and previous != full_name:
        await conn.execute("DELETE FROM known_people_codes WHERE person_id = $1", person_id)
        await conn.execute("INSERT INTO known_people_codes (code, person_id, word)"
                           " SELECT c, $3, w FROM unnest($1::text[], $2::smallint[]) AS x(c, w) ON CONFLICT DO NOTHING",
                           [c for c, _ in codes], [w for _, w in codes], person_id)


async def record_answer(conn: asyncpg.Connection, *, person_id: str, crisis_id: str, answer: str, channel: str,
                        at: datetime) -> None:
    """The person's latest welfare answer (an older one arriving late does not replace it)."""
    await conn.execute(
        "UPDATE known_people SET crisis_id = $2, last_answer = $3, last_channel = $4, last_answer_at = $5,"
        " updated_at = now() WHERE person_id = $1 AND (last_answer_at IS NULL OR last_answer_at <= $5)",
        person_id, crisis_id, answer, channel, at)


async def forget_known(conn: asyncpg.Connection, person_id: str) -> None:
    await conn.execute("DELETE FROM known_people WHERE person_id = $1", person_id)


async def known(conn: asyncpg.Connection, person_id: str) -> dict[str, Any] | None:
    row = await conn.fetchrow("SELECT * FROM known_people WHERE person_id = $1", person_id)
    return dict(row) if row else None


async def candidates(conn: asyncpg.Connection, *, codes: list[str], near: list[str],
                     phone: str | None) -> list[dict[str, Any]]:
    """The known people who might be the sought one: sharing a rare name code (fewer than `RARE_CODE` people
    have it: `Sokolov`) or a rare code one edit from one (`near`: a typo), or, when every word of the name is
    common, two of its words (`Jan` and `Peeters`, each shared by thousands), or the phone number. A name with a
    rare word is not looked for by its common words: every `Jean-Pierre` is not a candidate for `Jean-Pierre
    Vermeulenhof`. (`min(word) <> max(word)`, not `count(DISTINCT word)`: a hash aggregate, 20 times faster.)

    Two statements: the ids from the code index alone (index-only scans), then the people by primary key; as one
    join the planner reads the whole table of people."""
    ids = await conn.fetchval(
        "WITH codes AS (SELECT c, (SELECT count(*) FROM (SELECT 1 FROM known_people_codes k WHERE k.code = c"
        "                                                LIMIT $5) AS x) < $5 AS rare"
        "               FROM unnest($1::text[]) AS c"
        "               UNION ALL"  # a code one edit away counts only when it is rare
        "               SELECT c, true FROM unnest($2::text[]) AS c"
        "               WHERE EXISTS (SELECT 1 FROM known_people_codes k WHERE k.code = c)"
        "                 AND (SELECT count(*) FROM (SELECT 1 FROM known_people_codes k WHERE k.code = c"
        "                                            LIMIT $7) AS x) < $7),"
        " common AS (SELECT c FROM codes WHERE NOT rare),"
        " by_rare AS (SELECT k.person_id FROM known_people_codes k JOIN codes ON k.code = codes.c WHERE codes.rare),"
        " by_two AS (SELECT person_id FROM known_people_codes WHERE code IN (SELECT c FROM common)"
        "              AND NOT EXISTS (SELECT 1 FROM codes WHERE rare)"
        "            GROUP BY person_id HAVING min(word) <> max(word) LIMIT $6),"
        " by_phone AS (SELECT person_id FROM known_people WHERE $3::text IS NOT NULL AND phone = $3)"
        " SELECT array_agg(person_id) FROM (SELECT person_id FROM by_rare UNION SELECT person_id FROM by_two"
        "                                   UNION SELECT person_id FROM by_phone LIMIT $4) AS found",
        codes, near, phone, CANDIDATES_LIMIT, RARE_CODE, COMMON_WORDS_LIMIT, RARE_NEAR_CODE)
    if not ids:
        return []
    rows = await conn.fetch("SELECT person_id, full_name, phone, country FROM known_people"
                            " WHERE person_id = ANY($1::text[])", ids)
    return [dict(r) for r in rows]


async def insert_sought(conn: asyncpg.Connection, *, reference: str | None, pfif_record_id: str | None,
                        full_name: str, codes: list[str], phone: str | None = None, country: str | None = None,
                        crisis_id: str | None = None, given_name: str | None = None, family_name: str | None = None,
                        date_of_birth: str | None = None, source_name: str | None = None,
                        source_date: datetime | None = None, entry_date: datetime | None = None) -> int | None:
    """A sought person; None when the PFIF record was imported before (idempotent on its record id)."""
    sought_id = await conn.fetchval(
        "INSERT INTO sought_people (reference, pfif_record_id, full_name, given_name, family_name, date_of_birth,"
        " phone, country, crisis_id, source_name, source_date, entry_date)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, coalesce($12, now()))"
        " ON CONFLICT DO NOTHING RETURNING sought_id",
        reference, pfif_record_id, full_name, given_name, family_name, date_of_birth, phone, country, crisis_id,
        source_name, source_date, entry_date)
    if sought_id is not None:
        await conn.execute("INSERT INTO sought_people_codes (code, sought_id) SELECT unnest($1::text[]), $2"
                           " ON CONFLICT DO NOTHING", codes, sought_id)
    return sought_id  # type: ignore[no-any-return]


async def insert_imported(conn: asyncpg.Connection, rows: list[dict[str, Any]]) -> list[tuple[int, str]]:
    """PFIF persons in one statement, those imported before skipped; returns (sought_id, full_name) of the new."""
    if not rows:
        return []
    columns = ("pfif_record_id", "full_name", "given_name", "family_name", "date_of_birth", "country", "crisis_id",
               "source_name", "source_date", "entry_date")
    written = await conn.fetch(
        f"INSERT INTO sought_people ({', '.join(columns)})"
        " SELECT p, f, g, fa, d, c, cr, sn, sd, coalesce(ed, now()) FROM unnest($1::text[], $2::text[], $3::text[],"
        " $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::timestamptz[], $10::timestamptz[])"
        " AS x(p, f, g, fa, d, c, cr, sn, sd, ed)"
        " ON CONFLICT DO NOTHING RETURNING sought_id, full_name",
        *[[row[c] for row in rows] for c in columns])
    return [(r["sought_id"], r["full_name"]) for r in written]


async def insert_sought_codes(conn: asyncpg.Connection, codes: list[tuple[int, str]]) -> None:
    await conn.execute("INSERT INTO sought_people_codes (sought_id, code) SELECT * FROM unnest($1::bigint[],"
                       " $2::text[]) ON CONFLICT DO NOTHING", [i for i, _ in codes], [c for _, c in codes])


async def take_unmatched(conn: asyncpg.Connection, limit: int) -> list[int]:
    """Sought persons waiting for their first match (imports), locked for this transaction."""
    rows = await conn.fetch("SELECT sought_id FROM sought_people WHERE matched_at IS NULL ORDER BY sought_id"
                            " LIMIT $1 FOR UPDATE SKIP LOCKED", limit)
    return [r["sought_id"] for r in rows]


async def mark_matched(conn: asyncpg.Connection, sought_id: int) -> None:
    await conn.execute("UPDATE sought_people SET matched_at = now() WHERE sought_id = $1", sought_id)


async def sought(conn: asyncpg.Connection, sought_id: int) -> dict[str, Any] | None:
    row = await conn.fetchrow("SELECT * FROM sought_people WHERE sought_id = $1", sought_id)
    return dict(row) if row else None


async def sought_of_case(conn: asyncpg.Connection, reference: str) -> dict[str, Any] | None:
    row = await conn.fetchrow("SELECT * FROM sought_people WHERE reference = $1", reference)
    return dict(row) if row else None


async def open_sought_for(conn: asyncpg.Connection, *, codes: list[str], phone: str | None) -> list[dict[str, Any]]:
    """The open inquiries a known person might answer: sharing a name code or the phone number (inquiries are
    few; the score decides)."""
    rows = await conn.fetch(
        "SELECT s.* FROM sought_people s WHERE s.open AND (s.sought_id IN ("
        "   SELECT sought_id FROM sought_people_codes WHERE code = ANY($1::text[]))"
        "   OR ($2::text IS NOT NULL AND s.phone = $2))",
        codes, phone)
    return [dict(r) for r in rows]


async def save_matches(conn: asyncpg.Connection, sought_id: int, scored: list[tuple[str, float]], *,
                       complete: bool) -> None:
    """Propose the pairs scored (a rejected pair stays rejected, a confirmed one confirmed); with `complete`,
    `scored` is every match of the sought person, and proposals no longer in it are withdrawn."""
    if scored:
        await conn.execute(
            "INSERT INTO matches (sought_id, person_id, score) SELECT $1, p, s FROM unnest($2::text[], $3::real[])"
            " AS x(p, s) ON CONFLICT (sought_id, person_id) DO UPDATE SET score = excluded.score,"
            " matched_at = CASE WHEN matches.state = 'proposed' THEN now() ELSE matches.matched_at END",
            sought_id, [p for p, _ in scored], [s for _, s in scored])
    if complete:
        await conn.execute("DELETE FROM matches WHERE sought_id = $1 AND state = 'proposed'"
                           " AND NOT (person_id = ANY($2::text[]))", sought_id, [p for p, _ in scored])


async def withdraw_match(conn: asyncpg.Connection, sought_id: int, person_id: str) -> None:
    await conn.execute("DELETE FROM matches WHERE sought_id = $1 AND person_id = $2 AND state = 'proposed'",
                       sought_id, person_id)


async def matches(conn: asyncpg.Connection, sought_id: int) -> list[dict[str, Any]]:
    """The matches of a sought person with what we know of each matched person, best first (rejected last)."""
    rows = await conn.fetch(
        "SELECT m.person_id, m.score, m.state, m.matched_at, m.decided_by, m.decided_at, k.full_name, k.phone,"
        " k.country, k.place, k.crisis_id, k.last_answer, k.last_answer_at, k.last_channel"
        " FROM matches m LEFT JOIN known_people k USING (person_id) WHERE m.sought_id = $1"
        " ORDER BY (m.state = 'rejected'), m.score DESC, m.person_id", sought_id)
    return [dict(r) for r in rows]


async def decide(conn: asyncpg.Connection, *, sought_id: int, person_id: str, state: str, actor: str) -> bool:
    status = await conn.execute(
        "UPDATE matches SET state = $3, decided_by = $4, decided_at = now() WHERE sought_id = $1 AND person_id = $2",
        sought_id, person_id, state, actor)
    return status != "UPDATE 0"


async def set_state(conn: asyncpg.Connection, sought_id: int, state: str, *, open_: bool = True) -> bool:
    """The inquiry's state; False when it was already that."""
    status = await conn.execute("UPDATE sought_people SET state = $2, open = $3 WHERE sought_id = $1"
                                " AND (state <> $2 OR open <> $3)", sought_id, state, open_)
    return status != "UPDATE 0"


async def set_attention(conn: asyncpg.Connection, reference: str, attention: str | None) -> None:
    await conn.execute("UPDATE reports SET attention = $2 WHERE reference = $1", reference, attention)


async def counts(conn: asyncpg.Connection, crisis_id: str) -> dict[str, int]:
    row = await conn.fetchrow(
        "SELECT count(*) FILTER (WHERE state <> 'closed') AS sought,"
        " count(*) FILTER (WHERE state IN ('matched', 'safe')) AS matched,"
        " count(*) FILTER (WHERE state = 'safe') AS safe FROM sought_people WHERE crisis_id = $1", crisis_id)
    return dict(row)


async def crisis_sought(conn: asyncpg.Connection, crisis_id: str) -> list[dict[str, Any]]:
    rows = await conn.fetch("SELECT * FROM sought_people WHERE crisis_id = $1 ORDER BY sought_id", crisis_id)
    return [dict(r) for r in rows]


async def crisis_answerers(conn: asyncpg.Connection, crisis_id: str) -> list[dict[str, Any]]:
    rows = await conn.fetch("SELECT * FROM known_people WHERE crisis_id = $1 AND last_answer IS NOT NULL"
                            " AND full_name IS NOT NULL ORDER BY person_id", crisis_id)
    return [dict(r) for r in rows]


async def pfif_notes_of(conn: asyncpg.Connection, record_ids: list[str]) -> list[dict[str, Any]]:
    rows = await conn.fetch("SELECT * FROM pfif_notes WHERE person_record_id = ANY($1::text[])"
                            " ORDER BY entry_date NULLS FIRST, note_record_id", record_ids)
    return [dict(r) for r in rows]


async def insert_pfif_notes(conn: asyncpg.Connection, notes: list[dict[str, Any]]) -> int:
    """Notes imported as they came; a note already imported is skipped. Returns how many were new."""
    if not notes:
        return 0
    columns = ("note_record_id", "person_record_id", "linked_person_record_id", "entry_date", "source_date",
               "author_name", "author_made_contact", "status", "last_known_location", "text")
    written = await conn.fetch(
        f"INSERT INTO pfif_notes ({', '.join(columns)})"
        " SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::timestamptz[],"
        " $6::text[], $7::boolean[], $8::text[], $9::text[], $10::text[])"
        " ON CONFLICT (note_record_id) DO NOTHING RETURNING 1",
        *[[note[c] for note in notes] for c in columns])
    return len(written)
