"""A worker process's probes: /healthz, /readyz and /metrics on their own port (HEALTH_PORT).

Workers serve no API, yet Kubernetes must tell a stuck worker from a working one and Prometheus must scrape its
counters. This is a bare ASGI app on uvicorn inside the worker's event loop:

- /healthz: 200 while the event loop turns (a heartbeat task ticks every second; a loop blocked longer than
  `stall_seconds` answers 503, or not at all, and the liveness probe restarts the pod) and every long-running task
  of the worker (its consumers, relays, schedulers: `tasks`) is still running: a task that ended, by an error or
  otherwise, answers 503 naming it, so that the pod is restarted instead of looking alive while doing nothing;
- /readyz: 200 only when every readiness check passes (PostgreSQL answers, Kafka answers, consumers are members
  of their groups, Faust tables recovered...), else 503 with the failing checks named;
- /metrics: the process's Prometheus registry.

A port already taken is logged and the worker runs on without probes: in a pod the port is always free (one
process per network namespace), while on a developer's machine several workers of one service may run at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any, Protocol

import asyncpg
import uvicorn
from aiokafka.client import AIOKafkaClient
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.types import Receive, Scope, Send

from shared.db import ping
from shared.logging import get_logger

log = get_logger(__name__)

#: How long an HTTP server waits for requests in flight when told to stop (Kubernetes allows 30 s by default);
#: past it, they are cut rather than the stop hanging.
GRACEFUL_SHUTDOWN_SECONDS = 20

Check = Callable[[], Awaitable[bool]]
CHECK_TIMEOUT_SECONDS = 3.0


class GroupMember(Protocol):
    def in_group(self) -> bool: ...


def database_check(pool: asyncpg.Pool) -> Check:
    """PostgreSQL answers a query through the worker's own pool."""

    async def check() -> bool:
        async with pool.acquire(timeout=CHECK_TIMEOUT_SECONDS) as conn:
            return bool(await conn.fetchval("SELECT 1", timeout=CHECK_TIMEOUT_SECONDS) == 1)

    return check


def consumers_check(consumers: Callable[[], Iterable[GroupMember]]) -> Check:
    """Every consumer has joined its group and holds a settled assignment (empty when the group has more
    members than partitions: such a replica is a ready standby)."""

    async def check() -> bool:
        members = list(consumers())
        return bool(members) and all(c.in_group() for c in members)

    return check


async def broker_reachable(bootstrap_servers: str) -> bool:
    """A TCP answer from one of the bootstrap servers: enough for an API, which publishes through its outbox (the
    relay sends, and waits for the broker), so its readiness needs no Kafka client of its own."""
    for server in bootstrap_servers.split(","):
        host, _, port = server.strip().rpartition(":")
        try:
            _, writer = await asyncio.wait_for(asyncio.open_connection(host or "127.0.0.1", int(port)), 2)
        except (OSError, TimeoutError, ValueError):
            continue
        writer.close()
        return True
    return False


def api_readiness(pool: Callable[[], asyncpg.Pool | None],
                  bootstrap_servers: str) -> Callable[[], Awaitable[dict[str, bool]]]:
    """An API's /readyz checks: the database answers through the pool its lifespan opened (`pool()`: None before
    it has, so not ready) and a bootstrap server answers (`broker_reachable`)."""

    async def readiness() -> dict[str, bool]:
        found = pool()
        database = found is not None and await ping(found)
        return {"database": database, "kafka": await broker_reachable(bootstrap_servers)}

    return readiness


class KafkaCheck:
    """Kafka answers a metadata request; a client of its own, so the check needs nothing of the worker's."""

    def __init__(self, bootstrap_servers: str, security: Mapping[str, Any] | None = None) -> None:
        self._bootstrap = bootstrap_servers
        self._security = dict(security or {})  # client_security(settings): the worker's own identity
        self._client: AIOKafkaClient | None = None

    async def __call__(self) -> bool:
        if self._client is None:
            client = AIOKafkaClient(**self._security, bootstrap_servers=self._bootstrap, client_id="health",
                                    request_timeout_ms=int(CHECK_TIMEOUT_SECONDS * 1000))
            await client.bootstrap()
            self._client = client
        metadata = await self._client.fetch_all_metadata()
        return bool(metadata.brokers())

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None


