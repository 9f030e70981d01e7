"""Each bench run makes its topics under a prefix of its own; they are deleted after it, or a shared broker grows
thousands of topics whose metadata every client then fetches and decodes (1,255 here once)."""

from __future__ import annotations

import os

from shared.kafka.admin import delete_topics


async def drop_topics(*prefixes: str) -> None:
    """Delete every topic whose name starts with one of `prefixes` (a Faust app's internal topics start with its
    id)."""
    await delete_topics(os.environ["KAFKA_BOOTSTRAP_SERVERS"], *prefixes)
