"""Session-wide set-up: local defaults, and a loud failure when the broker or the database is not there."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest
from aiokafka.admin import AIOKafkaAdminClient

from tests.support import bootstrap, database_url, load_local_env

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
