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
    "crisis_followup": Priority.CRISIS,
    "case_acknowledgement": Priority.CASE,
    "case_message": Priority.CASE,
    "case_provisional_reply": Priority.CASE,
    "case_forward_notice": Priority.CASE,
    "case_family_safe_notice": Priority.CASE,
    "case_forwarded_request": Priority.CASE,
    "crisis_closed": Priority.BULK,
    "survey_request": Priority.BULK,
}


#: A requested priority's names: the members' own and the usual words for them (built once: `Priority.__members__`
#: is a new mapping proxy at each access, a fifth of a stored command's routing time).
_PRIORITY_BY_NAME: dict[str, Priority] = {
    **{member.name: member for member in Priority},
    "HIGH": Priority.CRISIS, "URGENT": Priority.CRISIS, "NORMAL": Priority.CASE, "LOW": Priority.BULK}


def priority_for(template: str, requested: str | int | None = None) -> Priority:
    """The requested priority when one is given (a name or a number), else the template's own."""
    if isinstance(requested, int) and not isinstance(requested, bool):
        return Priority(min(max(requested, Priority.CRISIS), Priority.BULK))
    if isinstance(requested, str) and requested.strip():
        chosen = _PRIORITY_BY_NAME.get(requested.strip().upper())
        if chosen is not None:
            return chosen
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


# --- Issue 23: channel fallback and validity, per purpose (the template names the purpose's kind) -----------------
#: When a message ends `failed` or `undeliverable` (an SMS's final status callback, or the provider's refusal), the
#: next channel of its purpose's order that the person can be reached on gets the same message; an opt-out is
#: honoured (no fallback after `opted_out`, no call to a number that opted out). Purposes not listed have none:
#: case messages go back through the channel the request came in on only (the users' charter), staff and survey
#: messages do not chase anyone, and the welfare check escalates to its own call (issue 17).
FALLBACK_ORDER: dict[str, tuple[Channel, ...]] = {
    "crisis_alert": (Channel.SMS, Channel.EMAIL, Channel.VOICE),
    "crisis_update": (Channel.SMS, Channel.EMAIL, Channel.VOICE),
    "crisis_followup": (Channel.SMS, Channel.EMAIL, Channel.VOICE),
    "crisis_closed": (Channel.SMS, Channel.EMAIL),  # the all-clear: worth an e-mail, not a call
}

#: How long a message stays relevant, in seconds (None: always). An SMS carries what is left of it as Twilio's
#: `ValidityPeriod` (1 to 36,000 s: Twilio drops it from its queue after that), and a message still unsent when its
#: validity ends (an outage, the per-number limit) ends `expired` instead of going out late.
VALIDITY_SECONDS: dict[str, int | None] = {
    "crisis_alert": 4 * 3600,
    "crisis_update": 4 * 3600,
    "crisis_followup": 4 * 3600,
    "crisis_closed": 12 * 3600,
    "welfare_question": 4 * 3600,
    "welfare_call": 3600,
    "check_in_code": 3600,
    "crisis_proposal": 3600,
    "staff_deadline": 4 * 3600,
    "survey_request": 7 * 24 * 3600,
    "case_acknowledgement": None,  # the answer to someone's own request: late beats never
    "case_message": None,
    "case_provisional_reply": None,
    "case_forward_notice": None,
    "case_family_safe_notice": None,
    "case_forwarded_request": None,
}
DEFAULT_VALIDITY_SECONDS = 24 * 3600
TWILIO_MAX_VALIDITY_SECONDS = 36000


def fallback_order(template: str) -> tuple[Channel, ...]:
    return FALLBACK_ORDER.get(template, ())


#: Failure reasons (domain/delivery.py ERROR_REASON) that say the number itself does not exist: no call to it.
NO_SUCH_NUMBER = frozenset({"invalid_number", "unknown_handset"})


def next_fallback(template: str, failed: Channel, *, email: str | None, phone: str | None,
                  tried: frozenset[Channel] = frozenset(), reason: str | None = None) -> Channel | None:
    """The channel after `failed` in the purpose's order that has an address and was not tried; None: no more.
    A number that does not exist (`NO_SUCH_NUMBER`) is not called; a landline or a number that cannot take SMS is:
    that is what the call is for."""
    order = fallback_order(template)
    if failed not in order:
        return None
    if reason in NO_SUCH_NUMBER:
        phone = None
    for channel in order[order.index(failed) + 1:]:
        if channel in tried:
            continue
        if channel is Channel.EMAIL and email:
            return channel
        if channel in (Channel.SMS, Channel.VOICE) and phone:
            return channel
    return None


def validity_seconds(template: str) -> int | None:
    return VALIDITY_SECONDS.get(template, DEFAULT_VALIDITY_SECONDS)


def twilio_validity(seconds_left: float | None) -> int | None:
    """The `ValidityPeriod` to give Twilio for what is left of a message's validity (None: Twilio's default)."""
    if seconds_left is None:
        return None
    return int(min(max(seconds_left, 1), TWILIO_MAX_VALIDITY_SECONDS))
