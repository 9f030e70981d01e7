"""The on-call roster: who answers emergencies outside office hours, which entry wins where entries overlap, and
who takes over next.

Overlapping entries must say which wins: the higher `precedence` covers the overlap (a replacement shift laid over
the standing rota); two overlapping entries of equal precedence are refused, so the answer never depends on the
order rows were written in.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class RosterEntry:
    starts_at: datetime
    ends_at: datetime
    officer_phone: str
    backup_phone: str | None = None
    officer_id: int | None = None
    backup_officer_id: int | None = None
    precedence: int = 0
    entry_id: int | None = None

    def covers(self, instant: datetime) -> bool:
        return self.starts_at <= instant < self.ends_at

    def overlaps(self, starts_at: datetime, ends_at: datetime) -> bool:
        return self.starts_at < ends_at and starts_at < self.ends_at


def on_call(roster: Iterable[RosterEntry], instant: datetime) -> RosterEntry | None:
    """The entry covering the instant: the highest precedence; among equals (only in rows written before the
    overlap rule), the most recently started."""
    covering = [e for e in roster if e.covers(instant)]
    return max(covering, key=lambda e: (e.precedence, e.starts_at)) if covering else None


def conflicts(existing: Iterable[RosterEntry], *, starts_at: datetime, ends_at: datetime, precedence: int,
              ignore_id: int | None = None) -> list[RosterEntry]:
    """The entries a new (or changed) entry would overlap without saying which wins: same precedence."""
    return [e for e in existing
            if e.entry_id != ignore_id and e.precedence == precedence and e.overlaps(starts_at, ends_at)]


@dataclass(frozen=True)
class Handover:
    at: datetime
    entry: RosterEntry | None
    """Who is on call from `at`: None when nobody is (a gap in the roster)."""


def next_handover(roster: Sequence[RosterEntry], instant: datetime) -> Handover | None:
    """The first instant after `instant` at which someone else is on call (or nobody), and who.

    Only the roster's own boundaries can change the answer, so those are the instants tried, in order.
    None when nothing changes for as long as the roster reaches.
    """
    current = on_call(roster, instant)
    boundaries = sorted({t for e in roster for t in (e.starts_at, e.ends_at) if t > instant})
    for at in boundaries:
        entry = on_call(roster, at)
        if entry != current:
            return Handover(at=at, entry=entry)
    return None
