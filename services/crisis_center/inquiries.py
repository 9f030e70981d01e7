"""People sought by their families, as counts per crisis: the latest state of each inquiry from `families.inquiries`.

Intake publishes `InquiryUpdated` (no name) each time an inquiry's state changes; the welfare desk's consumer keeps
the latest one per sought id (`at` decides: an older event arriving late changes nothing; a redelivery is
harmless), a tombstone deletes it. An inquiry of a closed crisis is not kept: closing deletes the crisis's rows
with its other welfare rows (`welfare.forget_crisis`) and the timeline keeps the counts, so a late event must not
bring a row back.
"""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

from services.crisis_center.adapters import inquiries_repository
from shared.events.families import InquiryUpdated

#: The counts `GET /v1/crises/{id}/welfare` adds to the welfare statuses.
SOUGHT = ("sought", "sought_matched", "sought_safe")


async def record_inquiries(updates: Sequence[InquiryUpdated], conn: asyncpg.Connection) -> int:
    """A batch of inquiry states, in the caller's transaction; how many rows were written or deleted. The crises
    named are read `FOR SHARE`: a crisis closing meanwhile waits for this batch (and then deletes its rows), or
    this batch waits for the closing (and then sees the crisis closed)."""
    latest: dict[str, InquiryUpdated] = {}
    for update in updates:  # one row per sought id in a statement: ON CONFLICT cannot touch a row twice
        known = latest.get(update.sought_id)
        if known is None or known.at <= update.at:
            latest[update.sought_id] = update
    if not latest:
        return 0
    crisis_ids = sorted({u.crisis_id for u in latest.values() if u.crisis_id is not None})
    closed: set[str] = set()
    if crisis_ids:
        rows = await inquiries_repository.crisis_states_for_share(conn, crisis_ids=crisis_ids)
        closed = {r["crisis_id"] for r in rows if r["status"] != "active"}
    kept = [u for u in latest.values() if u.crisis_id not in closed]
    gone = [u for u in latest.values() if u.crisis_id in closed]
    written = 0
    if kept:
        written += await inquiries_repository.upsert(conn, kept)
    if gone:  # the inquiry is now in a closed crisis: it leaves whatever crisis counted it, unless newer there
        written += await inquiries_repository.delete_unless_newer(conn, gone)
    return written


async def forget_inquiry(conn: asyncpg.Connection, sought_id: str) -> None:
    """A tombstone on `families.inquiries`: the inquiry is gone (idempotent)."""
    await inquiries_repository.delete(conn, sought_id=sought_id)


async def counts_in(conn: asyncpg.Connection, crisis_id: str) -> dict[str, int]:
    """`sought`: the crisis's inquiries not closed; `sought_matched`: matched or answered safe; `sought_safe`:
    answered safe."""
    row = await inquiries_repository.counts(conn, crisis_id=crisis_id)
    return {name: int(row[name]) for name in SOUGHT}


async def forget_crisis(conn: asyncpg.Connection, crisis_id: str) -> None:
    """At closing, with the crisis's other welfare rows."""
    await inquiries_repository.delete_of_crisis(conn, crisis_id=crisis_id)
