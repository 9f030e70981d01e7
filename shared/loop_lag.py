"""How long a process's event loop was kept from running other tasks: the thing that makes commits, timers,
heartbeats and HTTP answers late when one handler computes for too long.

A task sleeps `period` seconds again and again; what it oversleeps is the lag. Each observation goes into the
`event_loop_lag_seconds` histogram (alert on its 0.2 s bucket), and the worst since start is kept for benchmarks.
"""

from __future__ import annotations

import asyncio
import time

from prometheus_client import Histogram

LAG = Histogram("event_loop_lag_seconds", "How late a short sleep on the event loop woke up", ["process"],
                buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0))


class LoopLagMonitor:
    def __init__(self, process: str, period: float = 0.05) -> None:
        self.period = period
        self.worst = 0.0
        self._histogram = LAG.labels(process)
        self._task: asyncio.Task[None] | None = None

    async def _watch(self) -> None:
        while True:
            started = time.perf_counter()
            await asyncio.sleep(self.period)
            lag = max(0.0, time.perf_counter() - started - self.period)
            self.worst = max(self.worst, lag)
            self._histogram.observe(lag)

    def start(self) -> asyncio.Task[None]:
        self._task = asyncio.create_task(self._watch(), name="loop-lag")
        return self._task

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
