"""Commands stored a polled batch per transaction: duplicates inside a batch and across batches give one message, a
poison command goes to the DLQ without holding the others, and a worker that stored batches but never committed
their offsets (killed between the database commit and the offset commit) has them redelivered to no effect."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from services.notifier.bootstrap import open_resources
from services.notifier.handlers import Publisher, accept_commands
from services.notifier.settings import NotifierSettings
from services.notifier.worker import Worker
from shared.events.envelope import CloudEvent, decode, encode, new_event
from shared.events.notifications import (
    COMMANDS_TOPIC,
    Recipient,
    SendNotification,
    SmsPreference,
    notification_id_for,
)
from shared.kafka.producer import kafka_headers
from shared.notifications.rendering import Renderer
from shared.topics import spec_for
from tests.notifier.conftest import OFFICER, SOURCE, TwilioFake, ack_params, case_message_params, sms_recipient
from tests.notifier.test_notifier_chaos import crisis_alerts
from tests.support import bootstrap, consume, eventually, new_pool, unique


def alert(crisis_id: str, phone: str, *, notification_id: str | None = None,
          purpose: str | None = None) -> SendNotification:
    purpose = purpose or f"crisis:{crisis_id}:alert"
    return SendNotification(
        notification_id=notification_id or notification_id_for(purpose, "sms", phone), purpose=purpose,
        channel="sms", recipient=Recipient(phone=phone), language="nl", template="crisis_alert",
        params={"crisis_title": "Flood", "hotline_number": "+3225011000"}, priority="crisis", crisis_id=crisis_id)


async def send_events(producer: AIOKafkaProducer, prefix: str, events: list[CloudEvent], *,
                      key: bytes | None = None) -> None:
    """Publish the events in order, all under `key` when given (one partition: they come in one poll)."""
    futures = [await producer.send(prefix + COMMANDS_TOPIC, encode(event),
                                   key=key or str(event.data["notification_id"]).encode(),
                                   headers=kafka_headers(event)) for event in events]
    for future in futures:
        await future


def events_of(commands: list[SendNotification]) -> list[CloudEvent]:
    return [new_event(command, source=SOURCE) for command in commands]


@asynccontextmanager
async def worker(settings: NotifierSettings, producer: AIOKafkaProducer, *,
                 before_run: Callable[[Worker], None] | None = None) -> AsyncIterator[Worker]:
    resources = await open_resources(settings)
    running = Worker(settings, resources, producer)
    await running.start()
    if before_run is not None:
        before_run(running)
    try:
        yield running
    finally:
        await running.stop()
        await resources.pool.close()


async def test_duplicates_inside_one_call_and_across_calls_are_stored_once(schema: str) -> None:
    """The batch's own dedup, on the database alone: the same command twice, another id for the same purpose and
    recipient, then a second batch repeating some of them."""
    crisis_id = unique("crisis-")
    phones = [f"+3249{i:07d}" for i in range(4)]
    first = [alert(crisis_id, phones[0]), alert(crisis_id, phones[0]), alert(crisis_id, phones[1]),
             alert(crisis_id, phones[1], notification_id=unique("other-")), alert(crisis_id, phones[2])]
    second = [alert(crisis_id, phones[2]), alert(crisis_id, phones[3]),
              alert(crisis_id, phones[3], notification_id=unique("again-"))]
    pool = await new_pool(schema)
    renderer, publisher = Renderer(), Publisher("")
    try:
        async with pool.acquire() as conn, conn.transaction():
            stored_first = await accept_commands(conn, first, renderer=renderer, publisher=publisher)
        async with pool.acquire() as conn, conn.transaction():
            stored_second = await accept_commands(conn, second, renderer=renderer, publisher=publisher)
        assert stored_first == [first[0].notification_id, first[2].notification_id, first[4].notification_id]
        assert stored_second == [second[1].notification_id]
        rows = await pool.fetch("SELECT notification_id, recipient, status, send_state, body FROM notifications"
                                " ORDER BY id")
        assert [r["recipient"] for r in rows] == phones  # in the order of the commands
        assert {r["status"] for r in rows} == {"queued"} and {r["send_state"] for r in rows} == {"pending"}
        assert all("Hulp: +32 2 501 10 00" in r["body"] for r in rows)
        history = await pool.fetch("SELECT notification_id, status FROM status_history")
        assert Counter(r["notification_id"] for r in history) == {r["notification_id"]: 1 for r in rows}
        outbox = await pool.fetch("SELECT event_id FROM outbox")
        assert sorted(r["event_id"] for r in outbox) == sorted(f"{r['notification_id']}:queued" for r in rows)
    finally:
        await pool.close()


async def test_an_own_case_message_to_an_opted_out_number_goes_by_email_in_a_batch(schema: str) -> None:
    """The opt-out lookup of a batch (one query for all) routes like the one-by-one path did."""
    pool = await new_pool(schema)
    reference = f"BE-2026-{unique('')[:6]}"
    out, kept = sms_recipient(email="out@example.be"), sms_recipient(email="kept@example.be")
    commands = [SendNotification(
        notification_id=notification_id_for(f"case:{reference}:ack", "sms", str(r.phone)),
        purpose=f"case:{reference}:ack", channel="sms", recipient=r, language="fr", template="case_acknowledgement",
        params=ack_params(reference), priority="case", case_reference=reference, officer=OFFICER)
        for r in (out, kept)]
    try:
        await pool.execute("INSERT INTO opt_outs (address, keyword, source) VALUES ($1, 'opt_out', 'test')",
                           str(out.phone))
        async with pool.acquire() as conn, conn.transaction():
            await accept_commands(conn, commands, renderer=Renderer(), publisher=Publisher(""))
        rows = {r["notification_id"]: r for r in await pool.fetch("SELECT * FROM notifications")}
        by_email, by_sms = rows[commands[0].notification_id], rows[commands[1].notification_id]
        assert (by_email["channel"], by_email["recipient"], by_email["reason"]) == (
            "email", "out@example.be", "opted_out_sms_sent_by_email")
        assert (by_sms["channel"], by_sms["recipient"]) == ("sms", str(kept.phone))
        assert "Anne Peeters" in by_email["body"] and "Anne Peeters" in by_sms["body"]
    finally:
        await pool.close()


async def test_duplicates_in_a_batch_and_across_batches_send_one_sms_each(
    settings: NotifierSettings, producer: AIOKafkaProducer, twilio: TwilioFake
) -> None:
    """Through Kafka: one partition's poll holds a redelivered event, a repeated command and another id for the
    same recipient; a later batch repeats them all."""
    await twilio.configure(callbacks=False)
    prefix = settings.kafka_topic_prefix
    crisis_id = unique("crisis-")
    phones = [f"+3246{i:07d}" for i in range(20)]
    commands = crisis_alerts(crisis_id, phones, title="Flood")
    commands += [commands[3], alert(crisis_id, phones[5], notification_id=unique("other-"))]
    first_round = events_of(commands)
    first_round[4:4] = [first_round[0], first_round[0]]  # the same event delivered three times
    await send_events(producer, prefix, first_round, key=b"one-partition")
    async with worker(settings, producer) as running:
        pool = running.resources.pool
        await eventually(lambda: pool.fetchval("SELECT count(*) = 20 FROM notifications"))
        await send_events(producer, prefix, events_of(commands))  # later batches: all again, as new events

        async def all_handled() -> bool:
            return bool(await pool.fetchval("SELECT count(*) FROM processed_events") >= len(commands) * 2)

        await eventually(all_handled)
        await eventually(lambda: pool.fetchval("SELECT count(*) = 0 FROM notifications"
                                               " WHERE send_state NOT IN ('accepted', 'done')"))
        assert await pool.fetchval("SELECT count(*) FROM notifications") == 20
        assert await pool.fetchval("SELECT count(*) FROM status_history WHERE status = 'queued'") == 20
    sent = Counter(m["to"] for m in twilio.server.messages.values())
    assert sent == dict.fromkeys(phones, 1)


async def test_a_poison_command_in_a_batch_goes_to_the_dlq_and_the_others_are_stored(
    settings: NotifierSettings, producer: AIOKafkaProducer, twilio: TwilioFake
) -> None:
    """A command the database cannot take (a NUL character in its purpose) spoils its batch's transaction: the
    batch is handled again one by one, the poison dead-lettered, the ten around it stored and sent."""
    await twilio.configure(callbacks=False)
    prefix = settings.kafka_topic_prefix
    crisis_id = unique("crisis-")
    phones = [f"+3245{i:07d}" for i in range(10)]
    good = crisis_alerts(crisis_id, phones, title="Flood")
    poison = alert(crisis_id, "+32459999999", purpose=f"crisis:{crisis_id}:alert\x00")
    await send_events(producer, prefix, events_of([*good[:5], poison, *good[5:]]), key=b"one-partition")
    async with worker(settings, producer) as running:
        pool = running.resources.pool
        await eventually(lambda: pool.fetchval("SELECT count(*) = 10 FROM notifications"
                                               " WHERE send_state = 'accepted'"), timeout=60)
        assert await pool.fetchval("SELECT count(*) FROM notifications") == 10
        dead = await consume(prefix + COMMANDS_TOPIC + ".dlq", count=1, timeout=30)
    assert len(dead) == 1
    assert decode(dead[0].value).data["notification_id"] == poison.notification_id
    reason = dict(dead[0].headers)["dlq.reason"].decode()
    assert "handler failed" in reason
    assert Counter(m["to"] for m in twilio.server.messages.values()) == dict.fromkeys(phones, 1)


async def _committed(group: str, topic: str) -> dict[int, int | None]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap(), group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = range(spec_for(COMMANDS_TOPIC).partitions)
        return {p: await consumer.committed(TopicPartition(topic, p)) for p in partitions}
    finally:
        await consumer.stop()


async def test_a_crash_between_batches_redelivers_them_without_a_second_message(
    settings: NotifierSettings, producer: AIOKafkaProducer, twilio: TwilioFake
) -> None:
    """The first worker stores (and sends) every batch but its offsets never reach Kafka, as when a worker dies
    right after a batch's commit; the second worker gets all of them again and adds nothing."""
    await twilio.configure(callbacks=False)
    settings = settings.model_copy(update={"command_batch": 7})
    prefix = settings.kafka_topic_prefix
    topic = prefix + COMMANDS_TOPIC
    group = f"{prefix}notifier"
    crisis_id = unique("crisis-")
    phones = [f"+3244{i:07d}" for i in range(60)]
    await send_events(producer, prefix, events_of(crisis_alerts(crisis_id, phones, title="Flood")))

    def never_commit(running: Worker) -> None:
        async def lost(*_: object, **__: object) -> None:
            return None

        for consumer in running.consumers:
            consumer._consumer.commit = lost  # type: ignore[method-assign]

    async def all_sent(pool: asyncpg.Pool) -> bool:
        return bool(await pool.fetchval("SELECT count(*) = 60 FROM notifications WHERE send_state = 'accepted'"))

    async with worker(settings, producer, before_run=never_commit) as first:
        await eventually(lambda: all_sent(first.resources.pool), timeout=60)
        handled_once = await first.resources.pool.fetchval("SELECT count(*) FROM processed_events")
    assert handled_once == 60
    assert set((await _committed(group, topic)).values()) == {None}  # nothing acknowledged: all comes back
    async with worker(settings, producer) as second:
        committed = await eventually(lambda: _all_committed(group, topic, 60), timeout=60)
        assert sum(committed.values()) == 60
        pool = second.resources.pool
        assert await pool.fetchval("SELECT count(*) FROM notifications") == 60
        assert await pool.fetchval("SELECT count(*) FROM status_history") == 60  # one `queued` line each
        assert await pool.fetchval("SELECT count(*) FROM processed_events") == 60
    assert Counter(m["to"] for m in twilio.server.messages.values()) == dict.fromkeys(phones, 1)
    statuses = await consume(prefix + "notifications.status", count=61, timeout=5)
    assert Counter(decode(r.value).data["status"] for r in statuses) == {"queued": 60}


