"""The delivery state of one notification and how Twilio's statuses and error codes map onto it.

States only move forward: queued < sent < delivered, and failed, undeliverable, opted_out end it. Delivered is
final as well, so a late "sent" (callbacks arrive out of order) or a stray failure never takes it back. "failed"
means the message did not arrive for a reason that may pass (handset off, carrier trouble, unknown error);
"undeliverable" means this number will not take SMS (invalid, unknown, landline, blocked); "opted_out" means the
recipient asked not to get messages.

Issue 23 adds three: "throttled" (waiting: the number had its hourly share of messages; sent later, so
queued < throttled < sent), "expired" (final: its validity passed before it could be sent) and "deduplicated"
(final: the same text went to the same number within the hour, so it was not sent again).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class DeliveryStatus(StrEnum):
    QUEUED = "queued"
    THROTTLED = "throttled"
    SENT = "sent"
    DELIVERED = "delivered"
    FAILED = "failed"
    UNDELIVERABLE = "undeliverable"
    OPTED_OUT = "opted_out"
    EXPIRED = "expired"
    DEDUPLICATED = "deduplicated"


_RANK = {
    DeliveryStatus.QUEUED: 0,
    DeliveryStatus.THROTTLED: 1,
    DeliveryStatus.SENT: 2,
    DeliveryStatus.DELIVERED: 3,
    DeliveryStatus.FAILED: 4,
    DeliveryStatus.UNDELIVERABLE: 4,
    DeliveryStatus.OPTED_OUT: 4,
    DeliveryStatus.EXPIRED: 4,
    DeliveryStatus.DEDUPLICATED: 4,
}
FINAL = frozenset(
    {DeliveryStatus.DELIVERED, DeliveryStatus.FAILED, DeliveryStatus.UNDELIVERABLE, DeliveryStatus.OPTED_OUT,
     DeliveryStatus.EXPIRED, DeliveryStatus.DEDUPLICATED}
)


def can_move(current: DeliveryStatus, new: DeliveryStatus) -> bool:
    """True when `new` is a step forward from `current` (a repeat of the same state is not a step)."""
    return current not in FINAL and _RANK[new] > _RANK[current]


def advance(current: DeliveryStatus, new: DeliveryStatus) -> DeliveryStatus:
    """The state after an observation of `new`: `new` if it moves forward, else `current` unchanged."""
    return new if can_move(current, new) else current


# Twilio error codes (https://www.twilio.com/docs/api/errors) and what they mean for us.
ERROR_STATUS: dict[int, DeliveryStatus] = {
    21211: DeliveryStatus.UNDELIVERABLE,  # invalid 'To' phone number
    21214: DeliveryStatus.UNDELIVERABLE,  # 'To' phone number cannot be reached
    21217: DeliveryStatus.UNDELIVERABLE,  # phone number does not appear to be valid
    21612: DeliveryStatus.UNDELIVERABLE,  # 'To' number is not currently reachable via SMS
    21614: DeliveryStatus.UNDELIVERABLE,  # 'To' number is not a valid mobile number
    21408: DeliveryStatus.FAILED,  # permission to send an SMS has not been enabled for the region
    21610: DeliveryStatus.OPTED_OUT,  # attempt to send to unsubscribed recipient (replied STOP)
    30001: DeliveryStatus.FAILED,  # queue overflow
    30002: DeliveryStatus.FAILED,  # account suspended
    30003: DeliveryStatus.FAILED,  # unreachable destination handset (off, out of coverage): may pass
    30004: DeliveryStatus.UNDELIVERABLE,  # message blocked (by the recipient or their carrier)
    30005: DeliveryStatus.UNDELIVERABLE,  # unknown destination handset (number does not exist)
    30006: DeliveryStatus.UNDELIVERABLE,  # landline or unreachable carrier
    30007: DeliveryStatus.FAILED,  # carrier violation (filtered as spam)
    30008: DeliveryStatus.FAILED,  # unknown error
}
ERROR_REASON: dict[int, str] = {
    21211: "invalid_number",
    21214: "unreachable_number",
    21217: "invalid_number",
    21612: "not_sms_capable",
    21614: "not_mobile",
    21408: "region_not_enabled",
    21610: "unsubscribed",
    30001: "queue_overflow",
    30002: "account_suspended",
    30003: "unreachable_handset",
    30004: "blocked",
    30005: "unknown_handset",
    30006: "landline_or_unreachable_carrier",
    30007: "carrier_filtered",
    30008: "unknown_error",
}

_TWILIO_STATUS: dict[str, DeliveryStatus] = {
    "accepted": DeliveryStatus.QUEUED,
    "scheduled": DeliveryStatus.QUEUED,
    "queued": DeliveryStatus.QUEUED,
    "sending": DeliveryStatus.SENT,
    "sent": DeliveryStatus.SENT,
    "delivered": DeliveryStatus.DELIVERED,
    "read": DeliveryStatus.DELIVERED,
    "undelivered": DeliveryStatus.FAILED,
    "failed": DeliveryStatus.FAILED,
    "canceled": DeliveryStatus.FAILED,
}


@dataclass(frozen=True)
class Observation:
    """What one Twilio answer or callback tells us."""

    status: DeliveryStatus
    reason: str | None = None


def reason_for(error_code: int | None) -> str | None:
    if error_code is None:
        return None
    return ERROR_REASON.get(error_code, f"twilio_{error_code}")


def from_error_code(error_code: int) -> Observation:
    """The outcome of a message Twilio refused (REST error) or could not deliver (callback ErrorCode)."""
    return Observation(ERROR_STATUS.get(error_code, DeliveryStatus.FAILED), reason_for(error_code))


def from_twilio(message_status: str, error_code: int | None = None) -> Observation | None:
    """Map a Twilio MessageStatus (and ErrorCode) to our state; None for statuses that are not ours (inbound)."""
    status = _TWILIO_STATUS.get(message_status.strip().lower())
    if status is None:
        return None
    if status is DeliveryStatus.FAILED and error_code is not None:
        return from_error_code(error_code)
    return Observation(status, reason_for(error_code) if status is DeliveryStatus.FAILED else None)


_CALL_STATUS: dict[str, Observation] = {
    "queued": Observation(DeliveryStatus.QUEUED),
    "initiated": Observation(DeliveryStatus.QUEUED),
    "ringing": Observation(DeliveryStatus.SENT),
    "in-progress": Observation(DeliveryStatus.SENT),
    "completed": Observation(DeliveryStatus.DELIVERED),  # picked up (what was pressed reaches intake, not us)
    "busy": Observation(DeliveryStatus.FAILED, "busy"),
    "no-answer": Observation(DeliveryStatus.FAILED, "no_answer"),
    "failed": Observation(DeliveryStatus.FAILED, "call_failed"),
    "canceled": Observation(DeliveryStatus.FAILED, "canceled"),
}


def from_twilio_call(call_status: str) -> Observation | None:
    """Map a Twilio CallStatus to our state; None for one we do not know."""
    return _CALL_STATUS.get(call_status.strip().lower())


def parse_error_code(raw: str | int | None) -> int | None:
    if raw is None or raw == "":
        return None
    try:
        return int(raw)
    except (TypeError, ValueError):
        return None
