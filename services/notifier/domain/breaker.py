"""A circuit breaker per provider: while Twilio (or the mail relay) is down, the senders stop calling it.

A provider-wide failure (429, 503, 401/403, unreachable; SMTP 421 or authentication) opens the circuit until the
provider's own `Retry-After` has passed, or, without one, for a delay that doubles with each failure in a row
(from `base` to `ceiling`). While it is open, messages for that provider wait, uncounted, until it closes; the
first message after that is the probe: it closes the circuit on success and opens it again on failure. An outage
of any length therefore costs a handful of calls, not one per queued message per retry, and fails nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.utils import parsedate_to_datetime


@dataclass
class CircuitBreaker:
    base: float
    ceiling: float
    open_until: float = 0.0
    failures_in_a_row: int = 0
    probing: bool = False

    def is_open(self, now: float) -> bool:
        return now < self.open_until

    def allow(self, now: float) -> bool:
        """May a message be sent now? Always while closed; never while open; once open time is over, one message
        (the probe) and none beside it until its answer closes or reopens the circuit."""
        if self.failures_in_a_row == 0:
            return True
        if self.is_open(now) or self.probing:
            return False
        self.probing = True
        return True

    def failed(self, now: float, retry_after: float | None) -> float:
        """A provider-wide failure at `now`: opens the circuit; returns when it closes."""
        self.failures_in_a_row += 1
        self.probing = False
        backoff = min(self.base * 2 ** (self.failures_in_a_row - 1), self.ceiling)
        wait = min(max(retry_after, 0.0), self.ceiling) if retry_after is not None else backoff
        self.open_until = max(self.open_until, now + wait)
        return self.open_until

    def succeeded(self) -> None:
        self.failures_in_a_row = 0
        self.open_until = 0.0
        self.probing = False

    def probe_ended(self) -> None:
        """The probe ended without telling whether the provider is up (its own failure): let another try."""
        self.probing = False


def parse_retry_after(value: str | None, *, now_epoch: float) -> float | None:
    """Seconds to wait from a `Retry-After` header: delta-seconds or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(when.timestamp() - now_epoch, 0.0)
