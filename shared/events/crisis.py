"""Topic `crisis.status` (compacted, key crisis_id): a crisis's lifecycle, latest state per crisis."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import AwareDatetime, Field

from shared.events.common import E164, Area
from shared.events.envelope import EventData

TOPIC = "crisis.status"


class _CrisisState(EventData):
    TOPIC: ClassVar[str] = TOPIC
    KEY_FIELD: ClassVar[str] = "crisis_id"

    crisis_id: str = Field(min_length=1, max_length=200)
    incident_id: str | None
    title: str
    status: Literal["active", "closed"]
    affected_count: int = Field(ge=0)
    threshold: int = Field(ge=1)
    hotline_number: E164
    area: Area | None
    activated_at: AwareDatetime
    closed_at: AwareDatetime | None = None
    exercise: bool = Field(default=False, description=(
        "An exercise (issue 23), opened by hand: not a real crisis; its messages went to a test list only. "
        "Consumers must not treat it as real (absent: false)."))


class CrisisActivated(_CrisisState):
    TYPE: ClassVar[str] = "be.diplomatie.crisis.activated"


class CrisisUpdated(_CrisisState):
    TYPE: ClassVar[str] = "be.diplomatie.crisis.updated"


class CrisisClosed(_CrisisState):
    TYPE: ClassVar[str] = "be.diplomatie.crisis.closed"
