"""The notifier's part of a person's privacy request: the messages sent to their phones and addresses.

Access exports each message (what, when, to which address, its delivery history). Erasure anonymises it: the
address, subject and body go, the delivery record (channel, template, status, segments, dates) stays for
statistics; an opt-out is kept, since it is what prevents messaging the person again.
"""

from __future__ import annotations

import asyncpg
from aiokafka import AIOKafkaProducer

from services.notifier.handlers import SOURCE
from shared import privacy_requests
from shared.events.privacy import PrivacyItem, PrivacyRequested
from shared.kafka.consumer import EventConsumer
from shared.kafka.security import Security
from shared.privacy_requests import plain

SERVICE = "notifier"
ERASED = "(erased)"


async def notifier_part(conn: asyncpg.Connection, data: PrivacyRequested) -> list[PrivacyItem]:
    addresses = list(data.phones) + [e.lower() for e in data.emails]
    items: list[PrivacyItem] = []
    rows = await conn.fetch(
        "SELECT notification_id, purpose, channel, recipient, language, template, case_reference, crisis_id,"
        " subject, body, status, reason, created_at, updated_at FROM notifications"
        " WHERE recipient = ANY($1::text[]) OR lower(recipient) = ANY($1::text[])"
        " OR alt_phone = ANY($1::text[]) OR alt_email = ANY($1::text[]) ORDER BY id FOR UPDATE",
        addresses)
    for row in rows:
        if data.kind == "access":
            history = await conn.fetch("SELECT status, reason, source, at FROM status_history"
                                       " WHERE notification_id = $1 ORDER BY id", row["notification_id"])
            items.append(PrivacyItem(category="message", item_id=row["notification_id"], outcome="found",
                                     data=plain({**dict(row), "history": [dict(h) for h in history]})))
        else:
            await conn.execute(
                "UPDATE notifications SET recipient = $2, dedup_key = 'erased|' || notification_id, subject = NULL,"
                " body = '', html = NULL, alt_email = NULL, alt_phone = NULL, params = NULL, updated_at = now()"
                " WHERE notification_id = $1",
                row["notification_id"], ERASED)
            items.append(PrivacyItem(category="message", item_id=row["notification_id"], outcome="anonymised",
                                     note="address, subject and body erased; delivery record kept"))
    for opt_out in await conn.fetch("SELECT address, keyword, source, at FROM opt_outs"
                                    " WHERE address = ANY($1::text[])", addresses):
        items.append(PrivacyItem(
            category="opt_out", item_id=opt_out["address"],
            outcome="found" if data.kind == "access" else "retained",
            data=plain(dict(opt_out)) if data.kind == "access" else None,
            note=None if data.kind == "access" else "kept so that this address is never messaged again"))
    return items


def make_consumer(*, bootstrap_servers: str, topic_prefix: str, pool: asyncpg.Pool,
                  producer: AIOKafkaProducer, security: Security | None = None) -> EventConsumer:
    return privacy_requests.make_consumer(service=SERVICE, part=notifier_part, bootstrap_servers=bootstrap_servers,
                                          topic_prefix=topic_prefix, source=SOURCE, pool=pool, producer=producer,
                                          security=security)
