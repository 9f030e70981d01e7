"""The USGS earthquake GeoJSON summary feed read with its own client library, aio-geojson-usgs-earthquakes (on
aio-geojson-client and `geojson`).

The library's feed only accepts one of its named feed types (not a configured URL) and swallows fetch failures,
so the feeds worker fetches the document itself (adapters/fetch.py), parses it with `geojson.loads` as the library
does, and reads each feature through the library's `UsgsEarthquakeHazardsProgramFeedEntry`. A document whose
`metadata.count` differs from its number of features is taken for partial and refused.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import geojson
from aio_geojson_usgs_earthquakes.feed_entry import UsgsEarthquakeHazardsProgramFeedEntry

from services.feeds.adapters.gdacs import InvalidDocument, event_page
from services.feeds.adapters.places import Places
from services.feeds.domain.model import FeedDocument, FeedEvent


def parse_usgs(body: bytes, places: Places) -> FeedDocument:
    try:
        document = geojson.loads(body.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError, TypeError) as exc:
        raise InvalidDocument(f"not JSON: {type(exc).__name__}: {exc}"[:300]) from exc
    if not isinstance(document, geojson.FeatureCollection) or not isinstance(document.get("features"), list):
        raise InvalidDocument("not a GeoJSON FeatureCollection")
    features = document["features"]
    metadata = document.get("metadata")
    count = metadata.get("count") if isinstance(metadata, dict) else None
    if isinstance(count, int) and count != len(features):
        raise InvalidDocument(f"partial document: metadata.count {count}, {len(features)} features")
    attribution = metadata.get("title") if isinstance(metadata, dict) else None
    return FeedDocument.of("usgs", _features(features, attribution, places))


def _features(features: list[Any], attribution: Any, places: Places) -> Iterator[tuple[str, FeedEvent | None]]:
    for feature in features:
        if not isinstance(feature, geojson.Feature) and not isinstance(feature, dict):
            raise InvalidDocument("a feature that is not an object")
        entry = UsgsEarthquakeHazardsProgramFeedEntry((0.0, 0.0), feature, attribution)
        external_id = entry.external_id
        if not isinstance(external_id, str) or not external_id.strip():
            raise InvalidDocument("a feature without an id")
        source_id = f"usgs:{external_id.strip()}"
        yield source_id, _event(entry, feature, source_id, places)


def _event(entry: UsgsEarthquakeHazardsProgramFeedEntry, feature: Any, source_id: str,
           places: Places) -> FeedEvent | None:
    try:
        coordinates = entry.coordinates
        when = entry.time
        magnitude = entry.magnitude
    except (TypeError, ValueError, AttributeError, IndexError, OverflowError):
        return None
    if coordinates is None or not isinstance(when, datetime):
        return None
    lat, lon = float(coordinates[0]), float(coordinates[1])
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None
    if magnitude is not None and (not isinstance(magnitude, int | float) or not math.isfinite(magnitude)):
        return None
    depth = _depth(feature)
    place = str(entry.place or "").strip()
    kind = str(entry.type or "earthquake").strip().lower()
    alert = entry.alert
    occurred = when.astimezone(UTC)
    return FeedEvent(
        feed="usgs", source_id=source_id, hazard="EQ" if kind == "earthquake" else kind, lat=lat, lon=lon,
        occurred_at=occurred, last_activity_at=occurred,
        alert_level=alert.strip().lower() if isinstance(alert, str) and alert.strip() else None,
        magnitude=float(magnitude) if magnitude is not None else None, depth_km=depth,
        country=places.country_of(lat=lat, lon=lon, name=place), place=place, link=_event_page(feature))


def _event_page(feature: Any) -> str | None:
    """`properties.url`: the quake's page on earthquake.usgs.gov (`/earthquakes/eventpage/<id>`)."""
    properties = feature.get("properties") if isinstance(feature, dict) else None
    return event_page(properties.get("url")) if isinstance(properties, dict) else None


def _depth(feature: Any) -> float | None:
    geometry = feature.get("geometry") if isinstance(feature, dict) else None
    coordinates = geometry.get("coordinates") if isinstance(geometry, dict) else None
    if isinstance(coordinates, list) and len(coordinates) >= 3 and isinstance(coordinates[2], int | float):
        return float(coordinates[2])
    return None