async def _all_committed(group: str, topic: str, total: int) -> dict[int, int] | None:
    committed = await _committed(group, topic)
    values = {p: o or 0 for p, o in committed.items()}
    return values if sum(values.values()) == total else None


async def test_a_stop_between_commands_of_a_batch_applies_from_its_place(
    settings: NotifierSettings, producer: AIOKafkaProducer
) -> None:
    """Commands before the STOP go by SMS, the one after it by e-mail (its own case), as one by one."""
    reference = f"BE-2026-{unique('')[:6]}"
    person = sms_recipient(email="person@example.be")

    def ack(purpose: str) -> SendNotification:
        return SendNotification(
            notification_id=notification_id_for(f"case:{reference}:{purpose}", "sms", str(person.phone)),
            purpose=f"case:{reference}:{purpose}", channel="sms", recipient=person, language="en",
            template="case_message", params=case_message_params(reference, "We called the hospital."),
            priority="case",
            case_reference=reference, officer=OFFICER)

    before, after = ack("before"), ack("after")
    stop = SmsPreference(phone=str(person.phone), opted_out=True, keyword="STOP", at=datetime.now(UTC))
    resources = await open_resources(settings)
    try:
        batch = Worker(settings, resources, producer)
        async with resources.pool.acquire() as conn, conn.transaction():
            await batch.handle_batch([(new_event(e, source=SOURCE), e) for e in (before, stop, after)], conn)
        rows = {r["notification_id"]: r for r in await resources.pool.fetch("SELECT * FROM notifications")}
    finally:
        await resources.pool.close()
    assert (rows[before.notification_id]["channel"], rows[before.notification_id]["reason"]) == ("sms", None)
    assert (rows[after.notification_id]["channel"], rows[after.notification_id]["reason"]) == (
        "email", "opted_out_sms_sent_by_email")


