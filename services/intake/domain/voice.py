"""The 24/7 voice line: office hours, who an emergency call goes to, and what the caller hears first."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from enum import StrEnum
from functools import lru_cache

import holidays

from services.intake.domain import texts
from services.intake.domain.clocks import local
from services.intake.domain.model import Language
from services.intake.domain.roster import RosterEntry, on_call

OPENS = time(9, 0)
CLOSES = time(17, 0)


@lru_cache(maxsize=32)
def _belgian_holidays(year: int) -> holidays.HolidayBase:
    return holidays.country_holidays("BE", years=year)


def is_public_holiday(day: date) -> bool:
    return day in _belgian_holidays(day.year)


def is_office_hours(instant: datetime) -> bool:
    """Monday-Friday 09:00-17:00 Europe/Brussels, except Belgian public holidays."""
    here = local(instant)
    return here.weekday() < 5 and OPENS <= here.time() < CLOSES and not is_public_holiday(here.date())


class RouteReason(StrEnum):
    OFFICE_HOURS = "office_hours"
    ON_CALL = "on_call"
    NO_ONE = "no_one"


@dataclass(frozen=True)
class CallRoute:
    reason: RouteReason
    targets: tuple[str, ...]
    """Numbers to dial in turn; the next one when the previous does not answer; voicemail after the last."""


def route_emergency(instant: datetime, *, consular_line: str, roster: Iterable[RosterEntry]) -> CallRoute:
    if is_office_hours(instant):
        return CallRoute(RouteReason.OFFICE_HOURS, (consular_line,))
    entry = on_call(roster, instant)
    if entry is None:
        return CallRoute(RouteReason.NO_ONE, ())
    targets = (entry.officer_phone,) + ((entry.backup_phone,) if entry.backup_phone else ())
    return CallRoute(RouteReason.ON_CALL, targets)


def next_target(route: CallRoute, attempt: int) -> str | None:
    """The number for dial attempt `attempt` (0-based), or None: time for voicemail."""
    return route.targets[attempt] if 0 <= attempt < len(route.targets) else None


@dataclass(frozen=True)
class ActiveCrisis:
    crisis_id: str
    title: str
    hotline_number: str


@dataclass(frozen=True)
class Utterance:
    text: str
    language: Language

    @property
    def locale(self) -> str:
        return texts.VOICE_LOCALE[self.language]


def crisis_announcements(crises: Sequence[ActiveCrisis]) -> list[Utterance]:
    """Each active crisis's hotline, in every language: said before anything else."""
    return [Utterance(texts.render(texts.VOICE_CRISIS, language, title=crisis.title,
                                   number=spell_number(crisis.hotline_number)), language)
            for crisis in crises for language in Language]


def language_menu() -> list[Utterance]:
    return [Utterance(texts.VOICE_LANGUAGE_MENU[lang], lang) for lang in _MENU_ORDER]


def greeting(crises: Sequence[ActiveCrisis]) -> list[Utterance]:
    """What a caller hears first: the crisis announcements, then the language menu."""
    return crisis_announcements(crises) + language_menu()


_MENU_ORDER = (Language.FR, Language.NL, Language.DE, Language.EN)


def language_for_digit(digits: str | None) -> Language | None:
    return texts.VOICE_LANGUAGE_DIGITS.get((digits or "").strip()[:1])


def spell_number(e164: str) -> str:
    """`+3222000000` -> `+ 3 2 2 2 ...` so that text-to-speech reads digits, not a large number."""
    return " ".join(e164)
