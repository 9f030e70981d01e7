"""Topics `privacy.requests` (commands, key request_id) and `privacy.responses` (each service's part).

A person's access or erasure request is taken by intake's admin API (the coordinator), which publishes one
`PrivacyRequested`; intake, directory, crisis_center and notifier each answer from their own data with one
`PrivacyAnswered`. The coordinator merges the four answers; nothing reads another service's tables.

The identifiers travel as lists: what the admin gave plus what the coordinator linked from its own
registrations (a traveller id's phone, a phone's traveller ids), so that each service can match on what it keeps.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import AwareDatetime, EmailStr, Field, model_validator

from shared.events.common import E164, PERSONAL, WireModel
from shared.events.envelope import EventData

REQUESTS_TOPIC = "privacy.requests"
RESPONSES_TOPIC = "privacy.responses"

#: The services that hold data about people: a request is complete when each of them has answered.
ANSWERING_SERVICES: tuple[str, ...] = ("intake", "directory", "crisis_center", "notifier")

RequestKind = Literal["access", "erasure"]
#: found: exported (access); deleted / anonymised / tombstoned: erased; legal_hold: reported, not erased;
#: retained: kept on another legal basis (e.g. an opt-out, kept so that the person is never messaged again).
Outcome = Literal["found", "deleted", "anonymised", "tombstoned", "legal_hold", "retained"]


class PrivacyRequested(EventData):
    TYPE: ClassVar[str] = "be.diplomatie.privacy.requested"
    TOPIC: ClassVar[str] = REQUESTS_TOPIC
    KEY_FIELD: ClassVar[str] = "request_id"

    request_id: str = Field(min_length=1, max_length=100)
    kind: RequestKind
    traveller_ids: list[str] = Field(default_factory=list, max_length=100, json_schema_extra=PERSONAL)
    phones: list[E164] = Field(default_factory=list, max_length=100, json_schema_extra=PERSONAL)
    emails: list[EmailStr] = Field(default_factory=list, max_length=100, json_schema_extra=PERSONAL)
    requested_by: str = Field(min_length=1, max_length=200, description="The admin's subject id.")
    requested_at: AwareDatetime

    @model_validator(mode="after")
    def _identifies_someone(self) -> PrivacyRequested:
        if not (self.traveller_ids or self.phones or self.emails):
            raise ValueError("a request needs at least one traveller id, phone or email")
        if any(not t.strip() for t in self.traveller_ids):
            raise ValueError("traveller ids must not be blank")
        return self


class PrivacyItem(WireModel):
    """One thing a service holds about the person, and what it did with it."""

    category: str = Field(min_length=1, max_length=100, description="e.g. case, registration, message")
    item_id: str = Field(min_length=1, max_length=300)
    outcome: Outcome
    data: dict[str, Any] | None = Field(default=None, json_schema_extra=PERSONAL,
                                        description="The exported data (access requests only).")
    note: str | None = Field(default=None, max_length=1000)


class PrivacyAnswered(EventData):
    TYPE: ClassVar[str] = "be.diplomatie.privacy.answered"
    TOPIC: ClassVar[str] = RESPONSES_TOPIC
    KEY_FIELD: ClassVar[str] = "request_id"

    request_id: str = Field(min_length=1, max_length=100)
    service: str = Field(min_length=1, max_length=100)
    kind: RequestKind
    items: list[PrivacyItem] = Field(default_factory=list)
    answered_at: AwareDatetime

    @property
    def held_nothing(self) -> bool:
        return not self.items


def answer_event_id(request_id: str, service: str) -> str:
    """One answer per service and request: a redelivered request cannot make a second one."""
    return f"privacy-answer:{request_id}:{service}"
