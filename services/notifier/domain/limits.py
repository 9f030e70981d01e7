"""Carriers' limits, decided when messages are taken to send (pure): per number per hour, identical texts, validity.

For each message about to be reserved: send it; hold it (`throttled`) until the number has room again, when it had
`limit` SMS in the last `window`; end it `deduplicated`, when the same text went to the same number within the
window; or end it `expired`, when its validity passed before it could be sent. Only SMS count toward the limit and
the deduplication (they are what carriers filter); an expired message of any channel is not sent.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

HOUR = timedelta(hours=1)
#: Texts already on their way never count as a duplicate's original when they did not reach the person.
NOT_REACHED = frozenset({"failed", "undeliverable", "opted_out", "expired", "deduplicated"})


class Verdict(StrEnum):
    SEND = "send"
    HOLD = "hold"
    EXPIRE = "expire"
    DUPLICATE = "duplicate"


@dataclass(frozen=True)
class Candidate:
    """A pending message the dispatcher may take."""

    notification_id: str
    channel: str
    recipient: str
    body: str
    expires_at: datetime | None
    opted_out: bool = False


@dataclass(frozen=True)
class RecentSms:
    """An SMS handed to the provider lately (its `sent_at`)."""

    notification_id: str
    recipient: str
    body: str
    sent_at: datetime
    status: str


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    until: datetime | None = None
    """HOLD: when the number has room again."""
    original: str | None = None
    """DUPLICATE: the notification whose text went already."""


def plan(candidates: Sequence[Candidate], recent: Iterable[RecentSms], *, now: datetime, limit: int,
         window: timedelta = HOUR) -> dict[str, Decision]:
    """What to do with each candidate, in the given (priority) order; `limit` 0: no per-number limit."""
    sent: dict[str, list[datetime]] = {}
    texts: dict[tuple[str, str], str] = {}
    horizon = now - window
    # A candidate's own earlier attempt (a retry, a redriven message) still counts toward its number's limit, but a
    # message is never the original of its own duplicate.
    taking = {c.notification_id for c in candidates}
    for item in recent:
        if item.sent_at <= horizon:
            continue
        sent.setdefault(item.recipient, []).append(item.sent_at)
        if item.status not in NOT_REACHED and item.notification_id not in taking:
            texts.setdefault((item.recipient, item.body), item.notification_id)
    out: dict[str, Decision] = {}
    for c in candidates:
        if c.expires_at is not None and c.expires_at <= now:
            out[c.notification_id] = Decision(Verdict.EXPIRE)
            continue
        if c.channel != "sms" or c.opted_out:  # an opted-out number gets nothing: the dispatcher ends it
            out[c.notification_id] = Decision(Verdict.SEND)
            continue
        original = texts.get((c.recipient, c.body))
        if original is not None:
            out[c.notification_id] = Decision(Verdict.DUPLICATE, original=original)
            continue
        times = sent.setdefault(c.recipient, [])
        if limit > 0 and len(times) >= limit:
            out[c.notification_id] = Decision(Verdict.HOLD, until=room_again(times, limit=limit, window=window))
            continue
        times.append(now)
        texts[(c.recipient, c.body)] = c.notification_id
        out[c.notification_id] = Decision(Verdict.SEND)
    return out


def room_again(sent_at: Sequence[datetime], *, limit: int, window: timedelta = HOUR) -> datetime:
    """When a number that had these sends in the window may have one more: when all but `limit - 1` of them are out
    of the window."""
    ordered = sorted(sent_at)
    return ordered[len(ordered) - limit] + window
