"""The answering side of a person's privacy request, the same in every service: a consumer of
`privacy.requests` that computes the service's part (a plain function over its own tables) and publishes one
`PrivacyAnswered` through the outbox, in the transaction that also records the event as handled, so that a
redelivered request neither erases twice nor answers twice."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, date, datetime
from typing import Any

import asyncpg
from aiokafka import AIOKafkaProducer

from shared.events.envelope import CloudEvent, EventData
from shared.events.privacy import (
    REQUESTS_TOPIC,
    RESPONSES_TOPIC,
    PrivacyAnswered,
    PrivacyItem,
    PrivacyRequested,
    answer_event_id,
)
from shared.kafka.consumer import EventConsumer, PermanentError
from shared.kafka.outbox import enqueue
from shared.logging import get_logger

log = get_logger(__name__)

#: A service's part: what it holds about the person (access) or what it erased (erasure), from its own tables.
Part = Callable[[asyncpg.Connection, PrivacyRequested], Awaitable[list[PrivacyItem]]]
AnswerSink = Callable[[asyncpg.Connection, PrivacyAnswered], Awaitable[None]]


def plain(value: Any) -> Any:
    """A database value as JSON (dates as ISO 8601)."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


async def answer(conn: asyncpg.Connection, data: PrivacyRequested, *, service: str, part: Part, source: str,
                 topic_prefix: str) -> PrivacyAnswered:
    """Compute the service's part and publish it through the outbox, in the caller's transaction."""
    items = await part(conn, data)
    answered = PrivacyAnswered(request_id=data.request_id, service=service, kind=data.kind, items=items,
                               answered_at=datetime.now(UTC))
    await enqueue(conn, answered, source=source, topic_prefix=topic_prefix,
                  event_id=answer_event_id(data.request_id, service))
    log.info("privacy_request_answered", request_id=data.request_id, service=service, kind=data.kind,
             items=len(items))
    return answered


def make_consumer(*, service: str, part: Part, bootstrap_servers: str, topic_prefix: str, source: str,
                  pool: asyncpg.Pool, producer: AIOKafkaProducer,
                  on_answer: AnswerSink | None = None, security: Mapping[str, Any] | None = None) -> EventConsumer:
    """The service's consumer of `privacy.requests` (and of `privacy.responses` for the coordinator)."""

    async def handle(_event: CloudEvent, data: EventData, conn: asyncpg.Connection | None) -> None:
        if conn is None:
            raise PermanentError("the privacy consumer needs a database transaction")
        if isinstance(data, PrivacyRequested):
            await answer(conn, data, service=service, part=part, source=source, topic_prefix=topic_prefix)
        elif isinstance(data, PrivacyAnswered) and on_answer is not None:
            await on_answer(conn, data)

    topics = [REQUESTS_TOPIC, RESPONSES_TOPIC] if on_answer is not None else [REQUESTS_TOPIC]
    return EventConsumer(name=f"{service}-privacy", bootstrap_servers=bootstrap_servers,
                         group_id=f"{topic_prefix}{service}-privacy", topics=topics, handler=handle,
                         producer=producer, pool=pool, topic_prefix=topic_prefix, security=security)
