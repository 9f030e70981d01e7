"""A crisis as the public outputs see it (JSON, Atom, CAP) and the events on `crisis.status` carry it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from shared.geo import Area

Status = Literal["active", "closed"]


@dataclass(frozen=True, slots=True)
class Crisis:
    crisis_id: str
    incident_id: str | None  # None for a crisis activated by hand
    title: str
    kind: str
    severity: str | None
    status: Status
    affected_count: int
    threshold: int
    hotline_number: str
    area: Area
    activated_at: datetime
    updated_at: datetime | None = None  # last change published after the activation
    closed_at: datetime | None = None
    exercise: bool = False  # opened as an exercise: messages to the test list only, marked everywhere

    @property
    def last_change(self) -> datetime:
        return self.closed_at or self.updated_at or self.activated_at

    def status_data(self) -> dict[str, object]:
        """The `data` of `crisis.activated/updated/closed` (contract, crisis_center section)."""
        return {
            "crisis_id": self.crisis_id,
            "incident_id": self.incident_id,
            "title": self.title,
            "status": self.status,
            "affected_count": self.affected_count,
            "threshold": self.threshold,
            "hotline_number": self.hotline_number,
            "area": self.area.to_dict(),
            "activated_at": self.activated_at,
            "closed_at": self.closed_at,
            "exercise": self.exercise,
        }


#: A manual crisis is counted as the incident `manual:<crisis_id>` the API publishes when it opens it (the
#: crisis itself keeps `incident_id` null, as the contract says), so the worker counts, maps and messages its people
#: as it does an automatic crisis's.
MANUAL_PREFIX = "manual:"


def counting_key(crisis_id: str, incident_id: str | None) -> str:
    """The incident id under which the worker counts a crisis's people (and `affected_people` holds them)."""
    return incident_id if incident_id is not None else MANUAL_PREFIX + crisis_id
