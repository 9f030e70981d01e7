"""People sought by their families (issue 18): who we know of, who is sought, and the matches between them.

Every piece of news runs the match again, inside the transaction that records it:
- a missing-person report (or a PFIF import) seeks its person among everyone we know of (`seek`);
- a registration, a check-in or a welfare answer looks for the open inquiries the person might answer
  (`reconsider`).
A matched person who answers safe puts the family's case at the top of its officer's board ("sought person
answered safe"); telling the family stays the officer's decision (`case_actions.tell_family`). Each change of an
inquiry's state is published on `families.inquiries`, with no name, for the dashboard's counts.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import asyncpg

from services.intake.adapters import people
from services.intake.domain import matching
from services.intake.domain.model import Kind, ReportIn
from shared.events.families import InquiryState, InquiryUpdated
from shared.kafka.outbox import enqueue
from shared.logging import get_logger

log = get_logger(__name__)

ANSWERED_SAFE = "sought person answered safe"
#: The name a case gets when nobody gave one (intake's placeholder): never a name to match on.
_NO_NAMES = frozenset({"unknown", "(unknown)", "inconnu", "onbekend", "unbekannt"})


def _name(full_name: str | None) -> str | None:
    if full_name is None or not full_name.strip() or full_name.strip().lower() in _NO_NAMES:
        return None
    return full_name.strip()


def _parsed_birth(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value and len(value) == 10 else None
    except ValueError:
        return None


def _sought_person(row: dict[str, Any]) -> matching.Person:
    return matching.Person(full_name=row["full_name"], date_of_birth=_parsed_birth(row.get("date_of_birth")),
                           phone=row.get("phone"), country=row.get("country"))


def _known_person(row: dict[str, Any]) -> matching.Person:
    return matching.Person(full_name=row.get("full_name"), phone=row.get("phone"), country=row.get("country"))


# --- what we learn of people ------------------------------------------------------------------------------------

async def learn(conn: asyncpg.Connection, *, person_id: str, full_name: str | None, phone: str | None,
                country: str | None, place: str | None, source: str, topic_prefix: str = "") -> None:
    """A registration or a check-in: remember the person and look for the inquiries they might answer."""
    name = _name(full_name)
    await people.upsert_known(conn, person_id=person_id, full_name=name, phone=phone, country=country, place=place,
                              codes=matching.indexed_codes(name) if name else [])
    await reconsider(conn, person_id, source=source, topic_prefix=topic_prefix)


async def heard_from(conn: asyncpg.Connection, *, person_id: str, crisis_id: str, answer: str, channel: str,
                     at: datetime, full_name: str | None, phone: str | None, location: dict[str, Any] | None,
                     source: str, topic_prefix: str = "") -> None:
    """A welfare answer (or a check-in): the person's latest answer and place, then the inquiries again."""
    place = _place(location)
    name = _name(full_name)
    await people.upsert_known(conn, person_id=person_id, full_name=name, phone=phone,
                              country=location.get("country") if location else None, place=place,
                              codes=matching.indexed_codes(name) if name else [])
    await people.record_answer(conn, person_id=person_id, crisis_id=crisis_id, answer=answer, channel=channel, at=at)
    await reconsider(conn, person_id, source=source, topic_prefix=topic_prefix)


async def forget(conn: asyncpg.Connection, person_id: str) -> None:
    """A cancelled or erased registration: the person is no longer a candidate (matches stay, with their case)."""
    await people.forget_known(conn, person_id)


def _place(location: dict[str, Any] | None) -> str | None:
    if not location:
        return None
    return ", ".join(str(part) for part in (location.get("city"), location.get("country")) if part) or None


# --- inquiries ----------------------------------------------------------------------------------------------------

async def open_inquiry(conn: asyncpg.Connection, report: ReportIn, *, reference: str, crisis_id: str | None,
                       source: str, topic_prefix: str = "") -> int | None:
    """A missing-person report's subject becomes a sought person, matched at once; None for other reports."""
    if report.kind is not Kind.MISSING_PERSON or report.subject is None:
        return None
    name = report.subject.full_name
    sought_id = await people.insert_sought(
        conn, reference=reference, pfif_record_id=None, full_name=name, codes=matching.blocking_codes(name),
        phone=report.subject.phone, country=report.location.country, crisis_id=crisis_id,
        date_of_birth=report.subject.date_of_birth.isoformat() if report.subject.date_of_birth else None)
    assert sought_id is not None  # a new case
    await seek(conn, sought_id, source=source, topic_prefix=topic_prefix)
    return sought_id


