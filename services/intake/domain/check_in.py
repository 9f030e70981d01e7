"""A check-in by SMS during a crisis, from someone who never registered: `SAFE Pokhara`, `HULP Thamel Kathmandu`.

The message must begin with a check-in word (its language is the word's); the rest names the place, which is
looked up offline (GeoNames, `shared.gazetteer`) in the country of each active crisis and must lie in its area.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from services.intake.domain.model import Language
from services.intake.domain.welfare import words
from shared.gazetteer import Gazetteer, phrases
from shared.geo import Area, InvalidArea, Point

CheckInAnswer = Literal["safe", "needs_help"]

#: The first word of a check-in, with the answer and the language it stands for.
CHECK_IN_WORDS: dict[str, tuple[CheckInAnswer, Language]] = {
    "safe": ("safe", Language.EN), "ok": ("safe", Language.EN), "help": ("needs_help", Language.EN),
    "sos": ("needs_help", Language.EN),
    "sauf": ("safe", Language.FR), "securite": ("safe", Language.FR), "aide": ("needs_help", Language.FR),
    "veilig": ("safe", Language.NL), "hulp": ("needs_help", Language.NL),
    "sicher": ("safe", Language.DE), "hilfe": ("needs_help", Language.DE),
}


@dataclass(frozen=True)
class CheckInText:
    answer: CheckInAnswer
    language: Language
    place: str
    """The words after the check-in word ('' when none)."""


def parse_check_in(text: str) -> CheckInText | None:
    """The answer, language and place of a check-in message; None when it does not begin with a check-in word."""
    found = words(text)
    if not found or found[0] not in CHECK_IN_WORDS:
        return None
    answer, language = CHECK_IN_WORDS[found[0]]
    return CheckInText(answer, language, " ".join(found[1:]))


@dataclass(frozen=True)
class CrisisArea:
    crisis_id: str
    title: str
    hotline_number: str
    area: Area


@dataclass(frozen=True)
class Located:
    crisis: CrisisArea | None
    """The crisis whose area holds the place; None when the place was found but lies outside every area."""
    point: Point
    country: str
    place: str


def crises_with_areas(rows: Iterable[dict[str, Any]]) -> list[CrisisArea]:
    found = []
    for row in rows:
        if not row.get("area"):
            continue
        try:
            area = Area.from_dict(row["area"])
        except (InvalidArea, KeyError, TypeError, ValueError):
            continue
        found.append(CrisisArea(row["crisis_id"], row["title"], row["hotline_number"], area))
    return found


def locate(place: str, crises: Sequence[CrisisArea], gazetteer: Gazetteer) -> Located | None:
    """The place in the country of an active crisis, preferring one inside a crisis area; None when not found."""
    outside: Located | None = None
    for phrase in phrases(place):
        for crisis in crises:
            point = gazetteer.locate(crisis.area.country, phrase)
            if point is None:
                continue
            if crisis.area.contains(point, crisis.area.country):
                return Located(crisis, point, crisis.area.country, phrase)
            outside = outside or Located(None, point, crisis.area.country, phrase)
    return outside
