"""`python -m services.notifier api|worker|all`: the HTTP API (port 8004), the worker, or both in one process;
`python -m services.notifier redrive`: send again the messages an old outage failed."""

from __future__ import annotations

import argparse
import asyncio
import sys

from services.notifier import redrive
from services.notifier.api import create_app
from services.notifier.bootstrap import open_resources
from services.notifier.settings import NotifierSettings
from services.notifier.worker import Worker
from shared.health import consumers_check
from shared.runner import run_kafka_worker, run_service


async def run_worker(settings: NotifierSettings, stop: asyncio.Event) -> None:
    pool_max = max(settings.database_pool_max, settings.command_consumers + 6)  # a connection per consumer, + relay
    await run_kafka_worker(settings, stop, name="notifier",
                           open_resources=lambda: open_resources(settings, pool_max=pool_max),
                           build=lambda resources, producer: Worker(settings, resources, producer),
                           checks=lambda worker: {"consumers": consumers_check(lambda: worker.consumers)})


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["redrive"]:
        return redrive.main(argv[1:])
    parser = argparse.ArgumentParser(prog="python -m services.notifier", epilog="python -m services.notifier "
                                     "redrive --help: send again the messages an old outage failed")
    parser.add_argument("mode", choices=["api", "worker", "all"])
    args = parser.parse_args(argv)
    settings = NotifierSettings()  # type: ignore[call-arg]  # values come from the environment
    return run_service("notifier", args.mode, settings, api=lambda: create_app(settings),
                       worker=lambda stop: run_worker(settings, stop))


if __name__ == "__main__":
    sys.exit(main())