async def seek(conn: asyncpg.Connection, sought_id: int, *, source: str, topic_prefix: str = "") -> list[
        tuple[str, float]]:
    """Look for the sought person among everyone we know of; returns the matches proposed, best first."""
    row = await people.sought(conn, sought_id)
    if row is None:
        return []
    await people.mark_matched(conn, sought_id)
    if not row["open"]:
        return []
    sought = _sought_person(row)
    codes = matching.blocking_codes(row["full_name"])
    found = await people.candidates(conn, codes=codes, near=matching.near_codes(codes), phone=row["phone"])
    namesakes = sum(1 for c in found
                    if matching.name_similarity(row["full_name"], c.get("full_name") or "") >= 0.97)
    scored = sorted(((c["person_id"], matching.score(sought, _known_person(c), namesakes=namesakes)) for c in found),
                    key=lambda pair: -pair[1])
    proposed = [(person_id, value) for person_id, value in scored if value >= matching.THRESHOLD]
    await people.save_matches(conn, sought_id, proposed, complete=True)
    await _update_state(conn, sought_id, source=source, topic_prefix=topic_prefix)
    log.info("inquiry_matched", sought_id=sought_id, candidates=len(found), proposed=len(proposed))
    return proposed


async def reconsider(conn: asyncpg.Connection, person_id: str, *, source: str, topic_prefix: str = "") -> None:
    """News of a known person: score them against every open inquiry they might answer."""
    person = await people.known(conn, person_id)
    if person is None:
        return
    codes = matching.blocking_codes(person["full_name"]) if person["full_name"] else []
    for row in await people.open_sought_for(conn, codes=codes, phone=person["phone"]):
        value = matching.score(_sought_person(row), _known_person(person))
        if value >= matching.THRESHOLD:
            await people.save_matches(conn, row["sought_id"], [(person_id, value)], complete=False)
        else:
            await people.withdraw_match(conn, row["sought_id"], person_id)
        await _update_state(conn, row["sought_id"], source=source, topic_prefix=topic_prefix)


async def close_inquiry(conn: asyncpg.Connection, reference: str, *, source: str, topic_prefix: str = "") -> None:
    """The family's case closed: the inquiry ends (its matches are kept with the case)."""
    row = await people.sought_of_case(conn, reference)
    if row is not None and await people.set_state(conn, row["sought_id"], "closed", open_=False):
        await _publish(conn, row, "closed", source=source, topic_prefix=topic_prefix)


async def reopen_inquiry(conn: asyncpg.Connection, reference: str, *, source: str, topic_prefix: str = "") -> None:
    row = await people.sought_of_case(conn, reference)
    if row is not None and not row["open"]:
        await people.set_state(conn, row["sought_id"], "sought", open_=True)
        await seek(conn, row["sought_id"], source=source, topic_prefix=topic_prefix)


async def _update_state(conn: asyncpg.Connection, sought_id: int, *, source: str, topic_prefix: str) -> None:
    """The inquiry's state from its matches; on a change, publish it, and flag the case when the person is safe."""
    row = await people.sought(conn, sought_id)
    if row is None or not row["open"]:
        return
    current = [m for m in await people.matches(conn, sought_id) if m["state"] != "rejected"]
    state: InquiryState = ("safe" if any(m["last_answer"] == "safe" for m in current)
                           else "matched" if current else "sought")
    if not await people.set_state(conn, sought_id, state):
        return
    if state == "safe" and row["reference"] is not None:
        await people.set_attention(conn, row["reference"], ANSWERED_SAFE)
    await _publish(conn, row, state, source=source, topic_prefix=topic_prefix)


async def _publish(conn: asyncpg.Connection, row: dict[str, Any], state: InquiryState, *, source: str,
                   topic_prefix: str) -> None:
    await enqueue(conn, InquiryUpdated(sought_id=str(row["sought_id"]), crisis_id=row["crisis_id"], state=state,
                                       at=datetime.now(UTC)),
                  source=source, topic_prefix=topic_prefix)


async def match_imported(pool: asyncpg.Pool, *, batch: int, source: str, topic_prefix: str = "") -> int:
    """Match a batch of persons imported from PFIF (an import writes them at once and leaves the matching to the
    worker: 10,000 persons in one request, matched in the background). Returns how many were matched."""
    async with pool.acquire() as conn, conn.transaction():
        waiting = await people.take_unmatched(conn, batch)
        for sought_id in waiting:
            await seek(conn, sought_id, source=source, topic_prefix=topic_prefix)
    return len(waiting)


def match_view(row: dict[str, Any]) -> dict[str, Any]:
    """A match as `GET /v1/reports/{reference}` shows it (contract: person_id, score, crisis_id, last_answer,
    last_known_location), with what the officer needs to judge it."""
    return {"person_id": row["person_id"], "score": round(float(row["score"]), 3), "crisis_id": row["crisis_id"],
            "last_answer": row["last_answer"], "last_answer_at": row["last_answer_at"],
            "last_known_location": row["place"], "full_name": row["full_name"], "state": row["state"],
            "decided_by": row["decided_by"], "decided_at": row["decided_at"]}
