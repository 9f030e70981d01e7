"""`SendNotification` is data version 2 (params typed per template, docs/CONVENTIONS.md "Events"): a command of the
previous release (version 1, no `dataversion`, free params with aliases, the officer and the case reference only in
the command's own fields) still parses, through the registry's upcaster, into a valid version-2 command; version 2
round-trips with `dataversion: 2`; a newer version is refused; every other type writes no `dataversion`."""

from __future__ import annotations

import json
from typing import Any

import pytest

from shared.events import registry
from shared.events.envelope import CloudEvent, InvalidEvent, decode, encode, new_event
from shared.events.incidents import IncidentClosed
from shared.events.notifications import OfficerCard, Recipient, SendNotification
from shared.notifications.rendering import LANGUAGES, Renderer

SEND = SendNotification.TYPE
REFERENCE = "BE-2026-000123"
OFFICER = {"name": "Anne Peeters", "role": "Consular officer", "phone": "+3225018111", "email": "anne@example.be"}
HOTLINE = "+3225011000"
DUE = {"fr": "12 décembre 2026", "nl": "12 december 2026", "de": "12. Dezember 2026", "en": "12 December 2026"}


def v1_command(template: str, params: dict[str, Any], **fields: Any) -> dict[str, Any]:
    """A command's data as the previous release's model dumped it (every field, None included)."""
    data: dict[str, Any] = {
        "notification_id": "n-1", "purpose": f"case:{REFERENCE}:acknowledgement", "channel": "sms",
        "recipient": {"name": "Jan Janssens", "phone": "+32470123456", "email": None, "traveller_id": None},
        "language": "nl", "template": template, "params": params, "priority": "case",
        "case_reference": None, "crisis_id": None, "officer": None, "sender": "notifier"}
    data.update(fields)
    return data


def wire(data: dict[str, Any], **attributes: Any) -> CloudEvent:
    """The event as a consumer reads it off the topic."""
    body = {"specversion": "1.0", "id": "e-1", "source": "/services/intake", "type": SEND,
            "time": "2026-11-28T04:00:00Z", "datacontenttype": "application/json", "data": data, **attributes}
    return decode(json.dumps(body).encode())


def test_send_notification_is_version_2_and_no_other_type_has_versions() -> None:
    assert {t for t in registry.MODELS_BY_TYPE if registry.current_version(t) > 1} == {SEND}
    assert registry.current_version(SEND) == 2


def test_the_previous_releases_acknowledgement_parses_into_version_2() -> None:
    # services/intake/handlers.py before version 2: everything in params but the officer, who came alongside.
    old_params = {"reference": REFERENCE, "kind": "request", "reply_due_by": "2026-12-12", "complex": False,
                  "forwarded_to": None, "message": "Uw dossier BE-2026-000123 is geregistreerd.",
                  "subject": "Uw dossier BE-2026-000123"}
    data = v1_command("case_acknowledgement", old_params, case_reference=REFERENCE, officer=OFFICER)
    command = registry.parse_data(wire(data), topic="notifications.commands")
    assert isinstance(command, SendNotification)
    assert command.params == {"reference": REFERENCE, "officer": OFFICER, "reply_due_by": "2026-12-12"}
    assert command.officer == OfficerCard(**OFFICER)
    assert (command.notification_id, command.case_reference, command.language) == ("n-1", REFERENCE, "nl")


@pytest.mark.parametrize("language", LANGUAGES)
def test_old_commands_render_after_the_upcaster(language: str) -> None:
    old_params = {"reference": REFERENCE, "kind": "request", "reply_due_by": "2026-12-12", "complex": True,
                  "forwarded_to": None, "message": "...", "subject": "..."}
    ack = registry.parse_data(wire(v1_command("case_acknowledgement", old_params, language=language,
                                              case_reference=REFERENCE, officer=OFFICER)))
    assert isinstance(ack, SendNotification)
    rendered = Renderer().render(ack.template, ack.language, ack.params)
    for part in (REFERENCE, "Anne Peeters", "Consular officer", "anne@example.be", DUE[language]):
        assert part in rendered.sms and part in rendered.text and part in rendered.html
    alert = registry.parse_data(wire(v1_command(
        "crisis_alert", {"title": "Earthquake", "hotline": HOTLINE, "what_to_do": "Stay out."}, language=language,
        **CRISIS)))
    assert isinstance(alert, SendNotification)
    sms = Renderer().render(alert.template, alert.language, alert.params, channel="sms").sms
    assert "Earthquake" in sms and "+32 2 501 10 00" in sms and "Stay out." in sms


def test_the_officer_and_the_reference_come_from_the_commands_own_fields() -> None:
    data = v1_command("case_acknowledgement", {"reply_due_by": "2026-12-12"}, case_reference=REFERENCE,
                      officer=OFFICER)
    command = registry.parse_data(wire(data))
    assert isinstance(command, SendNotification)
    assert command.params == {"reference": REFERENCE, "officer": OFFICER, "reply_due_by": "2026-12-12"}


def test_params_of_their_own_win_over_the_commands_fields() -> None:
    other = {**OFFICER, "name": "Piet Peeters"}
    data = v1_command("case_message", {"reference": "BE-2026-000999", "message": "Hello", "officer": other},
                      case_reference=REFERENCE, officer=OFFICER)
    command = registry.parse_data(wire(data))
    assert isinstance(command, SendNotification)
    assert command.params == {"reference": "BE-2026-000999", "message": "Hello", "officer": other}


CRISIS = {"case_reference": None, "crisis_id": "crisis-1", "purpose": "crisis:crisis-1:alert", "priority": "crisis"}


