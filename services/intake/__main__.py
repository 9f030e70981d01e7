"""`python -m services.intake api|worker|all`: the HTTP API (port 8001), the worker, or both in one process."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys

import uvicorn

from services.intake.api import create_app
from services.intake.bootstrap import open_resources
from services.intake.settings import Settings
from services.intake.worker import Worker
from shared.health import GRACEFUL_SHUTDOWN_SECONDS, HealthServer, KafkaCheck, consumers_check, database_check, serving
from shared.kafka.producer import make_producer
from shared.kafka.security import client_security
from shared.logging import configure_logging, get_logger


async def run_worker(settings: Settings, stop: asyncio.Event) -> None:
    resources = await open_resources(settings)
    security = client_security(settings)
    producer = make_producer(settings.kafka_bootstrap_servers, client_id="intake-worker", security=security)
    await producer.start()
    worker = Worker(settings, resources, producer)
    health = HealthServer(service="intake-worker", host=settings.http_host, port=settings.health_port, checks={
        "database": database_check(resources.pool),
        "kafka": KafkaCheck(settings.kafka_bootstrap_servers, security=security),
        "consumers": consumers_check(lambda: [worker.consumer])}, tasks=worker.tasks)
    try:
        async with serving(health):
            await worker.start()
            get_logger(__name__).info("intake_worker_started")
            await stop.wait()
    finally:
        await worker.stop()
        await producer.stop()
        await resources.pool.close()


async def run_api(settings: Settings) -> None:
    config = uvicorn.Config(create_app(settings), host=settings.http_host, port=settings.http_port,
                            log_level=settings.log_level.lower(), access_log=False,
                            timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS)
    await uvicorn.Server(config).serve()


async def main_async(mode: str, settings: Settings) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    if mode == "worker":
        await run_worker(settings, stop)
    elif mode == "api":
        await run_api(settings)
    else:
        api = asyncio.create_task(run_api(settings))
        worker = asyncio.create_task(run_worker(settings, stop))
        await asyncio.wait({api, worker}, return_when=asyncio.FIRST_COMPLETED)
        stop.set()
        await asyncio.gather(api, worker, return_exceptions=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.intake")
    parser.add_argument("mode", choices=["api", "worker", "all"])
    parser.add_argument("--inbox-port", type=int, default=None,
                        help="the consular inbox's SMTP port (overrides INBOUND_SMTP_PORT; make run uses 8027)")
    args = parser.parse_args(argv)
    settings = Settings()  # type: ignore[call-arg]  # values come from the environment
    if args.inbox_port is not None:
        settings = settings.model_copy(update={"inbound_smtp_port": args.inbox_port})
    configure_logging("intake", settings.log_level)
    asyncio.run(main_async(args.mode, settings))
    return 0


if __name__ == "__main__":
    sys.exit(main())
