"""`python -m services.crisis_center api|worker|all`: the HTTP API (port 8003), the Faust worker, or both."""

from __future__ import annotations

import argparse
import asyncio
import sys

from services.crisis_center.api import create_app
from services.crisis_center.privacy import PrivacyResponder
from services.crisis_center.settings import Settings
from services.crisis_center.welfare_desk import WelfareDesk
from services.crisis_center.worker import CrisisWorker
from shared.collector import tune_collector
from shared.health import Check, HealthServer, KafkaCheck, database_check, serving
from shared.kafka.security import client_security
from shared.logging import get_logger
from shared.runner import run_service


def tables_recovered(worker: CrisisWorker) -> Check:
    """The Faust app is past its rebalance and its tables are recovered from their changelogs."""

    async def check() -> bool:
        app = worker.app
        return bool(app.tables.recovery.completed.is_set()  # type: ignore[attr-defined]
                    and not app.rebalancing and not app.tables.recovery.in_recovery)  # type: ignore[attr-defined]

    return check


def registries_read(worker: CrisisWorker) -> Check:
    """The registries have read and decided every partition they hold: the counts they feed are true."""

    async def check() -> bool:
        return worker.registries.ready()

    return check


async def run_worker(settings: Settings, stop: asyncio.Event) -> None:
    worker = CrisisWorker(settings)
    privacy = PrivacyResponder(settings)  # a plain consumer beside the Faust app: see crisis_center/privacy.py
    desk = WelfareDesk(settings)  # rounds and answers: see crisis_center/welfare_desk.py
    health = HealthServer(service="crisis-center-worker", host=settings.http_host, port=settings.health_port,
                          checks={"database": lambda: database_check(worker.pool)(),
                                  "kafka": KafkaCheck(settings.kafka_bootstrap_servers,
                                                      security=client_security(settings)),
                                  "tables": tables_recovered(worker),
                                  "registries": registries_read(worker)},
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.crisis_center")
    parser.add_argument("mode", choices=["api", "worker", "all"])
    args = parser.parse_args(argv)
    settings = Settings()  # type: ignore[call-arg]  # from the environment
    return run_service("crisis_center", args.mode, settings, api=lambda: create_app(settings),
                       worker=lambda stop: run_worker(settings, stop))


if __name__ == "__main__":
    sys.exit(main())
