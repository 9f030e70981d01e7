"""kill -9 of the notifier worker in the middle of a fan-out of 2,000 SMS, then a restart: each recipient got
exactly one SMS. A Twilio outage of 15 minutes (`make chaos`; 20 seconds in `make test`) under 500 alerts: every
alert delivered once afterwards, for a handful of refused calls. Also: urgent messages are taken before bulk."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections import Counter
from typing import Any

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer

from services.notifier.adapters import repository as repo
from services.notifier.domain.delivery import DeliveryStatus
from shared.events.envelope import encode, new_event
from shared.events.notifications import Recipient, SendNotification, notification_id_for
from shared.kafka.producer import kafka_headers
from tests.notifier.conftest import SOURCE, TwilioFake
from tests.support import ROOT, eventually, new_pool, unique

FANOUT = 2000


async def publish_many(producer: AIOKafkaProducer, commands: list[SendNotification], prefix: str) -> None:
    futures = []
    for command in commands:
        event = new_event(command, source=SOURCE)
        futures.append(await producer.send(prefix + command.TOPIC, encode(event), key=command.key().encode(),
                                           headers=kafka_headers(event)))
    await asyncio.gather(*futures)


def crisis_alerts(crisis_id: str, phones: list[str], *, title: str) -> list[SendNotification]:
    """A crisis alert to each phone, in the four languages in turn, as the crisis center commands them."""
    return [
        SendNotification(
            notification_id=notification_id_for(f"crisis:{crisis_id}:alert", "sms", phone),
            purpose=f"crisis:{crisis_id}:alert", channel="sms", recipient=Recipient(phone=phone),
            language=("fr", "nl", "de", "en")[i % 4], template="crisis_alert",
            params={"crisis_title": title, "hotline_number": "+3225011000"}, priority="crisis", crisis_id=crisis_id,
        )
        for i, phone in enumerate(phones)
    ]


def start_worker(schema: str, prefix: str, twilio_url: str, **extra: str) -> subprocess.Popen[bytes]:
    env = dict(os.environ, **extra)
    env.update(DATABASE_SCHEMA=schema, KAFKA_TOPIC_PREFIX=prefix, TWILIO_API_BASE=twilio_url,
               SMS_RATE_PER_SECOND="150", SEND_CONCURRENCY="32", SEND_TIMEOUT_SECONDS="1.5",
               HEARTBEAT_SECONDS="0.5", DEAD_AFTER_SECONDS="4", COMMAND_CONSUMERS="2", LOG_LEVEL="WARNING",
               PUBLIC_BASE_URL="http://127.0.0.1:9")
    return subprocess.Popen([sys.executable, "-m", "services.notifier", "worker"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


@pytest.mark.slow
async def test_kill_9_mid_fanout_then_restart_sends_each_sms_once(
    schema: str, prefix: str, twilio: TwilioFake, producer: AIOKafkaProducer
) -> None:
    await twilio.configure(callbacks=False)
    crisis_id = unique("crisis-")
    phones = [f"+3248{i:07d}" for i in range(FANOUT)]
    commands = crisis_alerts(crisis_id, phones, title="Flood")
    await publish_many(producer, commands, prefix)
    first = start_worker(schema, prefix, twilio.url)
    try:
        await eventually(lambda: len(twilio.server.messages) >= FANOUT // 4 or None, timeout=120, interval=0.05)
        os.kill(first.pid, signal.SIGKILL)
        first.wait(10)
    finally:
        if first.poll() is None:
            first.kill()
    at_kill = len(twilio.server.messages)
    assert 0 < at_kill < FANOUT, "the kill must land in the middle of the fan-out"
    pool = await new_pool(schema)
    try:
        reserved = await pool.fetchval("SELECT count(*) FROM notifications WHERE send_state = 'reserved'")
        second = start_worker(schema, prefix, twilio.url)
        try:
            async def all_sent() -> bool:
                left = await pool.fetchval(
                    "SELECT count(*) FROM notifications WHERE send_state NOT IN ('accepted', 'done')")
                total = await pool.fetchval("SELECT count(*) FROM notifications")
                return total == FANOUT and left == 0

            await eventually(all_sent, timeout=180, interval=0.5)
        finally:
            second.send_signal(signal.SIGTERM)
            second.wait(30)
        per_recipient = Counter(m["to"] for m in twilio.server.messages.values())
        assert set(per_recipient) == set(phones)
        assert max(per_recipient.values()) == 1
        sids = {m["sid"] for m in twilio.server.messages.values()}
        recorded = {r["provider_id"] for r in await pool.fetch("SELECT provider_id FROM notifications")}
        assert recorded == sids
        print(f"\nkilled after {at_kill} SMS with {reserved} reserved rows; all {FANOUT} sent once")
    finally:
        await pool.close()


OUTAGE_SECONDS = 900 if os.environ.get("CHAOS_FULL") == "1" else 20
OUTAGE_ALERTS = 500


@pytest.mark.slow
@pytest.mark.chaos
async def test_a_long_twilio_outage_then_every_alert_once(
    schema: str, prefix: str, twilio: TwilioFake, producer: AIOKafkaProducer
) -> None:
    """Twilio answers 503 (no Retry-After) for OUTAGE_SECONDS while 500 alerts wait: none is failed, each goes out
    once when Twilio is back, and the outage costs one wave of calls and a probe per open period (the circuit's
    longest wait is 120 s by default; 30 s in the full run, 2 s in the short one, so that recovery is quick)."""
    ceiling = 30 if OUTAGE_SECONDS > 60 else 2
    await twilio.configure(callbacks=False, outage={"seconds": OUTAGE_SECONDS, "status": 503})
    crisis_id = unique("crisis-")
    phones = [f"+3249{i:07d}" for i in range(OUTAGE_ALERTS)]
    commands = crisis_alerts(crisis_id, phones, title="Cyclone")
    await publish_many(producer, commands, prefix)
    worker = start_worker(schema, prefix, twilio.url, PROVIDER_OUTAGE_RETRY_SECONDS="1",
                          PROVIDER_OUTAGE_MAX_SECONDS=str(ceiling))
    pool = await new_pool(schema)
    try:
        async def all_sent() -> bool:
            sent = await pool.fetchval("SELECT count(*) FROM notifications WHERE send_state = 'accepted'")
            return bool(sent == OUTAGE_ALERTS)

        await eventually(all_sent, timeout=OUTAGE_SECONDS + 180, interval=1)
        failed = await pool.fetchval("SELECT count(*) FROM notifications WHERE status = 'failed'")
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(30)
        await pool.close()
    per_recipient = Counter(m["to"] for m in twilio.server.messages.values())
    assert set(per_recipient) == set(phones) and max(per_recipient.values()) == 1
    assert failed == 0
    refused = twilio.server.stats["outage_refused"]
    assert refused <= 32 + OUTAGE_SECONDS, refused  # a wave, then at most a probe a second (fewer as it backs off)
    print(f"\n{OUTAGE_SECONDS} s outage: {refused} refused calls; all {OUTAGE_ALERTS} alerts sent once")


async def _insert(conn: asyncpg.Connection, notification_id: str, priority: int) -> None:
    await repo.insert_notification(conn, repo.NewNotification(
        notification_id=notification_id, dedup_key=notification_id, purpose=notification_id, channel="sms",
        recipient="+32470000000", language="en", template="x", priority=priority, case_reference=None,
        crisis_id="c", subject=None, body="b", html=None, segments=1, encoding="GSM-7",
        status=DeliveryStatus.QUEUED, reason=None))


async def test_urgent_messages_are_claimed_before_bulk(schema: str) -> None:
    pool = await new_pool(schema)
    try:
        async with pool.acquire() as conn:
            for i in range(5):
                await _insert(conn, f"bulk-{i}", 2)
            await _insert(conn, "case-0", 1)
            await _insert(conn, "crisis-0", 0)
            await repo.heartbeat(conn, "s1")
            claimed: list[Any] = await repo.claim(conn, "s1", 3)
            assert [c.notification_id for c in claimed] == ["crisis-0", "case-0", "bulk-0"]
            again = await repo.claim(conn, "s1", 10)
            assert [c.notification_id for c in again] == [f"bulk-{i}" for i in range(1, 5)]
            # The sender is alive: nothing is an orphan. Once it is silent, another sender takes its work over.
            assert await repo.claim_orphans(conn, "s2", 60, 100) == []
            await conn.execute("UPDATE senders SET heartbeat_at = now() - interval '1 hour'")
            orphans = await repo.claim_orphans(conn, "s2", 60, 100)
            assert len(orphans) == 7 and orphans[0].notification_id == "crisis-0"
    finally:
        await pool.close()
