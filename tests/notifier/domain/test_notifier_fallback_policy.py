"""The fallback order and validity per purpose (domain/policy.py), pure."""

from __future__ import annotations

import pytest

from services.notifier.domain.policy import (
    FALLBACK_ORDER,
    TWILIO_MAX_VALIDITY_SECONDS,
    Channel,
    Priority,
    fallback_order,
    next_fallback,
    priority_for,
    twilio_validity,
    validity_seconds,
)
from shared.notifications.rendering import TEMPLATES

C = Channel
EMAIL, PHONE = "anne@example.be", "+32470123456"


@pytest.mark.parametrize("template", ["crisis_alert", "crisis_update", "crisis_followup"])
def test_alerts_go_sms_then_email_then_voice(template: str) -> None:
    assert fallback_order(template) == (C.SMS, C.EMAIL, C.VOICE)
    assert next_fallback(template, C.SMS, email=EMAIL, phone=PHONE) is C.EMAIL
    assert next_fallback(template, C.SMS, email=None, phone=PHONE) is C.VOICE
    assert next_fallback(template, C.EMAIL, email=EMAIL, phone=PHONE) is C.VOICE
    assert next_fallback(template, C.VOICE, email=EMAIL, phone=PHONE) is None, "the last channel"
    assert next_fallback(template, C.SMS, email=EMAIL, phone=PHONE, tried=frozenset({C.EMAIL})) is C.VOICE


def test_the_all_clear_is_worth_an_email_not_a_call() -> None:
    assert next_fallback("crisis_closed", C.SMS, email=EMAIL, phone=PHONE) is C.EMAIL
    assert next_fallback("crisis_closed", C.SMS, email=None, phone=PHONE) is None


@pytest.mark.parametrize("template", ["case_acknowledgement", "case_message", "survey_request", "staff_deadline",
                                      "welfare_question", "welfare_call", "check_in_code", "no_such_template"])
def test_other_purposes_answer_through_their_own_channel_only(template: str) -> None:
    assert fallback_order(template) == ()
    assert next_fallback(template, C.SMS, email=EMAIL, phone=PHONE) is None


def test_a_number_that_does_not_exist_is_not_called() -> None:
    for reason in ("invalid_number", "unknown_handset"):
        assert next_fallback("crisis_alert", C.SMS, email=None, phone=PHONE, reason=reason) is None
        assert next_fallback("crisis_alert", C.SMS, email=EMAIL, phone=PHONE, reason=reason) is C.EMAIL
    for reason in ("landline_or_unreachable_carrier", "not_sms_capable", "unreachable_handset", None):
        assert next_fallback("crisis_alert", C.SMS, email=None, phone=PHONE, reason=reason) is C.VOICE


def test_a_channel_not_in_the_order_has_no_fallback() -> None:
    assert next_fallback("crisis_closed", C.VOICE, email=EMAIL, phone=PHONE) is None


def test_every_fallback_order_starts_with_sms_and_names_known_templates() -> None:
    for template, order in FALLBACK_ORDER.items():
        assert template in TEMPLATES and order[0] is C.SMS and len(set(order)) == len(order)


def test_validity_per_purpose() -> None:
    assert validity_seconds("crisis_alert") == 4 * 3600
    assert validity_seconds("case_message") is None, "a reply to someone's own request: late beats never"
    for template in (t for t in TEMPLATES if t.startswith("case_")):  # every message about someone's own case
        assert validity_seconds(template) is None, template
        assert priority_for(template) is Priority.CASE, template
    assert validity_seconds("something_new") == 24 * 3600
    assert twilio_validity(None) is None
    assert twilio_validity(4 * 3600 - 0.4) == 14399
    assert twilio_validity(12 * 3600) == TWILIO_MAX_VALIDITY_SECONDS
    assert twilio_validity(0.2) == 1 and twilio_validity(-5) == 1
