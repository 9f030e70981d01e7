"""How every service's process runs: `python -m services.<name> api|worker|all` (see each `__main__.py`).

`api` serves the FastAPI app with uvicorn; `worker` runs the service's consumers until SIGTERM or SIGINT; `all`
runs both in one process (local runs), and stops both when either ends. The worker of a Kafka service has one
shape (resources, a producer, the worker, probes on HEALTH_PORT), written once here in `run_kafka_worker`.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any, Protocol, TypeVar

import asyncpg
import uvicorn
import uvloop
from aiokafka import AIOKafkaProducer
from fastapi import FastAPI

from shared.collector import tune_collector
from shared.health import GRACEFUL_SHUTDOWN_SECONDS, Check, HealthServer, KafkaCheck, database_check, serving
from shared.kafka.producer import make_producer
from shared.kafka.security import client_security
from shared.logging import configure_logging, get_logger
from shared.settings import HttpSettings, ProcessSettings

log = get_logger(__name__)

WorkerRun = Callable[[asyncio.Event], Awaitable[None]]
"""Runs a service's worker until the event is set, then stops it cleanly."""


class HasPool(Protocol):
    @property
    def pool(self) -> asyncpg.Pool: ...


class KafkaWorker(Protocol):
    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    def tasks(self) -> Iterable[asyncio.Task[Any]]: ...


ResourcesT = TypeVar("ResourcesT", bound=HasPool)
WorkerT = TypeVar("WorkerT", bound=KafkaWorker)


async def serve_api(app: FastAPI, settings: HttpSettings, stop: asyncio.Event | None = None) -> None:
    """Serve until uvicorn gets a signal, or `stop` is set (in mode all, when the worker ended)."""
    config = uvicorn.Config(app, host=settings.http_host, port=settings.http_port,
                            log_level=settings.log_level.lower(), access_log=False,
                            timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS)
    server = uvicorn.Server(config)

    async def exit_on_stop(stop: asyncio.Event) -> None:
        await stop.wait()
        server.should_exit = True

    watcher = asyncio.create_task(exit_on_stop(stop)) if stop is not None else None
    try:
        await server.serve()
    finally:
        if watcher is not None:
            watcher.cancel()


async def run_kafka_worker(
    settings: ProcessSettings,
    stop: asyncio.Event,
    *,
    name: str,
    open_resources: Callable[[], Awaitable[ResourcesT]],
    build: Callable[[ResourcesT, AIOKafkaProducer], WorkerT],
    checks: Callable[[WorkerT], Mapping[str, Check]] = lambda worker: {},
    health: Callable[[WorkerT], Callable[..., HealthServer]] = lambda worker: HealthServer,
) -> None:
    """Open the service's resources and producer, start its worker and probes, run until `stop`, close in order.

    The probes check the database and Kafka, plus what `checks` adds (e.g. its consumers' assignments); `health`
    gives a HealthServer subclass (bound to the worker) with more to say on /readyz.
    """
    resources = await open_resources()
    security = client_security(settings)
    producer = make_producer(settings.kafka_bootstrap_servers, client_id=f"{name}-worker", security=security)
    await producer.start()
    worker = build(resources, producer)
    probes = health(worker)(service=f"{name}-worker", host=settings.http_host, port=settings.health_port, checks={
        "database": database_check(resources.pool),
        "kafka": KafkaCheck(settings.kafka_bootstrap_servers, security=security),
        **checks(worker)}, tasks=worker.tasks)
    try:
        async with serving(probes):
            await worker.start()
            tune_collector()
            log.info(f"{name}_worker_started")
            await stop.wait()
    finally:
        await worker.stop()
        await producer.stop()
        await resources.pool.close()


async def run_modes(mode: str, settings: HttpSettings, *, api: Callable[[], FastAPI] | None = None,
                    worker: WorkerRun | None = None) -> None:
    """Run `mode` (api, worker or all) until SIGTERM or SIGINT; in mode all, either ending stops the other.

    `api` builds the app, only when it is served. While uvicorn serves, it takes the signals itself and raises
    them again once it has shut down, which reaches the handler here and stops the worker.
    """
    if mode in ("api", "all") and api is None:
        raise ValueError(f"this service has no HTTP API to run in mode {mode!r}")
    if mode in ("worker", "all") and worker is None:
        raise ValueError(f"this service has no worker to run in mode {mode!r}")
    if mode not in ("api", "worker", "all"):
        raise ValueError(f"unknown mode {mode!r}")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    signals = (signal.SIGINT, signal.SIGTERM)
    for sig in signals:
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    try:
        runs = [*([serve_api(api(), settings, stop)] if api is not None and mode != "worker" else []),
                *([worker(stop)] if worker is not None and mode != "api" else [])]
        tasks = [asyncio.ensure_future(run) for run in runs]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop.set()
            results = await asyncio.gather(*tasks, return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                raise result
    finally:
        for sig in signals:
            with contextlib.suppress(NotImplementedError):
                loop.remove_signal_handler(sig)


def run_service(service: str, mode: str, settings: HttpSettings, *, api: Callable[[], FastAPI] | None = None,
                worker: WorkerRun | None = None) -> int:
    """The end of every `__main__.main`: logging configured for the service, then `run_modes` in a new loop."""
    configure_logging(service, settings.log_level)
    with asyncio.Runner(loop_factory=loop_factory(settings.event_loop)) as runner:
        runner.run(run_modes(mode, settings, api=api, worker=worker))
    return 0


def loop_factory(name: str) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """The event loop a service runs on: uvloop by default (uvicorn only picks it itself in `uvicorn.run`, which
    the services do not use; it took intake from 482 to 588 reports/s, docs/benchmarks.md), Python's on request."""
    return uvloop.new_event_loop if name == "uvloop" else None
