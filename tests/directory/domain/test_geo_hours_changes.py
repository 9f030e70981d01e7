"""Offline geography, opening hours and the changes admins make to a post."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.directory.domain.directory import Directory
from services.directory.domain.geo import Gazetteer, haversine_km, normalize_name
from services.directory.domain.hours import open_now, validate_hours
from services.directory.domain.model import InvalidQuery
from services.directory.domain.posts import apply_change, post_to_dict, state_of, with_state


def test_haversine_known_distance() -> None:
    # Brussels - Paris is about 264 km along the great circle.
    assert haversine_km(50.8503, 4.3517, 48.8566, 2.3522) == pytest.approx(264, abs=3)
    assert haversine_km(0, 179.9, 0, -179.9) == pytest.approx(22.2, abs=0.5)  # across the antimeridian


def test_names_match_across_accents_case_and_punctuation() -> None:
    # The folding itself is tested in tests/shared/test_gazetteer.py; the directory's is the Latin-script one.
    assert normalize_name("São Paulo") == normalize_name("sao paulo") == "sao paulo"
    assert normalize_name("Lomé") == "lome"
    assert normalize_name("St. Gallen") == normalize_name("st-gallen") == "st gallen"


@pytest.mark.parametrize(
    ("country", "name", "expected"),
    [
        ("BE", "Anvers", "Antwerp"),
        ("BE", "Antwerpen", "Antwerp"),
        ("DE", "Cologne", "Köln"),
        ("CH", "Genève", "Geneva"),
        ("IT", "Mailand", "Milan"),
    ],
)
def test_alternate_names_in_fr_nl_de_en(directory: Directory, country: str, name: str, expected: str) -> None:
    city = directory.gazetteer.find_city(country, name)
    assert city is not None and city.name == expected


@pytest.mark.parametrize(
    ("lat", "lon", "country"),
    [
        (6.37, 2.39, "BJ"),  # Cotonou, a zone of its own
        (48.86, 2.35, "FR"),
        (43.73, 7.42, "MC"),  # Monaco, a few km from France
        (42.66, 21.16, "XK"),  # shares Europe/Belgrade with Serbia
        (44.80, 20.46, "RS"),
        (31.52, 34.45, "PS"),
        (-4.32, 15.31, "CD"),  # Kinshasa, across the river from Brazzaville
        (-4.27, 15.28, "CG"),
    ],
)
def test_reverse_geocoding(directory: Directory, lat: float, lon: float, country: str) -> None:
    assert directory.gazetteer.country_at(lat, lon) == country


def test_main_name_wins_and_capital_is_the_reference_point() -> None:
    cities = [
        {"name": "Big", "countrycode": "AA", "latitude": 1.0, "longitude": 1.0, "population": 900,
         "alternatenames": ["Small", "Большой"]},
        {"name": "Small", "countrycode": "AA", "latitude": 2.0, "longitude": 2.0, "population": 10,
         "alternatenames": []},
    ]
    gazetteer = Gazetteer(cities, zone_countries={"Z": ["AA"]}, zone_at=lambda lat, lon: "Z", capitals={"AA": "small"})
    small = gazetteer.find_city("AA", "small")
    assert small is not None and small.population == 10  # its own name beats a larger city's alternate name
    assert gazetteer.find_city("AA", "Большой") is None  # Latin-script names only
    assert gazetteer.find_city("AA", "___") is None  # punctuation names no city
    assert gazetteer.reference_point("AA") == small
    assert gazetteer.country_at(1.1, 1.1) == "AA" and gazetteer.country_at(40.0, 40.0) is None


def test_hours_validation_names_the_field() -> None:
    with pytest.raises(InvalidQuery) as info:
        validate_hours({"weekly": {"mon": [["12:00", "09:00"]]}})
    assert info.value.field == "weekly.mon"
    with pytest.raises(InvalidQuery) as info:
        validate_hours({"weekly": {"sunday": []}})
    assert info.value.rule == "day"
    with pytest.raises(InvalidQuery):
        validate_hours({"weekly": {}, "closed_dates": ["not-a-date"]})


def test_open_now_in_local_time_with_closed_dates() -> None:
    hours = validate_hours({"weekly": {"fri": [["08:30", "15:00"]]}, "closed_dates": ["2026-12-25"]})
    assert open_now(hours, "America/Toronto", datetime(2026, 11, 27, 14, 0, tzinfo=UTC)) is True  # 09:00 Friday
    assert open_now(hours, "America/Toronto", datetime(2026, 11, 27, 12, 0, tzinfo=UTC)) is False  # 07:00
    assert open_now(hours, "America/Toronto", datetime(2026, 12, 25, 15, 0, tzinfo=UTC)) is False  # holiday
    assert open_now({"placeholder": True, "weekly": None}, "America/Toronto", datetime.now(UTC)) is None


def test_changes_round_trip_through_their_state(directory: Directory) -> None:
    post = directory.posts["be-embassy-nairobi"]
    changed = apply_change(post, "suspend_services", {"services": ["visa", "passport"]})
    changed = apply_change(changed, "close_temporarily", {"note": "unrest"})
    assert with_state(post, state_of(changed)) == changed
    reopened = apply_change(apply_change(changed, "reopen", {}), "resume_services", {"services": ["visa"]})
    assert not reopened.temporarily_closed and reopened.suspended_services == {"passport"}
    body = post_to_dict(reopened)
    assert "passport" not in body["services"] and body["suspended_services"] == ["passport"]


@pytest.mark.parametrize(
    ("kind", "payload", "field"),
    [
        ("suspend_services", {"services": ["tea"]}, "services"),
        ("suspend_services", {"services": []}, "services"),
        ("close_temporarily", {"note": "x" * 501}, "note"),
        ("explode", {}, "change"),
    ],
)
def test_bad_changes(directory: Directory, kind: str, payload: dict, field: str) -> None:
    with pytest.raises(InvalidQuery) as info:
        apply_change(directory.posts["be-embassy-nairobi"], kind, payload)
    assert info.value.field == field


def test_a_service_the_post_never_offered_cannot_be_suspended(directory: Directory) -> None:
    with pytest.raises(InvalidQuery) as info:
        apply_change(directory.posts["be-embassy-brasilia"], "suspend_services", {"services": ["visa"]})
    assert info.value.rule == "offered"
