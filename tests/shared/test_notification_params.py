"""Issue 21: a SendNotification's params are its template's model (shared/events/notifications.py TEMPLATE_PARAMS):
a command with a missing or ill-typed parameter, or an unknown template, is refused where it is built and, arriving
anyway, is an invalid event (dead-lettered by the notifier) rather than a failure at render time."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from pydantic import ValidationError

from shared.events.envelope import CloudEvent, InvalidEvent, new_event
from shared.events.notifications import TEMPLATE_PARAMS, Recipient, SendNotification, template_params
from shared.events.registry import parse_data

ALERT: dict[str, Any] = {"crisis_title": "Flood", "hotline_number": "+3225011000"}
ACK: dict[str, Any] = {"reference": "BE-2026-000123", "officer": {
    "name": "Anne Peeters", "role": "Consular officer", "phone": "+3225018111", "email": "a@example.be"}}


def command(template: str = "crisis_alert", params: dict[str, Any] | None = None, **fields: Any) -> SendNotification:
    values: dict[str, Any] = dict(notification_id="n-1", purpose="crisis:c-1:alert", channel="sms",
                                  recipient=Recipient(phone="+32470123456"), language="fr", crisis_id="c-1")
    values.update(fields)
    return SendNotification(template=template, params=ALERT if params is None else params, **values)


def test_a_valid_command_keeps_its_params_as_json() -> None:
    sent = command(params={**ALERT, "instructions": "Stay inside.", "exercise": True})
    assert sent.params == {**ALERT, "instructions": "Stay inside.", "exercise": True}


def test_unknown_keys_none_and_defaults_are_left_out() -> None:
    sent = command(params={**ALERT, "instructions": None, "exercise": False, "title": "Flood"})
    assert sent.params == ALERT


def test_dates_and_numbers_come_out_as_json() -> None:
    officer = {"name": "Anne Peeters", "role": "Consular officer", "phone": "+3225018111", "email": "a@example.be"}
    ack = command("case_acknowledgement", {"reference": "BE-2026-000123", "officer": officer,
                                           "reply_due_by": "2026-12-12"}, case_reference="BE-2026-000123")
    assert ack.params == {"reference": "BE-2026-000123", "officer": officer, "reply_due_by": "2026-12-12"}


@pytest.mark.parametrize(("params", "field"), [
    ({"hotline_number": "+3225011000"}, "crisis_title"),            # missing
    ({"crisis_title": "Flood"}, "hotline_number"),                  # missing
    ({"title": "Flood", "hotline": "+3225011000"}, "crisis_title"),  # the old aliases are no names of its own
    ({**ALERT, "hotline_number": "hotline"}, "hotline_number"),      # not E.164
    ({**ALERT, "crisis_title": 12}, "crisis_title"),                 # not a string
    ({**ALERT, "exercise": "maybe"}, "exercise"),                    # not a boolean
])
def test_a_missing_or_ill_typed_param_is_refused(params: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError, match=f"params of template 'crisis_alert': {field}"):
        command(params=params)


def test_no_params_at_all_is_refused() -> None:
    with pytest.raises(ValidationError, match="crisis_title"):
        SendNotification(notification_id="n-1", purpose="p", channel="sms", recipient=Recipient(phone="+32470123456"),
                         language="fr", template="crisis_alert", crisis_id="c-1")


@pytest.mark.parametrize(("template", "params"), [
    ("check_in_code", {"crisis_title": "Flood", "code": "042917", "minutes": "soon"}),
    ("check_in_code", {"crisis_title": "Flood", "code": "042917", "minutes": 1.5}),
    ("crisis_proposal", {"crisis_title": "Flood", "affected_count": -1, "threshold": 50, "minutes": 15,
                         "dashboard_url": "https://example.be"}),
    ("staff_deadline", {"reference": "BE-1", "kind": "request", "deadline": "someday", "event": "missed",
                        "due_by": "2026-12-12T22:59:59+00:00", "console_url": "https://example.be",
                        "officer": {"name": "A", "role": "B", "phone": "+3225018111", "email": "a@example.be"}}),
    ("case_acknowledgement", {"reference": "BE-1", "reply_due_by": "2026-12-12"}),  # no officer
    ("case_message", {"reference": "BE-1", "message": ""}),
    ("welfare_question", {**ALERT}),  # reminder missing
])
def test_each_templates_model_is_checked(template: str, params: dict[str, Any]) -> None:
    with pytest.raises(ValidationError, match=f"params of template '{template}'"):
        command(template, params)


def test_an_email_welfare_question_needs_its_answer_links() -> None:
    question = {**ALERT, "reminder": False}
    assert command("welfare_question", question).params == question  # by SMS: answered 1 or 2
    with pytest.raises(ValidationError, match="an e-mail needs safe_url and help_url"):
        command("welfare_question", question, channel="email", recipient=Recipient(email="a@example.be"))
    links = {"safe_url": "https://example.be/s", "help_url": "https://example.be/h"}
    assert command("welfare_question", {**question, **links}, channel="email",
                   recipient=Recipient(email="a@example.be")).params == {**question, **links}


def test_an_unknown_template_is_refused() -> None:
    with pytest.raises(ValidationError, match="unknown template 'no_such_template'"):
        command("no_such_template", {})
    with pytest.raises(ValueError, match="unknown template"):
        template_params("no_such_template", {})


def test_the_schema_lists_the_templates() -> None:
    schema = SendNotification.model_json_schema()["properties"]["template"]
    assert schema["enum"] == sorted(TEMPLATE_PARAMS)


def test_a_command_arriving_with_bad_params_is_an_invalid_event() -> None:
    """What the notifier's consumer dead-letters, with the reason."""
    event = new_event(command(), source="test")
    for params, reason in (({"crisis_title": "Flood"}, "params: Value error, params of template 'crisis_alert': "
                                                        "hotline_number: Field required"),
                           (ALERT, "template: Value error, unknown template 'crisis_alarm'")):
        data = {**event.data, "params": params, "template": "crisis_alarm" if params is ALERT else "crisis_alert"}
        raw = CloudEvent.model_validate({**event.model_dump(mode="json"), "data": data})
        with pytest.raises(InvalidEvent, match=reason.replace("(", r"\(")):
            parse_data(raw)


def test_params_checked_once_come_back_as_a_fresh_copy_and_bad_ones_are_refused_every_time() -> None:
    first = template_params("crisis_alert", {**ALERT, "exercise": True}, "sms")
    first["crisis_title"] = "changed by its caller"
    again = template_params("crisis_alert", {**ALERT, "exercise": True}, "sms")
    assert again == {**ALERT, "exercise": True}
    assert again is not first
    for _ in range(2):
        with pytest.raises(ValueError, match="hotline_number"):
            template_params("crisis_alert", {"crisis_title": "Flood", "hotline_number": "not a number"}, "sms")
    # Python values with the JSON of checked ones: checked as they are (a date object, the same date as text)
    assert template_params("case_acknowledgement", ACK | {"reply_due_by": date(2031, 1, 15)}) == template_params(
        "case_acknowledgement", ACK | {"reply_due_by": "2031-01-15"})
