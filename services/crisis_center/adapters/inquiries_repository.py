"""SQL of the families' inquiries (one row per sought id: its crisis, latest state and when).

One statement per function, over the caller's connection; `inquiries` decides what to keep.
"""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

from services.crisis_center.adapters.repository import Db
from shared.events.families import InquiryUpdated


async def crisis_states_for_share(conn: asyncpg.Connection, *, crisis_ids: Sequence[str]) -> list[asyncpg.Record]:
    """The status of each of these crises, locked against closing until the end of the transaction (in id order,
    as every batch locks them)."""
    return await conn.fetch("SELECT crisis_id, status FROM crises WHERE crisis_id = ANY($1::text[])"
                            " ORDER BY crisis_id FOR SHARE", crisis_ids)


_UPSERT = """INSERT INTO inquiries AS i (sought_id, crisis_id, state, at)
               SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[])
               ON CONFLICT (sought_id) DO UPDATE
               SET crisis_id = EXCLUDED.crisis_id, state = EXCLUDED.state, at = EXCLUDED.at
               WHERE i.at <= EXCLUDED.at"""


async def upsert(conn: Db, updates: Sequence[InquiryUpdated]) -> int:
    """Each update as its inquiry's state unless a later one is stored (one update per sought id: ON CONFLICT
    cannot touch a row twice in a statement); how many rows were written."""
    status = await conn.execute(_UPSERT, [u.sought_id for u in updates], [u.crisis_id for u in updates],
                                [u.state for u in updates], [u.at for u in updates])
    return int(status.split()[-1])


async def delete_unless_newer(conn: Db, updates: Sequence[InquiryUpdated]) -> int:
    """The inquiries of these updates, unless stored with a later state; how many rows were deleted."""
    status = await conn.execute(
        "DELETE FROM inquiries i USING unnest($1::text[], $2::timestamptz[]) AS g(sought_id, at)"
        " WHERE i.sought_id = g.sought_id AND i.at <= g.at",
        [u.sought_id for u in updates], [u.at for u in updates])
    return int(status.split()[-1])


async def delete(conn: Db, *, sought_id: str) -> None:
    await conn.execute("DELETE FROM inquiries WHERE sought_id = $1", sought_id)


_COUNTS = """SELECT count(*) FILTER (WHERE state <> 'closed') AS sought,
                  count(*) FILTER (WHERE state IN ('matched', 'safe')) AS sought_matched,
                  count(*) FILTER (WHERE state = 'safe') AS sought_safe
           FROM inquiries WHERE crisis_id = $1"""


async def counts(conn: Db, *, crisis_id: str) -> asyncpg.Record:
    """The crisis's inquiries not closed (`sought`), matched or safe (`sought_matched`), safe (`sought_safe`)."""
    return await conn.fetchrow(_COUNTS, crisis_id)


async def delete_of_crisis(conn: Db, *, crisis_id: str) -> None:
    await conn.execute("DELETE FROM inquiries WHERE crisis_id = $1", crisis_id)
