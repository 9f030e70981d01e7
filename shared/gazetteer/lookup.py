"""City name -> coordinates: a registration, a report or a check-in that names a city but gives no coordinates can
still be placed in a circle or polygon area (crisis center, intake)."""

from __future__ import annotations

from functools import lru_cache

from shared.gazetteer.cities import City, alternate_names, geonames_records
from shared.gazetteer.names import EVERY_SCRIPT, NameIndex, phrases
from shared.geo import Point

Town = tuple[str, Point, int]


class Gazetteer:
    """Lookup of cities of 15,000 inhabitants or more by (country, name or alternate name in any script); the
    most populous wins. Loaded on first use, once per process however many instances there are."""

    def towns(self, country: str) -> list[Town]:
        """The country's towns (name, position, population), the most populous first."""
        return _towns().get(country.upper(), [])

    def locate_in_text(self, country: str, text: str) -> tuple[Point, str] | None:
        """The first town named in `text` (`Thamel, Kathmandu`), its longest run of words first, and that run."""
        for phrase in phrases(text):
            point = self.locate(country, phrase)
            if point is not None:
                return point, phrase
        return None

    def locate(self, country: str | None, city: str | None) -> Point | None:
        if not country or not city:
            return None
        found = _names().find(country.upper(), city)
        return found.point if found else None


@lru_cache(maxsize=1)
def _names() -> NameIndex:
    index = NameIndex(EVERY_SCRIPT)
    for record in geonames_records():
        index.add(City.from_record(record), alternate_names(record))
    return index


@lru_cache(maxsize=1)
def _towns() -> dict[str, list[Town]]:
    towns: dict[str, list[Town]] = {}
    for record in geonames_records():
        city = City.from_record(record)
        towns.setdefault(city.country, []).append((city.name, city.point, city.population))
    for found in towns.values():
        found.sort(key=lambda town: -town[2])
    return towns
