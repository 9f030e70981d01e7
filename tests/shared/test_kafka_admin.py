"""`shared.kafka.admin.delete_topics`: the topics of the prefixes given go, the others stay (real broker)."""

from __future__ import annotations

import pytest
from aiokafka.admin import AIOKafkaAdminClient

from shared.kafka.admin import delete_topics, ensure_topics
from shared.topics import TopicSpec
from tests.support import bootstrap, eventually, unique


async def test_only_the_topics_under_the_given_prefixes_are_deleted() -> None:
    doomed, other, kept = unique("tdel"), unique("tdel"), unique("tkeep")
    for prefix in (doomed, other, kept):
        await ensure_topics(bootstrap(), [TopicSpec("a", 1), TopicSpec("b", 1)], prefix=prefix)
    deleted = await delete_topics(bootstrap(), doomed, other)
    assert sorted(deleted) == sorted(f"{p}{name}" for p in (doomed, other) for name in ("a", "b"))
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap())
    await admin.start()

    async def only_the_kept_ones_left() -> bool:
        left = {t for t in await admin.list_topics() if t.startswith((doomed, other, kept))}
        return left == {f"{kept}a", f"{kept}b"}

    try:
        await eventually(only_the_kept_ones_left)
    finally:
        await admin.close()
        await delete_topics(bootstrap(), kept)


@pytest.mark.parametrize("prefixes", [(), ("",), ("t-some.", "")])
async def test_an_empty_prefix_is_refused_before_anything_is_deleted(prefixes: tuple[str, ...]) -> None:
    with pytest.raises(ValueError, match="empty"):
        await delete_topics("127.0.0.1:1", *prefixes)  # refused before any connection
