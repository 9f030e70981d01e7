"""Session-wide set-up: local defaults, and a loud failure when the broker or the database is not there."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import asyncpg
import pytest
from aiokafka.admin import AIOKafkaAdminClient

from tests.support import CREATED_PREFIXES, bootstrap, database_url, delete_topics_with_prefixes, load_local_env

load_local_env()


async def _check_infrastructure() -> None:
    try:
        conn = await asyncpg.connect(database_url(), timeout=10)
        await conn.close()
    except (OSError, asyncpg.PostgresError) as exc:
        pytest.exit(f"PostgreSQL at DATABASE_URL does not answer ({exc}); start it: make infra", returncode=3)
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap(), request_timeout_ms=5000)
    try:
        await asyncio.wait_for(admin.start(), 15)
        await admin.close()
    except Exception as exc:
        pytest.exit(f"Kafka at KAFKA_BOOTSTRAP_SERVERS does not answer ({exc!r}); start it: make infra", returncode=3)


def pytest_sessionstart(session: pytest.Session) -> None:
    asyncio.run(_check_infrastructure())


@pytest.fixture(scope="module", autouse=True)
def _delete_the_module_topics() -> Iterator[None]:
    """After each test module, delete the topics its tests created under fresh prefixes."""
    before = len(CREATED_PREFIXES)
    yield
    created = CREATED_PREFIXES[before:]
    if created:
        # In a thread of its own: the tests' event loop may still be running in this one.
        worker = threading.Thread(target=lambda: asyncio.run(delete_topics_with_prefixes(created)))
        worker.start()
        worker.join(timeout=60)
