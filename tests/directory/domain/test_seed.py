"""The committed seed data is consistent, matches its rules, and is what the builder makes from the facts."""

from __future__ import annotations

import json
import zoneinfo
from pathlib import Path

import pytest

from services.directory.adapters.seed import SEED_DIR, read_seed
from services.directory.domain.seedcheck import EU_MEMBER_STATES, check_eu_posts, check_posts, valid_country
from services.directory.seed import build

DATA_DIR = build.DEFAULT_DATA_DIR
needs_the_facts = pytest.mark.skipif(not DATA_DIR.is_dir(), reason="the facts in ../shared/data are not here")


@pytest.fixture(scope="module")
def posts_doc() -> dict:
    return read_seed("posts.json")


@pytest.fixture(scope="module")
def posts(posts_doc: dict) -> dict[str, dict]:
    return {p["post_id"]: p for p in posts_doc["posts"]}


def test_posts_are_consistent(posts_doc: dict) -> None:
    assert check_posts(posts_doc, time_zones=zoneinfo.available_timezones()) == []


def test_eu_posts_are_consistent() -> None:
    document = read_seed("eu_posts.json")
    assert check_eu_posts(document) == []
    states = {row["member_state"] for rows in document["by_host"].values() for row in rows}
    assert states <= EU_MEMBER_STATES
    assert "BE" not in states


def test_the_checker_finds_broken_records(posts_doc: dict) -> None:
    broken = json.loads(json.dumps(posts_doc))
    post = broken["posts"][0]
    post["accredited_to"].append("QQ")
    post["location"] = {"lat": None, "lon": 3.0}
    post["time_zone"] = "Mars/Olympus"
    problems = check_posts(broken, time_zones=zoneinfo.available_timezones())
    assert any("QQ" in p for p in problems)
    assert any("coordinates" in p for p in problems)
    assert any("time zone" in p for p in problems)


def test_every_accredited_and_jurisdiction_country_exists(posts: dict[str, dict]) -> None:
    for post in posts.values():
        for code in post["accredited_to"] + [e["country"] for e in post["consular_jurisdiction"]]:
            assert valid_country(code), (post["post_id"], code)


@needs_the_facts
def test_every_row_of_the_facts_is_a_post(posts: dict[str, dict]) -> None:
    with (DATA_DIR / "belgian_posts.csv").open(encoding="utf-8") as handle:
        rows = sum(1 for _ in handle) - 1
    assert len(posts) == rows


@pytest.mark.parametrize(
    ("post_id", "competent"),
    [
        ("be-embassy-ottawa", False),
        ("be-embassy-cotonou", False),
        ("be-embassy-sarajevo", False),
        ("be-embassy-holy-see", False),
        ("be-diplomatic-office-maputo", False),
        ("be-permanent-representation-brussels-nato", False),
        ("be-consulate-general-montreal", True),
        ("be-embassy-abuja", True),
    ],
)
def test_consular_competence(posts: dict[str, dict], post_id: str, competent: bool) -> None:
    post = posts[post_id]
    assert post["consular_competence"] is competent
    assert bool(post["services"]) is competent


def test_permanent_representations_offer_nothing(posts: dict[str, dict]) -> None:
    representations = [p for p in posts.values() if p["type"] == "permanent_representation"]
    assert len(representations) == 9
    assert all(p["services"] == [] and p["consular_jurisdiction"] == [] for p in representations)


@pytest.mark.parametrize(
    ("post_id", "countries"),
    [
        ("be-consulate-general-montreal", {"CA", "BM", "PM"}),
        ("be-embassy-abuja", {"NG", "BJ", "TG"}),
        ("be-embassy-zagreb", {"HR", "BA"}),
        ("be-consulate-general-cape-town", {"ZA", "NA", "TF"}),
        ("be-embassy-beirut", {"LB", "SY"}),
        ("be-embassy-amman", {"JO", "IQ"}),
        ("be-consulate-general-jerusalem", {"PS"}),
        ("be-embassy-ottawa", set()),
        ("be-embassy-brasilia", set()),
    ],
)
def test_consular_jurisdiction(posts: dict[str, dict], post_id: str, countries: set[str]) -> None:
    assert {e["country"] for e in posts[post_id]["consular_jurisdiction"]} == countries


def test_lubumbashi_covers_the_four_provinces(posts: dict[str, dict]) -> None:
    (entry,) = posts["be-consulate-general-lubumbashi"]["consular_jurisdiction"]
    assert entry["scope"] == "subdivisions"
    assert {s["code"] for s in entry["subdivisions"]} == {"CD-HK", "CD-TA", "CD-HL", "CD-LU"}
    assert len({s["geonames_admin1"] for s in entry["subdivisions"]}) == 4
    (kinshasa,) = posts["be-embassy-kinshasa"]["consular_jurisdiction"]
    assert kinshasa["scope"] == "remaining"


def test_visa_rule_in_brazil(posts: dict[str, dict]) -> None:
    brazil = [p for p in posts.values() if p["country"] == "BR"]
    assert [p["post_id"] for p in brazil if "visa" in p["services"]] == ["be-consulate-general-sao-paulo"]


def test_validity_dates(posts: dict[str, dict]) -> None:
    assert posts["be-embassy-conakry"]["status"] == "closing"
    assert posts["be-embassy-conakry"]["valid_until"] == "2027-12-31"
    assert posts["be-embassy-windhoek"]["status"] == "planned"
    assert posts["be-embassy-windhoek"]["valid_from"] == "2028-01-01"
    assert all(p["validity_estimated"] for p in posts.values() if p["status"] != "active")


def test_hours_and_contacts_are_placeholders_not_facts(posts: dict[str, dict]) -> None:
    for post in posts.values():
        assert post["opening_hours"] == {"placeholder": True, "weekly": None, "note": "opening hours not in the data"}
        assert post["contact"]["placeholder"] is True
        assert post["contact"]["phone"] is None and post["contact"]["email"] is None


def test_time_zones_follow_the_post(posts: dict[str, dict]) -> None:
    assert posts["be-consulate-general-los-angeles"]["time_zone"] == "America/Los_Angeles"
    assert posts["be-consulate-general-lubumbashi"]["time_zone"] == "Africa/Lubumbashi"
    assert posts["be-embassy-kinshasa"]["time_zone"] == "Africa/Kinshasa"


@needs_the_facts
def test_the_committed_seed_is_what_the_builder_makes(tmp_path: Path) -> None:
    build.main(["--data", str(DATA_DIR), "--out", str(tmp_path)])
    for name in ("posts.json", "eu_posts.json", "zones.json"):
        assert (tmp_path / name).read_text(encoding="utf-8") == (SEED_DIR / name).read_text(encoding="utf-8"), name


def test_a_broken_seed_is_refused(tmp_path: Path) -> None:
    from services.directory.adapters.seed import InconsistentSeed, load_directory

    for name in ("posts.json", "eu_posts.json", "zones.json"):
        (tmp_path / name).write_text((SEED_DIR / name).read_text(encoding="utf-8"), encoding="utf-8")
    document = read_seed("posts.json")
    document["posts"][0]["country"] = "ZZ"
    (tmp_path / "posts.json").write_text(json.dumps(document), encoding="utf-8")
    with pytest.raises(InconsistentSeed, match="ZZ"):
        load_directory(tmp_path)
