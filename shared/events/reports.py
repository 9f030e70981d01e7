"""Topic `consular.reports` (key: the case reference, or the producer's report id for reports coming in)."""

from __future__ import annotations

from datetime import date
from typing import ClassVar, Literal

from pydantic import AwareDatetime, EmailStr, Field

from shared.events.common import E164, PERSONAL, CountryCode, Language, WireModel
from shared.events.envelope import EventData

TOPIC = "consular.reports"

ReportKind = Literal[
    "lost_document", "detention", "missing_person", "serious_difficulty", "information_request", "complaint"
]
Channel = Literal["phone", "sms", "email", "post", "web", "counter"]
REFERENCE_PATTERN = r"^BE-\d{4}-\d{6}$"


class Reporter(WireModel):
    full_name: str = Field(min_length=1, max_length=300, json_schema_extra=PERSONAL)
    phone: E164 | None = Field(default=None, json_schema_extra=PERSONAL)
    email: EmailStr | None = Field(default=None, json_schema_extra=PERSONAL)
    language: Language
    channel: Channel


class Subject(WireModel):
    full_name: str = Field(min_length=1, max_length=300, json_schema_extra=PERSONAL)
    date_of_birth: date | None = Field(default=None, json_schema_extra=PERSONAL)
    nationality: CountryCode | None = None
    phone: E164 | None = Field(default=None, json_schema_extra=PERSONAL,
                               description="The person's own number, when the reporter knows it (an addition).")


class ReportLocation(WireModel):
    country: CountryCode
    city: str | None = Field(default=None, max_length=200)
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)


class ReportSubmitted(EventData):
    TYPE: ClassVar[str] = "be.diplomatie.report.submitted"
    TOPIC: ClassVar[str] = TOPIC
    KEY_FIELD: ClassVar[str] = "reference"

    reference: str | None = Field(default=None, pattern=REFERENCE_PATTERN)
    report_id: str | None = Field(default=None, max_length=200, description="The producer's id (external reports).")
    kind: ReportKind
    reporter: Reporter
    subject: Subject | None = None
    location: ReportLocation
    description: str = Field(max_length=10000, json_schema_extra=PERSONAL)
    occurred_at: AwareDatetime | None = None
    complex: bool = False
    received_at: AwareDatetime
    channel: Channel

    def key(self) -> str:
        return self.reference or self.report_id or ""
