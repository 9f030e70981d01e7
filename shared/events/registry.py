"""The map from a CloudEvent `type` to its data model, and the parsing of `data` by type."""

from __future__ import annotations

from pydantic import ValidationError

from shared.events import (
    crisis,
    deadlines,
    directory,
    families,
    incidents,
    notifications,
    privacy,
    reports,
    travellers,
    welfare,
)
from shared.events.envelope import CloudEvent, EventData, InvalidEvent, describe_validation_error

EVENT_MODELS: tuple[type[EventData], ...] = (
    travellers.TravellerRegistered,
    travellers.TravellerCancelled,
    incidents.IncidentReported,
    incidents.IncidentUpdated,
    incidents.IncidentClosed,
    reports.ReportSubmitted,
    crisis.CrisisActivated,
    crisis.CrisisUpdated,
    crisis.CrisisClosed,
    notifications.NotificationStatus,
    notifications.SendNotification,
    notifications.SmsPreference,
    directory.CaseRouted,
    directory.PostChanged,
    deadlines.DeadlineApproaching,
    deadlines.DeadlineMissed,
    privacy.PrivacyRequested,
    privacy.PrivacyAnswered,
    welfare.WelfareAsked,
    welfare.WelfareReplied,
    welfare.WelfareAnswered,
    families.InquiryUpdated,
)
MODELS_BY_TYPE: dict[str, type[EventData]] = {model.TYPE: model for model in EVENT_MODELS}


def types_on(topic: str) -> list[str]:
    return [model.TYPE for model in EVENT_MODELS if topic == model.TOPIC]


def parse_data(event: CloudEvent, *, topic: str | None = None) -> EventData:
    """Validate an event's data against the model of its type; raises InvalidEvent naming the rule."""
    model = MODELS_BY_TYPE.get(event.type)
    if model is None:
        raise InvalidEvent(f"unknown event type {event.type!r}")
    if topic is not None and topic != model.TOPIC:
        raise InvalidEvent(f"event type {event.type!r} does not belong on topic {topic!r}")
    try:
        return model.model_validate(event.data)
    except ValidationError as exc:
        raise InvalidEvent(f"invalid data for {event.type}: {describe_validation_error(exc)}") from exc
