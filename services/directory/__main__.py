"""`python -m services.directory api|worker|all|publish-posts`.

api: the HTTP API (port 8002); worker: routes consular reports, relays the outbox; all: both in one process;
publish-posts: put every post's current state on the compacted `directory.posts` (through the outbox, sent by
the worker's relay), e.g. once after a fresh deployment.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import UTC, datetime

from services.directory.api import create_app
from services.directory.bootstrap import open_resources
from services.directory.domain.posts import post_to_dict
from services.directory.settings import Settings
from services.directory.worker import Worker
from shared.events.directory import PostChanged
from shared.health import consumers_check
from shared.kafka.outbox import enqueue
from shared.logging import configure_logging
from shared.runner import run_kafka_worker, run_service


async def run_worker(settings: Settings, stop: asyncio.Event) -> None:
    await run_kafka_worker(settings, stop, name="directory", open_resources=lambda: open_resources(settings),
                           build=lambda resources, producer: Worker(settings, resources, producer),
                           checks=lambda worker: {"consumers": consumers_check(lambda: [worker.consumer])})


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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.directory")
    parser.add_argument("mode", choices=["api", "worker", "all", "publish-posts"])
    args = parser.parse_args(argv)
    settings = Settings()  # type: ignore[call-arg]  # values come from the environment
    if args.mode == "publish-posts":
        configure_logging("directory", settings.log_level)
        print(f"{asyncio.run(publish_posts(settings))} posts queued for directory.posts")
        return 0
    return run_service("directory", args.mode, settings, api=lambda: create_app(settings),
                       worker=lambda stop: run_worker(settings, stop))


if __name__ == "__main__":
    sys.exit(main())
