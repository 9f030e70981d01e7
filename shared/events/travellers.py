"""Topic `travellers.registrations` (compacted, key traveller_id): registrations of Belgians abroad."""

from __future__ import annotations

from datetime import date
from typing import ClassVar

from pydantic import EmailStr, Field, model_validator

from shared.events.common import E164, PERSONAL, CountryCode, Language, Point
from shared.events.envelope import EventData

TOPIC = "travellers.registrations"


class TravellerRegistered(EventData):
    TYPE: ClassVar[str] = "be.diplomatie.traveller.registered"
    TOPIC: ClassVar[str] = TOPIC
    KEY_FIELD: ClassVar[str] = "traveller_id"

    traveller_id: str = Field(min_length=1, max_length=200)
    full_name: str = Field(min_length=1, max_length=300, json_schema_extra=PERSONAL)
    phone: E164 | None = Field(default=None, json_schema_extra=PERSONAL)
    email: EmailStr | None = Field(default=None, json_schema_extra=PERSONAL)
    language: Language
    country: CountryCode
    city: str | None = Field(default=None, max_length=200, json_schema_extra=PERSONAL)
    location: Point | None = Field(default=None, json_schema_extra=PERSONAL)
    arrival: date
    departure: date

    @model_validator(mode="after")
    def _reachable_and_ordered(self) -> TravellerRegistered:
        if self.phone is None and self.email is None:
            raise ValueError("at least one of phone or email is required")
        if self.departure < self.arrival:
            raise ValueError("departure must not be before arrival")
        return self


class TravellerCancelled(EventData):
    TYPE: ClassVar[str] = "be.diplomatie.traveller.cancelled"
    TOPIC: ClassVar[str] = TOPIC
    KEY_FIELD: ClassVar[str] = "traveller_id"

    traveller_id: str = Field(min_length=1, max_length=200)
