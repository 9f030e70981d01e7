"""Pacing of sends to a configured rate: a virtual schedule of slots one interval apart (a GCRA without burst).

Each send takes the next free slot: `max(now, next)`. A sender woken late by a busy event loop still keeps the
slots after it, so lateness does not lower the long-run rate (a plain token bucket of size 1 loses that time),
and no slot is ever closer than one interval to the one before, so the rate is never exceeded. When nobody has
sent for a while, the schedule restarts at `now`: idle time earns no burst.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Pacer:
    rate_per_second: float
    _next: float = float("-inf")

    @property
    def interval(self) -> float:
        return 1.0 / self.rate_per_second

    def reserve(self, now: float) -> float:
        """Take the next slot; returns how long to wait for it (0 when it is now)."""
        slot = max(now, self._next)
        self._next = slot + self.interval
        return slot - now
