"""The shared gazetteer: name folding, the name index and its two policies, nearest-city search, reverse
geocoding (synthetic cities), and the check-in lookup on the real GeoNames data."""

from __future__ import annotations

from itertools import pairwise
from typing import Any

import pytest

from shared.gazetteer import (
    EVERY_SCRIPT,
    LATIN_SCRIPT,
    City,
    Gazetteer,
    NameIndex,
    ReverseGeocoder,
    fold,
    geonames_records,
    is_latin,
    phrases,
)
from shared.gazetteer.cities import alternate_names
from shared.geo import Point, great_circle_km


def record(name: str, lat: float, lon: float, population: int, *alternates: str, country: str = "AA",
           admin1: str = "") -> dict[str, Any]:
    return {"name": name, "countrycode": country, "admin1code": admin1, "latitude": lat, "longitude": lon,
            "population": population, "alternatenames": list(alternates)}


def test_fold_ignores_accents_case_and_punctuation() -> None:
    assert fold("São Paulo") == fold("sao paulo") == "sao paulo"
    assert fold("Lomé") == "lome"
    assert fold("St. Gallen") == fold("st-gallen") == fold("St_Gallen") == "st gallen"
    assert fold("N'Djamena") == "n djamena"
    assert fold("?!") == ""


def test_fold_keeping_punctuation_tells_every_script_names_apart() -> None:
    assert fold("Xi'an", keep_punctuation=True) != fold("Xian", keep_punctuation=True)
    assert fold(" Saint-Denis ", keep_punctuation=True) == "saint denis"
    assert fold("KÖLN", keep_punctuation=True) == "koln"
    assert fold("काठमाडौं", keep_punctuation=True) != ""


def test_phrases_longest_first() -> None:
    assert list(phrases("thamel, kathmandu")) == ["thamel kathmandu", "thamel", "kathmandu"]
    assert list(phrases("")) == []


def test_is_latin() -> None:
    assert is_latin("Genève") and is_latin("Xi\u2019an")
    assert not is_latin("Москва") and not is_latin("東京")


def test_every_script_index_the_most_populous_wins() -> None:
    index = NameIndex(EVERY_SCRIPT)
    for raw in (record("Big", 1, 1, 900, "Small", "Большой"), record("Small", 2, 2, 10), record("Tiny", 3, 3, 5, "")):
        index.add(City.from_record(raw), alternate_names(raw))
    assert index.find("AA", "SMALL") == City("Big", "AA", "", 1.0, 1.0, 900)
    assert index.find("AA", "большой") is not None
    assert index.find("AA", "") is None and index.find("AA", "-") is None  # empty alternate names index nothing
    assert index.find("BB", "Big") is None


def test_latin_index_the_main_name_wins_then_population() -> None:
    index = NameIndex(LATIN_SCRIPT)
    for raw in (record("Big", 1, 1, 900, "Small", "Большой", "Other"), record("Small", 2, 2, 10),
                record("Other town", 4, 4, 1000, "Other")):
        index.add(City.from_record(raw), alternate_names(raw))
    small = index.find("AA", "small")
    assert small is not None and small.population == 10
    assert index.find("AA", "Большой") is None
    other = index.find("AA", "other")
    assert other is not None and other.name == "Other town"  # two alternate names: the more populous
    assert index.find("AA", "other-town") == other


def test_nearest_city_search_agrees_with_brute_force() -> None:
    places = [(0.1, 0.1), (0.9, 0.2), (10.0, 10.0), (-30.0, 170.0), (60.0, -179.5)]
    cities = [City.from_record(record(f"c{i}", lat, lon, 1)) for i, (lat, lon) in enumerate(places)]
    geocoder = ReverseGeocoder(cities, zone_countries={"Z": ["AA"]}, zone_at=lambda lat, lon: "Z")
    for lat, lon in [(0.5, 0.5), (5.0, 5.0), (-25.0, 179.0), (61.0, 179.9), (9.0, 11.0)]:
        expected = min(cities, key=lambda c: great_circle_km(Point(lat, lon), c.point))
        city, distance = geocoder.nearest(lat, lon, within_km=20000)
        assert city == expected, (lat, lon)
        assert distance == pytest.approx(great_circle_km(Point(lat, lon), expected.point))
    assert geocoder.nearest(45.0, 90.0, within_km=100) == (None, float("inf"))


def test_reverse_geocoding_narrows_to_the_countries_of_the_time_zone() -> None:
    cities = [City.from_record(r) for r in (
        record("A1", 0.0, 0.0, 10, country="AA", admin1="01"),
        record("A2", 0.0, 3.0, 10, country="AA", admin1="02"),
        record("B1", 0.0, 1.1, 10, country="BB", admin1="07"),
    )]
    zones = {"West": ["AA"], "East": ["BB"]}
    geocoder = ReverseGeocoder(cities, zone_countries=zones, zone_at=lambda lat, lon: "West" if lon < 1.5 else "East")
    assert geocoder.locate_point(0.0, 1.05) == ("AA", "01")  # B1 is nearest but not in this zone: AA's A1 is
    assert geocoder.locate_point(0.0, 1.6) == ("BB", "07")
    assert geocoder.locate_point(0.0, 1.05, "BB") == ("AA", "07")  # admin1 in the country asked for
    assert geocoder.admin1_at("AA", 0.0, 2.9) == "02" and geocoder.admin1_at("CC", 0.0, 0.0) is None
    assert geocoder.country_at(0.0, 20.0) is None  # zone East, but 2,000 km from any city of BB


def test_records_are_loaded_once_per_size() -> None:
    assert geonames_records() is geonames_records(15000)
    assert len(geonames_records()) > 30000


def test_check_in_lookup_on_geonames() -> None:
    gazetteer = Gazetteer()
    kathmandu = gazetteer.locate("np", "KATHMANDU")
    assert kathmandu is not None and great_circle_km(kathmandu, Point(27.70, 85.32)) < 5
    assert gazetteer.locate("NP", "काठमाडौं") == kathmandu  # names in the country's script too
    assert gazetteer.locate_in_text("NP", "Thamel, Kathmandu") == (kathmandu, "Kathmandu")
    assert gazetteer.locate("NP", "-") is None and gazetteer.locate("", "Kathmandu") is None
    towns = gazetteer.towns("np")
    assert towns[0][0] == "Kathmandu" and all(a[2] >= b[2] for a, b in pairwise(towns))
    assert gazetteer.towns("ZZ") == []
