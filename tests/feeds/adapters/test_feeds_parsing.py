"""The feeds' documents through the libraries' parsing layers (aio-georss-gdacs, aio-geojson-usgs-earthquakes):
the recorded samples, hostile, garbled and partial documents, GDACS geometries and countries."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pytest

from services.feeds.adapters.gdacs import InvalidDocument, parse_gdacs
from services.feeds.adapters.geometry import MAX_CORNERS, InvalidGeometry, polygon_from_geojson
from services.feeds.adapters.places import Places
from services.feeds.adapters.usgs import parse_usgs

SAMPLES = Path(__file__).resolve().parents[3] / "services" / "feeds" / "dev" / "samples"
PLACES = Places()
RSS_HEAD = ('<?xml version="1.0" encoding="utf-8"?><rss xmlns:gdacs="http://www.gdacs.org" '
            'xmlns:geo="http://www.w3.org/2003/01/geo/wgs84_pos#" version="2.0"><channel><title>GDACS</title>')


def test_the_recorded_gdacs_feed() -> None:
    document = parse_gdacs((SAMPLES / "gdacs_rss.xml").read_bytes(), PLACES)
    events = {e.source_id: e for e in document.events}
    assert len(events) == 9 and not document.unusable_ids
    herat = events["gdacs:EQ:1450112"]
    assert (herat.hazard, herat.episode, herat.alert_level, herat.magnitude, herat.country) == (
        "EQ", "1612841", "orange", 6.4, "AF")
    assert (herat.lat, herat.lon) == (34.6284, 61.9471) and herat.occurred_at.tzinfo is not None
    cyclone = events["gdacs:TC:1001182"]
    assert (cyclone.name, cyclone.magnitude, cyclone.severity_value, cyclone.country) == ("MAWAR-26", None, 240.0,
                                                                                        "PH")
    assert cyclone.polygon_url is not None and "getgeometry" in cyclone.polygon_url
    assert cyclone.last_activity_at > cyclone.occurred_at
    assert events["gdacs:DR:1017604"].country == "ZW", "the ISO code before the list of names"
    assert events["gdacs:WF:1024480"].country == "CA"


def test_the_recorded_usgs_feed() -> None:
    document = parse_usgs((SAMPLES / "usgs_4.5_week.geojson").read_bytes(), PLACES)
    events = {e.source_id: e for e in document.events}
    assert len(events) == 8
    japan = events["usgs:us7000r3kq"]
    assert (japan.magnitude, japan.alert_level, japan.depth_km, japan.country, japan.hazard) == (
        7.0, "yellow", 35.5, "JP", "EQ")
    assert (japan.lat, japan.lon) == (37.5204, 141.4312)
    assert events["usgs:us7000r3h0"].country is None, "the Mid-Atlantic Ridge is in no country"
    assert events["usgs:ci40712345"].country == "US", "CA is California in a USGS place"


def test_an_rss_feed_without_items_is_empty_not_broken() -> None:
    document = parse_gdacs((RSS_HEAD + "</channel></rss>").encode(), PLACES)
    assert document.events == () and document.present_ids == frozenset()


@pytest.mark.parametrize("body", [
    b"",
    b"<html><body>Service Unavailable</body></html>",
    b"{\"type\": \"FeatureCollection\"}",
    (RSS_HEAD + "<item><title>cut").encode(),
    b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;">]><rss>&b;</rss>',
    b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><rss><channel>&x;</channel></rss>',
    (RSS_HEAD + "<item><gdacs:eventtype>EQ</gdacs:eventtype></item></channel></rss>").encode(),
    b"\xff\xfe garbage",
])
def test_garbage_hostile_truncated_or_idless_gdacs_documents_are_refused(body: bytes) -> None:
    with pytest.raises(InvalidDocument):
        parse_gdacs(body, PLACES)


def test_a_gdacs_item_without_coordinates_is_present_but_unusable() -> None:
    item = ("<item><gdacs:eventtype>EQ</gdacs:eventtype><gdacs:eventid>42</gdacs:eventid>"
            "<gdacs:alertlevel>Red</gdacs:alertlevel></item>")
    document = parse_gdacs((RSS_HEAD + item + "</channel></rss>").encode(), PLACES)
    assert document.events == () and document.present_ids == {"gdacs:EQ:42"}


def _usgs(features: Sequence[object], count: int | None = None) -> bytes:
    metadata = {"title": "USGS"} | ({"count": count} if count is not None else {})
    return json.dumps({"type": "FeatureCollection", "metadata": metadata, "features": features}).encode()


def _feature(event_id: str | None, geometry: object = None) -> dict[str, object]:
    return {"type": "Feature", "id": event_id, "properties": {"mag": 6.5, "time": 1_700_000_000_000, "place": "x",
                                                             "type": "earthquake"},
            "geometry": geometry if geometry is not None else {"type": "Point", "coordinates": [85.3, 27.7, 10]}}


def test_usgs_documents_that_are_partial_or_not_the_feed_are_refused() -> None:
    full = [_feature("us1"), _feature("us2")]
    assert len(parse_usgs(_usgs(full, 2), PLACES).events) == 2
    with pytest.raises(InvalidDocument, match="partial"):
        parse_usgs(_usgs(full[:1], 2), PLACES)
    with pytest.raises(InvalidDocument, match="id"):
        parse_usgs(_usgs([_feature(None)]), PLACES)
    for body in (b"", b"[]", b'{"type": "Feature"}', _usgs(full, 2)[:-10]):
        with pytest.raises(InvalidDocument):
            parse_usgs(body, PLACES)


def test_a_usgs_feature_without_a_point_is_present_but_unusable() -> None:
    document = parse_usgs(_usgs([_feature("us1", {"type": "Point", "coordinates": [300, 100, 0]})]), PLACES)
    assert document.events == () and document.present_ids == {"usgs:us1"}


def test_a_gdacs_geometry_becomes_one_ring() -> None:
    ring = polygon_from_geojson((SAMPLES / "gdacs_geometry_TC_1001182.geojson").read_bytes())
    assert ring is not None and 4 <= len(ring) <= MAX_CORNERS + 1 and ring[0] == ring[-1]
    lons, lats = [p[0] for p in ring], [p[1] for p in ring]
    assert 120 < min(lons) < max(lons) < 135 and 7 < min(lats) < max(lats) < 18, "the widest (green) buffer"


def test_geometries_without_a_usable_polygon() -> None:
    line = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "LineString", "coordinates": [[1, 1], [2, 2]]}, "properties": {}}]}
    assert polygon_from_geojson(json.dumps(line).encode()) is None
    across = {"type": "Polygon", "coordinates": [[[179, 1], [-179, 1], [-179, 2], [179, 2], [179, 1]]]}
    assert polygon_from_geojson(json.dumps(across).encode()) is None, "across the antimeridian"
    with pytest.raises(InvalidGeometry):
        polygon_from_geojson(b"<html/>")


def test_a_big_polygon_is_simplified() -> None:
    import math

    circle = [[10 + math.cos(i / 500 * 2 * math.pi), 50 + math.sin(i / 500 * 2 * math.pi)] for i in range(500)]
    ring = polygon_from_geojson(json.dumps({"type": "Polygon", "coordinates": [[*circle, circle[0]]]}).encode())
    assert ring is not None and len(ring) <= MAX_CORNERS + 1


@pytest.mark.parametrize(("text", "last_first", "code"), [
    ("38 km E of Namie, Japan", True, "JP"), ("12 km SW of Searles Valley, CA", True, "US"),
    ("near the coast of Nicaragua", True, "NI"), ("south of the Fiji Islands", True, "FJ"),
    ("Zimbabwe, Mozambique", False, "ZW"), ("Luzon, Philippines", True, "PH"), ("Turkey", True, "TR"),
    ("northern Mid-Atlantic Ridge", True, None),
])
def test_countries_from_the_feeds_names(text: str, last_first: bool, code: str | None) -> None:
    assert PLACES.from_name(text, last_first=last_first) == code


def test_countries_from_the_nearest_town() -> None:
    assert PLACES.country_of(lat=37.52, lon=141.43) == "JP", "offshore, 30 km from the coast"
    assert PLACES.country_of(lat=30.45, lon=-42.05) is None
    assert PLACES.country_of(lat=0, lon=0, iso3="NPL") == "NP"


def test_each_event_links_its_public_page() -> None:
    gdacs = {e.source_id: e for e in parse_gdacs((SAMPLES / "gdacs_rss.xml").read_bytes(), PLACES).events}
    assert gdacs["gdacs:EQ:1450112"].link == "https://www.gdacs.org/report.aspx?eventtype=EQ&eventid=1450112"
    usgs = {e.source_id: e for e in parse_usgs((SAMPLES / "usgs_4.5_week.geojson").read_bytes(), PLACES).events}
    assert usgs["usgs:us7000r3kq"].link == "https://earthquake.usgs.gov/earthquakes/eventpage/us7000r3kq"


def test_a_gdacs_item_without_a_link_takes_its_html_report_resource_and_odd_links_are_dropped() -> None:
    def item(link: str, resources: str = "") -> str:
        return ("<item><gdacs:eventtype>FL</gdacs:eventtype><gdacs:eventid>7</gdacs:eventid>"
                f"{link}<gdacs:alertlevel>Red</gdacs:alertlevel><geo:Point><geo:lat>1.5</geo:lat>"
                "<geo:long>37.9</geo:long></geo:Point><gdacs:fromdate>Sat, 28 Nov 2026 07:12:51 GMT</gdacs:fromdate>"
                f"<gdacs:iso3>KEN</gdacs:iso3><gdacs:resources>{resources}</gdacs:resources></item>")

    report = ('<gdacs:resource id="fl_report" url="https://www.gdacs.org/report.aspx?eventtype=FL&amp;eventid=7"'
              ' type="text/html" />')

    def link_of(body: str) -> str | None:
        [event] = parse_gdacs((RSS_HEAD + body + "</channel></rss>").encode(), PLACES).events
        return event.link

    assert link_of(item("", report)) == "https://www.gdacs.org/report.aspx?eventtype=FL&eventid=7"
    assert link_of(item("<link>javascript:alert(1)</link>")) is None
    assert link_of(item("<link>https://www.gdacs.org/" + "x" * 2000 + "</link>")) is None
    assert link_of(item("<link>ftp://www.gdacs.org/report</link>", report)).startswith("https://")  # type: ignore[union-attr]


def test_a_usgs_feature_with_an_odd_url_has_no_link() -> None:
    feature = _feature("us1")
    feature["properties"] = {**feature["properties"], "url": "not a url"}  # type: ignore[dict-item]
    [event] = parse_usgs(_usgs([feature]), PLACES).events
    assert event.link is None


def test_the_nearest_town_within_its_latitude_band_is_the_nearest_of_all() -> None:
    """The lookup measures only the towns within 300 km of latitude: the same answer as measuring every town."""
    import math
    import random

    import numpy as np

    from services.feeds.adapters.places import EARTH_RADIUS_KM, NEAREST_TOWN_KM

    lats, lons, codes = PLACES._towns

    def everywhere(lat: float, lon: float) -> str | None:
        phi, lmb = math.radians(lat), math.radians(lon)
        h = np.sin((lats - phi) / 2) ** 2 + math.cos(phi) * np.cos(lats) * np.sin((lons - lmb) / 2) ** 2
        distances = 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))
        nearest = int(np.argmin(distances))
        return str(codes[nearest]) if distances[nearest] <= NEAREST_TOWN_KM else None

    rng = random.Random(22)
    points = [(rng.uniform(-89.9, 89.9), rng.uniform(-180, 180)) for _ in range(400)]
    points += [(37.52, 141.43), (30.45, -42.05), (89.99, 0.0), (-89.99, 0.0), (64.1, -21.9), (-54.8, -68.3)]
    found = [PLACES.nearest_town_country(lat, lon) for lat, lon in points]
    assert found == [everywhere(lat, lon) for lat, lon in points]
    assert sum(code is not None for code in found) > 50, "the sample reaches towns, not only oceans"
