"""When an incident becomes a crisis, which hotline it gets, and how often its count is republished."""

from __future__ import annotations

import enum
from collections.abc import Collection, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Generic, Literal, TypeVar

import phonenumbers

from services.crisis_center.domain.crisis import MANUAL_PREFIX

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
    """An incident's crisis life: none yet, (proposed, dismissed,) active, closed. Closed is final: one crisis per
    incident, ever. Proposed: the threshold was crossed under the `proposed` mode and a coordinator decides;
    dismissed: a coordinator said no (until the incident's severity changes)."""

    NONE = "none"
    PROPOSED = "proposed"
    DISMISSED = "dismissed"
    ACTIVE = "active"
    CLOSED = "closed"


def should_activate(phase: Phase, count: int, threshold: int) -> bool:
    """Activate once when the count reaches the threshold. An active crisis stays active whatever the count
    does (no flapping around the threshold) until someone closes it; a closed one never comes back."""
    return phase is Phase.NONE and count >= threshold


# activation modes ---------------------------------------------------------------------------------------------
Mode = Literal["automatic", "proposed"]
MODES: tuple[Mode, ...] = ("automatic", "proposed")
#: Where an incident came from: a public alert feed (GDACS, USGS, or a feed id of another shape), or an external
#: system publishing on `crisis.incidents` itself. A crisis activated by hand is `manual` (no incident).
Origin = Literal["gdacs", "usgs", "feed", "external", "manual"]
ORIGINS: tuple[Origin, ...] = ("gdacs", "usgs", "feed", "external")
FEED_ORIGINS: frozenset[str] = frozenset({"gdacs", "usgs", "feed"})
DEFAULT_ACTIVATION_RULES = "feeds:minor=proposed,feeds:moderate=proposed,feeds:severe=proposed"


def incident_origin(event_source: str, incident_id: str, feeds_source: str, own_source: str = "") -> Origin:
    """The CloudEvents `source` says whether the feeds service published it (its id prefix says which feed), or
    the crisis center itself for a manual crisis (`manual:<crisis_id>`, activated at once: a coordinator decided)."""
    if own_source and event_source.rstrip("/") == own_source.rstrip("/") and incident_id.startswith(MANUAL_PREFIX):
        return "manual"
    if event_source.rstrip("/") != feeds_source.rstrip("/"):
        return "external"
    prefix = incident_id.partition(":")[0].lower()
    if prefix == "gdacs":
        return "gdacs"
    if prefix == "usgs":
        return "usgs"
    return "feed"


@dataclass(frozen=True, slots=True)
class ActivationRule:
    """`origin` (one of ORIGINS, `feeds` for any feed, `*`) and `severity` (or `*`) -> mode."""

    origin: str
    severity: str
    mode: Mode

    def matches(self, origin: str, severity: str | None) -> bool:
        origin_ok = self.origin in ("*", origin) or (self.origin == "feeds" and origin in FEED_ORIGINS)
        return origin_ok and self.severity in ("*", severity)


@dataclass(frozen=True, slots=True)
class ActivationRules:
    """Whether crossing the threshold activates the crisis at once (`automatic`) or raises a proposal for a
    coordinator (`proposed`): the first rule that matches the incident's origin and severity; else automatic."""

    rules: tuple[ActivationRule, ...] = ()

    def mode_for(self, origin: str | None, severity: str | None) -> Mode:
        for rule in self.rules:
            if rule.matches(origin or "external", severity):
                return rule.mode
        return "automatic"

    @classmethod
    def parse(cls, text: str) -> ActivationRules:
        """`CRISIS_ACTIVATION_RULES`: comma-separated `origin:severity=mode`, e.g.
        `feeds:minor=proposed,gdacs:*=proposed,external:*=automatic`; bad entries are refused, named."""
        rules: list[ActivationRule] = []
        for item in filter(None, (i.strip() for i in text.split(","))):
            selector, equals, mode = item.partition("=")
            origin, colon, severity = selector.strip().partition(":")
            origin, severity, mode = origin.strip().lower(), severity.strip().lower(), mode.strip().lower()
            if not equals or not colon:
                raise ValueError(f"activation rule {item!r}: expected origin:severity=mode")
            if origin not in (*ORIGINS, "feeds", "*"):
                raise ValueError(f"activation rule {item!r}: origin one of {', '.join((*ORIGINS, 'feeds', '*'))}")
            if severity not in (*SEVERITIES, "*"):
                raise ValueError(f"activation rule {item!r}: severity one of {', '.join((*SEVERITIES, '*'))}")
            if mode not in MODES:
                raise ValueError(f"activation rule {item!r}: mode one of {', '.join(MODES)}")
            rules.append(ActivationRule(origin, severity, mode))  # type: ignore[arg-type]
        return cls(tuple(rules))


AUTOMATIC = ActivationRules()


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
