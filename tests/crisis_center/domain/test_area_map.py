"""The check-in page's map: the area's frame and projection, and the towns shown in it."""

from __future__ import annotations

from services.crisis_center.domain.area_map import area_map, circle_points
from shared.geo import Area, Circle, Point, great_circle_km

KATHMANDU = Point(27.7172, 85.3240)
TOWNS = [("Kathmandu", KATHMANDU, 1_000_000), ("Hetauda", Point(27.4284, 85.0322), 150_000),
         ("Pokhara", Point(28.2096, 83.9856), 400_000), ("Delhi", Point(28.65, 77.23), 10_000_000)]


def test_the_circle_is_drawn_at_its_radius() -> None:
    ring = circle_points(KATHMANDU, 60)
    assert len(ring) == 72 and all(abs(great_circle_km(KATHMANDU, p) - 60) < 0.5 for p in ring)


def test_a_point_projects_and_comes_back() -> None:
    drawn = area_map(Area("NP", circle=Circle(KATHMANDU.lat, KATHMANDU.lon, 60)), TOWNS)
    assert drawn is not None and drawn.outline.startswith("M") and drawn.outline.endswith("Z")
    x, y = drawn.xy(KATHMANDU)
    assert abs(x - drawn.width / 2) < 1 and abs(y - drawn.height / 2) < 1, "the centre in the middle"
    # what the page's script does with a tap: back from pixels to degrees
    lat = drawn.lat0 - (y - drawn.height / 2) / drawn.scale
    lon = drawn.lon0 + (x - drawn.width / 2) / (drawn.scale * drawn.kx)
    assert abs(lat - KATHMANDU.lat) < 1e-9 and abs(lon - KATHMANDU.lon) < 1e-9
    assert [t.name for t in drawn.towns] == ["Kathmandu", "Hetauda"], "only towns in the frame, most populous first"
    assert all(0 <= t.x <= drawn.width and 0 <= t.y <= drawn.height for t in drawn.towns)


def test_labels_do_not_overlap() -> None:
    crowded = [(f"Town {i}", Point(27.70 + i * 0.001, 85.32), 1000 - i) for i in range(10)]  # 100 m apart
    drawn = area_map(Area("NP", circle=Circle(KATHMANDU.lat, KATHMANDU.lon, 60)), crowded)
    assert drawn is not None and [t.name for t in drawn.towns] == ["Town 0"], "the most populous keeps its label"


def test_a_whole_country_area_frames_its_towns_without_an_outline() -> None:
    towns = [*(t for t in TOWNS if t[0] != "Delhi"), ("Biratnagar", Point(26.4525, 87.2718), 200_000)]
    drawn = area_map(Area("NP"), towns)
    assert drawn is not None and drawn.outline == "" and {t.name for t in drawn.towns} == {
        "Kathmandu", "Hetauda", "Pokhara", "Biratnagar"}
    assert area_map(Area("NP"), []) is None
