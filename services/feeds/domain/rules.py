"""The mapping rules (docs/feeds.md): what qualifies, kind and severity, the area, the title, and when two items of
the two feeds are the same earthquake. Pure functions."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from services.feeds.domain.model import FeedEvent, LonLat
from shared.geo import Point, great_circle_km

# ------------------------------------------------------------------------------------------------ kind, severity
#: GDACS event type -> the contract's kind (USGS items are earthquakes).
GDACS_KINDS: dict[str, str] = {
    "EQ": "earthquake",
    "TC": "storm",  # tropical cyclone
    "FL": "flood",
    "TS": "flood",  # tsunami: coastal inundation
    "WF": "fire",  # wildfire
    "VO": "other",  # volcano
    "DR": "other",  # drought
}
HAZARD_NAMES: dict[str, str] = {"EQ": "Earthquake", "TC": "Tropical cyclone", "FL": "Flood", "TS": "Tsunami",
                                "WF": "Forest fire", "VO": "Volcanic eruption", "DR": "Drought"}

SEVERITIES = ("minor", "moderate", "severe", "extreme")
#: GDACS alert level -> severity.
GDACS_SEVERITY: dict[str, str] = {"green": "minor", "orange": "severe", "red": "extreme"}
#: USGS PAGER alert level -> severity (PAGER: estimated fatalities and losses).
PAGER_SEVERITY: dict[str, str] = {"green": "minor", "yellow": "moderate", "orange": "severe", "red": "extreme"}
GDACS_ALERT_RANK: dict[str, int] = {"green": 0, "orange": 1, "red": 2}


def kind_of(event: FeedEvent) -> str:
    return GDACS_KINDS.get(event.hazard, "other")


def magnitude_severity(magnitude: float) -> str:
    """A USGS quake before PAGER has spoken: below M6 minor, M6-6.9 moderate, M7-7.9 severe, M8 and above extreme."""
    if magnitude >= 8.0:
        return "extreme"
    if magnitude >= 7.0:
        return "severe"
    if magnitude >= 6.0:
        return "moderate"
    return "minor"


def severity_of(event: FeedEvent) -> str:
    level = (event.alert_level or "").lower()
    if event.feed == "gdacs":
        return GDACS_SEVERITY.get(level, "minor")
    if level in PAGER_SEVERITY:
        return PAGER_SEVERITY[level]
    return magnitude_severity(event.magnitude or 0.0)


def highest_severity(values: list[str]) -> str:
    return max(values, key=SEVERITIES.index) if values else "minor"


# -------------------------------------------------------------------------------------------------- thresholds
@dataclass(frozen=True)
class Policy:
    min_gdacs_alert: str = "orange"
    min_usgs_magnitude: float = 6.0
    ttl: timedelta = timedelta(hours=72)
    absent_polls: int = 2


def qualifies(event: FeedEvent, policy: Policy) -> bool:
    """At or above the thresholds: a GDACS alert level of at least FEED_MIN_GDACS_ALERT (any event type), a USGS
    earthquake (type "earthquake" only: no quarry blasts) of at least FEED_MIN_USGS_MAGNITUDE."""
    if event.feed == "gdacs":
        rank = GDACS_ALERT_RANK.get((event.alert_level or "").lower())
        return rank is not None and rank >= GDACS_ALERT_RANK[policy.min_gdacs_alert]
    return event.is_earthquake and event.magnitude is not None and event.magnitude >= policy.min_usgs_magnitude


def is_stale(event: FeedEvent, now: datetime, policy: Policy) -> bool:
    """Its last activity is older than the TTL: not reported when first seen (a replica back after a week off
    does not report last week's quakes)."""
    return now - event.last_activity_at > policy.ttl


# -------------------------------------------------------------------------------------------------------- area
#: Wells & Coppersmith (1994, BSSA 84(4), table 2A), subsurface rupture length, all slip types:
#: log10(RLD km) = -2.44 + 0.59 M (M 4.8-8.1).
WC_A, WC_B = -2.44, 0.59
#: Strong shaking beyond the rupture's end: our margin, not the paper's.
SHAKING_MARGIN_KM = 20.0
EQ_RADIUS_MIN_KM, EQ_RADIUS_MAX_KM = 20.0, 1000.0


def rupture_length_km(magnitude: float) -> float:
    return float(10 ** (WC_A + WC_B * magnitude))


def earthquake_radius_km(magnitude: float) -> float:
    """The epicentre may lie at either end of the rupture, so the circle's radius is the whole rupture length plus
    the shaking margin: M6 33 km, M7 69 km, M7.8 165 km, M9 760 km (bounded to 20-1000 km)."""
    radius = rupture_length_km(magnitude) + SHAKING_MARGIN_KM
    return round(min(max(radius, EQ_RADIUS_MIN_KM), EQ_RADIUS_MAX_KM), 1)


#: GDACS events without a polygon: circle radius per event type (km); None: the whole country.
GDACS_RADIUS_KM: dict[str, float | None] = {
    "TC": 300.0,  # gale-force winds of a mature tropical cyclone reach 200-400 km from its centre
    "FL": 100.0,
    "TS": 200.0,
    "VO": 100.0,
    "WF": 50.0,
    "DR": None,  # a drought is a regional, slow event: the whole country
}
DEFAULT_RADIUS_KM = 100.0


def circle_radius_km(event: FeedEvent) -> float | None:
    if event.is_earthquake:
        return earthquake_radius_km(event.magnitude if event.magnitude is not None else 6.0)
    return GDACS_RADIUS_KM.get(event.hazard, DEFAULT_RADIUS_KM)


def area_of(event: FeedEvent, country: str, polygon: list[LonLat] | None) -> dict[str, Any]:
    """The contract's area for one source: its polygon when it has one, else a circle, else the whole country."""
    if polygon:
        return {"country": country, "polygon": [[lon, lat] for lon, lat in polygon]}
    radius = circle_radius_km(event)
    if radius is None:
        return {"country": country}
    return {"country": country, "circle": {"lat": round(event.lat, 4), "lon": round(event.lon, 4),
                                           "radius_km": radius}}


def signature(event: FeedEvent, polygon: list[LonLat] | None) -> dict[str, Any]:
    """What a change of is worth an `incident.updated`: the episode, the alert level, the magnitude, the area."""
    area: Any
    if polygon:
        area = {"polygon": [[round(lon, 3), round(lat, 3)] for lon, lat in polygon]}
    else:
        radius = circle_radius_km(event)
        area = None if radius is None else {"lat": round(event.lat, 2), "lon": round(event.lon, 2),
                                            "radius_km": radius}
    return {"episode": event.episode, "alert_level": (event.alert_level or "").lower() or None,
            "magnitude": None if event.magnitude is None else round(event.magnitude, 1), "area": area}


# ------------------------------------------------------------------------------------------------------- title
def title_of(event: FeedEvent, magnitude: float | None = None) -> str:
    magnitude = magnitude if magnitude is not None else event.magnitude
    tail = f" (M {magnitude:.1f})" if event.is_earthquake and magnitude is not None else ""
    if event.feed == "usgs":
        title = f"Earthquake: {event.place}{tail}" if event.place else f"Earthquake{tail}"
    else:
        label = HAZARD_NAMES.get(event.hazard, "Disaster")
        named = f" {event.name}" if event.name else ""
        where = f" in {event.place}" if event.place else ""
        title = f"{label}{named}{where}{tail}"
    return title[:500]


# ---------------------------------------------------------------------------------------------------- the same quake
SAME_QUAKE_WITHIN = timedelta(minutes=30)
SAME_QUAKE_KM = 100.0


def quake_distance(a: FeedEvent, b: FeedEvent) -> float | None:
    """None when the two are not the same earthquake (both earthquakes, within 30 minutes and 100 km of each
    other), else a score to pick the likeliest of several: time and distance as fractions of the window, plus the
    magnitude difference (an aftershock within the window has a smaller magnitude)."""
    if not (a.is_earthquake and b.is_earthquake):
        return None
    gap = abs(a.occurred_at - b.occurred_at)
    km = great_circle_km(Point(a.lat, a.lon), Point(b.lat, b.lon))
    if gap > SAME_QUAKE_WITHIN or km > SAME_QUAKE_KM:
        return None
    score = gap / SAME_QUAKE_WITHIN + km / SAME_QUAKE_KM
    if a.magnitude is not None and b.magnitude is not None:
        score += abs(a.magnitude - b.magnitude)
    return score


def finite(value: float | None) -> bool:
    return value is not None and math.isfinite(value)
