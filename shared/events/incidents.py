"""Topic `crisis.incidents` (key incident_id): incidents reported by external systems."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Literal

from pydantic import AwareDatetime, Field

from shared.events.common import Area
from shared.events.envelope import EventData

TOPIC = "crisis.incidents"

IncidentKind = Literal["earthquake", "flood", "storm", "fire", "unrest", "attack", "epidemic", "transport", "other"]
Severity = Literal["minor", "moderate", "severe", "extreme"]


class _IncidentFacts(EventData):
    TOPIC: ClassVar[str] = TOPIC
    KEY_FIELD: ClassVar[str] = "incident_id"

    incident_id: str = Field(min_length=1, max_length=200)
    title: str = Field(min_length=1, max_length=500)
    kind: IncidentKind
    severity: Severity
    area: Area
    occurred_at: AwareDatetime
    #: Optional (contract version 2, additive): the public page of the event at its source (a GDACS or USGS event
    #: page for incidents from the feeds), which the dashboard links.
    link: str | None = Field(default=None, max_length=2000, pattern=r"^https?://")

    @property
    def occurred(self) -> datetime:
        return self.occurred_at


class IncidentReported(_IncidentFacts):
    TYPE: ClassVar[str] = "be.diplomatie.incident.reported"


class IncidentUpdated(_IncidentFacts):
    TYPE: ClassVar[str] = "be.diplomatie.incident.updated"


class IncidentClosed(EventData):
    TYPE: ClassVar[str] = "be.diplomatie.incident.closed"
    TOPIC: ClassVar[str] = TOPIC
    KEY_FIELD: ClassVar[str] = "incident_id"

    incident_id: str = Field(min_length=1, max_length=200)
