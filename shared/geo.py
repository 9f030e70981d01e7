"""Where a point lies: incident areas (circle, polygon, whole country, the contract's `area`) and distances.

Shared by the crisis center (who is in an incident area) and intake (whether a check-in by SMS is).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import shapely
from shapely.geometry import Polygon
from shapely.geometry.base import BaseGeometry

EARTH_RADIUS_KM = 6371.0088  # IUGG mean radius


class InvalidArea(ValueError):
    """An area that cannot be evaluated (radius not positive, polygon with fewer than three corners...)."""


@dataclass(frozen=True, slots=True)
class Point:
    lat: float
    lon: float


@dataclass(frozen=True, slots=True)
class Circle:
    lat: float
    lon: float
    radius_km: float

    def __post_init__(self) -> None:
        if not self.radius_km > 0:
            raise InvalidArea("circle radius_km must be positive")
        _check_coordinates(self.lat, self.lon)


LonLat = tuple[float, float]


@dataclass(frozen=True, slots=True)
class Area:
    """An incident area: a circle, a polygon ([lon, lat] corners, GeoJSON order) or, without either, the country."""

    country: str
    circle: Circle | None = None
    polygon: tuple[LonLat, ...] | None = None

    def __post_init__(self) -> None:
        if self.circle is not None and self.polygon is not None:
            raise InvalidArea("an area is a circle or a polygon, not both")
        if self.polygon is not None:
            _prepared_polygon(self.polygon)  # validates early

    @property
    def kind(self) -> str:
        if self.circle is not None:
            return "circle"
        if self.polygon is not None:
            return "polygon"
        return "country"

    def contains(self, point: Point | None, country: str | None) -> bool:
        """Whether someone at `point` (if known) in `country` (if known) is inside the area.

        A circle or polygon needs a point: a person whose position is unknown is not counted in it (better a
        known under-count than guessing). The whole-country area only needs the country.
        """
        if self.circle is not None:
            return point is not None and great_circle_km(Point(self.circle.lat, self.circle.lon), point) <= (
                self.circle.radius_km
            )
        if self.polygon is not None:
            geometry = _prepared_polygon(self.polygon)
            return point is not None and bool(shapely.intersects_xy(geometry, point.lon, point.lat))
        return country is not None and country.upper() == self.country.upper()

    def to_dict(self) -> dict[str, object]:
        """The contract's shape: {country, circle?: {lat, lon, radius_km}, polygon?: [[lon, lat], ...]}."""
        out: dict[str, object] = {"country": self.country}
        if self.circle is not None:
            out["circle"] = {"lat": self.circle.lat, "lon": self.circle.lon, "radius_km": self.circle.radius_km}
        if self.polygon is not None:
            out["polygon"] = [[lon, lat] for lon, lat in self.polygon]
        return out

    @classmethod
    def from_dict(cls, raw: dict[str, object]) -> Area:
        circle_raw = raw.get("circle")
        polygon_raw = raw.get("polygon")
        circle = None
        if isinstance(circle_raw, dict):
            circle = Circle(float(circle_raw["lat"]), float(circle_raw["lon"]), float(circle_raw["radius_km"]))
        polygon = None
        if isinstance(polygon_raw, list | tuple):
            polygon = tuple((float(p[0]), float(p[1])) for p in polygon_raw)
        return cls(country=str(raw["country"]).upper(), circle=circle, polygon=polygon)


def _check_coordinates(lat: float, lon: float) -> None:
    if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
        raise InvalidArea("coordinates out of range (lat -90..90, lon -180..180)")


@lru_cache(maxsize=256)
def _prepared_polygon(corners: tuple[LonLat, ...]) -> BaseGeometry:
    ring = list(corners)
    if len(ring) >= 2 and ring[0] == ring[-1]:
        ring = ring[:-1]
    if len(ring) < 3:
        raise InvalidArea("a polygon needs at least three distinct corners")
    for lon, lat in ring:
        _check_coordinates(lat, lon)
    geometry: BaseGeometry = Polygon(ring)
    if not geometry.is_valid:
        geometry = shapely.make_valid(geometry)
    if geometry.is_empty or geometry.area == 0:
        raise InvalidArea("a polygon must enclose an area")
    shapely.prepare(geometry)
    return geometry


def closed_ring(corners: Sequence[LonLat]) -> list[LonLat]:
    """The polygon's corners with the first repeated at the end (CAP and GeoJSON want a closed ring)."""
    ring = list(corners)
    if ring and ring[0] != ring[-1]:
        ring.append(ring[0])
    return ring


def great_circle_km(a: Point, b: Point) -> float:
    """Haversine distance; within 0.5 % of the ellipsoidal distance, plenty for an incident radius."""
    phi1, phi2 = math.radians(a.lat), math.radians(b.lat)
    dphi = phi2 - phi1
    dlmb = math.radians(b.lon - a.lon)
    h = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlmb / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))
