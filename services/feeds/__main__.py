"""`python -m services.feeds worker`: polls the GDACS and USGS feeds and publishes incidents (no HTTP API; probes
and metrics on HEALTH_PORT, 9105)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys

from services.feeds.bootstrap import open_resources
from services.feeds.probes import FeedsHealthServer
from services.feeds.settings import FeedsSettings
from services.feeds.worker import Worker
from shared.health import KafkaCheck, database_check, serving
from shared.kafka.producer import make_producer
from shared.kafka.security import client_security
from shared.logging import configure_logging


async def run_worker(settings: FeedsSettings, stop: asyncio.Event) -> None:
    resources = await open_resources(settings)
    security = client_security(settings)
    producer = make_producer(settings.kafka_bootstrap_servers, client_id="feeds-worker", security=security)
    await producer.start()
    worker = Worker(settings, resources, producer)
    health = FeedsHealthServer(
        service="feeds-worker", host=settings.http_host, port=settings.health_port,
        checks={"database": database_check(resources.pool),
                "kafka": KafkaCheck(settings.kafka_bootstrap_servers, security)},
        tasks=worker.tasks, details=worker.status)
    try:
        async with serving(health):
            await worker.start()
            await stop.wait()
    finally:
        await worker.stop()
        await producer.stop()
        await resources.pool.close()


async def main_async(settings: FeedsSettings) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    await run_worker(settings, stop)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.feeds")
    parser.add_argument("mode", choices=["worker"])
    parser.parse_args(sys.argv[1:] if argv is None else argv)
    settings = FeedsSettings()
    configure_logging("feeds", settings.log_level)
    asyncio.run(main_async(settings))
    return 0


if __name__ == "__main__":
    sys.exit(main())
