"""Message bodies leave the notifier a set time after the final delivery status; the delivery record stays.
Through the real flow: command on Kafka, the local Twilio server, its status callbacks, the database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx

from services.notifier.retention import remove_message_bodies
from tests.notifier.conftest import Running, sms_recipient
from tests.support import auth, eventually, unique


async def test_body_removed_after_final_status_and_delivery_record_kept(running: Running) -> None:
    crisis_id = unique("crisis-")
    delivered = await running.command(purpose=f"crisis:{crisis_id}:alert", recipient=sms_recipient(), language="en",
                                      template="crisis_alert", priority="crisis", crisis_id=crisis_id,
                                      params={"crisis_title": "Flood", "hotline_number": "+3225011000"})

    async def is_delivered() -> bool:
        return await running.status(delivered.notification_id) == "delivered"

    await eventually(is_delivered, timeout=60)
    before = await running.row(delivered.notification_id)
    assert before is not None and before["body"] and before["body_removed_at"] is None

    # Not yet due: a day after the final status, with 30 days' retention.
    assert await remove_message_bodies(running.pool, keep_days=30, now=datetime.now(UTC) + timedelta(days=1)) == 0
    kept = await running.row(delivered.notification_id)
    assert kept is not None and kept["body"] == before["body"]

    removed = await remove_message_bodies(running.pool, keep_days=30, now=datetime.now(UTC) + timedelta(days=31))
    assert removed >= 1
    after = await running.row(delivered.notification_id)
    assert after is not None and after["body"] == "" and after["html"] is None and after["subject"] is None
    assert after["body_removed_at"] is not None
    assert after["status"] == "delivered" and after["recipient"] == before["recipient"]
    assert await running.statuses(delivered.notification_id) == ["queued", "sent", "delivered"]

    audit = await running.pool.fetchrow("SELECT counts FROM retention_runs WHERE job = 'message_bodies'"
                                        " ORDER BY id DESC LIMIT 1")
    assert audit is not None and audit["counts"] == {"bodies_removed": removed}

    async with httpx.AsyncClient(base_url=running.settings.public_base_url) as client:
        listed = await client.get("/v1/notifications", params={"crisis_id": crisis_id}, headers=auth("coordinator"))
    assert listed.status_code == 200, listed.text
    assert listed.json()["counts"]["delivered"] == 1
    assert [(n["notification_id"], n["status"]) for n in listed.json()["notifications"]] == [
        (delivered.notification_id, "delivered")]


async def test_messages_without_a_final_status_keep_their_body(running: Running) -> None:
    await running.pool.execute(
        "INSERT INTO notifications (notification_id, dedup_key, purpose, channel, recipient, language, template,"
        " priority, body, status, send_state, next_attempt_at, updated_at)"
        " VALUES ('pending-1', 'k-pending-1', 'p', 'sms', '+32470999999', 'en', 'crisis_alert', 1, 'hello',"
        " 'sent', 'accepted', now() + interval '1 day', now() - interval '90 days')")
    await remove_message_bodies(running.pool, keep_days=30)
    assert await running.pool.fetchval("SELECT body FROM notifications WHERE notification_id = 'pending-1'") == "hello"
