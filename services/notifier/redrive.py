"""`python -m services.notifier redrive --crisis-id ID | --case-reference REF [--dry-run]`: send again the messages
that were given up before the provider ever took them.

Since the circuit breaker (issue 19, finding 2) an outage no longer fails anything; before it, an outage longer
than a message's retries failed it for good (`retries_exhausted`). This puts such messages of one crisis or one
case back in the queue: status `queued` again (published, with the reason `redriven`), their dispatches counted
from zero. Only messages Twilio or the mail relay never accepted (no provider id): one that was accepted and then
failed to reach the handset is the provider's verdict, and one refused as undeliverable or opted out stays so.
"""

from __future__ import annotations

import argparse
import asyncio
import uuid
from datetime import UTC, datetime

import asyncpg

from services.notifier.adapters import repository as repo
from services.notifier.domain.delivery import DeliveryStatus
from services.notifier.handlers import SOURCE
from services.notifier.settings import NotifierSettings
from shared.db import create_pool
from shared.events.notifications import NotificationStatus
from shared.kafka.outbox import enqueue
from shared.logging import configure_logging, get_logger

log = get_logger(__name__)
_REDRIVES = uuid.UUID("7d0c3f52-51a4-4e1e-9b7a-2f6d1c8e4a17")


async def redrive(conn: asyncpg.Connection, *, crisis_id: str | None, case_reference: str | None, actor: str,
                  topic_prefix: str = "", dry_run: bool = False) -> list[str]:
    """Requeue the crisis's or the case's failed, never-accepted messages that have no fallback; returns their ids.
    One transaction."""
    if (crisis_id is None) == (case_reference is None):
        raise ValueError("give a crisis id or a case reference")
    # A message whose fallback exists (an e-mail or a call after the SMS failed) reached, or is reaching, the person
    # another way: sending it again would say it twice.
    where = ("status = 'failed' AND provider_id IS NULL AND send_state = 'done'"
             " AND (crisis_id = $1 OR case_reference = $2)"
             " AND NOT EXISTS (SELECT 1 FROM notifications AS f WHERE f.fallback_of = notifications.notification_id)")
    if dry_run:
        rows = await conn.fetch(f"SELECT notification_id FROM notifications WHERE {where} ORDER BY id",
                                crisis_id, case_reference)
        return [r["notification_id"] for r in rows]
    rows = await conn.fetch(
        f"UPDATE notifications SET status = 'queued', send_state = 'pending', dispatches = 0, reason = NULL,"
        f" next_attempt_at = now(), claimed_by = NULL, updated_at = now() WHERE {where}"
        " RETURNING notification_id, channel, case_reference, crisis_id", crisis_id, case_reference)
    at = datetime.now(UTC)
    for row in rows:
        await repo.add_history(conn, row["notification_id"], DeliveryStatus.QUEUED, "redriven", f"redrive:{actor}")
        await enqueue(conn, NotificationStatus(
            notification_id=row["notification_id"], channel=row["channel"], status="queued", reason="redriven",
            at=at, case_reference=row["case_reference"], crisis_id=row["crisis_id"]),
            source=SOURCE, topic_prefix=topic_prefix,
            event_id=str(uuid.uuid5(_REDRIVES, f"{row['notification_id']}|{at.isoformat()}")))
    log.info("redriven", crisis_id=crisis_id, case_reference=case_reference, messages=len(rows))
    return [r["notification_id"] for r in rows]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.notifier redrive", description=__doc__.split("\n")[0])
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--crisis-id")
    target.add_argument("--case-reference")
    parser.add_argument("--actor", default="operator", help="who redrives (recorded in each message's history)")
    parser.add_argument("--dry-run", action="store_true", help="list the messages, change nothing")
    args = parser.parse_args(argv)
    settings = NotifierSettings()  # type: ignore[call-arg]  # values come from the environment
    configure_logging("notifier", settings.log_level)

    async def run() -> list[str]:
        pool = await create_pool(settings.database_url, settings.schema_name, min_size=1, max_size=1)
        try:
            async with pool.acquire() as conn, conn.transaction():
                return await redrive(conn, crisis_id=args.crisis_id, case_reference=args.case_reference,
                                     actor=args.actor, topic_prefix=settings.kafka_topic_prefix,
                                     dry_run=args.dry_run)
        finally:
            await pool.close()

    ids = asyncio.run(run())
    print(f"{'would redrive' if args.dry_run else 'redriven'}: {len(ids)}")
    for notification_id in ids:
        print(notification_id)
    return 0
