"""Opening hours: validation of the weekly schedule an admin sets, and `open_now` in the post's time zone.

Shape: `{"placeholder": false, "weekly": {"mon": [["09:00", "12:30"], ["14:00", "16:00"]], ...},
"closed_dates": ["2026-12-25"]}`. Days left out are closed. A placeholder (the seed's default: the data
has no hours) gives `open_now = None`: unknown, never guessed.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from services.directory.domain.model import InvalidQuery

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$|^24:00$")

HOURS_UNKNOWN = "opening hours unknown (placeholder in the seed data)"


@lru_cache(maxsize=512)
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def _minutes(hhmm: str) -> int:
    hours, minutes = hhmm.split(":")
    return int(hours) * 60 + int(minutes)


def validate_hours(hours: dict[str, Any]) -> dict[str, Any]:
    """Check and normalise an opening-hours document; raises InvalidQuery naming the field."""
    weekly = hours.get("weekly")
    if not isinstance(weekly, dict):
        raise InvalidQuery("weekly", "required", "weekly must map days (mon..sun) to lists of [open, close]")
    clean: dict[str, list[list[str]]] = {}
    for day, spans in weekly.items():
        if day not in DAYS:
            raise InvalidQuery(f"weekly.{day}", "day", f"unknown day {day!r}; use one of {', '.join(DAYS)}")
        if not isinstance(spans, list):
            raise InvalidQuery(f"weekly.{day}", "spans", "a day holds a list of [open, close] pairs")
        out: list[list[str]] = []
        for span in spans:
            if not (isinstance(span, list | tuple) and len(span) == 2 and all(isinstance(t, str) for t in span)):
                raise InvalidQuery(f"weekly.{day}", "span", 'each span is ["HH:MM", "HH:MM"]')
            start, end = span
            if not (_HHMM.match(start) and _HHMM.match(end)) or _minutes(start) >= _minutes(end):
                raise InvalidQuery(f"weekly.{day}", "span", f"{start}-{end}: times HH:MM with open before close")
            out.append([start, end])
        clean[day] = sorted(out)
    closed: list[str] = []
    for raw in hours.get("closed_dates") or []:
        try:
            closed.append(date.fromisoformat(str(raw)).isoformat())
        except ValueError as exc:
            raise InvalidQuery("closed_dates", "date", f"{raw!r} is not a date (YYYY-MM-DD)") from exc
    return {"placeholder": False, "weekly": clean, "closed_dates": sorted(set(closed))}


def open_now(hours: dict[str, Any], time_zone: str, at: datetime) -> bool | None:
    """Whether the post is open at `at` (aware) in its own time zone; None when the hours are unknown."""
    if hours.get("placeholder", True) or not isinstance(hours.get("weekly"), dict):
        return None
    local = at.astimezone(zone(time_zone))
    if local.date().isoformat() in hours.get("closed_dates", ()):
        return False
    now = local.time()
    spans = hours["weekly"].get(DAYS[local.weekday()], ())
    return any(_parse(start) <= now < _parse(end) for start, end in spans)


@lru_cache(maxsize=256)
def _parse(hhmm: str) -> time:
    if hhmm == "24:00":
        return time.max
    return time.fromisoformat(hhmm)