class HealthServer:
    """Serves the probes of one worker process; `start()` returns once it listens (or could not bind)."""

    def __init__(self, *, service: str, host: str, port: int, checks: Mapping[str, Check],
                 stall_seconds: float = 10.0, tasks: Callable[[], Iterable[asyncio.Task[Any]]] | None = None) -> None:
        self.service = service
        self.checks = dict(checks)
        self.tasks = tasks or (lambda: ())
        self.stall_seconds = stall_seconds
        self._last_tick = time.monotonic()
        self._config = uvicorn.Config(self.app, host=host, port=port, interface="asgi3", lifespan="off",
                                      log_level="warning", access_log=False, proxy_headers=False)
        self._server = _QuietServer(self._config)
        self._tasks: list[asyncio.Task[Any]] = []
        self.port = port

    async def start(self) -> None:
        self._tasks.append(asyncio.create_task(self._heartbeat(), name="health-heartbeat"))
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:  # bound here, since uvicorn would exit the process on a taken port
            sock.bind((self._config.host, self.port))
        except OSError as exc:
            sock.close()
            log.error("health_server_not_listening", service=self.service, port=self.port, error=str(exc))
            return
        self.port = sock.getsockname()[1]
        # Bound here; uvicorn listens on it a moment later (a probe before that is refused and retried).
        self._tasks.append(asyncio.create_task(self._server.serve(sockets=[sock]), name="health-server"))
        log.info("health_server_listening", service=self.service, port=self.port)

    async def stop(self) -> None:
        self._server.should_exit = True
        for task in self._tasks:
            if task.get_name() == "health-heartbeat":
                task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, BaseException):
                await task
        for check in self.checks.values():
            if isinstance(check, KafkaCheck):
                await check.close()

    async def _heartbeat(self) -> None:
        while True:
            self._last_tick = time.monotonic()
            await asyncio.sleep(1.0)

    async def readiness(self) -> dict[str, bool]:
        async def run(check: Check) -> bool:
            try:
                return await asyncio.wait_for(check(), CHECK_TIMEOUT_SECONDS)
            except Exception:  # any failure of a dependency means not ready
                return False

        results = await asyncio.gather(*(run(c) for c in self.checks.values()))
        return dict(zip(self.checks, results, strict=True))

    async def app(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        path = scope.get("path", "")
        if path == "/healthz":
            lag = time.monotonic() - self._last_tick
            ended = sorted(task.get_name() for task in self.tasks() if task.done())
            status = "stalled" if lag >= self.stall_seconds else "task_ended" if ended else "ok"
            if ended:
                log.error("worker_task_ended", service=self.service, tasks=ended)
            await _json(send, 200 if status == "ok" else 503,
                        {"status": status, "service": self.service, "loop_lag_seconds": round(lag, 3),
                         **({"ended": ended} if ended else {})})
        elif path == "/readyz":
            checks = await self.readiness()
            ready = bool(checks) and all(checks.values())
            await _json(send, 200 if ready else 503, {"ready": ready, "checks": checks})
        elif path == "/metrics":
            await _respond(send, 200, generate_latest(), CONTENT_TYPE_LATEST)
        else:
            await _json(send, 404, {"detail": "not found"})


class _QuietServer(uvicorn.Server):
    """Leaves SIGTERM and SIGINT to the worker, whose own handlers stop it (and this server with it)."""

    def capture_signals(self) -> contextlib.AbstractContextManager[None]:  # type: ignore[override]
        return contextlib.nullcontext()


async def _json(send: Send, status: int, body: dict[str, Any]) -> None:
    await _respond(send, status, json.dumps(body).encode(), "application/json")


async def _respond(send: Send, status: int, body: bytes, content_type: str) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", content_type.encode()), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


@contextlib.asynccontextmanager
async def serving(server: HealthServer) -> Any:
    """`async with serving(HealthServer(...)):` around a worker's run."""
    await server.start()
    try:
        yield server
    finally:
        await server.stop()