@pytest.mark.parametrize(("template", "old", "new"), [
    ("crisis_alert", {"title": "Flood", "hotline": HOTLINE, "what_to_do": "Stay inside."},
     {"crisis_title": "Flood", "hotline_number": HOTLINE, "instructions": "Stay inside."}),
    ("crisis_alert", {"title": "Flood", "hotline_phone": HOTLINE, "exercise": True},
     {"crisis_title": "Flood", "hotline_number": HOTLINE, "exercise": True}),
    ("crisis_followup", {"title": "Flood", "hotline": HOTLINE, "body": "Roads are open."},
     {"crisis_title": "Flood", "hotline_number": HOTLINE, "message": "Roads are open."}),
    ("crisis_closed", {"crisis_title": "Flood", "title": "Old name"}, {"crisis_title": "Flood"}),
], ids=["alert", "alert-hotline_phone-exercise", "followup-body", "own-name-wins"])
def test_alias_names_become_the_templates_names(template: str, old: dict[str, Any], new: dict[str, Any]) -> None:
    command = registry.parse_data(wire(v1_command(template, old, **CRISIS)))
    assert isinstance(command, SendNotification)
    assert command.params == new
    assert command.crisis_id == "crisis-1"


@pytest.mark.parametrize(("alias", "extra"), [("text", {}), ("body", {"text": "second"})])
def test_a_case_message_by_alias_gets_reference_and_officer(alias: str, extra: dict[str, Any]) -> None:
    data = v1_command("case_message", {alias: "Your passport is ready.", **extra}, case_reference=REFERENCE,
                      officer=OFFICER)
    command = registry.parse_data(wire(data))
    assert isinstance(command, SendNotification)
    assert command.params == {"reference": REFERENCE, "message": "Your passport is ready.", "officer": OFFICER}


@pytest.mark.parametrize("alias", ["due", "reply_due", "due_by"])
def test_reply_date_aliases(alias: str) -> None:
    data = v1_command("case_acknowledgement", {alias: "2026-12-12"}, case_reference=REFERENCE, officer=OFFICER)
    command = registry.parse_data(wire(data))
    assert isinstance(command, SendNotification)
    assert command.params["reply_due_by"] == "2026-12-12"


def test_a_staff_deadline_keeps_its_own_due_by() -> None:
    params = {"reference": REFERENCE, "kind": "request", "deadline": "reply", "event": "missed",
              "due_by": "2026-12-12T17:00:00+00:00", "officer": OFFICER, "console_url": "http://console"}
    data = v1_command("staff_deadline", params, channel="email", case_reference=REFERENCE,
                      recipient={"name": None, "phone": None, "email": "anne@example.be", "traveller_id": None})
    command = registry.parse_data(wire(data))
    assert isinstance(command, SendNotification)
    assert command.params == {**params, "due_by": "2026-12-12T17:00:00Z"}  # reply_due_by (its alias) dropped


@pytest.mark.parametrize(("change", "reason"), [
    ({"params": {"reply_due_by": "2026-12-12"}, "officer": None}, "officer: Field required"),
    ({"params": ["not", "a", "dict"]}, "params"),
    ({"template": "no_such_template"}, "unknown template"),
    ({"template": None}, "template"),
    ({"officer": "Anne"}, "officer"),
])
def test_a_version_1_command_that_cannot_be_completed_is_refused(change: dict[str, Any], reason: str) -> None:
    data = {**v1_command("case_acknowledgement", {"reply_due_by": "2026-12-12"}, case_reference=REFERENCE,
                         officer=OFFICER), **change}
    with pytest.raises(InvalidEvent, match=reason):
        registry.parse_data(wire(data))


def _current() -> SendNotification:
    return SendNotification(
        notification_id="n-2", purpose="crisis:crisis-1:alert", channel="sms",
        recipient=Recipient(phone="+32470123456"), language="fr", template="crisis_alert",
        params={"crisis_title": "Flood", "hotline_number": HOTLINE},
        priority="crisis", crisis_id="crisis-1")


def test_version_2_round_trips_with_its_dataversion() -> None:
    command = _current()
    raw = encode(new_event(command, source="/tests"))
    assert json.loads(raw)["dataversion"] == 2
    event = decode(raw)
    assert registry.data_version(event) == 2
    assert registry.parse_data(event, topic="notifications.commands") == command


def test_version_2_data_read_as_version_1_is_the_same_command() -> None:
    """The upcaster leaves a command already in version 2's shape as it is (a sender of version 2 params)."""
    command = _current()
    assert registry.parse_data(wire(command.model_dump(mode="json"))) == command


def test_a_newer_version_is_refused() -> None:
    with pytest.raises(InvalidEvent, match="version 3 is newer than this service reads"):
        registry.parse_data(wire(_current().model_dump(mode="json"), dataversion=3))


def test_a_type_without_versions_writes_no_dataversion() -> None:
    raw = encode(new_event(IncidentClosed(incident_id="inc-1"), source="/tests"))
    assert "dataversion" not in json.loads(raw)
    assert registry.data_version(decode(raw)) == 1


def test_an_upcaster_failing_on_malformed_data_is_an_invalid_event(
        upcasters: dict[tuple[str, int], registry.Upcaster]) -> None:
    registry.upcaster(IncidentClosed.TYPE, 1)(lambda data: {"incident_id": data["id"]})
    assert json.loads(encode(new_event(IncidentClosed(incident_id="inc-1"), source="/tests")))["dataversion"] == 2
    old = wire({"incident_id": "inc-1"}, type=IncidentClosed.TYPE)  # version 1 but without the `id` it had
    with pytest.raises(InvalidEvent, match="cannot be upcast: KeyError"):
        registry.parse_data(old)
