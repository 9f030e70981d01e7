"""The mapping rules of docs/feeds.md: kind, severity, thresholds, radius, the same-quake window."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from services.feeds.domain.model import FeedEvent
from services.feeds.domain.rules import (
    Policy,
    area_of,
    circle_radius_km,
    earthquake_radius_km,
    is_stale,
    kind_of,
    quake_distance,
    qualifies,
    rupture_length_km,
    severity_of,
    title_of,
)

NOW = datetime.now(UTC)


def gdacs(hazard: str = "EQ", alert: str | None = "orange", **fields: object) -> FeedEvent:
    values: dict[str, object] = dict(feed="gdacs", source_id=f"gdacs:{hazard}:1", hazard=hazard, lat=27.7, lon=85.3,
                                     occurred_at=NOW, last_activity_at=NOW, episode="1", alert_level=alert,
                                     magnitude=6.5 if hazard == "EQ" else None, country="NP", place="Nepal")
    values.update(fields)
    return FeedEvent(**values)  # type: ignore[arg-type]


def usgs(magnitude: float | None = 6.5, alert: str | None = None, **fields: object) -> FeedEvent:
    values: dict[str, object] = dict(feed="usgs", source_id="usgs:us7000abcd", hazard="EQ", lat=27.7, lon=85.3,
                                     occurred_at=NOW, last_activity_at=NOW, alert_level=alert, magnitude=magnitude,
                                     country="NP", place="12 km NNE of Kathmandu, Nepal")
    values.update(fields)
    return FeedEvent(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(("hazard", "kind"), [("EQ", "earthquake"), ("TC", "storm"), ("FL", "flood"), ("TS", "flood"),
                                              ("WF", "fire"), ("VO", "other"), ("DR", "other"), ("XX", "other")])
def test_kind_of_each_gdacs_event_type(hazard: str, kind: str) -> None:
    assert kind_of(gdacs(hazard)) == kind


def test_usgs_quakes_are_earthquakes() -> None:
    assert kind_of(usgs()) == "earthquake"


@pytest.mark.parametrize(("alert", "severity"), [("green", "minor"), ("orange", "severe"), ("red", "extreme"),
                                                 ("Red", "extreme"), (None, "minor")])
def test_severity_of_a_gdacs_alert_level(alert: str | None, severity: str) -> None:
    assert severity_of(gdacs(alert=alert)) == severity


@pytest.mark.parametrize(("alert", "severity"), [("green", "minor"), ("yellow", "moderate"), ("orange", "severe"),
                                                 ("red", "extreme")])
def test_severity_of_a_usgs_pager_alert_wins_over_the_magnitude(alert: str, severity: str) -> None:
    assert severity_of(usgs(8.5, alert)) == severity


@pytest.mark.parametrize(("magnitude", "severity"), [(5.9, "minor"), (6.0, "moderate"), (6.9, "moderate"),
                                                     (7.0, "severe"), (7.9, "severe"), (8.0, "extreme"),
                                                     (None, "minor")])
def test_severity_of_a_usgs_quake_without_pager(magnitude: float | None, severity: str) -> None:
    assert severity_of(usgs(magnitude)) == severity


def test_thresholds() -> None:
    policy = Policy()
    assert not qualifies(gdacs(alert="green"), policy)
    assert qualifies(gdacs(alert="orange"), policy) and qualifies(gdacs(alert="red"), policy)
    assert not qualifies(gdacs(alert=None), policy) and not qualifies(gdacs(alert="purple"), policy)
    assert qualifies(gdacs("DR", alert="orange"), policy), "every GDACS event type"
    assert not qualifies(gdacs(alert="orange"), Policy(min_gdacs_alert="red"))
    assert qualifies(gdacs(alert="green"), Policy(min_gdacs_alert="green"))
    assert qualifies(usgs(6.0), policy) and not qualifies(usgs(5.99), policy) and not qualifies(usgs(None), policy)
    assert not qualifies(usgs(7.0, hazard="quarry blast"), policy)
    assert qualifies(usgs(5.0), Policy(min_usgs_magnitude=4.5))


def test_stale_is_relative_to_now_and_the_ttl() -> None:
    policy = Policy(ttl=timedelta(hours=72))
    assert not is_stale(usgs(last_activity_at=NOW - timedelta(hours=71)), NOW, policy)
    assert is_stale(usgs(last_activity_at=NOW - timedelta(hours=73)), NOW, policy)
    long_flood = gdacs("FL", occurred_at=NOW - timedelta(days=30), last_activity_at=NOW - timedelta(hours=2))
    assert not is_stale(long_flood, NOW, policy), "a GDACS event is as old as its latest episode"


def test_earthquake_radius_follows_wells_and_coppersmith() -> None:
    assert rupture_length_km(7.0) == pytest.approx(10 ** (-2.44 + 0.59 * 7.0))
    assert earthquake_radius_km(6.0) == pytest.approx(32.6, abs=0.1)
    assert earthquake_radius_km(7.0) == pytest.approx(69.0, abs=0.1)
    assert earthquake_radius_km(7.8) == pytest.approx(165.2, abs=0.2)
    assert earthquake_radius_km(9.0) == pytest.approx(761.3, abs=0.5)
    radii = [earthquake_radius_km(m / 10) for m in range(40, 96)]
    assert radii == sorted(radii) and radii[0] >= 20.0 and earthquake_radius_km(10.0) == 1000.0


def test_circles_of_gdacs_events_without_a_polygon() -> None:
    assert circle_radius_km(gdacs("EQ", magnitude=7.0)) == earthquake_radius_km(7.0)
    assert circle_radius_km(gdacs("TC")) == 300.0
    assert circle_radius_km(gdacs("FL")) == 100.0
    assert circle_radius_km(gdacs("WF")) == 50.0
    assert circle_radius_km(gdacs("DR")) is None
    assert area_of(gdacs("DR"), "ZW", None) == {"country": "ZW"}, "a drought covers the country"
    ring = [(85.0, 27.0), (86.0, 27.0), (86.0, 28.0), (85.0, 27.0)]
    assert area_of(gdacs("TC"), "PH", ring) == {"country": "PH", "polygon": [[85.0, 27.0], [86.0, 27.0],
                                                                             [86.0, 28.0], [85.0, 27.0]]}


def test_titles() -> None:
    assert title_of(gdacs("EQ", magnitude=7.04)) == "Earthquake in Nepal (M 7.0)"
    assert title_of(gdacs("TC", name="MAWAR-26", place="Philippines")) == "Tropical cyclone MAWAR-26 in Philippines"
    assert title_of(usgs(6.5)) == "Earthquake: 12 km NNE of Kathmandu, Nepal (M 6.5)"
    assert title_of(usgs(6.4, place="")) == "Earthquake (M 6.4)"


def test_the_same_quake_is_within_30_minutes_and_100_km() -> None:
    quake = usgs(7.0)
    assert quake_distance(quake, gdacs(occurred_at=NOW + timedelta(minutes=29), magnitude=7.0)) is not None
    assert quake_distance(quake, gdacs(occurred_at=NOW - timedelta(minutes=30))) is not None
    assert quake_distance(quake, gdacs(occurred_at=NOW + timedelta(minutes=31))) is None
    north_99_km, north_101_km = 27.7 + 99 / 111.2, 27.7 + 101 / 111.2
    assert quake_distance(quake, gdacs(lat=north_99_km)) is not None
    assert quake_distance(quake, gdacs(lat=north_101_km)) is None
    assert quake_distance(quake, gdacs("TC")) is None, "only earthquakes"
    near = quake_distance(quake, gdacs(occurred_at=NOW + timedelta(minutes=1), magnitude=7.0))
    aftershock = quake_distance(quake, gdacs(occurred_at=NOW + timedelta(minutes=1), magnitude=6.1))
    assert near is not None and aftershock is not None and near < aftershock, "the magnitude breaks a tie"


def test_feed_events_round_trip_through_json() -> None:
    event = replace(gdacs("TC"), polygon_url="https://example.org/g", name="X")
    assert FeedEvent.from_json(event.to_json()) == event
