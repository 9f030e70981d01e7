"""The periodic job runner of the retention jobs: first run one interval after start, errors survive, stop ends."""

from __future__ import annotations

import asyncio

from shared.periodic import PeriodicJob
from tests.support import eventually


async def test_runs_repeatedly_survives_transient_errors_and_stops() -> None:
    calls: list[int] = []

    async def job() -> None:
        calls.append(len(calls))
        if len(calls) == 1:
            raise OSError("database unreachable")

    runner = PeriodicJob("test", job, interval_seconds=0.01)
    task = asyncio.create_task(runner.run())
    await eventually(lambda: len(calls) >= 3)
    runner.stop()
    await asyncio.wait_for(task, timeout=30)
    assert task.exception() is None


async def test_stopped_before_the_first_interval_never_runs() -> None:
    calls: list[int] = []

    async def job() -> None:
        calls.append(1)

    runner = PeriodicJob("test", job, interval_seconds=3600)
    task = asyncio.create_task(runner.run())
    await asyncio.sleep(0)
    runner.stop()
    await asyncio.wait_for(task, timeout=30)
    assert calls == []
