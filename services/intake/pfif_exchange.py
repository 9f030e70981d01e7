"""PFIF 1.4 in and out (contract version 2): what we share with the Red Cross and other Person Finders, and what
we take from them.

Export (`export_crisis`): a `person` per missing-person subject of the crisis (with an `information_sought` note),
per person imported from another organisation (with the notes they came with), and per person of the crisis who
answered a welfare question (with a note of their own latest answer, `author_made_contact`). Only what PFIF needs:
names, dates, statuses; no case description (never a detention case's), no phone, no place. Record ids are
`<PFIF_DOMAIN>/...`; the ids of imported records are kept as they came.

Note statuses of our people's answers: safe → believed_alive; needs_help → believed_alive with the text "asked for
help"; unclear → no status, the text "answered, unclear". Nobody who has not answered is exported.

Import (`import_document`): all or nothing, in one transaction of a few statements. Each new person becomes a
sought person, matched by the worker seconds later (`families.match_imported`); a person or note imported before
is skipped (idempotent on record ids); records under our own domain are skipped (a repository does not take its
own records back).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg

from services.intake.adapters import people, repository
from services.intake.domain import matching
from services.intake.domain.pfif import PfifDocument, PfifNote, PfifPerson, render

_RECORDS = uuid.UUID("4f5e0c1a-7b2d-4c8e-9a61-3d2f8e7b6a90")
_ANSWER_NOTES: dict[str, tuple[str | None, str | None]] = {
    "safe": ("believed_alive", None),
    "needs_help": ("believed_alive", "asked for help"),
    "unclear": (None, "answered, unclear"),
}


@dataclass(frozen=True)
class PfifConfig:
    domain: str
    source_name: str
    source: str
    topic_prefix: str = ""


def _record(domain: str, kind: str, key: str) -> str:
    return f"{domain}/{kind}.{uuid.uuid5(_RECORDS, key)}"


def _utc(value: datetime | None) -> datetime | None:
    return value.astimezone(UTC).replace(microsecond=0) if value is not None else None


async def export_crisis(conn: asyncpg.Connection, crisis_id: str, *, config: PfifConfig, actor: str,
                        roles: list[str]) -> bytes:
    """The crisis as a PFIF 1.4 document; every missing-person case in it is recorded in the read audit."""
    persons: list[PfifPerson] = []
    sought_rows = await people.crisis_sought(conn, crisis_id)
    imported_ids = [row["pfif_record_id"] for row in sought_rows if row["pfif_record_id"]]
    imported_notes: dict[str, list[PfifNote]] = {}
    for note in await people.pfif_notes_of(conn, imported_ids):
        imported_notes.setdefault(note["person_record_id"], []).append(PfifNote(
            note_record_id=note["note_record_id"], person_record_id=note["person_record_id"],
            linked_person_record_id=note["linked_person_record_id"], entry_date=_utc(note["entry_date"]),
            source_date=_utc(note["source_date"]), author_name=note["author_name"],
            author_made_contact=note["author_made_contact"], status=note["status"],
            last_known_location=note["last_known_location"], text=note["text"]))
    for row in sought_rows:
        if row["pfif_record_id"]:
            persons.append(PfifPerson(
                person_record_id=row["pfif_record_id"], full_name=row["full_name"], given_name=row["given_name"],
                family_name=row["family_name"], date_of_birth=row["date_of_birth"], source_name=row["source_name"],
                source_date=_utc(row["source_date"]), entry_date=_utc(row["entry_date"]),
                notes=tuple(imported_notes.get(row["pfif_record_id"], ()))))
            continue
        record_id = f"{config.domain}/sought.{row['reference']}"
        entered = _utc(row["entry_date"])
        persons.append(PfifPerson(
            person_record_id=record_id, full_name=row["full_name"], entry_date=entered, source_date=entered,
            source_name=config.source_name, author_name=config.source_name,
            notes=(PfifNote(note_record_id=f"{config.domain}/note.sought.{row['reference']}",
                            person_record_id=record_id, entry_date=entered, source_date=entered,
                            author_name=config.source_name, author_made_contact=False,
                            status="information_sought"),)))
        await repository.record_read(conn, reference=row["reference"], kind="missing_person", actor=actor,
                                     roles=roles)
    for known in await people.crisis_answerers(conn, crisis_id):
        record_id = _record(config.domain, "person", known["person_id"])
        answered = _utc(known["last_answer_at"])
        status, text = _ANSWER_NOTES[known["last_answer"]]
        persons.append(PfifPerson(
            person_record_id=record_id, full_name=known["full_name"], entry_date=answered, source_date=answered,
            source_name=config.source_name, author_name=config.source_name,
            notes=(PfifNote(note_record_id=_record(config.domain, "note", f"{known['person_id']}|{answered}"),
                            person_record_id=record_id, entry_date=answered, source_date=answered,
                            author_name=config.source_name, author_made_contact=True, status=status,
                            text=text),)))
    return render(persons)


@dataclass
class Imported:
    persons_written: int = 0
    persons_skipped: int = 0
    notes_written: int = 0
    notes_skipped: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {"persons": {"written": self.persons_written, "skipped": self.persons_skipped},
                "notes": {"written": self.notes_written, "skipped": self.notes_skipped}}


async def import_document(conn: asyncpg.Connection, document: PfifDocument, *, crisis_id: str | None,
                          config: PfifConfig) -> Imported:
    """Another organisation's persons and notes, in a few statements (call inside a transaction: all or nothing).
    The new persons wait for the worker to match them (`families.match_imported`), seconds later."""
    ours = config.domain + "/"
    notes: list[PfifNote] = list(document.notes)
    theirs: list[PfifPerson] = []
    for person in document.persons:
        notes.extend(person.notes)
        if not person.person_record_id.startswith(ours):
            theirs.append(person)
    written = await people.insert_imported(conn, [{
        "pfif_record_id": p.person_record_id, "full_name": p.full_name, "given_name": p.given_name,
        "family_name": p.family_name, "date_of_birth": p.date_of_birth, "country": p.home_country,
        "crisis_id": crisis_id, "source_name": p.source_name, "source_date": p.source_date,
        "entry_date": p.entry_date} for p in theirs])
    await people.insert_sought_codes(conn, [(sought_id, code) for sought_id, name in written
                                            for code in matching.blocking_codes(name)])
    in_document = {p.person_record_id for p in theirs}
    keep = [n for n in notes if not n.note_record_id.startswith(ours)
            and (n.person_record_id in in_document or await _stored_person(conn, n.person_record_id))]
    notes_written = await people.insert_pfif_notes(conn, [{
        "note_record_id": n.note_record_id, "person_record_id": n.person_record_id,
        "linked_person_record_id": n.linked_person_record_id, "entry_date": n.entry_date,
        "source_date": n.source_date, "author_name": n.author_name, "author_made_contact": n.author_made_contact,
        "status": n.status, "last_known_location": n.last_known_location, "text": n.text} for n in keep])
    return Imported(persons_written=len(written), persons_skipped=len(document.persons) - len(written),
                    notes_written=notes_written, notes_skipped=len(notes) - notes_written)


async def _stored_person(conn: asyncpg.Connection, record_id: str) -> bool:
    return bool(await conn.fetchval("SELECT 1 FROM sought_people WHERE pfif_record_id = $1", record_id))
