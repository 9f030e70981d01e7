"""Through which channel, and to which address, a case's messages go: the one the report came in on."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from services.intake.domain.model import Channel, Language


class AckChannel(StrEnum):
    SMS = "sms"
    EMAIL = "email"
    LETTER = "letter"


class Unreachable(ValueError):
    """The reporter gave nothing the acknowledgement channel can use."""


def ack_channel(channel: Channel, *, phone: str | None, email: str | None, address: str | None = None) -> AckChannel:
    """sms -> SMS; email, web -> email; phone, counter -> SMS, else email; post -> a letter in the print queue.

    When the natural channel has no address (a web form with only a phone), the other electronic one is used.
    """
    if channel is Channel.POST:
        if address:
            return AckChannel.LETTER
        preferred: tuple[AckChannel, ...] = (AckChannel.EMAIL, AckChannel.SMS)
    elif channel in (Channel.EMAIL, Channel.WEB):
        preferred = (AckChannel.EMAIL, AckChannel.SMS)
    else:  # sms, phone, counter
        preferred = (AckChannel.SMS, AckChannel.EMAIL)
    for candidate in preferred:
        if candidate is AckChannel.SMS and phone:
            return candidate
        if candidate is AckChannel.EMAIL and email:
            return candidate
    if address:
        return AckChannel.LETTER
    raise Unreachable("no phone, email or address to acknowledge the report")


@dataclass(frozen=True)
class Destination:
    """Where a message about a case goes: its channel, the address on it, the person's language. What it says is
    the notifier's template (shared/notifications), rendered by intake too for the case's history and letters."""

    channel: AckChannel
    to: str
    language: Language


def destination(channel: AckChannel, language: Language, *, phone: str | None = None, email: str | None = None,
                address: str | None = None) -> Destination:
    """The address `channel` needs, from what the person gave; Unreachable when it is missing."""
    value = {AckChannel.SMS: phone, AckChannel.EMAIL: email, AckChannel.LETTER: address}[channel]
    if not value:
        raise Unreachable(f"no {channel} address")
    return Destination(channel=channel, to=value, language=language)
