"""People sought by their families (issue 18): how far each inquiry has got, for the crisis center's dashboard.

`families.inquiries` (internal, key sought_id): `InquiryUpdated`, published by intake each time a sought person's
state changes (sought, matched, answered safe, closed). It carries no name and no case detail: the dashboard
counts inquiries per crisis; the people themselves stay in intake, where officers see them.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import AwareDatetime, Field

from shared.events.envelope import EventData

INQUIRIES_TOPIC = "families.inquiries"

InquiryState = Literal["sought", "matched", "safe", "closed"]


class InquiryUpdated(EventData):
    TYPE: ClassVar[str] = "be.diplomatie.inquiry.updated"
    TOPIC: ClassVar[str] = INQUIRIES_TOPIC
    KEY_FIELD: ClassVar[str] = "sought_id"

    sought_id: str = Field(min_length=1, max_length=100, description="Intake's id of the sought person.")
    crisis_id: str | None = Field(default=None, max_length=200, description="The crisis the person is sought in, "
                                                                           "if any.")
    state: InquiryState = Field(description="sought: no match yet; matched: a match proposed or confirmed; "
                                            "safe: a matched person answered safe; closed: the inquiry ended.")
    at: AwareDatetime
