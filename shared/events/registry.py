"""The map from a CloudEvent `type` to its data model, and the parsing of `data` by type (older data versions
brought up to date first by the type's upcasters: docs/CONVENTIONS.md, "Event versions")."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

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


#: The CloudEvents extension attribute that carries the version of `data` (absent: version 1).
DATAVERSION = "dataversion"

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]


class _Upcasters(dict[tuple[str, int], Upcaster]):
    """A dict that keeps each type's current version (asked twice per event handled: decode and encode) and
    forgets it on any change: tests register and remove upcasters of their own."""

    def __init__(self) -> None:
        super().__init__()
        self.versions: dict[str, int] = {}

    def _changed(self) -> None:
        self.versions.clear()

    def __setitem__(self, key: tuple[str, int], value: Upcaster) -> None:
        super().__setitem__(key, value)
        self._changed()

    def __delitem__(self, key: tuple[str, int]) -> None:
        super().__delitem__(key)
        self._changed()

    def clear(self) -> None:
        super().clear()
        self._changed()

    def update(self, *args: Any, **kwargs: Any) -> None:
        super().update(*args, **kwargs)
        self._changed()

    def pop(self, *args: Any) -> Any:
        self._changed()
        return super().pop(*args)

    def popitem(self) -> tuple[tuple[str, int], Upcaster]:
        self._changed()
        return super().popitem()

    def setdefault(self, key: tuple[str, int], default: Upcaster) -> Upcaster:  # type: ignore[override]
        self._changed()
        return super().setdefault(key, default)

    def __ior__(self, other: Any) -> _Upcasters:  # type: ignore[override,misc]
        super().update(other)
        self._changed()
        return self


#: (type, dataversion) -> the function turning data of that version into the next version's shape. A type whose
#: data changed incompatibly has one per older version; parse_data chains them up to the current model.
UPCASTERS: _Upcasters = _Upcasters()


def upcaster(event_type: str, from_version: int) -> Callable[[Upcaster], Upcaster]:
    """Register a function bringing `event_type` data of `from_version` to `from_version + 1`."""
    def register(function: Upcaster) -> Upcaster:
        if (event_type, from_version) in UPCASTERS:
            raise ValueError(f"an upcaster of {event_type} version {from_version} is registered already")
        UPCASTERS[(event_type, from_version)] = function
        return function
    return register


def current_version(event_type: str) -> int:
    """The data version the model of `event_type` reads: one above its newest upcaster, 1 without any."""
    version = UPCASTERS.versions.get(event_type)
    if version is None:
        version = 1 + max((version for (kind, version) in UPCASTERS if kind == event_type), default=0)
        UPCASTERS.versions[event_type] = version
    return version


def data_version(event: CloudEvent) -> int:
    """The `dataversion` extension attribute of an event (a positive integer, 1 when absent)."""
    raw = (event.model_extra or {}).get(DATAVERSION, 1)
    version = int(raw) if isinstance(raw, int) or (isinstance(raw, str) and raw.isdigit()) else 0
    if isinstance(raw, bool) or version < 1:
        raise InvalidEvent(f"{DATAVERSION} must be a positive integer, not {raw!r}")
    return version


def upcast(event_type: str, version: int, data: dict[str, Any]) -> dict[str, Any]:
    """`data` of `version` in the shape of the current model (unchanged when it is current)."""
    latest = current_version(event_type)
    if version > latest:
        # Consumers are deployed before the producers of a new version: this one is older than the event.
        raise InvalidEvent(f"{event_type} data version {version} is newer than this service reads ({latest})")
    while version < latest:
        function = UPCASTERS.get((event_type, version))
        if function is None:
            raise InvalidEvent(f"no upcaster from {event_type} data version {version}")
        try:
            data = function(data)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:  # old data too malformed to bring up
            raise InvalidEvent(f"{event_type} data version {version} cannot be upcast: {exc!r}") from exc
        version += 1
    return data


# --- upcasters, one per type and older version (docs/CONVENTIONS.md, "Events") -------------------------------------

#: SendNotification version 1: the names senders could use for a template parameter (the notifier's `_ALIASES`
#: until version 2); the templates read the first.
_SEND_V1_ALIASES: dict[str, tuple[str, ...]] = {
    "crisis_title": ("title",),
    "hotline_number": ("hotline", "hotline_phone"),
    "message": ("body", "text"),
    "reply_due_by": ("due", "reply_due", "due_by"),
    "instructions": ("what_to_do",),
}


@upcaster(notifications.SendNotification.TYPE, 1)
def _send_notification_v1(data: dict[str, Any]) -> dict[str, Any]:
    """Version 1's `params` were free: the notifier added what the template read (an alias's value under the
    template's name, the officer's card from `officer`, `reference` from `case_reference`, `crisis_id`). Version 2's
    are exactly the template's model (notifications.TEMPLATE_PARAMS): the same filling here, then the keys the model
    does not know dropped. Data too malformed for that is left as it is, for the model to refuse."""
    params = data.get("params", {})
    if not isinstance(params, dict):
        return data
    out = dict(params)
    for name, aliases in _SEND_V1_ALIASES.items():
        alias = next((alias for alias in aliases if alias in out), None)
        if name not in out and alias is not None:
            out[name] = out[alias]
    if data.get("officer") is not None and "officer" not in out:
        out["officer"] = data["officer"]
    if data.get("case_reference") is not None:
        out.setdefault("reference", data["case_reference"])
    if data.get("crisis_id") is not None:
        out.setdefault("crisis_id", data["crisis_id"])  # as version 1 did; no template reads it (dropped below)
    model = notifications.TEMPLATE_PARAMS.get(data["template"]) if isinstance(data.get("template"), str) else None
    if model is not None:
        out = {key: value for key, value in out.items() if key in model.model_fields}
    return {**data, "params": out}


def types_on(topic: str) -> list[str]:
    return [model.TYPE for model in EVENT_MODELS if topic == model.TOPIC]


def parse_data(event: CloudEvent, *, topic: str | None = None) -> EventData:
    """Validate an event's data against the model of its type; raises InvalidEvent naming the rule."""
    model = MODELS_BY_TYPE.get(event.type)
    if model is None:
        raise InvalidEvent(f"unknown event type {event.type!r}")
    if topic is not None and topic != model.TOPIC:
        raise InvalidEvent(f"event type {event.type!r} does not belong on topic {topic!r}")
    data = upcast(event.type, data_version(event), event.data)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise InvalidEvent(f"invalid data for {event.type}: {describe_validation_error(exc)}") from exc
