"""CloudEvents 1.0 structured JSON envelope and the base of every event model on the wire."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_core import to_json

SPECVERSION = "1.0"
CONTENT_TYPE = "application/cloudevents+json"


class InvalidEvent(ValueError):
    """A message that cannot be parsed or validated; its reason goes to the dead-letter topic."""


class EventData(BaseModel):
    """Base of every event's `data`. Unknown extra fields are ignored (additive evolution)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    TYPE: ClassVar[str]
    TOPIC: ClassVar[str]
    KEY_FIELD: ClassVar[str]

    def key(self) -> str:
        return str(getattr(self, self.KEY_FIELD))


class CloudEvent(BaseModel):
    """A CloudEvents 1.0 event in structured mode; extension attributes (e.g. `traceparent`) are kept."""

    model_config = ConfigDict(extra="allow")

    specversion: str = SPECVERSION
    id: str = Field(min_length=1)
    source: str = Field(min_length=1)
    type: str = Field(min_length=1)
    time: datetime
    datacontenttype: str = "application/json"
    data: dict[str, Any]
    traceparent: str | None = None

    @field_validator("specversion")
    @classmethod
    def _supported_version(cls, value: str) -> str:
        if value != SPECVERSION:
            raise ValueError(f"specversion must be {SPECVERSION}")
        return value

    @field_validator("time")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("time must carry a time zone offset (RFC 3339)")
        return value


def new_event(
    data: EventData,
    *,
    source: str,
    event_id: str | None = None,
    traceparent: str | None = None,
    time: datetime | None = None,
) -> CloudEvent:
    """The event carrying `data`; with the `dataversion` extension attribute when its type is above version 1
    (docs/CONVENTIONS.md, "Events")."""
    from shared.events.registry import DATAVERSION, current_version  # the registry imports this module

    version = current_version(data.TYPE)
    return CloudEvent(
        id=event_id or str(uuid.uuid4()),
        source=source,
        type=data.TYPE,
        time=time or datetime.now(UTC),
        data=data.model_dump(mode="json"),
        traceparent=traceparent,
        **({DATAVERSION: version} if version > 1 else {}),
    )


def encode_new_event(data: EventData, *, source: str, event_id: str, traceparent: str | None = None,
                     time: datetime | None = None) -> bytes:
    """`encode(new_event(...))`, the same bytes, without building and dumping the CloudEvent model: an outbox row
    of a fan-out (a status event per message) costs a third of the time. Every argument is the caller's own, so
    only what the model would have refused is checked."""
    from shared.events.registry import DATAVERSION, current_version  # the registry imports this module

    if not (source and event_id):
        raise ValueError("an event needs a source and an id")
    at = time or datetime.now(UTC)
    if at.tzinfo is None:
        raise ValueError("time must carry a time zone offset (RFC 3339)")
    body: dict[str, Any] = {
        "specversion": SPECVERSION, "id": event_id, "source": source, "type": data.TYPE,
        "time": at.astimezone(UTC).isoformat().replace("+00:00", "Z"), "datacontenttype": "application/json",
        "data": data.model_dump(mode="json")}  # the envelope drops its own null attributes, not data's
    if traceparent is not None:
        body["traceparent"] = traceparent
    version = current_version(data.TYPE)
    if version > 1:
        body[DATAVERSION] = version
    return to_json(body)


def encode(event: CloudEvent) -> bytes:
    body = event.model_dump(mode="json", exclude_none=True)
    body["time"] = event.time.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return to_json(body)  # compact UTF-8 JSON, as json.dumps with separators and ensure_ascii=False, in Rust


def decode(raw: bytes | None) -> CloudEvent:
    """Parse a structured-mode CloudEvent; raises InvalidEvent with a readable reason."""
    if raw is None:
        raise InvalidEvent("empty message value (tombstone) where an event was expected")
    try:
        return CloudEvent.model_validate_json(raw)  # parsed and validated in one pass of pydantic-core
    except ValidationError as exc:
        first = exc.errors()[0]
        if first["type"] == "json_invalid":
            raise InvalidEvent(f"not JSON: {first['msg']}") from exc
        if first["type"] == "model_type" and not first["loc"]:
            raise InvalidEvent("a CloudEvent must be a JSON object") from exc
        raise InvalidEvent(f"not a CloudEvent: {describe_validation_error(exc)}") from exc


def describe_validation_error(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors()[:5]:
        where = ".".join(str(p) for p in error["loc"]) or "(root)"
        parts.append(f"{where}: {error['msg']}")
    return "; ".join(parts)


def describe_failure(exc: BaseException) -> str:
    """A dead letter's reason, fit for logs: pydantic's own message quotes the input (a phone number, an
    address), so a validation error is told by its fields and messages only."""
    if isinstance(exc, ValidationError):
        return f"ValidationError: {describe_validation_error(exc)}"
    return f"{type(exc).__name__}: {exc}"
