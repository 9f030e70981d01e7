"""From the contract's events to the country agent's commands: where someone is, and who they are."""

from __future__ import annotations

from services.crisis_center.domain.activation import Origin
from services.crisis_center.domain.commands import (
    IncidentClose,
    IncidentUpsert,
    ReportSeen,
    TravellerRemove,
    TravellerUpsert,
)
from services.crisis_center.domain.geo import TimeZoneLocator
from services.crisis_center.domain.people import registration_contribution, report_contribution
from shared.events.incidents import IncidentClosed, IncidentReported, IncidentUpdated
from shared.events.reports import ReportSubmitted
from shared.events.travellers import TravellerCancelled, TravellerRegistered
from shared.gazetteer import Gazetteer
from shared.geo import Area, Point


class Places:
    """Coordinates for a city when none are given, and the time zone of a point (both lazily loaded)."""

    def __init__(self) -> None:
        self._gazetteer: Gazetteer | None = None
        self._zones: TimeZoneLocator | None = None

    def point(self, country: str, city: str | None, lat: float | None, lon: float | None) -> Point | None:
        if lat is not None and lon is not None:
            return Point(lat, lon)
        if city:
            self._gazetteer = self._gazetteer or Gazetteer()
            return self._gazetteer.locate(country, city)
        return None

    def tz(self, point: Point | None) -> str | None:
        if point is None:
            return None
        self._zones = self._zones or TimeZoneLocator()
        return self._zones.tz_at(point.lat, point.lon)


def traveller_command(event: TravellerRegistered, places: Places, seq: int | None = None) -> TravellerUpsert:
    """`seq`: the registration's offset on its source partition (`TravellerUpsert.seq`)."""
    location = event.location
    point = places.point(event.country, event.city, location.lat if location else None,
                         location.lon if location else None)
    contribution = registration_contribution(event.traveller_id, event.phone, event.email)
    return TravellerUpsert(
        traveller_id=event.traveller_id, country=event.country,
        lat=point.lat if point else None, lon=point.lon if point else None, tz=places.tz(point),
        arrival=event.arrival, departure=event.departure, phone=event.phone,
        email=str(event.email) if event.email else None, language=event.language,
        identifiers=sorted(contribution.identifiers), seq=seq,
    )


def cancel_command(event: TravellerCancelled, country: str | None = None, seq: int | None = None) -> TravellerRemove:
    """The removal of the traveller's record of `country` by the event at `seq` on its source partition."""
    return TravellerRemove(traveller_id=event.traveller_id, country=country, seq=seq)


def report_command(event: ReportSubmitted, places: Places) -> ReportSeen:
    reference = event.key()
    if not reference:
        raise ValueError("a report needs a reference or a report_id")
    where = event.location
    point = places.point(where.country, where.city, where.lat, where.lon)
    contribution = report_contribution(
        reference, reporter_phone=event.reporter.phone, reporter_email=str(event.reporter.email or "") or None,
        subject_name=event.subject.full_name if event.subject else None,
        subject_date_of_birth=event.subject.date_of_birth if event.subject else None,
    )
    return ReportSeen(reference=reference, country=where.country, lat=point.lat if point else None,
                      lon=point.lon if point else None, received_at=event.received_at,
                      identifiers=sorted(contribution.identifiers))


def incident_command(event: IncidentReported | IncidentUpdated, origin: Origin = "external") -> IncidentUpsert:
    """`origin`: where the incident came from (`activation.incident_origin` of the event's CloudEvents source)."""
    area = Area.from_dict(event.area.model_dump(mode="json", exclude_none=True))  # validates the geometry
    return IncidentUpsert(incident_id=event.incident_id, title=event.title, kind=event.kind,
                          severity=event.severity, area=area.to_dict(), occurred_at=event.occurred_at,
                          origin=origin, link=event.link)


def incident_close_command(event: IncidentClosed) -> IncidentClose:
    return IncidentClose(incident_id=event.incident_id)
