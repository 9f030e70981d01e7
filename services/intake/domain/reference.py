"""Case references `BE-YYYY-NNNNNN`: the number comes from a per-year database sequence, never reused."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from services.intake.domain.clocks import local

_PATTERN = re.compile(r"^BE-(\d{4})-(\d{6})$")
MAX_NUMBER = 999_999


class ReferenceError_(ValueError):
    """A string that is not a case reference, or a number that does not fit in one."""


@dataclass(frozen=True, order=True)
class Reference:
    year: int
    number: int

    def __post_init__(self) -> None:
        if not 1 <= self.number <= MAX_NUMBER:
            raise ReferenceError_(f"reference number out of range 1..{MAX_NUMBER}: {self.number}")
        if not 1000 <= self.year <= 9999:
            raise ReferenceError_(f"reference year must have four digits: {self.year}")

    def __str__(self) -> str:
        return f"BE-{self.year:04d}-{self.number:06d}"


def format_reference(year: int, number: int) -> str:
    return str(Reference(year, number))


def parse_reference(text: str) -> Reference:
    match = _PATTERN.match(text)
    if match is None:
        raise ReferenceError_("a reference looks like BE-YYYY-NNNNNN")
    return Reference(int(match.group(1)), int(match.group(2)))


def reference_year(received_at: datetime) -> int:
    """The year of receipt in Brussels: a report at 23:30 UTC on 31 December is next year's."""
    return local(received_at).year
