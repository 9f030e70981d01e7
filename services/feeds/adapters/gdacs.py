"""The GDACS RSS feed read with its own client library, aio-georss-gdacs (on aio-georss-client).

The library's `GdacsFeed` takes no URL (it always reads the public one) and swallows fetch failures, so the feeds
worker fetches the document itself (adapters/fetch.py) and uses the library's parsing layer: aio-georss-client's
`XmlParser` (xmltodict with the GeoRSS, W3C geo and `gdacs:` namespaces) and the library's `GdacsFeedEntry`,
subclassed here for what it does not read (the episode, the ISO code, the severity's value and unit, linked
resources). The document is first checked by defusedxml (no DTD, no entities), which also refuses a truncated one.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import dateutil.parser
from aio_georss_client.xml_parser import XmlParser
from aio_georss_client.xml_parser.feed_item import FeedItem
from aio_georss_gdacs.feed_entry import GdacsFeedEntry
from defusedxml import ElementTree as SafeElementTree
from defusedxml.common import DefusedXmlException

from services.feeds.adapters.places import Places
from services.feeds.domain.model import FeedDocument, FeedEvent

GEOJSON_TYPES = frozenset({"application/geo+json", "application/vnd.geo+json", "application/json"})
GEOMETRY_PATH = "/polygons/getgeometry"
#: The contract's `link` (shared/events/incidents.py): an http(s) URL of at most 2,000 characters.
LINK_MAX_CHARS = 2000


def event_page(value: Any) -> str | None:
    """A feed's link to the event's public page if it is one the contract takes (http or https, a host, no
    spaces, at most 2,000 characters), else None: a feed's odd link is dropped, never the event."""
    if not isinstance(value, str):
        return None
    url = value.strip()
    if not url or len(url) > LINK_MAX_CHARS or any(c.isspace() for c in url):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    return url if parts.scheme in ("http", "https") and parts.hostname else None


class InvalidDocument(ValueError):
    """A document that is not the feed it should be (garbage, truncated, hostile XML, an item without its id)."""


class GdacsItem(GdacsFeedEntry):
    """aio-georss-gdacs's entry, plus the fields the feeds worker needs that it does not expose."""

    def __init__(self, item: FeedItem) -> None:
        super().__init__((0.0, 0.0), item)

    def _extra(self, name: str) -> Any:
        return self._rss_entry.get_additional_attribute(name) if self._rss_entry else None

    @property
    def episode_id(self) -> str | None:
        value = self._extra("gdacs:episodeid")
        return str(value).strip() if value not in (None, "") else None

    @property
    def iso3(self) -> str | None:
        value = self._extra("gdacs:iso3")
        return value.strip() if isinstance(value, str) and value.strip() else None

    @property
    def severity_measure(self) -> tuple[float | None, str]:
        """(value, unit) of `<gdacs:severity unit="M" value="6.4">`."""
        raw = self._extra("gdacs:severity")
        if not isinstance(raw, Mapping):
            return None, ""
        raw_value = raw.get("@value")
        try:
            value = float(raw_value) if raw_value not in (None, "") else None
        except (TypeError, ValueError):
            value = None
        if value is not None and not math.isfinite(value):
            value = None
        return value, str(raw.get("@unit") or "")

    @property
    def report_url(self) -> str | None:
        """The event's page on gdacs.org: the item's `<link>` (`report.aspx?eventtype=EQ&eventid=...`), else a
        `<gdacs:resource>` that is the event's HTML report."""
        page = event_page(self._rss_entry.link if self._rss_entry else None)
        if page is not None:
            return page
        for resource in self._resources():
            kind = str(resource.get("@type") or "").lower()
            url = str(resource.get("@url") or "")
            if kind == "text/html" and "report" in url.lower() and (page := event_page(url)) is not None:
                return page
        return None

    def _resources(self) -> list[Mapping[str, Any]]:
        resources = self._extra("gdacs:resources")
        listed = resources.get("gdacs:resource") if isinstance(resources, Mapping) else None
        return [r for r in (listed if isinstance(listed, list) else [listed]) if isinstance(r, Mapping)]

    @property
    def geometry_url(self) -> str | None:
        """The event geometry a `<gdacs:resource>` links (GeoJSON, or the polygons API's getgeometry)."""
        for resource in self._resources():
            url = str(resource.get("@url") or "")
            kind = str(resource.get("@type") or "").lower()
            if url.startswith(("http://", "https://")) and (kind in GEOJSON_TYPES or GEOMETRY_PATH in url.lower()):
                return url
        return None


