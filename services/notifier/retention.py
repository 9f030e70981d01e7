"""The notifier's retention job (docs/privacy.md): a message's texts are emptied a set time after its final
delivery status; the delivery record (recipient, status, history) stays. Each run is audited with counts only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg

from shared.logging import get_logger

log = get_logger(__name__)

FINAL_STATUSES = ("delivered", "failed", "undeliverable", "opted_out", "expired", "deduplicated")

_REMOVE_BODIES = """
WITH due AS (
    SELECT n.id FROM notifications n
    WHERE n.body_removed_at IS NULL AND n.status = ANY($2::text[])
      AND coalesce((SELECT max(h.at) FROM status_history h
                    WHERE h.notification_id = n.notification_id AND h.status = ANY($2::text[])), n.updated_at) < $1
    ORDER BY n.id LIMIT $3 FOR UPDATE SKIP LOCKED
)
UPDATE notifications SET body = '', html = NULL, subject = NULL, params = NULL, body_removed_at = now()
WHERE id IN (SELECT id FROM due)
"""


async def remove_message_bodies(pool: asyncpg.Pool, *, keep_days: float, now: datetime | None = None,
                                batch: int = 1000) -> int:
    """Empty the texts of messages whose final status is older than `keep_days`; returns how many."""
    cutoff = (now or datetime.now(UTC)) - timedelta(days=keep_days)
    removed = 0
    while True:
        async with pool.acquire() as conn, conn.transaction():
            status = await conn.execute(_REMOVE_BODIES, cutoff, list(FINAL_STATUSES), batch)
            count = int(status.split()[-1])
            removed += count
        if count < batch:
            break
    async with pool.acquire() as conn:
        await conn.execute("INSERT INTO retention_runs (job, cutoff, counts) VALUES ($1, $2, $3)",
                           "message_bodies", {"final_status_before": cutoff.isoformat()}, {"bodies_removed": removed})
    log.info("retention_run", job="message_bodies", bodies_removed=removed)
    return removed
