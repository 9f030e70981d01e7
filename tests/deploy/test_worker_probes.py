"""The worker processes' probes (shared/health.py): /readyz is 200 only while PostgreSQL and Kafka answer and the
consumers are in their groups, 503 before that and once a dependency fails; /healthz and /metrics answer.

PostgreSQL is reached through a TCP relay in the test, so that the test can cut the worker off the real
database (and reconnect it) without touching the shared server.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aiohttp
import pytest

from shared.db import create_pool
from shared.health import HealthServer, KafkaCheck, consumers_check, database_check
from shared.kafka.consumer import EventConsumer
from shared.kafka.producer import make_producer
from tests.support import bootstrap, database_url, drop_schema, eventually, new_schema, new_topic_prefix, unique

ROOT = Path(__file__).resolve().parents[2]


class Relay:
    """A TCP relay to PostgreSQL that can be cut (every connection closed, new ones refused) and restored."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def cut(self) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()
        for writer in list(self._writers):
            writer.close()
        self._writers.clear()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self.target)
        self._writers |= {writer, up_writer}

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(ConnectionError, OSError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))


def through(relay: Relay) -> str:
    parts = urlsplit(database_url())
    netloc = parts.netloc.rsplit("@", 1)
    host = f"127.0.0.1:{relay.port}"
    return urlunsplit(parts._replace(netloc=f"{netloc[0]}@{host}" if len(netloc) == 2 else host))


@pytest.fixture
async def relay() -> AsyncIterator[Relay]:
    parts = urlsplit(database_url())
    relay = Relay(parts.hostname or "127.0.0.1", parts.port or 5432)
    await relay.start()
    yield relay
    with contextlib.suppress(Exception):
        await relay.cut()


async def get(port: int, path: str) -> tuple[int, Any]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session, \
            session.get(f"http://127.0.0.1:{port}{path}") as response:
        body = await response.json() if response.content_type == "application/json" else await response.text()
        return response.status, body


async def status_is(port: int, path: str, status: int) -> Any:
    try:
        got, body = await get(port, path)
    except aiohttp.ClientError:
        return None
    return body if got == status else None


async def test_readyz_follows_the_consumer_and_the_database(relay: Relay) -> None:
    """In process: 503 before the consumer joins its group, 200 once it has, 503 when PostgreSQL is cut off,
    200 again once it is back, 503 after the consumer stops; a Kafka that does not answer is not ready."""
    prefix = await new_topic_prefix()
    schema = await new_schema("probes")
    pool = await create_pool(through(relay), schema, min_size=1, max_size=2)
    producer = make_producer(bootstrap(), client_id="probe-test")
    await producer.start()

    async def handler(*_: Any) -> None:
        return None

    consumer = EventConsumer(name="probe-test", bootstrap_servers=bootstrap(), group_id=unique("probe-"),
                             topics=["consular.reports"], handler=handler, producer=producer, pool=pool,
                             topic_prefix=prefix)
    server = HealthServer(service="probe-test", host="127.0.0.1", port=0, checks={
        "database": database_check(pool), "kafka": KafkaCheck(bootstrap()),
        "consumers": consumers_check(lambda: [consumer])})
    await server.start()
    run: asyncio.Task[None] | None = None
    try:
        status, body = await eventually(lambda: _answer(server.port, "/readyz"), timeout=30)
        assert status == 503
        assert body["checks"] == {"database": True, "kafka": True, "consumers": False}

        run = asyncio.create_task(consumer.run())
        ready = await eventually(lambda: status_is(server.port, "/readyz", 200), timeout=90, interval=0.25)
        assert ready == {"ready": True, "checks": {"database": True, "kafka": True, "consumers": True}}

        await relay.cut()
        cut = await eventually(lambda: status_is(server.port, "/readyz", 503), timeout=30, interval=0.25)
        assert cut["checks"]["database"] is False and cut["checks"]["consumers"] is True

        await relay.start()
        await eventually(lambda: status_is(server.port, "/readyz", 200), timeout=60, interval=0.25)

        status, health = await get(server.port, "/healthz")
        assert status == 200 and health["status"] == "ok"
        status, metrics = await get(server.port, "/metrics")
        assert status == 200 and "python_info" in metrics

        await consumer.stop()
        stopped = await eventually(lambda: status_is(server.port, "/readyz", 503), timeout=30, interval=0.25)
        assert stopped["checks"]["consumers"] is False

        nowhere = KafkaCheck("127.0.0.1:9")  # nothing listens on the discard port
        try:
            assert await HealthServer(service="x", host="127.0.0.1", port=0,
                                      checks={"kafka": nowhere}).readiness() == {"kafka": False}
        finally:
            await nowhere.close()
    finally:
        if run is not None:
            await consumer.stop()
            await asyncio.gather(run, return_exceptions=True)
        await server.stop()
        await producer.stop()
        await pool.close()
        await drop_schema(schema)


async def _answer(port: int, path: str) -> tuple[int, Any] | None:
    try:
        return await get(port, path)
    except aiohttp.ClientError:
        return None


async def test_directory_worker_process_probes(relay: Relay) -> None:
    """`python -m services.directory worker` serves its probes on HEALTH_PORT: ready once at work, not ready
    while its database is cut off, ready again after."""
    prefix = await new_topic_prefix()
    schema = await new_schema("directory")
    port = 19400 + os.getpid() % 500
    env = {**os.environ, "KAFKA_TOPIC_PREFIX": prefix, "DATABASE_SCHEMA": schema, "DATABASE_URL": through(relay),
           "HEALTH_PORT": str(port), "LOG_LEVEL": "WARNING"}
    log = ROOT / ".run" / "test-logs" / f"probes-{schema}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "services.directory", "worker"], cwd=ROOT, env=env,
                                stdout=out, stderr=subprocess.STDOUT)
    try:
        ready = await eventually(lambda: status_is(port, "/readyz", 200), timeout=120, interval=0.25)
        assert ready["checks"] == {"database": True, "kafka": True, "consumers": True}, log.read_text()
        status, _ = await get(port, "/healthz")
        assert status == 200

        await relay.cut()
        cut = await eventually(lambda: status_is(port, "/readyz", 503), timeout=30, interval=0.25)
        assert cut["checks"]["database"] is False
        await relay.start()
        await eventually(lambda: status_is(port, "/readyz", 200), timeout=60, interval=0.25)
        assert proc.poll() is None, "the worker should ride out a database outage"
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
        await drop_schema(schema)


async def test_liveness_fails_when_a_worker_task_ends() -> None:
    """Issue 19, finding 7: a consumer task that died (a seek on a revoked partition, a failed DLQ send) left the
    worker looking alive while it did nothing."""
    async def consume_forever() -> None:
        await asyncio.Event().wait()

    async def crash() -> None:
        await asyncio.sleep(0.05)
        raise RuntimeError("seek on a revoked partition")

    tasks = [asyncio.create_task(consume_forever(), name="commands-0"),
             asyncio.create_task(consume_forever(), name="outbox-relay")]
    server = HealthServer(service="liveness-test", host="127.0.0.1", port=0, checks={}, tasks=lambda: tasks)
    await server.start()
    try:
        status, body = await eventually(lambda: _answer(server.port, "/healthz"), timeout=10)
        assert status == 200 and body["status"] == "ok"
        tasks.append(asyncio.create_task(crash(), name="privacy-requests"))
        await asyncio.gather(tasks[-1], return_exceptions=True)
        status, body = await get(server.port, "/healthz")
        assert status == 503 and body["status"] == "task_ended" and body["ended"] == ["privacy-requests"]
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await server.stop()
