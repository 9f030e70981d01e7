from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from services.crisis_center.domain.geo import TimeZoneLocator, stay_covers
from shared.gazetteer import Gazetteer
from shared.geo import Area, Circle, InvalidArea, Point, great_circle_km

BRUSSELS = Point(50.8503, 4.3517)
PARIS = Point(48.8566, 2.3522)


def test_great_circle_brussels_paris_is_about_264_km() -> None:
    assert great_circle_km(BRUSSELS, PARIS) == pytest.approx(264, abs=3)
    assert great_circle_km(PARIS, BRUSSELS) == pytest.approx(great_circle_km(BRUSSELS, PARIS))
    assert great_circle_km(PARIS, PARIS) == 0


def test_circle_counts_by_great_circle_distance() -> None:
    area = Area("FR", circle=Circle(PARIS.lat, PARIS.lon, 10))
    assert area.kind == "circle"
    assert area.contains(Point(48.90, 2.35), "FR")  # ~5 km north
    assert not area.contains(Point(49.0, 2.35), "FR")  # ~16 km north
    assert not area.contains(None, "FR")  # position unknown: not counted in a circle


def test_circle_across_the_antimeridian_uses_true_distance() -> None:
    area = Area("FJ", circle=Circle(-17.0, 179.95, 20))
    assert area.contains(Point(-17.0, -179.95), "FJ")  # ~10.6 km away across the 180th meridian


def test_polygon_is_lon_lat_and_counts_its_inside_only() -> None:
    # A square around Lisbon in GeoJSON order [lon, lat].
    square = ((-9.3, 38.6), (-9.0, 38.6), (-9.0, 38.85), (-9.3, 38.85))
    area = Area("PT", polygon=square)
    assert area.kind == "polygon"
    assert area.contains(Point(38.72, -9.14), "PT")
    assert not area.contains(Point(-9.14, 38.72), "PT")  # lat/lon swapped lands elsewhere
    assert not area.contains(Point(41.15, -8.61), "PT")  # Porto
    assert area.contains(Point(38.6, -9.1), "PT")  # on the edge counts


def test_polygon_given_closed_or_open_is_the_same_area() -> None:
    open_ring = ((0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0))
    closed = (*open_ring, open_ring[0])
    point = Point(0.5, 0.5)
    assert Area("XX", polygon=open_ring).contains(point, None) == Area("XX", polygon=closed).contains(point, None)


def test_self_intersecting_polygon_is_repaired_not_rejected() -> None:
    bow_tie = ((0.0, 0.0), (2.0, 2.0), (2.0, 0.0), (0.0, 2.0))
    area = Area("XX", polygon=bow_tie)
    assert area.contains(Point(1.0, 0.5), None) or area.contains(Point(1.0, 1.5), None)


@pytest.mark.parametrize(
    "polygon",
    [((0.0, 0.0), (1.0, 1.0)), ((0.0, 0.0), (1.0, 1.0), (2.0, 2.0)), ((0.0, 0.0), (0.0, 95.0), (1.0, 1.0))],
)
def test_degenerate_polygons_are_refused(polygon: tuple[tuple[float, float], ...]) -> None:
    with pytest.raises(InvalidArea):
        Area("XX", polygon=polygon)


def test_bad_circles_are_refused() -> None:
    with pytest.raises(InvalidArea):
        Circle(0, 0, 0)
    with pytest.raises(InvalidArea):
        Circle(91, 0, 5)


def test_whole_country_uses_the_country_not_the_point() -> None:
    area = Area("TR")
    assert area.kind == "country"
    assert area.contains(None, "TR")
    assert area.contains(Point(0, 0), "tr")
    assert not area.contains(Point(39.0, 35.0), "GR")
    assert not area.contains(Point(39.0, 35.0), None)


def test_area_round_trips_through_the_contract_shape() -> None:
    for area in (Area("FR", circle=Circle(1.5, 2.5, 3.0)), Area("PT", polygon=((0, 0), (1, 0), (1, 1))), Area("BE")):
        assert Area.from_dict(area.to_dict()) == area


@pytest.mark.parametrize(
    ("arrival", "departure", "now", "expected"),
    [
        (date(2026, 11, 20), date(2026, 11, 30), datetime(2026, 11, 28, 12, tzinfo=UTC), True),
        (date(2026, 11, 28), date(2026, 11, 28), datetime(2026, 11, 28, 12, tzinfo=UTC), True),
        (date(2026, 11, 1), date(2026, 11, 25), datetime(2026, 11, 28, 12, tzinfo=UTC), False),  # ended
        (date(2026, 12, 5), date(2026, 12, 9), datetime(2026, 11, 28, 12, tzinfo=UTC), False),  # not started
    ],
)
def test_stay_covers_today(arrival: date, departure: date, now: datetime, expected: bool) -> None:
    assert stay_covers(arrival, departure, now) is expected
    assert stay_covers(arrival, departure, now, "Asia/Tokyo") is expected


def test_stay_uses_the_local_date_where_the_zone_is_known() -> None:
    now = datetime(2026, 11, 28, 20, tzinfo=UTC)  # already the 29th in Tokyo, still the 28th in New York
    assert stay_covers(date(2026, 11, 29), date(2026, 12, 2), now, "Asia/Tokyo")
    assert not stay_covers(date(2026, 11, 29), date(2026, 12, 2), now, "America/New_York")
    assert not stay_covers(date(2026, 11, 20), date(2026, 11, 28), now, "Asia/Tokyo")
    # Unknown zone: lenient window over every zone on Earth.
    assert stay_covers(date(2026, 11, 29), date(2026, 12, 2), now, "Not/AZone")
    with pytest.raises(ValueError, match="aware"):
        stay_covers(date(2026, 11, 29), date(2026, 12, 2), datetime(2026, 11, 28))


def test_time_zone_locator_and_gazetteer() -> None:
    assert TimeZoneLocator().tz_at(BRUSSELS.lat, BRUSSELS.lon) == "Europe/Brussels"
    gazetteer = Gazetteer()
    lisbon = gazetteer.locate("PT", "Lisboa")
    assert lisbon is not None and great_circle_km(lisbon, Point(38.72, -9.14)) < 10
    assert gazetteer.locate("PT", "lisbon") == gazetteer.locate("pt", "Lisbon")  # alternate names, any case
    assert gazetteer.locate("PT", "No Such Town") is None
    assert gazetteer.locate(None, "Lisbon") is None
