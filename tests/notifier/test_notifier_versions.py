"""Commands of the previous release (SendNotification data version 1: no `dataversion`, free params with aliases,
the officer and the case reference only in the command's own fields) still on `notifications.commands` when
version 2 is deployed are read through the registry's upcaster and sent, not dead-lettered ("nothing lost")."""

from __future__ import annotations

import json
from typing import Any

from shared.events.envelope import decode
from shared.events.notifications import COMMANDS_TOPIC, SendNotification, notification_id_for
from tests.notifier.conftest import OFFICER, Running, TwilioFake, sms_recipient
from tests.support import consume, eventually, unique

HOTLINE = "+3225011000"
DUE_NL = "12 december 2026"


def old_ack(reference: str, phone: str, language: str = "nl") -> dict[str, Any]:
    """The acknowledgement intake sent before version 2 (services/intake/handlers.py `_acknowledge`), as its model
    dumped it: the officer alongside the params, never in them."""
    purpose = f"case:{reference}:acknowledgement"
    return {
        "notification_id": notification_id_for(purpose, "sms", phone), "purpose": purpose, "channel": "sms",
        "recipient": {"name": "Jan Janssens", "phone": phone, "email": None, "traveller_id": None},
        "language": language, "template": "case_acknowledgement",
        "params": {"reference": reference, "kind": "request", "reply_due_by": "2026-12-12", "complex": False,
                   "forwarded_to": None, "message": f"Case {reference} registered.", "subject": f"Case {reference}"},
        "priority": "case", "case_reference": reference, "crisis_id": None, "officer": OFFICER.model_dump(),
        "sender": "notifier"}


def old_alert(crisis_id: str, phone: str, language: str = "fr") -> dict[str, Any]:
    """A crisis alert by the alias names the old notifier accepted (`title`, `hotline`, `what_to_do`)."""
    purpose = f"crisis:{crisis_id}:alert"
    return {
        "notification_id": notification_id_for(purpose, "sms", phone), "purpose": purpose, "channel": "sms",
        "recipient": {"name": None, "phone": phone, "email": None, "traveller_id": "t-1"}, "language": language,
        "template": "crisis_alert", "params": {"title": "Earthquake", "hotline": HOTLINE, "what_to_do": "Stay out."},
        "priority": "crisis", "case_reference": None, "crisis_id": crisis_id, "officer": None, "sender": "notifier"}


def raw_event(data: dict[str, Any]) -> bytes:
    """The previous release's envelope: no `dataversion`."""
    return json.dumps({"specversion": "1.0", "id": unique("ev-"), "source": "/services/intake",
                       "type": SendNotification.TYPE, "time": "2026-11-28T04:00:00Z",
                       "datacontenttype": "application/json", "data": data}).encode()


async def test_old_commands_published_raw_are_sent_not_dead_lettered(running: Running, twilio: TwilioFake) -> None:
    prefix = running.settings.kafka_topic_prefix
    reference, crisis_id = f"BE-2026-{unique('')[:6]}", unique("crisis-")
    ack_phone, alert_phone, lost_phone = (str(sms_recipient().phone) for _ in range(3))
    ack, alert = old_ack(reference, ack_phone), old_alert(crisis_id, alert_phone)
    # One that even the old notifier could not have rendered (no officer anywhere): refused, with the reason.
    unfinished = {**old_ack(f"{reference}-X", lost_phone), "officer": None}
    for data in (ack, alert, unfinished):
        await running.producer.send_and_wait(
            prefix + COMMANDS_TOPIC, raw_event(data), key=data["notification_id"].encode(),
            headers=[("content-type", b"application/cloudevents+json"), ("ce_type", SendNotification.TYPE.encode())])

    async def both_delivered() -> bool:
        return all([await running.status(data["notification_id"]) == "delivered" for data in (ack, alert)])

    await eventually(both_delivered, timeout=30)
    ack_sms = twilio.sent_to(ack_phone)[0]["body"]
    for part in (reference, "Anne Peeters", "+32 2 501 81 11", "anne@example.be", DUE_NL):
        assert part in ack_sms
    alert_sms = twilio.sent_to(alert_phone)[0]["body"]
    assert "Earthquake" in alert_sms and "Stay out." in alert_sms
    row = await running.row(ack["notification_id"])
    assert row is not None and row["case_reference"] == reference

    dead = await consume(prefix + COMMANDS_TOPIC + ".dlq", count=1, timeout=30,
                         predicate=lambda r: decode(r.value).data["notification_id"] == unfinished["notification_id"])
    assert "officer: Field required" in dict(dead[0].headers)["dlq.reason"].decode()
    assert await running.row(unfinished["notification_id"]) is None
    assert not twilio.sent_to(lost_phone)
