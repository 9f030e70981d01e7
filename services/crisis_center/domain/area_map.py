"""A small offline map of a crisis area for the public check-in page: the area's outline and the towns around it
(GeoNames), projected to an SVG the person taps to give their position (no tiles: nothing to fetch)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from shared.geo import EARTH_RADIUS_KM, Area, Point

WIDTH = 600.0
MAX_TOWNS = 30
LABEL_HEIGHT, LABEL_CHAR = 26.0, 13.0
"""Room a town's label takes (font 24 in a 600-wide drawing: readable once a phone shrinks it by half)."""


@dataclass(frozen=True)
class Town:
    name: str
    x: float
    y: float


@dataclass(frozen=True)
class AreaMap:
    width: float
    height: float
    lat0: float
    lon0: float
    kx: float
    scale: float
    """Pixels per degree of latitude; a degree of longitude is `scale * kx` pixels."""
    outline: str
    """The area's outline as an SVG path ('' for a whole-country area)."""
    towns: tuple[Town, ...]

    def xy(self, point: Point) -> tuple[float, float]:
        return (self.width / 2 + (point.lon - self.lon0) * self.kx * self.scale,
                self.height / 2 - (point.lat - self.lat0) * self.scale)


def circle_points(center: Point, radius_km: float, steps: int = 72) -> list[Point]:
    """The circle on the sphere, as `steps` points (the destination formula)."""
    lat1, lon1 = math.radians(center.lat), math.radians(center.lon)
    d = radius_km / EARTH_RADIUS_KM
    out = []
    for i in range(steps):
        bearing = 2 * math.pi * i / steps
        lat2 = math.asin(math.sin(lat1) * math.cos(d) + math.cos(lat1) * math.sin(d) * math.cos(bearing))
        lon2 = lon1 + math.atan2(math.sin(bearing) * math.sin(d) * math.cos(lat1),
                                 math.cos(d) - math.sin(lat1) * math.sin(lat2))
        out.append(Point(math.degrees(lat2), math.degrees(lon2)))
    return out


def area_map(area: Area, towns: Sequence[tuple[str, Point, int]]) -> AreaMap | None:
    """The map of `area` with the most populous of `towns` that fall in its frame; None when nothing to draw."""
    if area.circle is not None:
        outline = circle_points(Point(area.circle.lat, area.circle.lon), area.circle.radius_km)
    elif area.polygon is not None:
        outline = [Point(lat, lon) for lon, lat in area.polygon]
    else:
        outline = [town[1] for town in towns[:200]]
    if len(outline) < 2:
        return None
    south, north = min(p.lat for p in outline), max(p.lat for p in outline)
    west, east = min(p.lon for p in outline), max(p.lon for p in outline)
    pad_lat, pad_lon = (north - south) * 0.15 + 0.01, (east - west) * 0.15 + 0.01
    south, north, west, east = south - pad_lat, north + pad_lat, west - pad_lon, east + pad_lon
    lat0, lon0 = (south + north) / 2, (west + east) / 2
    kx = max(math.cos(math.radians(lat0)), 0.05)
    scale = WIDTH / ((east - west) * kx)
    height = min((north - south) * scale, WIDTH * 1.5)
    scale = min(scale, height / (north - south))
    frame = AreaMap(WIDTH, height, lat0, lon0, kx, scale, "", ())
    path = ""
    if area.circle is not None or area.polygon is not None:
        points = [frame.xy(p) for p in outline]
        path = "M" + " L".join(f"{x:.1f},{y:.1f}" for x, y in points) + " Z"
    inside = [Town(name, *frame.xy(point)) for name, point, _ in towns
              if south <= point.lat <= north and west <= point.lon <= east]
    return AreaMap(WIDTH, height, lat0, lon0, kx, scale, path, tuple(_uncluttered(inside)))


def _uncluttered(towns: Sequence[Town]) -> list[Town]:
    """The most populous towns whose labels do not overlap one already placed (at most MAX_TOWNS)."""
    placed: list[tuple[float, float, float, float]] = []
    kept: list[Town] = []
    for town in towns:
        box = (town.x - 8, town.y - LABEL_HEIGHT - 6, town.x + 9 + LABEL_CHAR * len(town.name), town.y + 8)
        if any(box[0] < b[2] and b[0] < box[2] and box[1] < b[3] and b[1] < box[3] for b in placed):
            continue
        placed.append(box)
        kept.append(town)
        if len(kept) == MAX_TOWNS:
            break
    return kept
