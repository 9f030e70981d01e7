"""`python -m services.feeds worker`: polls the GDACS and USGS feeds and publishes incidents (no HTTP API; probes
and metrics on HEALTH_PORT, 9105)."""

from __future__ import annotations

import argparse
import asyncio
import functools
import sys

from services.feeds.bootstrap import open_resources
from services.feeds.probes import FeedsHealthServer
from services.feeds.settings import FeedsSettings
from services.feeds.worker import Worker
from shared.runner import run_kafka_worker, run_service


async def run_worker(settings: FeedsSettings, stop: asyncio.Event) -> None:
    await run_kafka_worker(settings, stop, name="feeds", open_resources=lambda: open_resources(settings),
                           build=lambda resources, producer: Worker(settings, resources, producer),
                           health=lambda worker: functools.partial(FeedsHealthServer, details=worker.status))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.feeds")
    parser.add_argument("mode", choices=["worker"])
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    settings = FeedsSettings()
    return run_service("feeds", args.mode, settings, worker=lambda stop: run_worker(settings, stop))


if __name__ == "__main__":
    sys.exit(main())
