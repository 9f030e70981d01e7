"""Which open incidents a registered traveller or a report falls into, and what changed since last time."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from shared.geo import Area, Point

from .geo import stay_covers

KINDS = ("earthquake", "flood", "storm", "fire", "unrest", "attack", "epidemic", "transport", "other")
SEVERITIES = ("minor", "moderate", "severe", "extreme")


@dataclass(frozen=True, slots=True)
class Incident:
    incident_id: str
    title: str
    kind: str
    severity: str
    area: Area
    occurred_at: datetime


@dataclass(frozen=True, slots=True)
class Stay:
    """Where a registered traveller is and when: `point` from the registration or its city, `tz` from the point."""

    traveller_id: str
    country: str
    point: Point | None
    arrival: date
    departure: date
    tz: str | None = None

    def covers(self, now: datetime) -> bool:
        return stay_covers(self.arrival, self.departure, now, self.tz)


@dataclass(frozen=True, slots=True)
class Sighting:
    """Where and when a report places the person it is about."""

    reference: str
    country: str
    point: Point | None
    received_at: datetime


def incidents_of_stay(stay: Stay, incidents: Iterable[Incident], now: datetime) -> frozenset[str]:
    """The incidents whose area holds the traveller while the stay covers `now`."""
    if not stay.covers(now):
        return frozenset()
    return frozenset(i.incident_id for i in incidents if i.area.contains(stay.point, stay.country))


def incidents_of_sighting(sighting: Sighting, incidents: Iterable[Incident]) -> frozenset[str]:
    """The incidents whose area holds the report's location, for reports received since the incident began."""
    return frozenset(
        i.incident_id
        for i in incidents
        if sighting.received_at >= i.occurred_at and i.area.contains(sighting.point, sighting.country)
    )


def diff(previous: Iterable[str], desired: Iterable[str]) -> tuple[frozenset[str], frozenset[str]]:
    """(to join, to leave)."""
    before, after = frozenset(previous), frozenset(desired)
    return after - before, before - after
