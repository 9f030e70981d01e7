"""Issue 23 end to end: channel fallback after a failed SMS (e-mail, else a call), once per channel whatever is
redelivered, and the carriers' limits (per number per hour, identical texts, validity) under a set clock. The real
worker and API, the `twilio` client against the local Twilio server, the SMTP sink, Kafka and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from services.notifier.dev.smtp_sink import SmtpSink, free_port
from services.notifier.handlers import fall_back
from services.notifier.settings import NotifierSettings
from shared.events.envelope import decode
from shared.events.notifications import Recipient
from shared.notifications.rendering import Renderer
from tests.notifier.conftest import Running, TwilioFake, make_settings, run_worker, sign, sms_recipient
from tests.support import auth, consume, eventually, unique

LIMIT = 3


@dataclass
class Clock:
    """The worker's clock: the real time moved by `offset` (never today's date itself)."""

    offset: timedelta = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset


@pytest.fixture
async def settings(schema: str, prefix: str, twilio: TwilioFake, smtp: SmtpSink) -> NotifierSettings:
    return make_settings(schema=schema, prefix=prefix, twilio_url=twilio.url, smtp_port=smtp.port,
                         api_port=free_port(), max_per_number_per_hour=LIMIT)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def running(settings: NotifierSettings, api: str, producer: AIOKafkaProducer,
                  clock: Clock) -> AsyncIterator[Running]:
    async with run_worker(settings, producer, clock=clock) as running:
        yield running


def params(title: str = "Earthquake in Kathmandu") -> dict[str, Any]:
    return {"crisis_title": title, "hotline_number": "+3225011000"}


async def alert(running: Running, recipient: Recipient, *, crisis_id: str | None = None, purpose: str = "alert",
                template: str = "crisis_alert", title: str = "Earthquake in Kathmandu") -> Any:
    crisis_id = crisis_id or unique("crisis-")
    return await running.command(purpose=f"crisis:{crisis_id}:{purpose}", recipient=recipient, language="en",
                                 template=template, params=params(title), priority="crisis", crisis_id=crisis_id)


async def status_is(running: Running, notification_id: str, *expected: str, timeout: float = 30) -> str:
    async def check() -> str | None:
        status = await running.status(notification_id)
        return status if status in expected else None

    return str(await eventually(check, timeout=timeout))


async def rows_of(running: Running, crisis_id: str) -> list[Any]:
    return await running.pool.fetch("SELECT * FROM notifications WHERE crisis_id = $1 ORDER BY id", crisis_id)


async def test_a_failed_sms_falls_back_to_email(running: Running, twilio: TwilioFake, smtp: SmtpSink) -> None:
    recipient = sms_recipient(email=f"{unique('anne-')}@example.be")
    await twilio.configure(numbers={str(recipient.phone): {"code": 30003}})  # accepted, then `undelivered`
    command = await alert(running, recipient)
    assert await status_is(running, command.notification_id, "failed") == "failed"
    mails = await eventually(lambda: smtp.handler.find(str(recipient.email)) or None)
    assert len(mails) == 1 and "Earthquake in Kathmandu" in mails[0].text
    [sms, mail] = await rows_of(running, str(command.crisis_id))
    assert (sms["channel"], sms["reason"]) == ("sms", "unreachable_handset")
    assert (mail["channel"], mail["recipient"], mail["fallback_of"]) == ("email", str(recipient.email),
                                                                        command.notification_id)
    assert mail["reason"] == "fallback_after_sms_unreachable_handset"
    assert await status_is(running, mail["notification_id"], "sent") == "sent"
    assert not [c for c in twilio.server.calls.values() if c["to"] == recipient.phone], "no call: the e-mail went"
    # The fallback is a notification of its own on the contract topic, with the crisis it belongs to.
    records = await consume(f"{running.settings.kafka_topic_prefix}notifications.status", count=2,
                            predicate=lambda r: r.key == mail["notification_id"].encode())
    events = [decode(r.value).data for r in records]
    assert [(e["channel"], e["status"]) for e in events] == [("email", "queued"), ("email", "sent")]
    assert events[0]["crisis_id"] == command.crisis_id


async def test_a_failed_sms_without_email_falls_back_to_a_call_reading_it(running: Running,
                                                                          twilio: TwilioFake) -> None:
    recipient = sms_recipient()
    # `failed` (30001) by the status callback; the call is picked up and nothing is pressed.
    await twilio.configure(numbers={str(recipient.phone): {"code": 30001, "keypad": ""}})
    command = await alert(running, recipient)
    assert await status_is(running, command.notification_id, "failed") == "failed"
    [sms, call] = await eventually(lambda: _two(running, str(command.crisis_id)))
    assert (call["channel"], call["recipient"], call["fallback_of"]) == ("voice", recipient.phone,
                                                                        command.notification_id)
    assert await status_is(running, call["notification_id"], "delivered") == "delivered"
    [placed] = [c for c in twilio.server.calls.values() if c["to"] == recipient.phone]
    assert placed["_said"] == [("en-GB", sms["body"])] * 2, "the SMS's own words, said twice"
    assert placed["_pressed"] is None, "nothing to answer: no Gather"


async def _two(running: Running, crisis_id: str) -> list[Any] | None:
    rows = await rows_of(running, crisis_id)
    return rows if len(rows) == 2 else None


async def test_a_redelivered_failure_sends_no_second_email(running: Running, twilio: TwilioFake,
                                                           smtp: SmtpSink) -> None:
    recipient = sms_recipient(email=f"{unique('bert-')}@example.be")
    await twilio.configure(numbers={str(recipient.phone): {"code": 30005}})  # unknown handset: `undelivered`
    command = await alert(running, recipient)
    assert await status_is(running, command.notification_id, "undeliverable") == "undeliverable"
    await eventually(lambda: smtp.handler.find(str(recipient.email)) or None)
    sms = await running.row(command.notification_id)
    assert sms is not None
    # Twilio posts the same final callback again (a retry of its webhook), twice.
    url = f"{running.settings.status_callback_url}?nid={command.notification_id}"
    form = {"MessageSid": sms["provider_id"], "MessageStatus": "undelivered", "ErrorCode": "30005",
            "To": str(recipient.phone)}
    async with httpx.AsyncClient() as client:
        for _ in range(2):
            response = await client.post(url, data=form, headers=sign(url, form))
            assert response.status_code == 204
    # And a restarted worker looks at it again: the fallback's key is taken.
    async with running.pool.acquire() as conn, conn.transaction():
        assert await fall_back(conn, command.notification_id, publisher=running.worker.resources.publisher,
                               renderer=Renderer()) is None
    rows = await rows_of(running, str(command.crisis_id))
    assert [r["channel"] for r in rows] == ["sms", "email"]
    assert len(smtp.handler.find(str(recipient.email))) == 1
    assert not [c for c in twilio.server.calls.values() if c["to"] == recipient.phone], \
        "an unknown number is not called"


async def test_the_fourth_message_to_a_number_waits_for_the_hour(running: Running, twilio: TwilioFake,
                                                                 clock: Clock) -> None:
    recipient = sms_recipient()
    crisis_id = unique("crisis-")
    first = [await alert(running, recipient, crisis_id=crisis_id, purpose=f"update:{i}", template="crisis_update",
                         title=f"Update {i}") for i in range(LIMIT)]
    for command in first:
        await status_is(running, command.notification_id, "delivered")
    fourth = await alert(running, recipient, crisis_id=crisis_id, purpose="update:3", template="crisis_update",
                         title="Update 3")
    assert await status_is(running, fourth.notification_id, "throttled") == "throttled"
    assert len(twilio.sent_to(str(recipient.phone))) == LIMIT
    row = await running.row(fourth.notification_id)
    sent_at = [r["sent_at"] for r in await rows_of(running, crisis_id) if r["sent_at"] is not None]
    assert row is not None and row["next_attempt_at"] == min(sent_at) + timedelta(hours=1)
    async with httpx.AsyncClient() as client:
        progress = (await client.get(running.settings.public_base_url + "/v1/notifications",
                                     params={"crisis_id": crisis_id}, headers=auth("coordinator"))).json()
    assert progress["throttled"] == 1 and progress["counts"]["throttled"] == 1
    assert progress["counts"]["delivered"] == LIMIT and progress["expired"] == 0
    clock.offset = timedelta(hours=1, seconds=1)  # an hour on: the number has room again
    assert await status_is(running, fourth.notification_id, "delivered") == "delivered"
    assert len(twilio.sent_to(str(recipient.phone))) == LIMIT + 1
    assert await running.statuses(fourth.notification_id) == ["queued", "throttled", "sent", "delivered"]
    records = await consume(f"{running.settings.kafka_topic_prefix}notifications.status", count=4,
                            predicate=lambda r: r.key == fourth.notification_id.encode())
    assert [decode(r.value).data["status"] for r in records] == ["queued", "throttled", "sent", "delivered"]


async def test_an_identical_text_to_the_same_number_goes_once(running: Running, twilio: TwilioFake) -> None:
    """Two people registered with one phone (a family): the same alert text reaches that number once."""
    phone = sms_recipient().phone
    crisis_id = unique("crisis-")
    anne = await alert(running, Recipient(phone=phone, traveller_id="anne"), crisis_id=crisis_id,
                       purpose="alert:anne")
    await status_is(running, anne.notification_id, "delivered")
    bert = await alert(running, Recipient(phone=phone, traveller_id="bert"), crisis_id=crisis_id,
                       purpose="alert:bert")
    assert await status_is(running, bert.notification_id, "deduplicated") == "deduplicated"
    assert len(twilio.sent_to(str(phone))) == 1
    row = await running.row(bert.notification_id)
    assert row is not None and row["reason"] == "same_text_within_hour" and row["sent_at"] is None


async def test_a_message_past_its_validity_expires_instead_of_going_late(running: Running, twilio: TwilioFake,
                                                                         clock: Clock, smtp: SmtpSink) -> None:
    recipient = sms_recipient(email=f"{unique('cleo-')}@example.be")
    ok = sms_recipient()
    on_time = await alert(running, ok)
    await status_is(running, on_time.notification_id, "delivered")
    [message] = twilio.sent_to(str(ok.phone))
    assert 14390 <= message["_validity_period"] <= 14400, "a crisis alert is worth 4 hours: Twilio's ValidityPeriod"
    await twilio.configure(outage={"seconds": 900, "status": 503})  # Twilio down: the alert waits
    command = await alert(running, recipient)
    await eventually(lambda: twilio.server.stats["outage_refused"] >= 1 or None)
    clock.offset = timedelta(hours=4, seconds=1)  # the outage outlasted the alert's relevance
    assert await status_is(running, command.notification_id, "expired") == "expired"
    await twilio.configure(outage=None)
    row = await running.row(command.notification_id)
    assert row is not None and (row["reason"], row["send_state"]) == ("validity_passed", "done")
    assert twilio.sent_to(str(recipient.phone)) == []
    assert smtp.handler.find(str(recipient.email)) == [], "an expired message has no fallback: it is over"
    async with httpx.AsyncClient() as client:
        progress = (await client.get(running.settings.public_base_url + "/v1/notifications",
                                     params={"crisis_id": command.crisis_id}, headers=auth("coordinator"))).json()
    assert progress["expired"] == 1 and progress["counts"]["expired"] == 1
