"""Creates the platform's topics (and their DLQ twins) from `shared.topics`; harmless when they exist."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaConnectionError

from shared.topics import TopicSpec, all_topic_specs


async def ensure_topics(
    bootstrap_servers: str, specs: list[TopicSpec] | None = None, *, prefix: str = "", replication_factor: int = 1,
    security: Mapping[str, Any] | None = None,
) -> list[str]:
    """Create missing topics; returns the names created."""
    specs = specs if specs is not None else all_topic_specs()
    admin = AIOKafkaAdminClient(**(security or {}), bootstrap_servers=bootstrap_servers, client_id="topic-admin")
    for attempt in range(30):
        try:
            await admin.start()
            break
        except KafkaConnectionError:
            if attempt == 29:
                raise
            await asyncio.sleep(1)
    try:
        existing = set(await admin.list_topics())
        missing = [
            NewTopic(prefix + s.name, s.partitions, replication_factor, topic_configs=s.kafka_config())
            for s in specs
            if prefix + s.name not in existing
        ]
        if missing:
            await admin.create_topics(missing, timeout_ms=30000)
        return [t.name for t in missing]
    finally:
        await admin.close()


async def delete_topics(bootstrap_servers: str, *prefixes: str, security: Mapping[str, Any] | None = None) -> list[str]:
    """Delete every topic whose name starts with one of `prefixes`; the names deleted. For tests and benchmarks,
    which make their topics under prefixes of their own (and Faust apps their changelogs under their ids): left
    behind, thousands of topics slow every client's metadata refresh on a shared broker."""
    if not prefixes or not all(prefixes):
        raise ValueError("delete_topics needs prefixes, none empty (an empty one would match every topic)")
    admin = AIOKafkaAdminClient(**(security or {}), bootstrap_servers=bootstrap_servers, request_timeout_ms=30000)
    await admin.start()
    try:
        names = [t for t in await admin.list_topics() if t.startswith(prefixes)]
        for i in range(0, len(names), 50):
            await admin.delete_topics(names[i:i + 50], timeout_ms=30000)
        return names
    finally:
        await admin.close()


async def kafka_ping(producer: object, within: float = 2.0) -> bool:
    """True when the broker answers a metadata request within `within` seconds."""
    client = getattr(producer, "client", None)
    if client is None:
        return False
    try:
        return bool(await asyncio.wait_for(client.force_metadata_update(), within))
    except (TimeoutError, KafkaConnectionError, OSError):
        return False