async def test_a_providers_id_is_unique_where_there_is_one_and_rows_without_one_are_not_indexed(schema: str) -> None:
    pool = await new_pool(schema)
    try:
        async with pool.acquire() as conn:
            for n in (1, 2, 3):
                await conn.execute(
                    "INSERT INTO notifications (notification_id, dedup_key, purpose, channel, recipient, language,"
                    " template, priority) VALUES ($1, $1, 'p', 'sms', '+32470000001', 'fr', 'case_update', 1)",
                    f"n{n}")  # three rows without a provider id live side by side
            await conn.execute("UPDATE notifications SET provider_id = 'SM1' WHERE notification_id = 'n1'")
            with pytest.raises(asyncpg.UniqueViolationError):
                await conn.execute("UPDATE notifications SET provider_id = 'SM1' WHERE notification_id = 'n2'")
            partial = await conn.fetchval(
                "SELECT i.indpred IS NOT NULL FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
                " WHERE c.relname = 'notifications_provider_id' AND c.relnamespace = to_regnamespace($1)", schema)
            assert partial is True
            full = await conn.fetchval(
                "SELECT count(*) FROM pg_constraint WHERE conname = 'notifications_provider_id_key'"
                " AND connamespace = to_regnamespace($1)", schema)
            assert full == 0
    finally:
        await pool.close()
