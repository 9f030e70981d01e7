"""Fixtures of the shared library's tests on the real broker and database: a topic prefix, a schema with an
`effects` table for handlers to write to, a producer."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from shared.events import registry
from shared.kafka.producer import make_producer
from tests.support import bootstrap, drop_schema, new_pool, new_schema, new_topic_prefix


@pytest.fixture
async def prefix() -> str:
    return await new_topic_prefix()


@pytest.fixture
async def pool():  # type: ignore[no-untyped-def]
    schema = await new_schema("sharedtest", migrations=None)
    pool = await new_pool(schema)
    await pool.execute("CREATE TABLE effects (event_id text, traveller_id text)")
    yield pool
    await pool.close()
    await drop_schema(schema)


@pytest.fixture
async def producer():  # type: ignore[no-untyped-def]
    producer = make_producer(bootstrap(), client_id="tests")
    await producer.start()
    yield producer
    await producer.stop()


@pytest.fixture
def upcasters() -> Iterator[dict[tuple[str, int], registry.Upcaster]]:
    """The registry's upcasters as they are, restored after the test (which adds its own)."""
    saved = dict(registry.UPCASTERS)
    yield registry.UPCASTERS
    registry.UPCASTERS.clear()
    registry.UPCASTERS.update(saved)
