from __future__ import annotations

import pytest

from services.intake.domain.acknowledgement import AckChannel, Destination, Unreachable, ack_channel, destination
from services.intake.domain.model import Channel, Language

PHONE, EMAIL, ADDRESS = "+32470123456", "x@example.be", "Rue de la Loi 1, 1000 Bruxelles"


@pytest.mark.parametrize(("channel", "expected"), [
    (Channel.SMS, AckChannel.SMS),
    (Channel.EMAIL, AckChannel.EMAIL),
    (Channel.WEB, AckChannel.EMAIL),
    (Channel.PHONE, AckChannel.SMS),
    (Channel.COUNTER, AckChannel.SMS),
    (Channel.POST, AckChannel.LETTER),
])
def test_channel_it_came_in(channel: Channel, expected: AckChannel) -> None:
    assert ack_channel(channel, phone=PHONE, email=EMAIL, address=ADDRESS) is expected


def test_phone_and_counter_fall_back_to_email() -> None:
    assert ack_channel(Channel.PHONE, phone=None, email=EMAIL) is AckChannel.EMAIL
    assert ack_channel(Channel.COUNTER, phone=None, email=EMAIL) is AckChannel.EMAIL


def test_web_without_email_gets_sms() -> None:
    assert ack_channel(Channel.WEB, phone=PHONE, email=None) is AckChannel.SMS


def test_post_without_address_uses_email() -> None:
    assert ack_channel(Channel.POST, phone=PHONE, email=EMAIL) is AckChannel.EMAIL


def test_unreachable() -> None:
    with pytest.raises(Unreachable):
        ack_channel(Channel.WEB, phone=None, email=None)


@pytest.mark.parametrize(("channel", "to"), [(AckChannel.SMS, PHONE), (AckChannel.EMAIL, EMAIL),
                                             (AckChannel.LETTER, ADDRESS)])
def test_the_destination_is_the_channels_address(channel: AckChannel, to: str) -> None:
    found = destination(channel, Language.NL, phone=PHONE, email=EMAIL, address=ADDRESS)
    assert found == Destination(channel=channel, to=to, language=Language.NL)


def test_recipient_missing_for_chosen_channel() -> None:
    with pytest.raises(Unreachable):
        destination(AckChannel.SMS, Language.EN, email=EMAIL)
