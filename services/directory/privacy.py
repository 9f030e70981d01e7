"""The directory's part of a person's privacy request: it holds posts, their changes and case routings (case
references, kinds and countries), nothing about a person, so it answers with no items. It still answers, so
that the coordinator knows it was asked."""

from __future__ import annotations

import asyncpg
from aiokafka import AIOKafkaProducer

from shared import privacy_requests
from shared.events.privacy import PrivacyItem, PrivacyRequested
from shared.kafka.consumer import EventConsumer
from shared.kafka.security import Security

SERVICE = "directory"


async def directory_part(_conn: asyncpg.Connection, _data: PrivacyRequested) -> list[PrivacyItem]:
    return []


def make_consumer(*, bootstrap_servers: str, topic_prefix: str, source: str, pool: asyncpg.Pool,
                  producer: AIOKafkaProducer, security: Security | None = None) -> EventConsumer:
    return privacy_requests.make_consumer(service=SERVICE, part=directory_part, bootstrap_servers=bootstrap_servers,
                                          topic_prefix=topic_prefix, source=source, pool=pool, producer=producer,
                                          security=security)
