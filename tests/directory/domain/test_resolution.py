"""Table-driven resolution over 40+ countries: each basis and every case the issue names."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any

import pytest

from services.directory.domain.directory import Directory
from services.directory.domain.geo import haversine_km
from services.directory.domain.model import InvalidQuery
from services.directory.domain.posts import apply_change
from services.directory.domain.seedcheck import EU_MEMBER_STATES
from tests.directory.conftest import NOW

LATER = datetime(2028, 3, 1, 12, 0, tzinfo=UTC)  # after the closures and openings announced for 2026-27

ETD = "emergency_travel_document"

# (service, place, expected post, expected basis[, at])
BELGIAN_CASES: list[tuple[Any, ...]] = [
    # resident: the post in the country whose jurisdiction covers the place
    (ETD, {"country": "DZ"}, "be-embassy-algiers", "resident"),
    (ETD, {"country": "AO"}, "be-embassy-luanda", "resident"),
    (ETD, {"country": "KE", "city": "Mombasa"}, "be-embassy-nairobi", "resident"),
    (ETD, {"lat": 35.6895, "lon": 139.6917}, "be-embassy-tokyo", "resident"),
    (ETD, {"country": "AR", "city": "Córdoba"}, "be-embassy-buenos-aires", "resident"),
    (ETD, {"country": "DE", "city": "München"}, "be-embassy-berlin", "resident"),
    (ETD, {"country": "CH", "city": "Genf"}, "be-embassy-bern", "resident"),
    (ETD, {"country": "GB", "city": "Londres"}, "be-embassy-london", "resident"),
    (ETD, {"country": "NL", "city": "Den Haag"}, "be-embassy-the-hague", "resident"),
    (ETD, {"country": "IT", "city": "Mailand"}, "be-embassy-rome", "resident"),
    (ETD, {"country": "RU", "city": "Moskou"}, "be-embassy-moscow", "resident"),
    (ETD, {"country": "TW"}, "be-office-taipei", "resident"),
    (ETD, {"lat": 42.6629, "lon": 21.1655}, "be-embassy-pristina", "resident"),  # Kosovo: no zone of its own
    (ETD, {"lat": 21.0285, "lon": 105.8542}, "be-embassy-hanoi", "resident"),
    (ETD, {"country": "IN", "city": "Mumbai"}, "be-consulate-general-mumbai", "resident"),
    (ETD, {"country": "IN", "city": "Bangalore"}, "be-consulate-general-chennai", "resident"),
    (ETD, {"country": "IN"}, "be-embassy-new-delhi", "resident"),
    (ETD, {"country": "US", "city": "Boston"}, "be-consulate-general-new-york", "resident"),
    (ETD, {"country": "US", "city": "San Francisco"}, "be-consulate-general-los-angeles", "resident"),
    (ETD, {"country": "US"}, "be-embassy-washington", "resident"),
    (ETD, {"country": "TR", "city": "Istanbul"}, "be-consulate-general-istanbul", "resident"),
    (ETD, {"country": "TR"}, "be-embassy-ankara", "resident"),
    (ETD, {"country": "FR", "city": "Nice"}, "be-consulate-general-marseille", "resident"),
    (ETD, {"country": "FR", "city": "Lille"}, "be-embassy-paris", "resident"),
    (ETD, {"country": "PS", "city": "Gaza"}, "be-consulate-general-jerusalem", "resident"),
    (ETD, {"country": "HK"}, "be-consulate-general-hong-kong", "resident"),
    # Canada: the Montreal consulate-general, never Ottawa (no consular competence), even in Ottawa
    (ETD, {"country": "CA"}, "be-consulate-general-montreal", "resident"),
    (ETD, {"country": "CA", "city": "Ottawa"}, "be-consulate-general-montreal", "resident"),
    (ETD, {"lat": 49.2827, "lon": -123.1207}, "be-consulate-general-montreal", "resident"),
    ("passport", {"country": "CA", "city": "Toronto"}, "be-consulate-general-montreal", "resident"),
    # DR Congo: Lubumbashi's four provinces to Lubumbashi, the rest (and Kinshasa) to Kinshasa
    (ETD, {"country": "CD", "city": "Lubumbashi"}, "be-consulate-general-lubumbashi", "resident"),
    (ETD, {"country": "CD", "city": "Kolwezi"}, "be-consulate-general-lubumbashi", "resident"),  # Lualaba
    (ETD, {"country": "CD", "city": "Kalemie"}, "be-consulate-general-lubumbashi", "resident"),  # Tanganyika
    (ETD, {"country": "CD", "city": "Kamina"}, "be-consulate-general-lubumbashi", "resident"),  # Haut-Lomami
    (ETD, {"lat": -11.6609, "lon": 27.4794}, "be-consulate-general-lubumbashi", "resident"),
    (ETD, {"country": "CD", "city": "Kinshasa"}, "be-embassy-kinshasa", "resident"),
    (ETD, {"country": "CD", "city": "Goma"}, "be-embassy-kinshasa", "resident"),
    (ETD, {"country": "CD"}, "be-embassy-kinshasa", "resident"),
    # South Africa: provinces split between Pretoria and Cape Town
    (ETD, {"country": "ZA", "city": "Durban"}, "be-embassy-pretoria", "resident"),
    (ETD, {"country": "ZA", "city": "Le Cap"}, "be-consulate-general-cape-town", "resident"),
    (ETD, {"country": "ZA", "city": "Port Elizabeth"}, "be-consulate-general-cape-town", "resident"),
    # Brazil: Rio's states, São Paulo the rest, visas only São Paulo
    ("passport", {"country": "BR", "city": "Recife"}, "be-consulate-general-rio-de-janeiro", "resident"),
    ("passport", {"country": "BR", "city": "Manaus"}, "be-consulate-general-sao-paulo", "resident"),
    ("visa", {"country": "BR", "city": "Rio de Janeiro"}, "be-consulate-general-sao-paulo", "resident"),
    # China: Shanghai's and Guangzhou's provinces, Beijing the rest
    (ETD, {"country": "CN", "city": "Hangzhou"}, "be-consulate-general-shanghai", "resident"),
    (ETD, {"country": "CN", "city": "Kunming"}, "be-consulate-general-guangzhou", "resident"),
    (ETD, {"country": "CN", "city": "Pékin"}, "be-embassy-beijing", "resident"),
    (ETD, {"country": "CN", "city": "Chengdu"}, "be-embassy-beijing", "resident"),
    # consular_jurisdiction: a post abroad whose consular jurisdiction covers the country
    (ETD, {"country": "BJ"}, "be-embassy-abuja", "consular_jurisdiction"),
    (ETD, {"country": "BJ", "city": "Cotonou"}, "be-embassy-abuja", "consular_jurisdiction"),
    ("passport", {"country": "TG", "city": "Lomé"}, "be-embassy-abuja", "consular_jurisdiction"),
    (ETD, {"country": "BA", "city": "Sarajevo"}, "be-embassy-zagreb", "consular_jurisdiction"),
    (ETD, {"country": "NA", "city": "Windhoek"}, "be-consulate-general-cape-town", "consular_jurisdiction"),
    ("crisis_assistance", {"country": "SY"}, "be-embassy-beirut", "consular_jurisdiction"),
    ("detention_assistance", {"country": "IQ"}, "be-embassy-amman", "consular_jurisdiction"),
    (ETD, {"country": "MZ"}, "be-embassy-pretoria", "consular_jurisdiction"),
    (ETD, {"country": "BW"}, "be-embassy-pretoria", "consular_jurisdiction"),
    (ETD, {"country": "BM"}, "be-consulate-general-montreal", "consular_jurisdiction"),
    (ETD, {"country": "MO"}, "be-consulate-general-hong-kong", "consular_jurisdiction"),
    (ETD, {"country": "GP"}, "be-embassy-paris", "consular_jurisdiction"),
    # side_accreditation: no Belgian jurisdiction, the post accredited from abroad
    ("passport", {"country": "AF"}, "be-embassy-islamabad", "side_accreditation"),
    ("passport", {"country": "ST"}, "be-embassy-luanda", "side_accreditation"),
    ("legalisation", {"country": "AD"}, "be-embassy-madrid", "side_accreditation"),
    ("visa", {"country": "GE"}, "be-embassy-baku", "side_accreditation"),
    # ... including emergency services in countries with no EU post either (Bhutan, Antigua, Liechtenstein)
    (ETD, {"country": "BT"}, "be-embassy-new-delhi", "side_accreditation"),
    (ETD, {"country": "AG"}, "be-embassy-kingston", "side_accreditation"),
    ("missing_person", {"country": "LI"}, "be-embassy-bern", "side_accreditation"),
    # nearest_post: nothing else applies (Chad has no Belgian post nor accreditation; Holy See: no consular post)
    ("passport", {"country": "TD"}, "be-embassy-abuja", "nearest_post"),
    (ETD, {"country": "VA"}, "be-embassy-rome", "nearest_post"),
    # validity: after the announced closures and openings
    (ETD, {"country": "CN", "city": "Kunming"}, "be-embassy-beijing", "resident", LATER),
    (ETD, {"country": "NA"}, "be-embassy-windhoek", "resident", LATER),
    ("passport", {"country": "BR", "city": "Recife"}, "be-consulate-general-sao-paulo", "resident", LATER),
    ("passport", {"country": "AL"}, "be-embassy-tirana", "resident", LATER),
    ("passport", {"country": "AL"}, "be-embassy-sofia", "side_accreditation", NOW),
]


def _id(case: tuple[Any, ...]) -> str:
    return f"{case[0]}-{'-'.join(str(v) for v in case[1].values())}" + ("-later" if len(case) > 4 else "")


@pytest.mark.parametrize("case", BELGIAN_CASES, ids=[_id(c) for c in BELGIAN_CASES])
def test_belgian_post(directory: Directory, case: tuple[Any, ...]) -> None:
    service, place, expected, basis = case[:4]
    at = case[4] if len(case) > 4 else NOW
    result = directory.resolve_at(service, at, **place)
    assert result.match is not None and result.match.post is not None
    assert (result.match.post.post_id, result.match.basis) == (expected, basis)
    assert result.match.eu_post is None and result.match.eu_member_state is None
    assert service in result.match.post.services


def test_the_table_covers_forty_countries_and_every_basis(directory: Directory) -> None:
    countries = {directory.resolve_at(c[0], c[4] if len(c) > 4 else NOW, **c[1]).place.country for c in BELGIAN_CASES}
    assert len(countries | {c[1]["country"] for c in EU_CASES}) >= 40
    assert {c[3] for c in BELGIAN_CASES} == {"resident", "consular_jurisdiction", "side_accreditation", "nearest_post"}


# (service, place, Belgian post covering from abroad offered as the first alternative, at)
EU_CASES: list[tuple[Any, ...]] = [
    (ETD, {"country": "AF"}, "be-embassy-islamabad", NOW),
    ("detention_assistance", {"country": "ST"}, "be-embassy-luanda", NOW),
    ("missing_person", {"country": "AD"}, "be-embassy-madrid", NOW),
    ("crisis_assistance", {"country": "GE", "city": "Tbilisi"}, "be-embassy-baku", NOW),
    (ETD, {"country": "MC"}, "be-embassy-paris", NOW),
    (ETD, {"country": "TD"}, "be-embassy-abuja", NOW),  # covered by nobody: the nearest Belgian post
    (ETD, {"country": "GN"}, "be-embassy-dakar", LATER),  # after Conakry closes
]


@pytest.mark.parametrize("case", EU_CASES, ids=[_id(c[:2]) for c in EU_CASES])
def test_eu_member_state_for_emergency_services(directory: Directory, case: tuple[Any, ...]) -> None:
    service, place, covering, at = case
    result = directory.resolve_at(service, at, **place)
    match = result.match
    assert match is not None and match.basis == "eu_member_state" and match.post is None
    assert match.eu_post is not None and match.eu_post.country == result.place.country
    assert match.eu_member_state in EU_MEMBER_STATES and match.eu_member_state != "BE"
    assert result.alternatives[0].post is not None and result.alternatives[0].post.post_id == covering
    assert any("2015/637" in note for note in result.notes)


def test_eu_fallback_picks_the_nearest_eu_post(directory: Directory) -> None:
    place = {"country": "AF", "lat": 34.5553, "lon": 69.2075}
    result = directory.resolve_at(ETD, NOW, **place)
    assert result.match is not None and result.match.eu_post is not None and result.match.distance_km is not None
    for eu in directory.eu_by_host["AF"]:
        assert result.match.distance_km <= haversine_km(place["lat"], place["lon"], eu.lat, eu.lon) + 0.1


@pytest.mark.parametrize("service", ["passport", "legalisation", "visa"])
@pytest.mark.parametrize("country", ["AF", "ST", "TD", "MC"])
def test_no_eu_fallback_for_documents(directory: Directory, service: str, country: str) -> None:
    result = directory.resolve_at(service, NOW, country=country)
    assert result.match is not None and result.match.post is not None
    assert result.match.basis in ("side_accreditation", "nearest_post")
    assert all(alt.eu_post is None for alt in result.alternatives)


def test_no_eu_fallback_where_a_belgian_post_can_help(directory: Directory) -> None:
    result = directory.resolve_at(ETD, NOW, country="TG")
    assert result.match is not None and result.match.post is not None
    assert result.match.post.post_id == "be-embassy-abuja"


def _closed(directory: Directory, post_id: str) -> Directory:
    return directory.with_post(apply_change(directory.posts[post_id], "close_temporarily", {"note": "unrest"}))


def test_a_temporarily_closed_post_is_skipped_with_the_next_one_offered(directory: Directory) -> None:
    before = directory.resolve_at(ETD, NOW, country="CD", city="Kolwezi")
    assert before.match is not None and before.match.post is not None
    assert before.match.post.post_id == "be-consulate-general-lubumbashi"
    assert "be-embassy-kinshasa" in [a.key for a in before.alternatives]
    after = _closed(directory, "be-consulate-general-lubumbashi").resolve_at(ETD, NOW, country="CD", city="Kolwezi")
    assert after.match is not None and after.match.post is not None
    assert (after.match.post.post_id, after.match.basis) == ("be-embassy-kinshasa", "resident")
    assert "be-consulate-general-lubumbashi" not in [a.key for a in after.alternatives]


def test_closing_montreal_sends_canada_to_an_eu_post_for_emergencies_only(directory: Directory) -> None:
    closed = _closed(directory, "be-consulate-general-montreal")
    emergency = closed.resolve_at(ETD, NOW, country="CA", city="Montreal")
    assert emergency.match is not None and emergency.match.basis == "eu_member_state"
    passport = closed.resolve_at("passport", NOW, country="CA", city="Montreal")
    assert passport.match is not None and passport.match.post is not None
    assert passport.match.basis == "nearest_post" and passport.match.post.country != "CA"


def test_closing_abuja_leaves_togo_with_the_eu_and_abidjan(directory: Directory) -> None:
    closed = _closed(directory, "be-embassy-abuja")
    emergency = closed.resolve_at(ETD, NOW, country="TG")
    assert emergency.match is not None and emergency.match.basis == "eu_member_state"
    passport = closed.resolve_at("passport", NOW, country="TG")
    assert passport.match is not None and passport.match.post is not None
    assert (passport.match.post.post_id, passport.match.basis) == ("be-embassy-abidjan", "side_accreditation")


def test_a_suspended_service_is_skipped_but_others_stay(directory: Directory) -> None:
    post = directory.posts["be-consulate-general-sao-paulo"]
    changed = directory.with_post(apply_change(post, "suspend_services", {"services": ["visa"]}))
    visa = changed.resolve_at("visa", NOW, country="BR", city="Rio de Janeiro")
    assert visa.match is not None and visa.match.post is not None
    assert visa.match.post.country != "BR" and visa.match.basis == "nearest_post"
    passport = changed.resolve_at("passport", NOW, country="BR", city="Manaus")
    assert passport.match is not None and passport.match.post is not None
    assert passport.match.post.post_id == "be-consulate-general-sao-paulo"


def test_a_post_is_not_used_before_its_opening_or_after_its_closure(directory: Directory) -> None:
    for at in (NOW, LATER):
        result = directory.resolve_at(ETD, at, country="GN")
        used = [m.post.post_id for m in (result.match, *result.alternatives) if m and m.post]
        assert ("be-embassy-conakry" in used) is (at == NOW)
        result = directory.resolve_at(ETD, at, country="NA")
        used = [m.post.post_id for m in (result.match, *result.alternatives) if m and m.post]
        assert ("be-embassy-windhoek" in used) is (at == LATER)


def test_distance_is_great_circle_and_only_with_a_location(directory: Directory) -> None:
    located = directory.resolve_at(ETD, NOW, country="CD", lat=-10.7167, lon=25.4667)
    assert located.match is not None and located.match.post is not None and located.match.distance_km is not None
    post = located.match.post
    assert located.match.distance_km == pytest.approx(haversine_km(-10.7167, 25.4667, post.lat, post.lon), abs=0.1)
    assert directory.resolve_at(ETD, NOW, country="CD").match.distance_km is None  # type: ignore[union-attr]


def test_open_now_is_unknown_with_placeholder_hours_and_said_so(directory: Directory) -> None:
    result = directory.resolve_at(ETD, NOW, country="JP")
    assert result.match is not None and result.match.open_now is None
    assert any("opening hours unknown" in note for note in result.notes)


def test_open_now_uses_the_post_time_zone(directory: Directory) -> None:
    hours = {"weekly": {d: [["09:00", "12:30"], ["14:00", "16:00"]] for d in ("mon", "tue", "wed", "thu", "fri")}}
    post = apply_change(directory.posts["be-embassy-tokyo"], "set_hours", hours)
    changed = directory.with_post(post)
    monday_10_tokyo = datetime(2026, 11, 30, 1, 0, tzinfo=UTC)  # 10:00 in Tokyo, 02:00 in Brussels
    monday_13_tokyo = datetime(2026, 11, 30, 4, 0, tzinfo=UTC)  # lunch break in Tokyo
    saturday = datetime(2026, 11, 28, 1, 0, tzinfo=UTC)
    moments = (monday_10_tokyo, monday_13_tokyo, saturday)
    states = [changed.resolve_at(ETD, at, country="JP").match.open_now for at in moments]  # type: ignore[union-attr]
    assert states == [True, False, False]


def test_coordinates_alone_are_reverse_geocoded(directory: Directory) -> None:
    result = directory.resolve_at(ETD, NOW, lat=6.1319, lon=1.2228)  # Lomé
    assert result.place.country == "TG"
    assert any("reverse geocoding" in n for n in result.notes)


def test_a_city_not_found_resolves_for_the_country_and_says_so(directory: Directory) -> None:
    result = directory.resolve_at(ETD, NOW, country="CD", city="Nowhere-sur-Mer")
    assert result.match is not None and result.match.post is not None
    assert result.match.post.post_id == "be-embassy-kinshasa" and result.match.distance_km is None
    assert any("not found" in n for n in result.notes)


def test_alternatives_are_distinct_and_never_the_match(directory: Directory) -> None:
    for case in BELGIAN_CASES + [c[:2] for c in EU_CASES]:
        result = directory.resolve_at(case[0], NOW, **case[1])
        keys = [m.key for m in (result.match, *result.alternatives) if m]
        assert len(keys) == len(set(keys))


@pytest.mark.parametrize(
    ("query", "field", "rule"),
    [
        ({"service": "tea", "country": "FR"}, "service", "service"),
        ({"service": ETD, "country": "QQ"}, "country", "iso3166"),
        ({"service": ETD}, "country", "required"),
        ({"service": ETD, "lat": 10.0}, "lon", "required"),
        ({"service": ETD, "lat": 91.0, "lon": 0.0}, "lat", "range"),
        ({"service": ETD, "lat": 0.0, "lon": 181.0}, "lon", "range"),
        ({"service": ETD, "lat": 0.0, "lon": -30.0}, "lat", "geocoding"),  # mid-Atlantic
        ({"service": ETD, "country": "BE"}, "country", "abroad"),
    ],
)
def test_bad_input_names_the_field(directory: Directory, query: dict[str, Any], field: str, rule: str) -> None:
    service = query.pop("service")
    with pytest.raises(InvalidQuery) as info:
        directory.resolve_at(service, NOW, **query)
    assert (info.value.field, info.value.rule) == (field, rule)


def test_with_post_leaves_the_original_snapshot_alone(directory: Directory) -> None:
    closed = _closed(directory, "be-embassy-tokyo")
    assert closed.posts["be-embassy-tokyo"].temporarily_closed
    assert not directory.posts["be-embassy-tokyo"].temporarily_closed
    assert dataclasses.replace(directory.posts["be-embassy-tokyo"]) == directory.posts["be-embassy-tokyo"]
