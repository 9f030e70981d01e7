"""Helpers for tests against the real broker and database."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, Literal

import aiohttp
import asyncpg
import pytest
from aiohttp import web
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord

from shared.auth import JwtConfig, mint_token
from shared.db import create_pool, migrate, seed
from shared.events.envelope import CloudEvent, decode
from shared.kafka.admin import delete_topics, ensure_topics
from shared.kafka.producer import make_producer
from shared.topics import all_topic_specs

ROOT = Path(__file__).resolve().parent.parent


def load_local_env() -> None:
    """Make `config/local.env` the defaults of the test process (the environment wins)."""
    for line in (ROOT / "config" / "local.env").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            os.environ.setdefault(key, value)


def bootstrap() -> str:
    return os.environ["KAFKA_BOOTSTRAP_SERVERS"]


def database_url() -> str:
    return os.environ["DATABASE_URL"]


def free_port() -> int:
    """A TCP port nobody listens on right now, on loopback (for a server a test starts)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


#: Prefixes created by this test process; tests/conftest.py deletes their topics after each module, so that a
#: whole run does not leave tens of thousands of partitions on the one local broker.
CREATED_PREFIXES: list[str] = []


async def new_topic_prefix() -> str:
    """A fresh prefix with every platform topic (and DLQ) created under it."""
    prefix = unique("t") + "."
    CREATED_PREFIXES.append(prefix)
    # The crisis center's repartition topic is left to its Faust app: tests run it with fewer partitions.
    specs = [s for s in all_topic_specs() if not s.name.startswith("crisis.by-country")]
    await ensure_topics(bootstrap(), specs, prefix=prefix)
    return prefix


async def delete_topics_with_prefixes(prefixes: list[str]) -> int:
    """Delete every topic whose name starts with one of `prefixes` (Faust's own topics included)."""
    return len(await delete_topics(bootstrap(), *prefixes))


#: Local seed files the tests' schemas get: intake's placeholder officers (a case needs someone to take it), not
#: its on-call rota (the tests that route calls write the rota they need).
TEST_SEEDS: dict[str, tuple[str, ...]] = {"intake": ("10_officers.sql",)}


async def new_schema(service: str, migrations: Path | None = None, *, seeded: bool = True) -> str:
    """A fresh schema for one test, with the shared and the service's migrations and its test seeds applied."""
    schema = unique(f"{service}_t")
    folder = migrations if migrations is not None else ROOT / "services" / service / "migrations"
    await migrate(database_url(), schema, folder if folder.is_dir() else None)
    if seeded and TEST_SEEDS.get(service):
        await seed(database_url(), schema, [ROOT / "services" / service / "seeds" / f for f in TEST_SEEDS[service]])
    return schema


def schema_fixture(service: str, scope: Literal["function", "module"] = "module", *, name: str = "schema") -> Any:
    """A fixture `schema` (or `name`): a fresh schema of `service` for a module's tests (or for each test), dropped
    after them. A conftest names it (`schema = schema_fixture("intake")`); tests/conftest.py's `pool` is a pool on
    `schema`. A module that needs several services' schemas names each (`name="intake_schema"`)."""
    async def schema() -> AsyncIterator[str]:
        created = await new_schema(service)
        yield created
        await drop_schema(created)

    return pytest.fixture(scope=scope, name=name)(schema)


async def new_pool(schema: str) -> asyncpg.Pool:
    return await create_pool(database_url(), schema, min_size=1, max_size=10)


async def drop_schema(schema: str) -> None:
    conn = await asyncpg.connect(database_url())
    try:
        await conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    finally:
        await conn.close()


def token(*roles: str, subject: str = "tester", ttl: int = 12 * 3600, secret: str | None = None) -> str:
    """A token of the local configuration. Long-lived by default: modules mint theirs at import, and a slow run
    (a loaded CI machine took 14 minutes) must not see them expire before its last test (they did at 600 s)."""
    config = JwtConfig(secret or os.environ["JWT_SECRET"], "be.diplomatie.consular", "consular-platform")
    return mint_token(config, subject=subject, roles=list(roles), ttl_seconds=ttl)


def auth(*roles: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(*roles)}"}


async def consume(
    topic: str,
    *,
    count: int,
    timeout: float = 30.0,
    predicate: Callable[[ConsumerRecord[Any, Any]], bool] | None = None,
) -> list[ConsumerRecord[Any, Any]]:
    """Read `topic` from the beginning until `count` matching records arrive or `timeout` passes."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap(), group_id=None, auto_offset_reset="earliest",
        isolation_level="read_committed", enable_auto_commit=False,
    )
    await consumer.start()
    found: list[ConsumerRecord[Any, Any]] = []
    deadline = time.monotonic() + timeout
    try:
        while len(found) < count and time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=300)
            for records in batches.values():
                found += [r for r in records if predicate is None or predicate(r)]
    finally:
        await consumer.stop()
    return found


async def consume_events(topic: str, *, count: int, timeout: float = 30.0) -> list[CloudEvent]:
    return [decode(r.value) for r in await consume(topic, count=count, timeout=timeout)]


async def eventually(check: Callable[[], Any], *, timeout: float = 30.0, interval: float = 0.2) -> Any:
    """Poll an (async or sync) check until it returns a truthy value; the value, or AssertionError."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if asyncio.iscoroutine(last):
            last = await last
        if last:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s (last value: {last!r})")


@contextlib.asynccontextmanager
async def serve_stand_in(app: web.Application) -> AsyncIterator[tuple[str, aiohttp.ClientSession]]:
    """A local stand-in (Twilio, the alert feeds) on a free port of 127.0.0.1, and a session to drive it."""
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    http = aiohttp.ClientSession()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}", http
    finally:
        await http.close()
        await runner.cleanup()


@contextlib.asynccontextmanager
async def started_worker(worker_class: Callable[..., Any], open_resources: Callable[[Any], Awaitable[Any]],
                         settings: Any, *, client_id: str, **producer_options: Any,
                         ) -> AsyncIterator[tuple[Any, AIOKafkaProducer]]:
    """A service's worker (`worker_class(settings, resources, producer)`) on resources of its own and a producer of
    its own, started; the worker and its producer. Stopped, and the producer and resources closed, after."""
    resources = await open_resources(settings)
    producer = make_producer(settings.kafka_bootstrap_servers, client_id=client_id, **producer_options)
    await producer.start()
    worker = worker_class(settings, resources, producer)
    await worker.start()
    try:
        yield worker, producer
    finally:
        await worker.stop()
        await producer.stop()
        await resources.pool.close()
