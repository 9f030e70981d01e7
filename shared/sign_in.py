"""Throttled sign-in shared by the dashboard and the console (issue 19, finding 8).

PBKDF2 takes a fair part of a second of CPU: checked in a worker thread, a few at a time, so that a burst of
sign-ins never stalls the event loop (and the Twilio webhooks served by the same process). Failed attempts are
counted per sign-in name and per client address over a window; past the limit the next attempts are refused
with 429 and Retry-After, the right password included, until the window has passed. In memory, per process:
with several replicas an attacker gets the limit once per replica, which still bounds guessing.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from shared.passwords import verify_password

Clock = Callable[[], float]


@dataclass
class SignInThrottle:
    failures_per_name: int = 5
    failures_per_client: int = 20
    window_seconds: float = 300.0
    concurrent_checks: int = 2
    clock: Clock = time.monotonic
    _failures: dict[str, deque[float]] = field(default_factory=dict)
    _checks: asyncio.Semaphore | None = None

    def _recent(self, key: str) -> deque[float]:
        found = self._failures.setdefault(key, deque())
        horizon = self.clock() - self.window_seconds
        while found and found[0] <= horizon:
            found.popleft()
        return found

    def retry_after(self, name: str, client: str | None) -> int | None:
        """Seconds until this name (or client) may try again; None when it may now."""
        waits = []
        for key, limit in ((f"name:{name}", self.failures_per_name),
                           (f"client:{client}", self.failures_per_client)):
            if key == "client:None":
                continue
            recent = self._recent(key)
            if len(recent) >= limit:
                waits.append(recent[-limit] + self.window_seconds - self.clock())
        return max(1, int(max(waits)) + 1) if waits else None

    def failed(self, name: str, client: str | None) -> None:
        now = self.clock()
        self._recent(f"name:{name}").append(now)
        if client is not None:
            self._recent(f"client:{client}").append(now)
        if len(self._failures) > 100_000:  # bounded memory under a spray of names
            self._failures = {k: v for k, v in self._failures.items() if self._recent(k)}

    def succeeded(self, name: str) -> None:
        self._failures.pop(f"name:{name}", None)

    async def check(self, password: str, encoded: str) -> bool:
        """The password against its hash, in a thread, at most `concurrent_checks` at once."""
        if self._checks is None:
            self._checks = asyncio.Semaphore(self.concurrent_checks)
        async with self._checks:
            return await asyncio.to_thread(verify_password, password, encoded)
