"""`python -m services.crisis_center api|worker|all`: the HTTP API (port 8003), the Faust worker, or both."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys

import uvicorn

from services.crisis_center.api import create_app
from services.crisis_center.privacy import PrivacyResponder
from services.crisis_center.settings import Settings
from services.crisis_center.welfare_desk import WelfareDesk
from services.crisis_center.worker import CrisisWorker, tune_collector
from shared.health import GRACEFUL_SHUTDOWN_SECONDS, Check, HealthServer, KafkaCheck, database_check, serving
from shared.kafka.security import client_security
from shared.logging import configure_logging, get_logger


def tables_recovered(worker: CrisisWorker) -> Check:
    """The Faust app is past its rebalance and its tables are recovered from their changelogs."""

    async def check() -> bool:
        app = worker.app
        return bool(app.tables.recovery.completed.is_set()  # type: ignore[attr-defined]
                    and not app.rebalancing and not app.tables.recovery.in_recovery)  # type: ignore[attr-defined]

    return check


async def run_worker(settings: Settings, stop: asyncio.Event) -> None:
    worker = CrisisWorker(settings)
    privacy = PrivacyResponder(settings)  # a plain consumer beside the Faust app: see crisis_center/privacy.py
    desk = WelfareDesk(settings)  # rounds and answers: see crisis_center/welfare_desk.py
    health = HealthServer(service="crisis-center-worker", host=settings.http_host, port=settings.health_port,
                          checks={"database": lambda: database_check(worker.pool)(),
                                  "kafka": KafkaCheck(settings.kafka_bootstrap_servers,
                                                      security=client_security(settings)),
                                  "tables": tables_recovered(worker)},
                          tasks=lambda: [*worker.tasks(), *privacy.tasks(), *desk.tasks()])
    async with serving(health):
        await worker.start()
        tune_collector()
        get_logger(__name__).info("crisis_worker_started", app_id=settings.faust_app_id, store=settings.faust_store)
        await privacy.start()
        await desk.start()
        try:
            await stop.wait()
        finally:
            await desk.stop()
            await privacy.stop()
            await worker.stop()


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
    parser = argparse.ArgumentParser(prog="python -m services.crisis_center")
    parser.add_argument("mode", choices=["api", "worker", "all"])
    args = parser.parse_args(argv)
    settings = Settings()  # type: ignore[call-arg]  # from the environment
    configure_logging("crisis_center", settings.log_level)
    asyncio.run(main_async(args.mode, settings))
    return 0


if __name__ == "__main__":
    sys.exit(main())
