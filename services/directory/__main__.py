"""`python -m services.directory api|worker|all|publish-posts`.

api: the HTTP API (port 8002); worker: routes consular reports, relays the outbox; all: both in one process;
publish-posts: put every post's current state on the compacted `directory.posts` (through the outbox, sent by
the worker's relay), e.g. once after a fresh deployment.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from datetime import UTC, datetime

import uvicorn

from services.directory.api import create_app
from services.directory.bootstrap import open_resources
from services.directory.domain.posts import post_to_dict
from services.directory.settings import Settings
from services.directory.worker import Worker
from shared.events.directory import PostChanged
from shared.health import GRACEFUL_SHUTDOWN_SECONDS, HealthServer, KafkaCheck, consumers_check, database_check, serving
from shared.kafka.outbox import enqueue
from shared.kafka.producer import make_producer
from shared.kafka.security import client_security
from shared.logging import configure_logging, get_logger


async def run_worker(settings: Settings, stop: asyncio.Event) -> None:
    resources = await open_resources(settings)
    security = client_security(settings)
    producer = make_producer(settings.kafka_bootstrap_servers, client_id="directory-worker", security=security)
    await producer.start()
    worker = Worker(settings, resources, producer)
    health = HealthServer(service="directory-worker", host=settings.http_host, port=settings.health_port, checks={
        "database": database_check(resources.pool),
        "kafka": KafkaCheck(settings.kafka_bootstrap_servers, security=security),
        "consumers": consumers_check(lambda: [worker.consumer])}, tasks=worker.tasks)
    try:
        async with serving(health):
            await worker.start()
            get_logger(__name__).info("directory_worker_started")
            await stop.wait()
    finally:
        await worker.stop()
        await producer.stop()
        await resources.pool.close()


async def run_api(settings: Settings) -> None:
    config = uvicorn.Config(
        create_app(settings),
        host=settings.http_host,
        port=settings.http_port,
        log_level=settings.log_level.lower(),
        access_log=False,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
    )
    await uvicorn.Server(config).serve()


async def publish_posts(settings: Settings) -> int:
    resources = await open_resources(settings)
    now = datetime.now(UTC)
    try:
        async with resources.pool.acquire() as conn, conn.transaction():
            for post in resources.snapshot.current.posts.values():
                data = PostChanged(
                    post_id=post.post_id, change="published", post=post_to_dict(post), changed_by="system", at=now
                )
                await enqueue(conn, data, source=settings.source, topic_prefix=settings.kafka_topic_prefix)
    finally:
        await resources.pool.close()
    return len(resources.snapshot.current.posts)


async def main_async(mode: str, settings: Settings) -> None:
    if mode == "publish-posts":
        count = await publish_posts(settings)
        print(f"{count} posts queued for directory.posts")
        return
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
    parser = argparse.ArgumentParser(prog="python -m services.directory")
    parser.add_argument("mode", choices=["api", "worker", "all", "publish-posts"])
    args = parser.parse_args(argv)
    settings = Settings()  # type: ignore[call-arg]  # values come from the environment
    configure_logging("directory", settings.log_level)
    asyncio.run(main_async(args.mode, settings))
    return 0


if __name__ == "__main__":
    sys.exit(main())
