"""What the feeds say and what was published, as plain values (no I/O)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

Feed = Literal["gdacs", "usgs"]
FEEDS: tuple[Feed, ...] = ("gdacs", "usgs")
LonLat = tuple[float, float]


@dataclass(frozen=True)
class FeedEvent:
    """One item of a feed, normalised: a GDACS RSS item or a USGS GeoJSON feature."""

    feed: Feed
    source_id: str  # gdacs:<eventtype>:<eventid> or usgs:<id>: the incident id when this source names one
    hazard: str  # GDACS event type (EQ, TC, FL, VO, DR, WF, TS); USGS: EQ for type "earthquake", else that type
    lat: float
    lon: float
    occurred_at: datetime  # GDACS fromdate, USGS origin time
    last_activity_at: datetime  # GDACS todate (the latest episode), USGS origin time
    episode: str | None = None  # GDACS episodeid
    alert_level: str | None = None  # GDACS green/orange/red; USGS PAGER green/yellow/orange/red (often none at first)
    magnitude: float | None = None  # USGS mag; GDACS severity value when its unit is M (earthquakes)
    severity_value: float | None = None  # GDACS severity value in its own unit (km/h, ha, km2...)
    depth_km: float | None = None
    country: str | None = None  # ISO 3166-1 alpha-2, resolved by the adapter
    place: str = ""  # GDACS country text, USGS place ("38 km E of Namie, Japan")
    name: str = ""  # GDACS event name (a cyclone's, a volcano's)
    polygon_url: str | None = None  # the event geometry the GDACS item links, if any
    link: str | None = None  # the event's public page: the GDACS report, the USGS event page

    @property
    def is_earthquake(self) -> bool:
        return self.hazard == "EQ"

    def to_json(self) -> dict[str, Any]:
        return {"feed": self.feed, "source_id": self.source_id, "hazard": self.hazard, "lat": self.lat,
                "lon": self.lon, "occurred_at": self.occurred_at.isoformat(),
                "last_activity_at": self.last_activity_at.isoformat(), "episode": self.episode,
                "alert_level": self.alert_level, "magnitude": self.magnitude, "severity_value": self.severity_value,
                "depth_km": self.depth_km, "country": self.country, "place": self.place, "name": self.name,
                "polygon_url": self.polygon_url, "link": self.link}

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> FeedEvent:
        values = dict(raw)
        values["occurred_at"] = datetime.fromisoformat(values["occurred_at"])
        values["last_activity_at"] = datetime.fromisoformat(values["last_activity_at"])
        return cls(**values)


@dataclass(frozen=True)
class FeedDocument:
    """A feed read whole: the events it carries and the ids of items present but not usable (kept: an item the
    adapter could not map is still in the feed, so its incident must not be closed as gone)."""

    feed: Feed
    events: tuple[FeedEvent, ...]
    unusable_ids: frozenset[str] = frozenset()

    @property
    def present_ids(self) -> frozenset[str]:
        return frozenset(e.source_id for e in self.events) | self.unusable_ids

    @classmethod
    def of(cls, feed: Feed, items: Iterable[tuple[str, FeedEvent | None]]) -> FeedDocument:
        """The document of a feed's items in order: each one's source id and its event (None: not usable)."""
        events: list[FeedEvent] = []
        unusable: set[str] = set()
        for source_id, event in items:
            if event is None:
                unusable.add(source_id)
            else:
                events.append(event)
        return cls(feed, tuple(events), frozenset(unusable))


@dataclass
class SourceState:
    """A feed event that names or enriches an incident, as last seen."""

    event: FeedEvent
    incident_id: str
    signature: dict[str, Any]
    polygon: list[LonLat] | None
    first_seen_at: datetime
    last_seen_at: datetime
    absent_polls: int = 0
    gone: bool = False
    dirty: bool = False

    @property
    def source_id(self) -> str:
        return self.event.source_id

    @property
    def feed(self) -> Feed:
        return self.event.feed


@dataclass
class IncidentState:
    """An incident as published: the data of its last reported/updated event, its sources, open or closed."""

    incident_id: str
    country: str
    status: Literal["open", "closed"]
    published: dict[str, Any]
    revision: int
    reported_at: datetime
    changed_at: datetime  # its last reported or updated event: the TTL counts from here
    closed_at: datetime | None = None
    close_reason: str | None = None
    sources: dict[str, SourceState] = field(default_factory=dict)
    dirty: bool = False

    @property
    def is_open(self) -> bool:
        return self.status == "open"

    def source_of(self, feed: Feed) -> SourceState | None:
        return next((s for s in self.sources.values() if s.feed == feed), None)

    @property
    def named_by(self) -> SourceState | None:
        return self.sources.get(self.incident_id)


@dataclass
class State:
    incidents: dict[str, IncidentState] = field(default_factory=dict)

    def source(self, source_id: str) -> SourceState | None:
        for incident in self.incidents.values():
            found = incident.sources.get(source_id)
            if found is not None:
                return found
        return None

    def sources_of(self, feed: Feed) -> list[SourceState]:
        return [s for i in self.incidents.values() for s in i.sources.values() if s.feed == feed]


PublicationType = Literal["reported", "updated", "closed"]


@dataclass(frozen=True)
class Publication:
    """An event to publish on crisis.incidents: its type, the incident, the data (None for closed) and the
    incident's revision (the event id is derived from both, so that it is the same however often it is planned)."""

    kind: PublicationType
    incident_id: str
    revision: int
    data: dict[str, Any] | None = None
    reason: str = ""


@dataclass
class Ignored:
    source_id: str
    reason: str  # below_threshold, stale, no_country, not_an_earthquake


@dataclass
class Plan:
    publications: list[Publication] = field(default_factory=list)
    ignored: list[Ignored] = field(default_factory=list)
    deleted_sources: list[str] = field(default_factory=list)
