"""The report accepted by `POST /v1/reports` (contract, intake section) and its validation rules.

Custom rules raise `PydanticCustomError` whose error type *is* the rule name, so `errors.describe` can report
`{field, rule, message}` without guessing from messages.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Annotated, Any

import email_validator
import phonenumbers
import pycountry
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    model_validator,
)
from pydantic_core import PydanticCustomError

from shared.countries import country_pattern
from shared.events.common import JSON_NUMBER

DEFAULT_PHONE_REGION = "BE"
"""Numbers written without `+` are read as Belgian ones (duty officers type `0470 12 34 56`)."""


class Kind(StrEnum):
    LOST_DOCUMENT = "lost_document"
    DETENTION = "detention"
    MISSING_PERSON = "missing_person"
    SERIOUS_DIFFICULTY = "serious_difficulty"
    INFORMATION_REQUEST = "information_request"
    COMPLAINT = "complaint"


class Channel(StrEnum):
    PHONE = "phone"
    SMS = "sms"
    EMAIL = "email"
    POST = "post"
    WEB = "web"
    COUNTER = "counter"


class Language(StrEnum):
    FR = "fr"
    NL = "nl"
    DE = "de"
    EN = "en"


class Status(StrEnum):
    RECEIVED = "received"
    IN_PROGRESS = "in_progress"
    WAITING_FOR_CITIZEN = "waiting_for_citizen"
    FORWARDED = "forwarded"
    CLOSED = "closed"
    REOPENED = "reopened"


def normalise_phone(value: str, default_region: str = DEFAULT_PHONE_REGION) -> str:
    """Parse a phone number and return it in E.164; raises the `e164` rule when it is not a valid number."""
    try:
        parsed = phonenumbers.parse(value, None if value.strip().startswith("+") else default_region)
    except phonenumbers.NumberParseException as exc:
        raise PydanticCustomError("e164", "not a phone number: {reason}", {"reason": str(exc)}) from exc
    if not phonenumbers.is_valid_number(parsed):
        raise PydanticCustomError("e164", "not a valid phone number for its country")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def _phone(value: Any) -> Any:
    if isinstance(value, str):
        return normalise_phone(value)
    return value


def normalise_country(value: str) -> str:
    """ISO 3166-1 alpha-2 code, upper case; raises the `iso3166_alpha2` rule otherwise."""
    code = value.strip().upper()
    if len(code) != 2 or pycountry.countries.get(alpha_2=code) is None:
        raise PydanticCustomError("iso3166_alpha2", "not an ISO 3166-1 alpha-2 country code")
    return code


def _country(value: Any) -> Any:
    if isinstance(value, str):
        return normalise_country(value)
    return value


def _email(value: str) -> str:
    value = value.strip()
    local, _, domain = value.rpartition("@")
    if not local or "." not in domain or " " in value or domain.startswith(".") or domain.endswith("."):
        raise PydanticCustomError("email", "not an email address")
    try:  # what the events' EmailStr accepts (ReportSubmitted): an address it refuses made a 500 after the insert
        email_validator.validate_email(value, check_deliverability=False)
    except email_validator.EmailNotValidError as exc:
        raise PydanticCustomError("email", "not an email address: {reason}", {"reason": str(exc)}) from exc
    return value


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise PydanticCustomError("timezone", "a timestamp must carry its UTC offset (RFC 3339)")
    return value


def _not_future_date(value: date) -> date:
    if value > datetime.now(UTC).date():
        raise PydanticCustomError("not_in_future", "a date of birth cannot be in the future")
    return value


Phone = Annotated[str, BeforeValidator(_phone)]
#: The schemas state what the validators accept (white space around is stripped first).
Country = Annotated[str, BeforeValidator(_country), Field(json_schema_extra={"pattern": country_pattern(padded=True)})]
EMAIL_PATTERN = r"^\s*[^\s][^ ]*@[^ @.][^@ ]*\.[^@ ]*[^\s@.]\s*$"
Email = Annotated[str, Field(max_length=254, json_schema_extra={"pattern": EMAIL_PATTERN}), AfterValidator(_email)]
AwareDatetime = Annotated[datetime, AfterValidator(_aware)]
Text = Annotated[str, Field(min_length=1, max_length=200, pattern=r"\S")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)


def _one_of_them_given(*names: str) -> dict[str, Any]:
    return {"anyOf": [{"required": [name], "properties": {name: {"type": "string"}}} for name in names]}


class Reporter(_Strict):
    """Reachable: at least one of phone, email and address; the sms channel needs the phone, the email channel the
    email. The phone must be a valid number for its country (libphonenumber: 422 rule `e164` otherwise)."""

    model_config = ConfigDict(json_schema_extra={**_one_of_them_given("phone", "email", "address"), "allOf": [
        {"if": {"required": ["channel"], "properties": {"channel": {"const": channel}}},
         "then": _one_of_them_given(field)} for channel, field in (("sms", "phone"), ("email", "email"))]})
    full_name: Text
    phone: Phone | None = None
    email: Email | None = None
    address: Annotated[str, Field(min_length=1, max_length=500, pattern=r"\S")] | None = None
    """Postal address: our addition to the contract, used for letters when the channel is post."""
    language: Language
    channel: Channel

    @model_validator(mode="after")
    def _reachable(self) -> Reporter:
        if not (self.phone or self.email or self.address):
            raise PydanticCustomError(
                "contact_required", "at least one way to reach the reporter is needed: phone, email or address")
        if self.channel is Channel.SMS and not self.phone:
            raise PydanticCustomError("phone_required_for_channel", "the sms channel needs the reporter's phone")
        if self.channel is Channel.EMAIL and not self.email:
            raise PydanticCustomError("email_required_for_channel", "the email channel needs the reporter's email")
        return self


class Subject(_Strict):
    full_name: Text
    date_of_birth: Annotated[date, AfterValidator(_not_future_date)] | None = None
    nationality: Country | None = None
    phone: Phone | None = None  # the sought person's own number, when the family knows it (matching, issue 18)


class Location(_Strict):
    country: Country
    city: Text | None = None
    lat: Annotated[float, Field(ge=-90, le=90), JSON_NUMBER] | None = None
    lon: Annotated[float, Field(ge=-180, le=180), JSON_NUMBER] | None = None

    @model_validator(mode="after")
    def _both_coordinates(self) -> Location:
        if (self.lat is None) != (self.lon is None):
            raise PydanticCustomError("lat_lon_together", "lat and lon go together")
        return self


class ReportIn(_Strict):
    """The body of `POST /v1/reports`."""

    kind: Kind
    reporter: Reporter
    subject: Subject | None = None
    location: Location
    description: Annotated[str, Field(min_length=1, max_length=10_000, pattern=r"\S")]
    occurred_at: AwareDatetime | None = None
    complex: bool = False
    forward_to: Text | None = None
    """Our addition: the competent service when an information request is not for this ministry."""

    @model_validator(mode="after")
    def _forward_only_information(self) -> ReportIn:
        if self.forward_to is not None and self.kind is not Kind.INFORMATION_REQUEST:
            raise PydanticCustomError(
                "forward_only_information_request", "only an information request can be forwarded")
        return self
