"""The earthquake scenario of the acceptance suite, shared by the end-to-end and the chaos tests."""

from __future__ import annotations

import math
import random
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from shared.events.incidents import IncidentReported
from shared.events.travellers import TravellerRegistered

KATHMANDU = (27.7172, 85.3240)
LANGUAGES = ("fr", "nl", "de", "en")
#: The first words of the crisis SMS in each language (the notifier's templates).
SMS_MARKERS = {"en": "Belgian Foreign Affairs", "fr": "Affaires étrangères", "nl": "Buitenlandse Zaken",
               "de": "Belgisches Außenministerium"}


@dataclass(frozen=True)
class Traveller:
    registration: TravellerRegistered
    inside: bool

    @property
    def address(self) -> str:
        return self.registration.phone or str(self.registration.email)


def personal_values(people: Iterable[Traveller]) -> set[str]:
    """The test persons' phone numbers, email addresses and names: none may appear in a service's log."""
    return {str(value) for person in people for value in (person.registration.phone, person.registration.email,
                                                          person.registration.full_name) if value}


def offset(lat: float, lon: float, km: float, bearing_deg: float) -> tuple[float, float]:
    """The point `km` away from (lat, lon) on a bearing (spherical Earth)."""
    r = 6371.0088
    b = math.radians(bearing_deg)
    la, lo = math.radians(lat), math.radians(lon)
    d = km / r
    la2 = math.asin(math.sin(la) * math.cos(d) + math.cos(la) * math.sin(d) * math.cos(b))
    lo2 = lo + math.atan2(math.sin(b) * math.sin(d) * math.cos(la), math.cos(d) - math.sin(la) * math.sin(la2))
    return math.degrees(la2), math.degrees(lo2)


def travellers(run: str, inside: int, outside: int, *, seed: int = 7, email_every: int = 4) -> list[Traveller]:
    """`inside` travellers within 95 km of Kathmandu, `outside` beyond 110 km; each reachable by one channel."""
    rng = random.Random(seed)
    today = datetime.now(UTC).date()
    people = []
    for i in range(inside + outside):
        is_inside = i < inside
        km = rng.uniform(0, 95) if is_inside else rng.uniform(110, 400)
        lat, lon = offset(*KATHMANDU, km, rng.uniform(0, 360))
        language = LANGUAGES[i % 4]
        by_email = i % email_every == 0
        people.append(Traveller(TravellerRegistered(
            traveller_id=f"{run}-tr-{i}", full_name=f"Traveller {run} {i}", language=language, country="NP",
            phone=None if by_email else f"+3247{(hash(run) % 1000):03d}{i:04d}",
            email=f"traveller.{run}.{i}@example.org" if by_email else None,
            location={"lat": lat, "lon": lon}, city="Kathmandu area",
            arrival=today - timedelta(days=3), departure=today + timedelta(days=20)), is_inside))
    return people


def earthquake(incident_id: str, *, radius_km: float = 100) -> IncidentReported:
    return IncidentReported(
        incident_id=incident_id, title="Earthquake near Kathmandu", kind="earthquake", severity="severe",
        area={"country": "NP", "circle": {"lat": KATHMANDU[0], "lon": KATHMANDU[1], "radius_km": radius_km}},
        occurred_at=datetime.now(UTC) - timedelta(minutes=5),
    )


def digits(text: str) -> str:
    return "".join(c for c in text if c.isdigit())


def today() -> date:
    return datetime.now(UTC).date()
