from __future__ import annotations

from datetime import date

import pytest

from services.intake.domain.acknowledgement import (
    AckChannel,
    Unreachable,
    ack_channel,
    acknowledgement,
    forward_notice,
    provisional_reply,
)
from services.intake.domain.model import Channel, Language
from services.intake.domain.officers import OfficerCard

PHONE, EMAIL, ADDRESS = "+32470123456", "x@example.be", "Rue de la Loi 1, 1000 Bruxelles"
CARD = OfficerCard(name="Officer One", role="Consular officer", phone="+3225010000", email="one@diplobel.test")


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


@pytest.mark.parametrize("language", list(Language))
def test_acknowledgement_carries_reference_due_date_and_card(language: Language) -> None:
    message = acknowledgement(channel=AckChannel.SMS, language=language, reference="BE-2026-000007",
                              due=date(2026, 2, 15), officer=CARD, phone=PHONE)
    assert message.to == PHONE and message.language is language
    assert "BE-2026-000007" in message.body and "BE-2026-000007" in message.subject
    assert "15" in message.body and "2026" in message.body
    for part in (CARD.name, CARD.role, CARD.phone, CARD.email):
        assert part in message.body


def test_languages_differ() -> None:
    bodies = {acknowledgement(channel=AckChannel.EMAIL, language=lang, reference="BE-2026-000001",
                              due=date(2026, 2, 15), officer=CARD, email=EMAIL).body for lang in Language}
    assert len(bodies) == 4
    fr = acknowledgement(channel=AckChannel.EMAIL, language=Language.FR, reference="BE-2026-000001",
                         due=date(2026, 2, 15), officer=CARD, email=EMAIL)
    assert "février" in fr.body


def test_letter_goes_to_the_address() -> None:
    message = acknowledgement(channel=AckChannel.LETTER, language=Language.NL, reference="BE-2026-000002",
                              due=date(2026, 3, 2), officer=CARD, address=ADDRESS)
    assert message.to == ADDRESS and "maart" in message.body


def test_provisional_reply_states_the_expected_delay() -> None:
    message = provisional_reply(channel=AckChannel.EMAIL, language=Language.DE, reference="BE-2026-000003",
                                reply_due=date(2026, 7, 3), officer=CARD, email=EMAIL)
    assert "3. Juli 2026" in message.body and CARD.email in message.body


def test_forward_notice_names_the_service() -> None:
    message = forward_notice(channel=AckChannel.SMS, language=Language.EN, reference="BE-2026-000004",
                             service="FPS Finance", officer=CARD, phone=PHONE)
    assert "FPS Finance" in message.body and "BE-2026-000004" in message.body


def test_recipient_missing_for_chosen_channel() -> None:
    with pytest.raises(Unreachable):
        acknowledgement(channel=AckChannel.SMS, language=Language.EN, reference="BE-2026-000005",
                        due=date(2026, 1, 1), officer=CARD, email=EMAIL)
