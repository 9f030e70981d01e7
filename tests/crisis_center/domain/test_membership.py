from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from services.crisis_center.domain.membership import (
    Incident,
    Sighting,
    Stay,
    diff,
    incidents_of_sighting,
    incidents_of_stay,
)
from shared.geo import Area, Circle, Point

NOW = datetime(2026, 11, 28, 12, tzinfo=UTC)
ISTANBUL = Point(41.0082, 28.9784)
QUAKE = Incident("inc-1", "Earthquake", "earthquake", "severe", Area("TR", circle=Circle(41.0, 29.0, 50)),
                 NOW - timedelta(hours=2))
UNREST = Incident("inc-2", "Unrest", "unrest", "moderate", Area("TR"), NOW - timedelta(days=1))


def stay(point: Point | None, arrival: date = date(2026, 11, 20), departure: date = date(2026, 12, 5)) -> Stay:
    return Stay("t1", "TR", point, arrival, departure)


def test_stay_inside_circle_and_country_joins_both() -> None:
    assert incidents_of_stay(stay(ISTANBUL), [QUAKE, UNREST], NOW) == {"inc-1", "inc-2"}


def test_stay_outside_circle_joins_the_country_incident_only() -> None:
    ankara = Point(39.93, 32.86)
    assert incidents_of_stay(stay(ankara), [QUAKE, UNREST], NOW) == {"inc-2"}
    assert incidents_of_stay(stay(None), [QUAKE, UNREST], NOW) == {"inc-2"}


def test_ended_or_future_stays_join_nothing() -> None:
    assert incidents_of_stay(stay(ISTANBUL, departure=date(2026, 11, 25)), [QUAKE, UNREST], NOW) == frozenset()
    assert incidents_of_stay(stay(ISTANBUL, arrival=date(2026, 12, 1)), [QUAKE, UNREST], NOW) == frozenset()


def test_reports_count_from_the_start_of_the_incident() -> None:
    before = Sighting("BE-1", "TR", ISTANBUL, QUAKE.occurred_at - timedelta(minutes=1))
    after = Sighting("BE-2", "TR", ISTANBUL, QUAKE.occurred_at + timedelta(minutes=1))
    assert incidents_of_sighting(before, [QUAKE, UNREST]) == {"inc-2"}
    assert incidents_of_sighting(after, [QUAKE, UNREST]) == {"inc-1", "inc-2"}
    elsewhere = Sighting("BE-3", "GR", Point(37.98, 23.73), NOW)
    assert incidents_of_sighting(elsewhere, [QUAKE, UNREST]) == frozenset()


def test_diff() -> None:
    joined, left = diff({"a", "b"}, {"b", "c"})
    assert joined == {"c"} and left == {"a"}
    assert diff(set(), set()) == (frozenset(), frozenset())
