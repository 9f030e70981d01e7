"""Who is who: the identifiers through which one person is recognised across registrations and reports.

A person may register twice, or be named in a report by a relative: counting people, not records, means
matching on any identifier they share. Identifiers are normalised (E.164 phone, case-folded e-mail, traveller
id, and for the person concerned by a report a digest of name and date of birth) and never logged.
"""

from __future__ import annotations

import hashlib
import unicodedata
from dataclasses import dataclass
from datetime import date
from typing import Literal

import phonenumbers

Source = Literal["registration", "report"]
SOURCES: tuple[Source, ...] = ("registration", "report")


def phone_identifier(raw: str | None, default_region: str = "BE") -> str | None:
    """`tel:+32470123456` for any parseable, possible number; None otherwise."""
    if not raw or not raw.strip():
        return None
    try:
        number = phonenumbers.parse(raw, None if raw.strip().startswith("+") else default_region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return "tel:" + phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def email_identifier(raw: str | None) -> str | None:
    if not raw or "@" not in raw:
        return None
    return "mailto:" + raw.strip().casefold()


def traveller_identifier(traveller_id: str) -> str:
    return f"traveller:{traveller_id}"


def normalise_name(name: str) -> str:
    """Accents, case, punctuation and word order removed: 'Dubois, Marie-Élise' == 'marie elise dubois'."""
    decomposed = unicodedata.normalize("NFKD", name)
    letters = "".join(c if c.isalnum() else " " for c in decomposed if not unicodedata.combining(c))
    return " ".join(sorted(letters.casefold().split()))


def subject_identifier(full_name: str, date_of_birth: date | None) -> str | None:
    """A digest of the person concerned (name and birth date if given): no name in clear in the tables."""
    name = normalise_name(full_name)
    if not name:
        return None
    material = f"{name}|{date_of_birth.isoformat() if date_of_birth else ''}"
    return "subject:" + hashlib.sha256(material.encode()).hexdigest()[:24]


@dataclass(frozen=True, slots=True)
class Contribution:
    """One record saying a person is in an incident area: a registration or a report.

    `contribution_id` is stable per record (`registration:<traveller_id>`, `report:<reference>`), so that the
    same record seen twice replaces itself instead of adding someone.
    """

    contribution_id: str
    source: Source
    identifiers: frozenset[str]

    def __post_init__(self) -> None:
        if not self.identifiers:
            raise ValueError("a contribution needs at least one identifier")


def registration_contribution(traveller_id: str, phone: str | None, email: str | None) -> Contribution:
    identifiers = {traveller_identifier(traveller_id)}
    for ident in (phone_identifier(phone), email_identifier(email)):
        if ident:
            identifiers.add(ident)
    return Contribution(f"registration:{traveller_id}", "registration", frozenset(identifiers))


def report_contribution(
    reference: str,
    *,
    reporter_phone: str | None,
    reporter_email: str | None,
    subject_name: str | None = None,
    subject_date_of_birth: date | None = None,
) -> Contribution:
    """The person a report is about: the subject when the report names one (the reporter may be a relative far
    away), else the reporter. A subject is known by name and birth date only; with neither usable, the report
    itself stands for one person."""
    identifiers: set[str] = set()
    if subject_name:
        ident = subject_identifier(subject_name, subject_date_of_birth)
        if ident:
            identifiers.add(ident)
    else:
        for maybe in (phone_identifier(reporter_phone), email_identifier(reporter_email)):
            if maybe:
                identifiers.add(maybe)
    if not identifiers:
        identifiers.add(f"report:{reference}")
    return Contribution(f"report:{reference}", "report", frozenset(identifiers))