def parse_gdacs(body: bytes, places: Places) -> FeedDocument:
    text = _well_formed(body)
    feed = XmlParser().parse(text)
    if feed is None:
        raise InvalidDocument("not an RSS document")
    items = feed.get_additional_attribute("item")
    raw_items = [] if items is None else items if isinstance(items, list) else [items]
    return FeedDocument.of("gdacs", _items(raw_items, places))


def _items(raw_items: list[Any], places: Places) -> Iterator[tuple[str, FeedEvent | None]]:
    for raw in raw_items:
        if not isinstance(raw, Mapping):
            raise InvalidDocument("an item that is not an element")
        entry = GdacsItem(FeedItem(raw))
        hazard, event_id = (entry.event_type_short or "").strip().upper(), _int(entry._extra("gdacs:eventid"))
        if not hazard or event_id is None:
            raise InvalidDocument("an item without gdacs:eventtype or gdacs:eventid")
        source_id = f"gdacs:{hazard}:{event_id}"
        yield source_id, _event(entry, source_id, hazard, places)


def _well_formed(body: bytes) -> str:
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidDocument(f"not UTF-8: {exc.reason}") from exc
    try:
        root = SafeElementTree.fromstring(body)
    except (SafeElementTree.ParseError, DefusedXmlException) as exc:
        raise InvalidDocument(f"not well-formed XML: {type(exc).__name__}: {exc}"[:300]) from exc
    if root.tag != "rss" or root.find("channel") is None:
        raise InvalidDocument(f"not an RSS document (root {root.tag!r})")
    return text


def _event(entry: GdacsItem, source_id: str, hazard: str, places: Places) -> FeedEvent | None:
    coordinates = entry.coordinates
    occurred = _when(entry._extra("gdacs:fromdate")) or _aware(entry.published)
    if coordinates is None or occurred is None:
        return None
    lat, lon = float(coordinates[0]), float(coordinates[1])
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None
    last = _when(entry._extra("gdacs:todate")) or occurred
    value, unit = entry.severity_measure
    magnitude = value if hazard == "EQ" and unit.upper() in ("M", "") and value and value > 0 else None
    place = (entry.country or "").strip()
    return FeedEvent(
        feed="gdacs", source_id=source_id, hazard=hazard, lat=lat, lon=lon, occurred_at=occurred,
        last_activity_at=max(last, occurred), episode=entry.episode_id,
        alert_level=(entry.alert_level or "").strip().lower() or None, magnitude=magnitude, severity_value=value,
        country=places.country_of(lat=lat, lon=lon, iso3=entry.iso3, name=place, last_first=False), place=place,
        name=(entry.event_name or "").strip() if isinstance(entry.event_name, str) else "",
        polygon_url=entry.geometry_url, link=entry.report_url)


def _int(value: Any) -> int | None:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


def _when(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return _aware(value)
    if not isinstance(value, str) or not value.strip():
        return None
    try:  # GDACS writes RFC 822 dates ("Sat, 28 Nov 2026 07:12:51 GMT"): the standard library's parser first
        return _aware(parsedate_to_datetime(value))
    except (TypeError, ValueError, IndexError):
        pass
    try:
        return _aware(dateutil.parser.parse(value))
    except (ValueError, OverflowError):
        return None


def _aware(value: datetime | None) -> datetime | None:
    if value is None or not isinstance(value, datetime):
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
