"""PFIF 1.4 (People Finder Interchange Format, http://zesty.ca/pfif/1.4) documents: read safely, written in order.

`parse` refuses, with a `PfifError` naming the problem, any document that is too large, not well-formed, carries a
DTD, entity declarations or external references (read with defusedxml), is not PFIF 1.4, or holds an invalid record;
it never returns part of a document. `render` writes persons with their notes nested, then top-level notes, fields in
PFIF order, and checks the records by the same rules so that what it writes reads back. No I/O.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET  # builds output only; input is read with defusedxml
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

import defusedxml
import defusedxml.ElementTree as SafeET

PFIF_NS = "http://zesty.ca/pfif/1.4"
_Q = "{" + PFIF_NS + "}"
_ROOT = _Q + "pfif"
_PERSON = _Q + "person"
_NOTE = _Q + "note"

#: PFIF 1.4 person fields, in the order of the schema.
PERSON_FIELDS: tuple[str, ...] = (
    "person_record_id", "entry_date", "expiry_date", "author_name", "author_email", "author_phone", "source_name",
    "source_date", "source_url", "full_name", "given_name", "family_name", "alternate_names", "description", "sex",
    "date_of_birth", "age", "home_street_address", "home_neighborhood", "home_city", "home_state", "home_postal_code",
    "home_country", "photo_url", "profile_urls",
)
#: PFIF 1.4 note fields, in the order of the schema.
NOTE_FIELDS: tuple[str, ...] = (
    "note_record_id", "person_record_id", "linked_person_record_id", "entry_date", "author_name", "author_email",
    "author_phone", "source_date", "author_made_contact", "status", "email_of_found_person", "phone_of_found_person",
    "last_known_location", "text", "photo_url",
)
NOTE_STATUSES: tuple[str, ...] = (
    "information_sought", "is_note_author", "believed_alive", "believed_missing", "believed_dead",
)
SEXES: tuple[str, ...] = ("female", "male", "other")
MAX_TEXT = 5000
MAX_RECORD_ID = 500

_PERSON_FIELD_SET = frozenset(PERSON_FIELDS)
_NOTE_FIELD_SET = frozenset(NOTE_FIELDS)
_RECORD_ID = re.compile(r"[A-Za-z0-9.-]+/.+")
_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.[0-9]+)?(?:Z|\+00:00)")
_DATE_OF_BIRTH = re.compile(r"([0-9]{4})(?:-([0-9]{2})(?:-([0-9]{2}))?)?")
_AGE = re.compile(r"([0-9]{1,3})(?:-([0-9]{1,3}))?")
_COUNTRY = re.compile(r"[A-Z]{2}")
_BOOLEANS = {"true": True, "1": True, "false": False, "0": False}
# Characters XML 1.0 cannot carry (C0 controls other than tab/newline/return, lone surrogates, U+FFFE/U+FFFF).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_POSITION = re.compile(r": line \d+, column \d+$")


class PfifError(ValueError):
    """A PFIF document or record refused; the message names the problem."""


@dataclass(frozen=True)
class PfifNote:
    """A PFIF 1.4 note: what someone knows about a person. Datetimes are aware UTC, whole seconds."""

    note_record_id: str
    person_record_id: str
    entry_date: datetime | None = None
    source_date: datetime | None = None
    author_name: str | None = None
    author_made_contact: bool | None = None
    status: str | None = None
    """One of NOTE_STATUSES, or None."""
    last_known_location: str | None = None
    text: str | None = None
    linked_person_record_id: str | None = None


@dataclass(frozen=True)
class PfifPerson:
    """A PFIF 1.4 person record, with the notes nested in it. Datetimes are aware UTC, whole seconds."""

    person_record_id: str
    full_name: str
    entry_date: datetime | None = None
    source_date: datetime | None = None
    source_name: str | None = None
    author_name: str | None = None
    given_name: str | None = None
    family_name: str | None = None
    alternate_names: str | None = None
    date_of_birth: str | None = None
    """YYYY, YYYY-MM or YYYY-MM-DD, kept as written."""
    sex: str | None = None
    """female, male or other."""
    age: str | None = None
    """A number of years or a range `min-max`."""
    home_city: str | None = None
    home_country: str | None = None
    """ISO 3166-1 alpha-2, upper case."""
    notes: tuple[PfifNote, ...] = ()


@dataclass(frozen=True)
class PfifDocument:
    """The records of one PFIF 1.4 document."""

    persons: tuple[PfifPerson, ...]
    notes: tuple[PfifNote, ...]
    """Top-level notes (those not nested in a person)."""


# --- reading -------------------------------------------------------------------------------------------------------


def parse(document: bytes, *, max_bytes: int = 5_000_000, max_records: int = 50_000) -> PfifDocument:
    """The persons and top-level notes of a PFIF 1.4 document; PfifError when any of it is refused."""
    if not isinstance(document, bytes | bytearray):
        raise TypeError("a PFIF document is bytes")
    if len(document) > max_bytes:
        raise PfifError(f"document too large: {len(document)} bytes, at most {max_bytes} allowed")
    if not document.strip():
        raise PfifError("document is empty")
    root = _parse_xml(bytes(document))
    if root.tag != _ROOT:
        namespace = _namespace(root.tag)
        found = f"namespace {namespace!r}" if namespace else "no namespace"
        raise PfifError(f"not PFIF 1.4: root element is {root.tag} ({found}); "
                        f"expected {_ROOT} (namespace {PFIF_NS!r})")
    count = 0
    for child in root:
        if child.tag == _PERSON:
            count += 1 + sum(1 for nested in child if nested.tag == _NOTE)
        elif child.tag == _NOTE:
            count += 1
    if count > max_records:
        raise PfifError(f"too many records: {count} persons and notes, at most {max_records} allowed")
    seen = _Seen()
    persons: list[PfifPerson] = []
    notes: list[PfifNote] = []
    for child in root:
        if child.tag == _PERSON:
            label = f"person {len(persons) + 1}"
            values, nested = _read_fields(child, _PERSON_FIELD_SET, label, with_notes=True)
            raw_notes = [_read_fields(n, _NOTE_FIELD_SET, f"{label}, note {j}")[0] for j, n in enumerate(nested, 1)]
            persons.append(_build_person(values, raw_notes, label, seen))
        elif child.tag == _NOTE:
            label = f"note {len(notes) + 1}"
            notes.append(_build_note(_read_fields(child, _NOTE_FIELD_SET, label)[0], label, seen, None))
    return PfifDocument(tuple(persons), tuple(notes))


def _parse_xml(document: bytes) -> ET.Element:
    """The root element; a DTD, entities, external references and malformed XML are refused."""
    try:
        root: ET.Element = SafeET.fromstring(document, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except defusedxml.DTDForbidden as error:
        raise PfifError(_explain_dtd(document, error)) from None
    except defusedxml.EntitiesForbidden as error:
        raise PfifError(_entity_message(error)) from None
    except defusedxml.ExternalReferenceForbidden as error:
        raise PfifError(f"external references are refused: {_external(error)}") from None
    except ET.ParseError as error:
        line, column = error.position
        reason = _POSITION.sub("", str(error))
        raise PfifError(f"malformed XML: line {line}, column {column}: {reason}") from None
    return root


def _explain_dtd(document: bytes, error: defusedxml.DTDForbidden) -> str:
    """Why a document with a DTD is refused: its entity declarations or external references when it has any.

    The document is read again with the DTD allowed but entities and external references still forbidden (nothing is
    expanded or fetched), only to name the worst thing it carries.
    """
    try:
        SafeET.fromstring(document, forbid_dtd=False, forbid_entities=True, forbid_external=True)
    except defusedxml.EntitiesForbidden as inner:
        return _entity_message(inner)
    except defusedxml.ExternalReferenceForbidden as inner:
        return f"external references are refused: {_external(inner)}"
    except (ET.ParseError, ValueError):
        pass
    if error.sysid or error.pubid:
        return f"a DTD is refused; external references are refused: DOCTYPE {error.name} names {_external(error)}"
    return f"a DTD is refused (DOCTYPE {error.name})"


def _entity_message(error: defusedxml.EntitiesForbidden) -> str:
    if error.sysid or error.pubid:
        return (f"external references are refused: entity {error.name!r} names {_external(error)} "
                "(entity declarations are refused)")
    return f"entity declarations are refused (entity expansion): entity {error.name!r} is declared"


def _external(error: defusedxml.DTDForbidden | defusedxml.EntitiesForbidden
              | defusedxml.ExternalReferenceForbidden) -> str:
    parts = [f"SYSTEM {error.sysid!r}" if error.sysid else "",
             f"PUBLIC {error.pubid!r}" if error.pubid else ""]
    return " ".join(part for part in parts if part) or "an external resource"


def _namespace(tag: str) -> str:
    return tag[1:].split("}", 1)[0] if tag.startswith("{") else ""


def _read_fields(element: ET.Element, names: frozenset[str], label: str,
                 with_notes: bool = False) -> tuple[dict[str, str], list[ET.Element]]:
    """The raw text of the known PFIF fields of a record (others ignored), and its nested note elements."""
    values: dict[str, str] = {}
    notes: list[ET.Element] = []
    for child in element:
        if not isinstance(child.tag, str) or not child.tag.startswith(_Q):
            continue
        name = child.tag[len(_Q):]
        if with_notes and name == "note":
            notes.append(child)
        elif name in names:
            if name in values:
                raise PfifError(f"{label}: {name} appears more than once")
            values[name] = "".join(child.itertext())
    return values, notes


# --- records: shared by reading and writing -----------------------------------------------------------------------


@dataclass
class _Seen:
    """Record ids met so far in one document."""

    persons: set[str] = field(default_factory=set)
    notes: set[str] = field(default_factory=set)


def _clean(values: Mapping[str, str], label: str) -> dict[str, str]:
    """Stripped, non-empty values with newlines normalised; too long or non-XML text refused."""
    cleaned: dict[str, str] = {}
    for name, raw in values.items():
        text = raw.replace("\r\n", "\n").replace("\r", "\n").strip()
        if not text:
            continue
        limit = MAX_RECORD_ID if name.endswith("record_id") else MAX_TEXT
        if len(text) > limit:
            raise PfifError(f"{label}: {name} is {len(text)} characters long, at most {limit} allowed")
        if _NOT_XML.search(text):
            raise PfifError(f"{label}: {name} holds a character XML 1.0 cannot carry")
        cleaned[name] = text
    return cleaned


def _record_id(value: str | None, name: str, label: str) -> str:
    if value is None:
        raise PfifError(f"{label}: {name} missing")
    if not _RECORD_ID.fullmatch(value):
        raise PfifError(f"{label}: {name} {_shown(value)} is not a record id of the form domain/unique-string")
    return value


def _date(value: str | None, name: str, label: str) -> datetime | None:
    """An aware UTC datetime from `YYYY-MM-DDTHH:MM:SSZ` (fractional seconds dropped, `+00:00` accepted)."""
    if value is None:
        return None
    match = _DATE.fullmatch(value)
    try:
        if match is None:
            raise ValueError(value)
        year, month, day, hour, minute, second = (int(part) for part in match.groups())
        return datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    except ValueError:
        raise PfifError(f"{label}: {name} {_shown(value)} is not a UTC date YYYY-MM-DDTHH:MM:SSZ") from None


def _date_of_birth(value: str | None, label: str) -> str | None:
    if value is None:
        return None
    match = _DATE_OF_BIRTH.fullmatch(value)
    try:
        if match is None:
            raise ValueError(value)
        year, month, day = match.groups()
        date(int(year), int(month or 1), int(day or 1))
    except ValueError:
        raise PfifError(f"{label}: date_of_birth {_shown(value)} is not YYYY, YYYY-MM or YYYY-MM-DD") from None
    return value


def _age(value: str | None, label: str) -> str | None:
    if value is None:
        return None
    match = _AGE.fullmatch(value)
    if match is None or (match.group(2) is not None and int(match.group(1)) > int(match.group(2))):
        raise PfifError(f"{label}: age {_shown(value)} is not a number of years or a range min-max")
    return value


def _one_of(value: str | None, allowed: tuple[str, ...], what: str, name: str, label: str) -> str | None:
    if value is not None and value not in allowed:
        raise PfifError(f"{label}: {name} {_shown(value)} is not {what} ({', '.join(allowed)})")
    return value


def _country(value: str | None, label: str) -> str | None:
    if value is None:
        return None
    if not _COUNTRY.fullmatch(value.upper()):
        raise PfifError(f"{label}: home_country {_shown(value)} is not an ISO 3166-1 alpha-2 code")
    return value.upper()


def _boolean(value: str | None, name: str, label: str) -> bool | None:
    if value is None:
        return None
    if value not in _BOOLEANS:
        raise PfifError(f"{label}: {name} {_shown(value)} is not true or false")
    return _BOOLEANS[value]


def _shown(value: str) -> str:
    return repr(value if len(value) <= 80 else value[:77] + "...")


def _build_person(raw: Mapping[str, str], raw_notes: Sequence[Mapping[str, str]], label: str,
                  seen: _Seen) -> PfifPerson:
    """A person from the text of its fields and those of its nested notes."""
    values = _clean(raw, label)
    person_id = _record_id(values.get("person_record_id"), "person_record_id", label)
    label = f"{label} ({person_id})"
    if person_id in seen.persons:
        raise PfifError(f"{label}: duplicate person_record_id {person_id!r}")
    seen.persons.add(person_id)
    given, family = values.get("given_name"), values.get("family_name")
    full_name = values.get("full_name") or " ".join(name for name in (given, family) if name)
    if not full_name:
        raise PfifError(f"{label}: full_name missing")
    if len(full_name) > MAX_TEXT:
        raise PfifError(f"{label}: full_name is {len(full_name)} characters long, at most {MAX_TEXT} allowed")
    notes = tuple(_build_note(note, f"{label}, note {index}", seen, person_id)
                  for index, note in enumerate(raw_notes, 1))
    return PfifPerson(
        person_record_id=person_id,
        full_name=full_name,
        entry_date=_date(values.get("entry_date"), "entry_date", label),
        source_date=_date(values.get("source_date"), "source_date", label),
        source_name=values.get("source_name"),
        author_name=values.get("author_name"),
        given_name=given,
        family_name=family,
        alternate_names=values.get("alternate_names"),
        date_of_birth=_date_of_birth(values.get("date_of_birth"), label),
        sex=_one_of(values.get("sex"), SEXES, "a PFIF 1.4 sex", "sex", label),
        age=_age(values.get("age"), label),
        home_city=values.get("home_city"),
        home_country=_country(values.get("home_country"), label),
        notes=notes,
    )


def _build_note(raw: Mapping[str, str], label: str, seen: _Seen, person_id: str | None) -> PfifNote:
    """A note from the text of its fields; `person_id` is the person it is nested in (None at top level)."""
    values = _clean(raw, label)
    note_id = _record_id(values.get("note_record_id"), "note_record_id", label)
    label = f"{label} ({note_id})"
    if note_id in seen.notes:
        raise PfifError(f"{label}: duplicate note_record_id {note_id!r}")
    seen.notes.add(note_id)
    about = values.get("person_record_id", person_id)
    about = _record_id(about, "person_record_id", label)
    if person_id is not None and about != person_id:
        raise PfifError(f"{label}: person_record_id {about!r} differs from that of the person it is nested in "
                        f"({person_id!r})")
    linked = values.get("linked_person_record_id")
    return PfifNote(
        note_record_id=note_id,
        person_record_id=about,
        entry_date=_date(values.get("entry_date"), "entry_date", label),
        source_date=_date(values.get("source_date"), "source_date", label),
        author_name=values.get("author_name"),
        author_made_contact=_boolean(values.get("author_made_contact"), "author_made_contact", label),
        status=_one_of(values.get("status"), NOTE_STATUSES, "a PFIF 1.4 status", "status", label),
        last_known_location=values.get("last_known_location"),
        text=values.get("text"),
        linked_person_record_id=None if linked is None else _record_id(linked, "linked_person_record_id", label),
    )


# --- writing -------------------------------------------------------------------------------------------------------


def render(persons: Sequence[PfifPerson], notes: Sequence[PfifNote] = ()) -> bytes:
    """A PFIF 1.4 document in UTF-8: persons with their notes nested, then top-level notes; PfifError if invalid."""
    root = ET.Element("pfif:pfif", {"xmlns:pfif": PFIF_NS})
    seen = _Seen()
    for index, person in enumerate(persons, 1):
        label = f"person {index}"
        raw_notes = [_wire(note, NOTE_FIELDS, f"{label}, note {j}") for j, note in enumerate(person.notes, 1)]
        checked = _build_person(_wire(person, PERSON_FIELDS, label), raw_notes, label, seen)
        element = _append(root, "person", _wire(checked, PERSON_FIELDS, label))
        for note in checked.notes:
            _append(element, "note", _wire(note, NOTE_FIELDS, label))
    for index, note in enumerate(notes, 1):
        label = f"note {index}"
        checked_note = _build_note(_wire(note, NOTE_FIELDS, label), label, seen, None)
        _append(root, "note", _wire(checked_note, NOTE_FIELDS, label))
    ET.indent(root)
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode").encode() + b"\n"


def _append(parent: ET.Element, tag: str, values: Mapping[str, str]) -> ET.Element:
    element = ET.SubElement(parent, "pfif:" + tag)
    for name, value in values.items():
        ET.SubElement(element, "pfif:" + name).text = value
    return element


def _wire(record: PfifPerson | PfifNote, names: tuple[str, ...], label: str) -> dict[str, str]:
    """The fields of a record that are set, as PFIF text, in PFIF order."""
    values = ((name, getattr(record, name, None)) for name in names)
    return {name: _text(value, name, label) for name, value in values if value is not None}


def _text(value: object, name: str, label: str) -> str:
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise PfifError(f"{label}: {name} must be an aware datetime")
        moment = value.astimezone(UTC)
        return (f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}"
                f"T{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}Z")
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
