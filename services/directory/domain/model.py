"""The directory's domain types: Belgian posts, EU member states' posts, places, and resolutions."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

Service = Literal[
    "emergency_travel_document",
    "passport",
    "detention_assistance",
    "missing_person",
    "legalisation",
    "visa",
    "crisis_assistance",
]
SERVICES: tuple[Service, ...] = Service.__args__  # type: ignore[attr-defined]
#: Emergency help that Directive (EU) 2015/637 lets an unrepresented Belgian ask of any member state's post.
EU_FALLBACK_SERVICES: frozenset[str] = frozenset(
    {"emergency_travel_document", "detention_assistance", "missing_person", "crisis_assistance"}
)

#: How a post came to be chosen. `nearest_post` is the project's addition to the contract's four values: the
#: last resort when no jurisdiction, accreditation or EU fallback applies.
Basis = Literal["resident", "consular_jurisdiction", "side_accreditation", "eu_member_state", "nearest_post"]
Scope = Literal["country", "subdivisions", "remaining", "part"]

POST_TYPES = (
    "embassy",
    "consulate_general",
    "diplomatic_office",
    "representative_office",
    "permanent_representation",
)


class InvalidQuery(ValueError):
    """Bad input to a resolution, naming the field and the rule it breaks."""

    def __init__(self, field_name: str, rule: str, message: str) -> None:
        super().__init__(message)
        self.field = field_name
        self.rule = rule
        self.message = message


@dataclass(frozen=True, slots=True)
class Subdivision:
    code: str  # ISO 3166-2
    name: str
    geonames_admin1: str


@dataclass(frozen=True, slots=True)
class JurisdictionEntry:
    """Part of a post's consular jurisdiction.

    `country`: the whole country; `subdivisions`: the listed ones; `remaining`: whatever no available post's
    `subdivisions` entry covers; `part`: an unlisted part of the country (the data describes it in words)."""

    country: str
    scope: Scope
    subdivisions: tuple[Subdivision, ...] = ()
    description: str | None = None

    @property
    def admin1_codes(self) -> frozenset[str]:
        return frozenset(s.geonames_admin1 for s in self.subdivisions)


@dataclass(frozen=True, slots=True)
class Post:
    """A Belgian career post or permanent representation, with any changes made by admins applied."""

    post_id: str
    type: str
    name: str
    city: str
    country: str
    lat: float
    lon: float
    time_zone: str
    status: str
    valid_from: date | None
    valid_until: date | None
    accredited_to: tuple[str, ...]
    consular_competence: bool
    jurisdiction: tuple[JurisdictionEntry, ...]
    services: frozenset[str]
    opening_hours: dict[str, Any]
    contact: dict[str, Any]
    suspended_services: frozenset[str] = frozenset()
    temporarily_closed: bool = False
    closure_note: str | None = None
    seed: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def in_force(self, day: date) -> bool:
        """Open for business on `day`: within its validity and not closed temporarily."""
        if self.temporarily_closed:
            return False
        if self.valid_from is not None and day < self.valid_from:
            return False
        return not (self.valid_until is not None and day > self.valid_until)

    def offers(self, service: str, day: date) -> bool:
        return service in self.services and service not in self.suspended_services and self.in_force(day)


@dataclass(frozen=True, slots=True)
class EuPost:
    """An embassy or consulate of another EU member state, by host country."""

    eu_post_id: str
    member_state: str
    type: str
    city: str
    country: str
    lat: float
    lon: float


@dataclass(frozen=True, slots=True)
class Place:
    """Where the help is needed, after offline geocoding."""

    country: str
    admin1: str | None = None  # GeoNames admin1 code of the place's subdivision, when known
    lat: float | None = None
    lon: float | None = None
    located: bool = False  # lat/lon given or geocoded from a city (so distances mean something)
    city: str | None = None
    notes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Match:
    """One post offered for a service, and why."""

    basis: Basis
    post: Post | None = None
    eu_post: EuPost | None = None
    distance_km: float | None = None
    open_now: bool | None = None

    @property
    def eu_member_state(self) -> str | None:
        return self.eu_post.member_state if self.eu_post else None

    @property
    def key(self) -> str:
        return self.post.post_id if self.post else self.eu_post.eu_post_id if self.eu_post else ""


@dataclass(frozen=True, slots=True)
class Resolution:
    service: str
    place: Place
    match: Match | None
    alternatives: tuple[Match, ...]
    notes: tuple[str, ...]
