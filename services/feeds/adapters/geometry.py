"""A GDACS event geometry (GeoJSON FeatureCollection of the polygons API: wind buffers, flood extent, track,
centroid) turned into the contract's polygon: one ring of [lon, lat] corners.

Every Polygon and MultiPolygon feature is merged; of the result the largest part's outer ring is kept, simplified
until it has at most MAX_CORNERS corners. A geometry crossing the antimeridian, or one that is not valid once
merged, gives no polygon (the incident keeps its circle).
"""

from __future__ import annotations

import json
from typing import Any

import shapely
from shapely.geometry import MultiPolygon, Polygon, shape
from shapely.geometry.base import BaseGeometry

from services.feeds.domain.model import LonLat
from shared.geo import Area, InvalidArea

MAX_CORNERS = 200


class InvalidGeometry(ValueError):
    pass


def polygon_from_geojson(body: bytes) -> list[LonLat] | None:
    """The ring, or None when the document holds no usable polygon; InvalidGeometry when it is not GeoJSON."""
    try:
        document: Any = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidGeometry(f"not JSON: {exc}") from exc
    if not isinstance(document, dict):
        raise InvalidGeometry("not a GeoJSON object")
    if document.get("type") == "FeatureCollection":
        geometries = [f.get("geometry") for f in document.get("features") or [] if isinstance(f, dict)]
    elif document.get("type") == "Feature":
        geometries = [document.get("geometry")]
    else:
        geometries = [document]
    parts: list[BaseGeometry] = []
    for raw in geometries:
        if not isinstance(raw, dict) or raw.get("type") not in ("Polygon", "MultiPolygon"):
            continue
        try:
            geometry = shape(raw)
        except (ValueError, TypeError, KeyError, IndexError, AttributeError):
            continue
        if not geometry.is_valid:
            geometry = shapely.make_valid(geometry)
        if not geometry.is_empty:
            parts.append(geometry)
    if not parts:
        return None
    merged = shapely.union_all(parts)
    polygons = [g for g in getattr(merged, "geoms", [merged]) if isinstance(g, Polygon | MultiPolygon)]
    flat = [p for g in polygons for p in (g.geoms if isinstance(g, MultiPolygon) else [g])]
    if not flat:
        return None
    largest = max(flat, key=lambda p: p.area)
    minx, _miny, maxx, _maxy = largest.bounds
    if maxx - minx > 180:  # wraps around the antimeridian: not a ring the contract can carry
        return None
    ring = _simplified(largest)
    try:
        Area(country="XX", polygon=tuple(ring))  # the same checks the crisis center makes
    except InvalidArea:
        return None
    return ring


def _simplified(polygon: Polygon) -> list[LonLat]:
    tolerance = 0.005
    shell = Polygon(polygon.exterior)
    while True:
        ring = [(round(x, 4), round(y, 4)) for x, y in shell.exterior.coords]
        if len(ring) <= MAX_CORNERS + 1:
            return ring
        shell = Polygon(polygon.exterior).simplify(tolerance, preserve_topology=True)  # type: ignore[assignment]
        tolerance *= 2
