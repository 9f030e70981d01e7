"""Each bench run makes its topics under a prefix of its own; they are deleted after it, or a shared broker grows
thousands of topics whose metadata every client then fetches and decodes (1,255 here once, 6 % of the crisis
worker's time)."""

from __future__ import annotations

import os

from aiokafka.admin import AIOKafkaAdminClient


async def drop_topics(*prefixes: str) -> None:
    """Delete every topic whose name starts with one of `prefixes` (a Faust app's internal topics start with its
    id)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=os.environ["KAFKA_BOOTSTRAP_SERVERS"], request_timeout_ms=30000)
    await admin.start()
    try:
        names = [t for t in await admin.list_topics() if t.startswith(prefixes)]
        for i in range(0, len(names), 50):
            await admin.delete_topics(names[i:i + 50], timeout_ms=30000)
    finally:
        await admin.close()
