"""Resolution: which post a Belgian should turn to for a service at a place.

Order (issue 4, Directive (EU) 2015/637, the Belgian consular code):
1. The Belgian post whose consular jurisdiction covers the place and which offers the service. Within a
   country: a listed subdivision first, then the whole country or an unlisted part of it (the post resident
   in the country first, then the nearest), then a `remaining` catch-all, then any post with listed
   subdivisions there when the place's own subdivision is unknown. Basis `resident` when the post is in the
   place's country, else `consular_jurisdiction`.
2. For the emergency services of the Directive, where no Belgian post in the country can offer the service:
   the nearest embassy or consulate of another EU member state there (`eu_member_state`), with the Belgian
   post covering from abroad as the first alternative. Passports, legalisation and visas never fall back.
3. A Belgian post accredited to the country (`side_accreditation`; `resident` if it is in the country).
4. The nearest Belgian post offering the service (`nearest_post`).
Posts closed temporarily, outside their validity dates, or with the service suspended are skipped.
Ties go to the post nearest the place, or, when no place is given, nearest the country's capital; then an
embassy before a consulate.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime

from services.directory.domain.geo import Gazetteer, haversine_km
from services.directory.domain.hours import HOURS_UNKNOWN, open_now
from services.directory.domain.model import (
    EU_FALLBACK_SERVICES,
    SERVICES,
    Basis,
    EuPost,
    InvalidQuery,
    JurisdictionEntry,
    Match,
    Place,
    Post,
    Resolution,
)
from services.directory.domain.seedcheck import valid_country

MAX_ALTERNATIVES = 4
DECISION_CACHE_SIZE = 50_000
HOME_COUNTRY = "BE"
_TYPE_ORDER = {"embassy": 0, "consulate_general": 1, "representative_office": 2, "diplomatic_office": 3}
# Jurisdiction ranks, best first.
_SUBDIVISION, _COUNTRY, _REMAINING, _SOME_SUBDIVISION = 0, 1, 2, 3


class Directory:
    """An immutable snapshot of every post with indexes for resolution; `with_post` returns a new one."""

    def __init__(self, posts: Iterable[Post], eu_posts: Iterable[EuPost], gazetteer: Gazetteer) -> None:
        self.gazetteer = gazetteer
        self.posts: dict[str, Post] = {p.post_id: p for p in sorted(posts, key=lambda p: p.post_id)}
        self._eu_posts = list(eu_posts)
        self.eu_by_host: dict[str, tuple[EuPost, ...]] = {}
        grouped: dict[str, list[EuPost]] = defaultdict(list)
        for eu in self._eu_posts:
            grouped[eu.country].append(eu)
        self.eu_by_host = {host: tuple(v) for host, v in grouped.items()}
        jurisdiction: dict[str, list[tuple[Post, JurisdictionEntry]]] = defaultdict(list)
        accredited: dict[str, list[Post]] = defaultdict(list)
        in_country: dict[str, list[Post]] = defaultdict(list)
        for post in self.posts.values():
            in_country[post.country].append(post)
            for entry in post.jurisdiction:
                jurisdiction[entry.country].append((post, entry))
            for country in post.accredited_to:
                accredited[country].append(post)
        self._jurisdiction = {c: tuple(v) for c, v in jurisdiction.items()}
        self._accredited = {c: tuple(v) for c, v in accredited.items()}
        self._in_country = {c: tuple(v) for c, v in in_country.items()}
        self._decided: dict[tuple[str, Place, date], tuple[tuple[Match, ...], tuple[str, ...]]] = {}
        self._offering: dict[str, tuple[Post, ...]] = {
            s: tuple(p for p in self.posts.values() if s in p.services) for s in SERVICES
        }

    def with_post(self, post: Post) -> Directory:
        """A new snapshot with one post replaced (after a change by an admin or coordinator)."""
        return self.with_posts([post])

    def with_posts(self, changed: Iterable[Post]) -> Directory:
        """A new snapshot with these posts replaced; unknown post ids raise KeyError."""
        posts = dict(self.posts)
        for post in changed:
            if post.post_id not in posts:
                raise KeyError(post.post_id)
            posts[post.post_id] = post
        return Directory(posts.values(), self._eu_posts, self.gazetteer)

    def list_posts(
        self, *, country: str | None = None, type_: str | None = None, service: str | None = None
    ) -> list[Post]:
        """Posts by location country, type and service offered (suspended services excluded)."""
        posts: Iterable[Post] = self._in_country.get(country, ()) if country else self.posts.values()
        return [
            p
            for p in posts
            if (type_ is None or p.type == type_)
            and (service is None or (service in p.services and service not in p.suspended_services))
        ]

    # -- places --------------------------------------------------------------------------------------------

    def locate(
        self,
        *,
        country: str | None = None,
        city: str | None = None,
        lat: float | None = None,
        lon: float | None = None,
    ) -> Place:
        """Validate and geocode a place offline: coordinates win, else the city within the country."""
        if (lat is None) != (lon is None):
            missing = "lon" if lon is None else "lat"
            raise InvalidQuery(missing, "required", "give both lat and lon, or neither")
        if lat is not None and not -90 <= lat <= 90:
            raise InvalidQuery("lat", "range", "lat must be between -90 and 90")
        if lon is not None and not -180 <= lon <= 180:
            raise InvalidQuery("lon", "range", "lon must be between -180 and 180")
        code = country.strip().upper() if country else None
        if code is not None and not valid_country(code):
            raise InvalidQuery("country", "iso3166", "country must be an ISO 3166-1 alpha-2 code such as CD")
        if code is None and lat is None:
            raise InvalidQuery("country", "required", "give country, or lat and lon")
        notes: list[str] = []
        if lat is not None and lon is not None:
            found, admin1 = self.gazetteer.locate_point(lat, lon, code)
            if code is None:
                if found is None:
                    raise InvalidQuery(
                        "lat", "geocoding", "these coordinates are not near any country's city; give country"
                    )
                code = found
                notes.append(f"country {code} found from the coordinates (offline reverse geocoding)")
            elif found is not None and found != code:
                notes.append(f"the coordinates look like {found}; the given country {code} is used")
            _abroad(code)
            return Place(country=code, admin1=admin1, lat=lat, lon=lon, located=True, city=city, notes=tuple(notes))
        assert code is not None
        _abroad(code)
        if city and city.strip():
            hit = self.gazetteer.find_city(code, city)
            if hit is not None:
                return Place(
                    country=code, admin1=hit.admin1 or None, lat=hit.lat, lon=hit.lon, located=True, city=hit.name
                )
            notes.append(f"city {city.strip()[:100]!r} not found in {code}; resolved for the whole country")
        return Place(country=code, city=None, notes=tuple(notes))

    # -- resolution ----------------------------------------------------------------------------------------

    def resolve(self, service: str, place: Place, at: datetime) -> Resolution:
        if service not in SERVICES:
            raise InvalidQuery("service", "service", f"unknown service {service!r}; use one of {', '.join(SERVICES)}")
        day = at.date()
        key = (service, place, day)
        decided = self._decided.get(key)
        if decided is None:
            decided = self._decide(service, place, day)
            if len(self._decided) >= DECISION_CACHE_SIZE:
                self._decided.clear()
            self._decided[key] = decided
        chosen, notes = decided
        if not chosen:
            return Resolution(service=service, place=place, match=None, alternatives=(), notes=notes)
        with_hours = [_with_open_now(m, at) for m in chosen]
        if with_hours[0].post is not None and with_hours[0].open_now is None:
            notes = (*notes, HOURS_UNKNOWN)
        return Resolution(
            service=service, place=place, match=with_hours[0], alternatives=tuple(with_hours[1:]), notes=notes
        )

    def _decide(self, service: str, place: Place, day: date) -> tuple[tuple[Match, ...], tuple[str, ...]]:
        """The posts for a service at a place on a day, best first, and the notes that explain them.

        Pure in (snapshot, service, place, day): memoised per snapshot; `open_now` is added per request."""
        origin = self._origin(place)
        notes = list(place.notes)
        chosen: list[Match] = []

        ranked = self._by_jurisdiction(service, place, day, origin)
        covering = self._covering_from_abroad(service, place, day, origin)
        if ranked:
            chosen.extend(ranked)
            chosen.extend(covering)
            if service in EU_FALLBACK_SERVICES and ranked[0].post and ranked[0].post.country != place.country:
                chosen.extend(self._eu(place, origin)[:1])
        elif (
            service in EU_FALLBACK_SERVICES
            and not any(p.offers(service, day) for p in self._in_country.get(place.country, ()))
            and (eu := self._eu(place, origin))
        ):
            notes.append(
                "no Belgian post in this country can offer this service: an EU member state's embassy or "
                "consulate helps as for its own nationals (Directive (EU) 2015/637)"
            )
            chosen.append(eu[0])
            chosen.extend(covering or self._nearest(service, day, origin, limit=1))
            chosen.extend(_other_states(eu[1:], eu[0].eu_member_state))
        elif covering:
            chosen.extend(covering)
        else:
            chosen.extend(self._nearest(service, day, origin, limit=MAX_ALTERNATIVES + 1))
            if chosen:
                notes.append("no Belgian post covers this country for this service: the nearest one is offered")
        if service == "passport":
            notes.append("passports and identity cards are issued only to Belgians registered with the post")
        unique = _dedupe(chosen)[: MAX_ALTERNATIVES + 1]
        if not unique:
            notes.append("no post offers this service at the moment")
        return tuple(unique), tuple(notes)

    def resolve_at(
        self,
        service: str,
        at: datetime,
        *,
        country: str | None = None,
        city: str | None = None,
        lat: float | None = None,
        lon: float | None = None,
    ) -> Resolution:
        return self.resolve(service, self.locate(country=country, city=city, lat=lat, lon=lon), at)

    def _origin(self, place: Place) -> tuple[float, float] | None:
        if place.lat is not None and place.lon is not None:
            return place.lat, place.lon
        ref = self.gazetteer.reference_point(place.country)
        return (ref.lat, ref.lon) if ref else None

    def _by_jurisdiction(
        self, service: str, place: Place, day: date, origin: tuple[float, float] | None
    ) -> list[Match]:
        entries = [(p, e) for p, e in self._jurisdiction.get(place.country, ()) if p.offers(service, day)]
        if not entries:
            return []
        scored: dict[str, tuple[tuple[int, bool, float, int, str], Post]] = {}
        for post, entry in entries:
            if entry.scope == "subdivisions":
                rank = _SUBDIVISION if place.admin1 and place.admin1 in entry.admin1_codes else _SOME_SUBDIVISION
            elif entry.scope == "remaining":
                rank = _REMAINING
            else:
                rank = _COUNTRY
            distance = _distance(origin, post)
            key = (rank, post.country != place.country, distance, _TYPE_ORDER.get(post.type, 9), post.post_id)
            if post.post_id not in scored or key < scored[post.post_id][0]:
                scored[post.post_id] = (key, post)
        ordered = sorted(scored.values(), key=lambda kv: kv[0])
        return [
            Match(
                basis="resident" if post.country == place.country else "consular_jurisdiction",
                post=post,
                distance_km=_distance(origin, post) if place.located else None,
            )
            for _, post in ordered
        ]

    def _covering_from_abroad(
        self, service: str, place: Place, day: date, origin: tuple[float, float] | None
    ) -> list[Match]:
        posts = [p for p in self._accredited.get(place.country, ()) if p.offers(service, day)]
        posts.sort(key=lambda p: (p.country != place.country, _distance(origin, p), _TYPE_ORDER.get(p.type, 9)))
        return [
            Match(
                basis="resident" if p.country == place.country else "side_accreditation",
                post=p,
                distance_km=_distance(origin, p) if place.located else None,
            )
            for p in posts
        ]

    def _eu(self, place: Place, origin: tuple[float, float] | None) -> list[Match]:
        posts = self.eu_by_host.get(place.country, ())
        ordered = sorted(posts, key=lambda e: (_distance(origin, e), e.type != "embassy", e.eu_post_id))
        return [
            Match(basis="eu_member_state", eu_post=e, distance_km=_distance(origin, e) if place.located else None)
            for e in ordered
        ]

    def _nearest(self, service: str, day: date, origin: tuple[float, float] | None, *, limit: int) -> list[Match]:
        if origin is None:
            return []
        posts = [p for p in self._offering[service] if p.offers(service, day)]
        posts.sort(key=lambda p: _distance(origin, p))
        return [Match(basis="nearest_post", post=p, distance_km=_distance(origin, p)) for p in posts[:limit]]


def _with_open_now(match: Match, at: datetime) -> Match:
    if match.post is None:
        return match
    return dataclasses.replace(match, open_now=open_now(match.post.opening_hours, match.post.time_zone, at))


def _abroad(country: str) -> None:
    if country == HOME_COUNTRY:
        raise InvalidQuery(
            "country",
            "abroad",
            "the directory covers Belgians abroad; in Belgium, turn to the municipality or the FPS Foreign Affairs",
        )


def _distance(origin: tuple[float, float] | None, target: Post | EuPost) -> float:
    if origin is None:
        return 0.0
    return round(haversine_km(origin[0], origin[1], target.lat, target.lon), 1)


def _dedupe(matches: list[Match]) -> list[Match]:
    seen: set[str] = set()
    out: list[Match] = []
    for m in matches:
        if m.key not in seen:
            seen.add(m.key)
            out.append(m)
    return out


def _other_states(matches: list[Match], first_state: str | None) -> list[Match]:
    """Up to two more EU posts, of member states other than the first (a real choice for the traveller)."""
    seen = {first_state}
    out: list[Match] = []
    for m in matches:
        if m.eu_member_state not in seen:
            seen.add(m.eu_member_state)
            out.append(m)
        if len(out) == 2:
            break
    return out


def basis_of(match: Match | None) -> Basis | None:
    return match.basis if match else None
