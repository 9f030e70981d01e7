"""Senders first: commands wait in Kafka while the senders already have enough work in hand.

Storing a command (render, deduplicate, record `queued`) is CPU work in the process of the paced senders. Stored
flat out, a 100,000-person broadcast took the event loop from them: 228 SMS/s of a 1,000/s limit during the 18 s
of storing, and the send ended 19-40 % after the planner's estimate (docs/benchmarks.md). Holding the next poll
while the unsent backlog exceeds a few seconds of sending keeps the senders at their pace, and the commands wait
where they are safe. The hold ends when the senders stop getting answers (a provider outage, a paused sender:
nothing is competing then) and after `max_wait_seconds` at most, well within the consumer's poll interval."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable


class SendersFirst:
    def __init__(self, backlog: Callable[[int], Awaitable[int]], answered: Callable[[], int], *, ahead: int,
                 poll_seconds: float = 0.1, stall_seconds: float = 5.0, max_wait_seconds: float = 60.0,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        """`backlog(limit)`: how many messages wait to be sent, counted up to `limit`; `answered()`: the provider
        calls this process's senders have made so far; `ahead`: the backlog at which storing waits (0: never)."""
        self._backlog = backlog
        self._answered = answered
        self.ahead = ahead
        self._poll = poll_seconds
        self._stall = stall_seconds
        self._max_wait = max_wait_seconds
        self._clock = clock
        self._sleep = sleep
        self._measured: tuple[float, int] | None = None
        self.held_seconds = 0.0
        """Time spent holding (how long commands waited for the senders)."""

    async def _current(self) -> int:
        """The backlog, measured at most once per poll interval whichever consumer asks."""
        now = self._clock()
        if self._measured is None or now - self._measured[0] >= self._poll:
            self._measured = (now, await self._backlog(self.ahead))
        return self._measured[1]

    async def __call__(self) -> None:
        if self.ahead <= 0:
            return
        started = self._clock()
        answered, progressed_at = self._answered(), started
        try:
            while await self._current() >= self.ahead:
                now = self._clock()
                if self._answered() != answered:
                    answered, progressed_at = self._answered(), now
                if now - progressed_at >= self._stall or now - started >= self._max_wait:
                    return
                await self._sleep(self._poll)
        finally:
            self.held_seconds += self._clock() - started
