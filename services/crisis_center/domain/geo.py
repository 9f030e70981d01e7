"""Where a point lies (the areas themselves are in `shared.geo`) and whether a stay covers today."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from shared.geo import (  # noqa: F401 - the crisis center's domain names these from here
    EARTH_RADIUS_KM,
    Area,
    Circle,
    InvalidArea,
    LonLat,
    Point,
    closed_ring,
    great_circle_km,
)

# Local dates run from UTC-12 to UTC+14: without a known time zone, a stay covers `now` if it covers the date
# somewhere on Earth at that instant. In a crisis a few hours of over-inclusion beat leaving someone out.
_EARLIEST_OFFSET = timedelta(hours=-12)
_LATEST_OFFSET = timedelta(hours=14)


def stay_covers(arrival: date, departure: date, now: datetime, tz_name: str | None = None) -> bool:
    """Whether a stay [arrival, departure] (local dates, both inclusive) covers the instant `now` (aware)."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    if tz_name:
        try:
            local = now.astimezone(ZoneInfo(tz_name)).date()
        except (ZoneInfoNotFoundError, ValueError):
            local = None
        if local is not None:
            return arrival <= local <= departure
    utc = now.astimezone(ZoneInfo("UTC")).replace(tzinfo=None)
    return arrival <= (utc + _LATEST_OFFSET).date() and departure >= (utc + _EARLIEST_OFFSET).date()


class TimeZoneLocator:
    """Point -> IANA time zone name, through `timezonefinder` (its data ships with the package)."""

    def __init__(self) -> None:
        from timezonefinder import TimezoneFinder

        self._finder = TimezoneFinder(in_memory=True)

    @lru_cache(maxsize=4096)  # noqa: B019 - one locator per process; bounded cache
    def tz_at(self, lat: float, lon: float) -> str | None:
        name: str | None = self._finder.timezone_at(lng=lon, lat=lat)
        return name
