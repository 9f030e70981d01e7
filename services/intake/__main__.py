"""`python -m services.intake api|worker|all`: the HTTP API (port 8001), the worker, or both in one process."""

from __future__ import annotations

import argparse
import asyncio
import sys

from services.intake.api import create_app
from services.intake.bootstrap import open_resources
from services.intake.settings import Settings
from services.intake.worker import Worker
from shared.health import consumers_check
from shared.runner import run_kafka_worker, run_service


async def run_worker(settings: Settings, stop: asyncio.Event) -> None:
    await run_kafka_worker(settings, stop, name="intake", open_resources=lambda: open_resources(settings),
                           build=lambda resources, producer: Worker(settings, resources, producer),
                           checks=lambda worker: {"consumers": consumers_check(lambda: [worker.consumer])})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.intake")
    parser.add_argument("mode", choices=["api", "worker", "all"])
    parser.add_argument("--inbox-port", type=int, default=None,
                        help="the consular inbox's SMTP port (overrides INBOUND_SMTP_PORT; make run uses 8027)")
    args = parser.parse_args(argv)
    settings = Settings()  # type: ignore[call-arg]  # values come from the environment
    if args.inbox_port is not None:
        settings = settings.model_copy(update={"inbound_smtp_port": args.inbox_port})
    return run_service("intake", args.mode, settings, api=lambda: create_app(settings),
                       worker=lambda stop: run_worker(settings, stop))


if __name__ == "__main__":
    sys.exit(main())
