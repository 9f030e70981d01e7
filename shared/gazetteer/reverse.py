"""Reverse geocoding, offline: the nearest city of a point, and the country and subdivision a point lies in.

There are no country borders to work with. A point's country is taken from the time zone polygon it lies in
(timezonefinder, injected as `zone_at`) narrowed to the countries whose cities lie in that zone, and among those
from the nearest city. Limits (docs/directory.md): near a border shared by two countries in the same time zone
the nearest city decides and can be across the border; at sea, a point more than `sea_km` from any city has no
country, nor has a point more than `inland_km` from any city of the countries in its time zone (Antarctica,
remote deserts); the subdivision of a point is that of the nearest city in its country.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping

import numpy as np

from shared.gazetteer.cities import City
from shared.geo import Point, great_circle_km


class _Grid:
    """Cities bucketed by cells of `cell_deg` degrees; nearest-neighbour search in growing rings of cells.

    Candidates are compared by an equirectangular approximation (cheap, exact enough between neighbours);
    the search stops once no unvisited ring can hold anything nearer, or gives up after `max_rings`."""

    def __init__(self, cities: Iterable[City], cell_deg: float) -> None:
        self.cell_deg = cell_deg
        cells: dict[tuple[int, int], list[tuple[float, float, City]]] = defaultdict(list)
        for city in cities:
            cells[self._cell(city.lat, city.lon)].append((city.lat, city.lon, city))
        self.cells = {key: tuple(value) for key, value in cells.items()}
        self.span = round(360 / cell_deg)

    def _cell(self, lat: float, lon: float) -> tuple[int, int]:
        return math.floor(lat / self.cell_deg), math.floor(lon / self.cell_deg)

    def nearest(self, lat: float, lon: float, max_rings: int) -> tuple[City | None, bool]:
        """(nearest city, whether the search was complete)."""
        ci, cj = self._cell(lat, lon)
        coslat = max(math.cos(math.radians(lat)), 0.01)
        best: City | None = None
        best_d2 = math.inf
        limit = max_rings
        ring = 0
        cells = self.cells
        while ring <= limit:
            improved = False
            for key in _ring(ci, cj, ring, self.span):
                for clat, clon, city in cells.get(key, ()):
                    dlon = abs(clon - lon)
                    if dlon > 180:
                        dlon = 360 - dlon
                    dx = dlon * coslat
                    dy = clat - lat
                    d2 = dx * dx + dy * dy
                    if d2 < best_d2:
                        best, best_d2, improved = city, d2, True
            if improved:
                # Ring r lies at least (r - 1) cells away; cells narrow east-west towards the poles.
                reach = math.sqrt(best_d2)
                shrink = max(math.cos(math.radians(min(89.0, abs(lat) + reach))), 0.01)
                needed = math.ceil(reach / (self.cell_deg * shrink))
                if needed > max_rings:
                    return best, False
                limit = needed
            ring += 1
        return best, best is not None


class _Blocks:
    """For each cell of a grid, its 3x3 neighbourhood's cities as arrays: one vectorised comparison answers
    most queries exactly (the nearest city in the block is the nearest overall when it lies within one cell)."""

    def __init__(self, grid: _Grid) -> None:
        self.cell_deg = grid.cell_deg
        self._cell = grid._cell
        self.blocks: dict[tuple[int, int], tuple[np.ndarray, np.ndarray, tuple[City, ...]]] = {}
        wanted = {(i + di, j + dj) for (i, j) in grid.cells for di in (-1, 0, 1) for dj in (-1, 0, 1)}
        for ci, cj in wanted:
            members = [entry for key in _ring(ci, cj, 1, grid.span) for entry in grid.cells.get(key, ())]
            members += grid.cells.get((ci, cj), ())
            if members:
                self.blocks[(ci, cj)] = (
                    np.array([m[0] for m in members]),
                    np.array([m[1] for m in members]),
                    tuple(m[2] for m in members),
                )

    def nearest(self, lat: float, lon: float) -> City | None:
        """The nearest city when the block settles it, else None (the caller searches wider)."""
        block = self.blocks.get(self._cell(lat, lon))
        if block is None:
            return None
        lats, lons, cities = block
        coslat = max(math.cos(math.radians(lat)), 0.01)
        dlon = np.abs(lons - lon)
        dlon = np.minimum(dlon, 360.0 - dlon) * coslat
        d2 = dlon * dlon + (lats - lat) ** 2
        best = int(np.argmin(d2))
        # Anything outside the block is at least one cell away (east-west cells narrow with the latitude).
        shrink = max(math.cos(math.radians(min(89.0, abs(lat) + self.cell_deg))), 0.01) / coslat
        if math.sqrt(float(d2[best])) <= self.cell_deg * min(1.0, shrink) * min(1.0, coslat):
            return cities[best]
        return None


class NearestCity:
    """A fine grid for where cities are dense, a coarse one for remote places (deserts, oceans, poles)."""

    FINE_DEG, FINE_RINGS, COARSE_DEG = 0.25, 6, 2.0

    def __init__(self, cities: list[City], *, blocks: bool = False) -> None:
        self.fine = _Grid(cities, self.FINE_DEG)
        self.coarse = _Grid(cities, self.COARSE_DEG)
        self.blocks = _Blocks(self.fine) if blocks else None

    def nearest(self, lat: float, lon: float, within_km: float = 2000.0) -> tuple[City | None, float]:
        """The nearest city no farther than about `within_km` (None beyond), and its distance."""
        city = self.blocks.nearest(lat, lon) if self.blocks is not None else None
        if city is None:
            city, complete = self.fine.nearest(lat, lon, max_rings=self.FINE_RINGS)
            if not complete:
                shrink = max(math.cos(math.radians(min(89.0, abs(lat)))), 0.05)
                ring_km = 111.0 * self.COARSE_DEG * shrink
                rings = min(round(180 / self.COARSE_DEG), math.ceil(within_km / ring_km) + 1)
                city, _ = self.coarse.nearest(lat, lon, max_rings=rings)
        if city is None:
            return None, math.inf
        distance = great_circle_km(Point(lat, lon), city.point)
        return (city, distance) if distance <= within_km else (None, math.inf)


def _ring(ci: int, cj: int, r: int, span: int) -> Iterable[tuple[int, int]]:
    if r == 0:
        yield ci, cj
        return
    half = span // 2
    for dj in range(-r, r + 1):
        j = (cj + dj + half) % span - half
        yield ci - r, j
        yield ci + r, j
    for di in range(-r + 1, r):
        yield ci + di, (cj - r + half) % span - half
        yield ci + di, (cj + r + half) % span - half


class ReverseGeocoder:
    """Point -> (country, GeoNames admin1 code), from the cities and the countries found in each time zone."""

    def __init__(
        self,
        cities: Iterable[City],
        *,
        zone_countries: Mapping[str, Iterable[str]],
        zone_at: Callable[[float, float], str | None],
        sea_km: float = 100.0,
        inland_km: float = 1000.0,
    ) -> None:
        """`zone_at(lat, lon)`: the IANA zone at a point; `zone_countries`: zone -> countries found in it."""
        self._zone_at = zone_at
        self._zone_countries = {zone: frozenset(cs) for zone, cs in zone_countries.items()}
        self._sea_km = sea_km
        self._inland_km = inland_km
        all_cities = list(cities)
        by_country: dict[str, list[City]] = defaultdict(list)
        for city in all_cities:
            by_country[city.country].append(city)
        self._grid = NearestCity(all_cities, blocks=True)
        self._country_grids = {country: NearestCity(cs) for country, cs in by_country.items()}

    def nearest(self, lat: float, lon: float, within_km: float = 2000.0) -> tuple[City | None, float]:
        """The nearest city of any country no farther than about `within_km` (None beyond), and its distance."""
        return self._grid.nearest(lat, lon, within_km)

    def locate_point(self, lat: float, lon: float, country: str | None = None) -> tuple[str | None, str | None]:
        """(the country found at the point, the GeoNames admin1 code of the point in `country` or that one)."""
        candidates = self._zone_countries.get(self._zone_at(lat, lon) or "", frozenset())
        nearest, _ = self._grid.nearest(lat, lon, within_km=self._inland_km if candidates else self._sea_km)
        found = self._country_of(lat, lon, candidates, nearest)
        target = country or found
        if target is None:
            return None, None
        if nearest is not None and nearest.country == target:
            return found, nearest.admin1 or None
        return found, self.admin1_at(target, lat, lon)

    def country_at(self, lat: float, lon: float) -> str | None:
        return self.locate_point(lat, lon)[0]

    def _country_of(self, lat: float, lon: float, candidates: frozenset[str], nearest: City | None) -> str | None:
        if nearest is not None and (not candidates or nearest.country in candidates):
            return nearest.country
        best: tuple[float, str] | None = None
        for candidate in sorted(candidates):
            city, d = self._country_grids[candidate].nearest(lat, lon, within_km=self._inland_km)
            if city is not None and (best is None or d < best[0]):
                best = (d, candidate)
        return best[1] if best else None

    def admin1_at(self, country: str, lat: float, lon: float) -> str | None:
        """GeoNames admin1 code of the nearest city of `country` (approximates the point's subdivision)."""
        grid = self._country_grids.get(country)
        if grid is None:
            return None
        city, _ = grid.nearest(lat, lon)
        return city.admin1 if city is not None and city.admin1 else None
