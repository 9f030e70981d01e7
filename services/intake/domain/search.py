"""What a duty officer's search text means: a reference prefix, a phone number, a name (pure functions).

`fold` must agree with the SQL function `fold_text` of migration 0005 (same table), so that a name typed without
accents finds one stored with them; a test compares the two.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import phonenumbers

FOLD_FROM = "àáâãäåāăąçćĉċčďđèéêëēĕėęěĝğġģĥħìíîïĩīĭįıĵķĺļľŀłñńņňòóôõöøōŏőŕŗřśŝşšţťŧùúûüũūŭůűųŵýÿŷźżž"
FOLD_TO = "aaaaaaaaacccccddeeeeeeeeegggghhiiiiiiiiijklllllnnnnooooooooorrrsssstttuuuuuuuuuuwyyyzzz"
LIGATURES = (("ß", "ss"), ("æ", "ae"), ("œ", "oe"), ("ĳ", "ij"))
_FOLD = str.maketrans(FOLD_FROM, FOLD_TO)
_PHONE_CHARS = re.compile(r"^\+?[\d\s().\-/]+$")
_REFERENCE = re.compile(r"^BE(-\d{0,4}(-\d{0,6})?)?$", re.IGNORECASE)
DEFAULT_REGION = "BE"
"""A number typed without country code is read as Belgian: the console's callers are mostly in Belgium."""


def fold(text: str) -> str:
    """Lower case without accents, as the SQL `fold_text`."""
    folded = text.lower()
    for ligature, letters in LIGATURES:
        folded = folded.replace(ligature, letters)
    return folded.translate(_FOLD)


def like_escape(text: str) -> str:
    """The text taken literally inside a LIKE pattern (escape character: backslash)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


@dataclass(frozen=True, slots=True)
class CaseQuery:
    """The readings of one search text; a case matching any of them is found."""

    reference_prefix: str | None
    phone: str | None
    name: str | None


def read_query(text: str, *, region: str = DEFAULT_REGION) -> CaseQuery:
    """A reference prefix (`BE-2026-00`), a phone number normalised to E.164, else a folded name substring."""
    text = " ".join(text.split())
    if _REFERENCE.match(text):
        return CaseQuery(reference_prefix=text.upper(), phone=None, name=None)
    if _PHONE_CHARS.match(text) and sum(c.isdigit() for c in text) >= 6:
        try:
            number = phonenumbers.parse(text, region)
        except phonenumbers.NumberParseException:
            return CaseQuery(reference_prefix=None, phone=None, name=None)
        if phonenumbers.is_possible_number(number):
            e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
            return CaseQuery(reference_prefix=None, phone=e164, name=None)
        return CaseQuery(reference_prefix=None, phone=None, name=None)
    return CaseQuery(reference_prefix=None, phone=None, name=fold(text))


BOARD_HORIZON_DAYS = 3
"""The charter board shows what falls due within the next three days (and what is already late)."""


def split_due(rows: list[dict[str, Any]], now: datetime) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Cases sorted by `reply_due_by` split into overdue (passed) and due soon, keeping the earliest first."""
    overdue = [r for r in rows if r["reply_due_by"] < now]
    due_soon = [r for r in rows if r["reply_due_by"] >= now]
    return overdue, due_soon
