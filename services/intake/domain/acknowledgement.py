"""Acknowledging a report through the channel it came in, in the reporter's language."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from services.intake.domain import texts
from services.intake.domain.model import Channel, Language
from services.intake.domain.officers import OfficerCard


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
class Message:
    channel: AckChannel
    to: str
    subject: str
    body: str
    language: Language


def _recipient(channel: AckChannel, phone: str | None, email: str | None, address: str | None) -> str:
    value = {AckChannel.SMS: phone, AckChannel.EMAIL: email, AckChannel.LETTER: address}[channel]
    if not value:
        raise Unreachable(f"no {channel} address")
    return value


def _message(template: texts.T, *, channel: AckChannel, phone: str | None, email: str | None,
             address: str | None, language: Language, reference: str, **values: object) -> Message:
    body = texts.render(template, language, reference=reference, **values)
    return Message(channel=channel, to=_recipient(channel, phone, email, address),
                   subject=texts.render(texts.ACK_SUBJECT, language, reference=reference), body=body,
                   language=language)


def acknowledgement(
    *,
    channel: AckChannel,
    language: Language,
    reference: str,
    due: date,
    officer: OfficerCard,
    phone: str | None = None,
    email: str | None = None,
    address: str | None = None,
) -> Message:
    """The acknowledgement: reference, reply date and officer card."""
    return _message(texts.ACK_BODY, channel=channel, phone=phone, email=email, address=address,
                    language=language, reference=reference, due=texts.long_date(due, language),
                    officer=officer.one_line())


def provisional_reply(
    *, channel: AckChannel, language: Language, reference: str, reply_due: date, officer: OfficerCard,
    phone: str | None = None, email: str | None = None, address: str | None = None,
) -> Message:
    """The provisional reply of a complex case, stating the expected delay."""
    return _message(texts.PROVISIONAL_BODY, channel=channel, phone=phone, email=email, address=address,
                    language=language, reference=reference, due=texts.long_date(reply_due, language),
                    officer=officer.one_line())


def forward_notice(
    *, channel: AckChannel, language: Language, reference: str, service: str, officer: OfficerCard,
    phone: str | None = None, email: str | None = None, address: str | None = None,
) -> Message:
    """Notice that an information request went to the competent service."""
    return _message(texts.FORWARD_BODY, channel=channel, phone=phone, email=email, address=address,
                    language=language, reference=reference, service=service, officer=officer.one_line())
