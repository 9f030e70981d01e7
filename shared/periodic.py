"""A job run every `interval` seconds until stopped (retention and other housekeeping owned by a service)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

from shared.db import DATABASE_ERRORS
from shared.logging import get_logger

log = get_logger(__name__)

TRANSIENT = DATABASE_ERRORS


class PeriodicJob:
    """Runs `job` every `interval_seconds`, the first time one interval after start (a replica restarting in a loop
    does not hammer the database); a database or network error is logged and the job tried again next time."""

    def __init__(self, name: str, job: Callable[[], Awaitable[object]], *, interval_seconds: float) -> None:
        self.name = name
        self._job = job
        self._interval = interval_seconds
        self._stopping = asyncio.Event()

    def stop(self) -> None:
        self._stopping.set()

    async def run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=self._interval)
            if self._stopping.is_set():
                return
            try:
                await self._job()
            except TRANSIENT as exc:
                log.warning("periodic_job_error", job=self.name, error=type(exc).__name__)
