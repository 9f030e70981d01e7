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


@lru_cache(maxsize=32)
def _belgian_holidays(year: int) -> holidays.HolidayBase:
    return holidays.country_holidays("BE", years=year)


def is_public_holiday(day: date) -> bool:
    return day in _belgian_holidays(day.year)


_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class OfficeHours:
    """Opening hours per weekday (Monday = 0), Europe/Brussels; Belgian public holidays are always closed."""

    by_weekday: tuple[tuple[tuple[time, time], ...], ...]

    @classmethod
    def parse(cls, text: str) -> OfficeHours:
        """`mon-fri 09:00-17:00; sat 10:00-12:00` (`;`-separated; a day or a range of days, one or more spans
        separated by `,`). Days not named are closed. Raises ValueError naming the part it cannot read."""
        spans: list[list[tuple[time, time]]] = [[] for _ in _DAYS]
        for part in filter(None, (p.strip() for p in text.split(";"))):
            days, _, hours = part.partition(" ")
            first, _, last = days.lower().partition("-")
            if first not in _DAYS or (last and last not in _DAYS) or not hours.strip():
                raise ValueError(f"office hours: cannot read {part!r} (e.g. 'mon-fri 09:00-17:00')")
            start, end = _DAYS.index(first), _DAYS.index(last or first)
            for span in hours.split(","):
                opens, _, closes = span.strip().partition("-")
                try:
                    pair = (time.fromisoformat(opens.strip()), time.fromisoformat(closes.strip()))
                except ValueError:
                    raise ValueError(f"office hours: cannot read the span {span.strip()!r} (HH:MM-HH:MM)") from None
                if pair[1] <= pair[0]:
                    raise ValueError(f"office hours: {span.strip()!r} closes before it opens")
                for day in range(start, end + 1) if start <= end else [*range(start, 7), *range(0, end + 1)]:
                    spans[day].append(pair)
        return cls(tuple(tuple(sorted(day)) for day in spans))

    def open_at(self, instant: datetime) -> bool:
        here = local(instant)
        if is_public_holiday(here.date()):
            return False
        return any(opens <= here.time() < closes for opens, closes in self.by_weekday[here.weekday()])


DEFAULT_OFFICE_HOURS = OfficeHours.parse("mon-fri 09:00-17:00")


def is_office_hours(instant: datetime, hours: OfficeHours = DEFAULT_OFFICE_HOURS) -> bool:
    """Within the office hours (default Monday-Friday 09:00-17:00 Europe/Brussels), never on a Belgian holiday."""
    return hours.open_at(instant)


class RouteReason(StrEnum):
    OFFICE_HOURS = "office_hours"
    ON_CALL = "on_call"
    NO_ONE = "no_one"


@dataclass(frozen=True)
class CallRoute:
    reason: RouteReason
    targets: tuple[str, ...]
    """Numbers to dial in turn; the next one when the previous does not answer; voicemail after the last."""


def route_emergency(instant: datetime, *, consular_line: str, roster: Iterable[RosterEntry],
                    hours: OfficeHours = DEFAULT_OFFICE_HOURS) -> CallRoute:
    if hours.open_at(instant):
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
