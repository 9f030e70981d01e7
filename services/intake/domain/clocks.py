"""Charter clocks: calendar days counted in Europe/Brussels from the day of receipt.

A deadline falls at the end of its due day (23:59:59 Brussels time), is *approaching* at the same wall-clock
time three calendar days earlier, and is *missed* at the following Brussels midnight. Holidays and weekends do
not shift calendar-day deadlines; daylight-saving changes do not move them off the local day.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from services.intake.domain.model import Channel, Kind

BRUSSELS = ZoneInfo("Europe/Brussels")
REPLY_DAYS = 15
POST_REPLY_DAYS = 30
PROVISIONAL_DAYS = 15
FORWARD_DAYS = 15
APPROACHING_DAYS = 3
DEFAULT_COMPLEX_REPLY_DAYS = 60
"""The expected delay a provisional reply announces for a complex case unless the officer sets another."""

_END_OF_DAY = time(23, 59, 59)


class DeadlineKind(StrEnum):
    REPLY = "reply"
    PROVISIONAL_REPLY = "provisional_reply"
    FORWARD_NOTICE = "forward_notice"


class ClockEvent(StrEnum):
    APPROACHING = "approaching"
    MISSED = "missed"


def local(instant: datetime) -> datetime:
    if instant.tzinfo is None:
        raise ValueError("charter clocks need an aware datetime")
    return instant.astimezone(BRUSSELS)


def end_of_local_day(day: date) -> datetime:
    """23:59:59 Brussels time on `day`, as an aware datetime (zoneinfo picks the right offset)."""
    return datetime.combine(day, _END_OF_DAY, tzinfo=BRUSSELS)


def start_of_local_day(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=BRUSSELS)


@dataclass(frozen=True)
class Deadline:
    kind: DeadlineKind
    due_date: date
    """The last calendar day (Brussels) on which the obligation can be met."""

    @property
    def due_by(self) -> datetime:
        return end_of_local_day(self.due_date)

    @property
    def approaching_at(self) -> datetime:
        return end_of_local_day(self.due_date - timedelta(days=APPROACHING_DAYS))

    @property
    def missed_at(self) -> datetime:
        return start_of_local_day(self.due_date + timedelta(days=1))

    def instant(self, event: ClockEvent) -> datetime:
        return self.approaching_at if event is ClockEvent.APPROACHING else self.missed_at


def due_date(received_at: datetime, days: int) -> date:
    """`days` calendar days after the Brussels day of receipt."""
    return local(received_at).date() + timedelta(days=days)


def reply_days(channel: Channel) -> int:
    return POST_REPLY_DAYS if channel is Channel.POST else REPLY_DAYS


@dataclass(frozen=True)
class CaseClocks:
    reply: Deadline
    provisional_reply: Deadline | None = None
    forward_notice: Deadline | None = None

    def all(self) -> list[Deadline]:
        return [d for d in (self.provisional_reply, self.forward_notice, self.reply) if d is not None]


def case_clocks(
    *,
    received_at: datetime,
    channel: Channel,
    kind: Kind,
    complex_case: bool = False,
    forwarded: bool = False,
    complex_reply_days: int = DEFAULT_COMPLEX_REPLY_DAYS,
) -> CaseClocks:
    """The deadlines of a case at receipt; complaints run on the same clocks as every other kind.

    - every channel but post: reply within 15 days; post: within 30;
    - complex: a provisional reply within 15 days stating the expected delay (the reply is then due after
      `complex_reply_days`);
    - an information request that is not for this ministry: forwarded with notice to the citizen within 15 days
      (that notice is the reply).
    """
    if forwarded and kind is not Kind.INFORMATION_REQUEST:
        raise ValueError("only an information request is forwarded to another service")
    if forwarded:
        notice = Deadline(DeadlineKind.FORWARD_NOTICE, due_date(received_at, FORWARD_DAYS))
        return CaseClocks(reply=Deadline(DeadlineKind.REPLY, notice.due_date), forward_notice=notice)
    if complex_case:
        days = max(complex_reply_days, reply_days(channel))
        return CaseClocks(
            reply=Deadline(DeadlineKind.REPLY, due_date(received_at, days)),
            provisional_reply=Deadline(DeadlineKind.PROVISIONAL_REPLY, due_date(received_at, PROVISIONAL_DAYS)),
        )
    return CaseClocks(reply=Deadline(DeadlineKind.REPLY, due_date(received_at, reply_days(channel))))


@dataclass(frozen=True)
class ScheduledClockEvent:
    deadline: DeadlineKind
    event: ClockEvent
    fire_at: datetime
    due_by: datetime


def schedule(clocks: CaseClocks) -> list[ScheduledClockEvent]:
    """Every approaching and missed instant of the case, in time order (a restart-proof scheduler stores these).

    An approaching instant already past at receipt (a short clock) is kept: the scheduler fires it at once.
    """
    events = [
        ScheduledClockEvent(d.kind, e, d.instant(e).astimezone(UTC), d.due_by)
        for d in clocks.all()
        for e in (ClockEvent.APPROACHING, ClockEvent.MISSED)
    ]
    return sorted(events, key=lambda s: (s.fire_at, s.deadline, s.event))
