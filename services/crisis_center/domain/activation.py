"""When an incident becomes a crisis, which hotline it gets, and how often its count is republished."""

from __future__ import annotations

import enum
from collections.abc import Collection, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Generic, TypeVar

import phonenumbers

from .membership import SEVERITIES

DEFAULT_THRESHOLD = 50


@dataclass(frozen=True, slots=True)
class ThresholdPolicy:
    """The number of affected people that activates a crisis: one default, optionally one per severity."""

    default: int = DEFAULT_THRESHOLD
    by_severity: Mapping[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.default < 1:
            raise ValueError("the threshold must be at least 1")
        for severity, value in self.by_severity.items():
            if severity not in SEVERITIES:
                raise ValueError(f"unknown severity {severity!r} (one of {', '.join(SEVERITIES)})")
            if value < 1:
                raise ValueError(f"the threshold for {severity} must be at least 1")

    def for_severity(self, severity: str | None) -> int:
        if severity is None:
            return self.default
        return self.by_severity.get(severity, self.default)


class Phase(enum.StrEnum):
    """An incident's crisis life: none yet, active, closed. Closed is final: one crisis per incident, ever."""

    NONE = "none"
    ACTIVE = "active"
    CLOSED = "closed"


def should_activate(phase: Phase, count: int, threshold: int) -> bool:
    """Activate once when the count reaches the threshold. An active crisis stays active whatever the count
    does (no flapping around the threshold) until someone closes it; a closed one never comes back."""
    return phase is Phase.NONE and count >= threshold


K = TypeVar("K", bound=Hashable)


class UpdateThrottle(Generic[K]):
    """At most one `crisis.updated` per key every `interval`; changes in between are coalesced and come out of
    `due()` once the interval has passed, so the last count is never lost."""

    def __init__(self, interval: timedelta) -> None:
        self.interval = interval
        self._last: dict[K, datetime] = {}
        self._pending: set[K] = set()

    def offer(self, key: K, now: datetime) -> bool:
        """A change happened: True means publish now; False means it is held until `due()` returns it."""
        last = self._last.get(key)
        if last is None or now - last >= self.interval:
            self._last[key] = now
            self._pending.discard(key)
            return True
        self._pending.add(key)
        return False

    def sent(self, key: K, now: datetime) -> None:
        """Record a publication made outside `offer` (e.g. the activation itself)."""
        self._last[key] = now
        self._pending.discard(key)

    def due(self, now: datetime) -> list[K]:
        ready = [k for k in self._pending if now - self._last.get(k, now - self.interval) >= self.interval]
        for key in ready:
            self._pending.discard(key)
            self._last[key] = now
        return ready

    def pending(self) -> frozenset[K]:
        return frozenset(self._pending)

    def forget(self, key: K) -> None:
        self._last.pop(key, None)
        self._pending.discard(key)


def parse_hotline_numbers(raw: str | Iterable[str]) -> tuple[str, ...]:
    """`HOTLINE_NUMBERS` (comma-separated) -> E.164 numbers, order kept, duplicates dropped; bad ones refused."""
    items = raw.split(",") if isinstance(raw, str) else list(raw)
    numbers: list[str] = []
    for item in (i.strip() for i in items):
        if not item:
            continue
        numbers.append(to_e164(item))
    return tuple(dict.fromkeys(numbers))


def to_e164(raw: str) -> str:
    try:
        parsed = phonenumbers.parse(raw, None)
    except phonenumbers.NumberParseException as exc:
        raise ValueError(f"not an E.164 phone number: {raw!r}") from exc
    if not phonenumbers.is_possible_number(parsed):
        raise ValueError(f"not a possible phone number: {raw!r}")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


@dataclass(frozen=True, slots=True)
class HotlineAllocation:
    number: str
    from_pool: bool  # False: the pool was exhausted and the general crisis number was used (raise an alert)


def allocate_hotline(pool: Sequence[str], in_use: Collection[str], general_number: str) -> HotlineAllocation:
    """The first pool number no active crisis holds; the general crisis number when all are taken.

    The caller serialises allocations (a database lock and a unique index on active pool numbers), so the
    same number never goes to two active crises; closing a crisis frees its number for the next one.
    """
    for number in pool:
        if number not in in_use:
            return HotlineAllocation(number, True)
    return HotlineAllocation(general_number, False)
