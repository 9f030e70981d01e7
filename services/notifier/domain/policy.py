"""Which messages go first, which channel a message takes, and the key that makes a send happen once."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum, StrEnum


class Channel(StrEnum):
    SMS = "sms"
    EMAIL = "email"
    VOICE = "voice"


class Priority(IntEnum):
    """Lower goes first: people in a crisis, then people who just reported a case, then bulk (surveys, closures)."""

    CRISIS = 0
    CASE = 1
    BULK = 2


_TEMPLATE_PRIORITY = {
    "crisis_alert": Priority.CRISIS,
    "crisis_update": Priority.CRISIS,
    "case_acknowledgement": Priority.CASE,
    "case_message": Priority.CASE,
    "crisis_closed": Priority.BULK,
    "survey_request": Priority.BULK,
}


def priority_for(template: str, requested: str | int | None = None) -> Priority:
    """The requested priority when one is given (a name or a number), else the template's own."""
    if isinstance(requested, int) and not isinstance(requested, bool):
        return Priority(min(max(requested, Priority.CRISIS), Priority.BULK))
    if isinstance(requested, str) and requested.strip():
        name = requested.strip().upper()
        if name in Priority.__members__:
            return Priority[name]
        aliases = {"HIGH": Priority.CRISIS, "URGENT": Priority.CRISIS, "NORMAL": Priority.CASE, "LOW": Priority.BULK}
        if name in aliases:
            return aliases[name]
    return _TEMPLATE_PRIORITY.get(template, Priority.BULK)


def normalise_recipient(channel: Channel, recipient: str) -> str:
    """Phone numbers are E.164 already (spaces dropped); e-mail addresses compare without case."""
    value = recipient.strip()
    if channel is Channel.EMAIL:
        return value.lower()
    return "".join(value.split())


def dedup_key(purpose: str, channel: Channel, recipient: str) -> str:
    """One message per purpose, recipient and channel: the unique key in the database."""
    return f"{purpose.strip()}|{channel.value}|{normalise_recipient(channel, recipient)}"


class Route(StrEnum):
    SEND = "send"
    OPTED_OUT = "opted_out"


@dataclass(frozen=True)
class Decision:
    route: Route
    channel: Channel
    recipient: str


def route(
    *,
    channel: Channel,
    recipient: str,
    opted_out: bool,
    own_open_case: bool,
    fallback_email: str | None,
) -> Decision:
    """Skip numbers that opted out, except a message about the person's own open case, which goes by e-mail
    when an address is known (opt-out stops bulk and alerts, not the answer to someone's own request)."""
    if channel is Channel.SMS and opted_out:
        if own_open_case and fallback_email:
            return Decision(Route.SEND, Channel.EMAIL, fallback_email)
        return Decision(Route.OPTED_OUT, channel, recipient)
    return Decision(Route.SEND, channel, recipient)


def is_retryable_http(status: int) -> bool:
    """429 and 5xx are worth another try; any other 4xx is Twilio's final word on this message."""
    return status == 429 or 500 <= status <= 599


def mask_address(address: str) -> str:
    """For screens and logs: '+32470123456' -> '+32*******56', 'anne@example.be' -> 'a***@example.be'."""
    if "@" in address:
        local, _, domain = address.partition("@")
        return f"{local[:1]}***@{domain}"
    if len(address) <= 5:
        return "*" * len(address)
    return address[:3] + "*" * (len(address) - 5) + address[-2:]
