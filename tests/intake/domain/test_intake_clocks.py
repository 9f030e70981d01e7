from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from services.intake.domain.clocks import (
    BRUSSELS,
    ClockEvent,
    DeadlineKind,
    case_clocks,
    schedule,
)
from services.intake.domain.model import Channel, Kind
from services.intake.domain.voice import is_public_holiday

NON_POST = [c for c in Channel if c is not Channel.POST]


def brussels(*args: int) -> datetime:
    return datetime(*args, tzinfo=BRUSSELS)  # type: ignore[misc]


@pytest.mark.parametrize("channel", NON_POST)
def test_fifteen_days_for_every_channel_but_post(channel: Channel) -> None:
    clocks = case_clocks(received_at=brussels(2026, 3, 2, 10), channel=channel, kind=Kind.LOST_DOCUMENT)
    assert clocks.reply.due_date == date(2026, 3, 17)
    assert clocks.provisional_reply is None and clocks.forward_notice is None


def test_thirty_days_for_post() -> None:
    clocks = case_clocks(received_at=brussels(2026, 3, 2, 10), channel=Channel.POST, kind=Kind.DETENTION)
    assert clocks.reply.due_date == date(2026, 4, 1)


def test_received_on_31_january() -> None:
    received = brussels(2026, 1, 31, 16)
    assert case_clocks(received_at=received, channel=Channel.EMAIL, kind=Kind.COMPLAINT).reply.due_date \
        == date(2026, 2, 15)
    # 30 calendar days from 31 January run past the end of February: 2 March in 2026, 1 March in leap 2028
    assert case_clocks(received_at=received, channel=Channel.POST, kind=Kind.COMPLAINT).reply.due_date \
        == date(2026, 3, 2)
    assert case_clocks(received_at=brussels(2028, 1, 31, 16), channel=Channel.POST,
                       kind=Kind.COMPLAINT).reply.due_date == date(2028, 3, 1)


def test_received_on_a_belgian_public_holiday_does_not_shift() -> None:
    armistice = date(2026, 11, 11)
    assert is_public_holiday(armistice)
    clocks = case_clocks(received_at=brussels(2026, 11, 11, 11), channel=Channel.WEB, kind=Kind.MISSING_PERSON)
    assert clocks.reply.due_date == armistice + timedelta(days=15)
    # and a due date that falls on a holiday stays there (calendar days): 6 December + 15 = 21 December... not a
    # holiday; 17 July + 15 = 1 August; pick one that lands on 21 July (National Day)
    clocks = case_clocks(received_at=brussels(2026, 7, 6, 9), channel=Channel.SMS, kind=Kind.DETENTION)
    assert clocks.reply.due_date == date(2026, 7, 21) and is_public_holiday(clocks.reply.due_date)


def test_day_of_receipt_is_the_brussels_day() -> None:
    # 23:30 UTC on 31 January is already 1 February in Brussels
    clocks = case_clocks(received_at=datetime(2026, 1, 31, 23, 30, tzinfo=UTC), channel=Channel.SMS,
                         kind=Kind.LOST_DOCUMENT)
    assert clocks.reply.due_date == date(2026, 2, 16)


def test_deadline_instants() -> None:
    reply = case_clocks(received_at=brussels(2026, 2, 1, 10), channel=Channel.SMS, kind=Kind.DETENTION).reply
    assert reply.due_by == brussels(2026, 2, 16, 23, 59, 59)
    assert reply.approaching_at == brussels(2026, 2, 13, 23, 59, 59)
    assert reply.missed_at == brussels(2026, 2, 17, 0, 0)
    assert reply.due_by.utcoffset() == timedelta(hours=1)


def test_dst_spring_forward_between_approaching_and_due() -> None:
    # summer time starts on 29 March 2026; reply due 30 March, approaching 27 March
    reply = case_clocks(received_at=brussels(2026, 3, 15, 12), channel=Channel.EMAIL, kind=Kind.DETENTION).reply
    assert reply.due_date == date(2026, 3, 30)
    assert reply.due_by.utcoffset() == timedelta(hours=2)
    assert reply.approaching_at.utcoffset() == timedelta(hours=1)
    # three calendar days, but one hour fewer on the wall clock's behalf
    assert reply.due_by.astimezone(UTC) - reply.approaching_at.astimezone(UTC) == timedelta(hours=71)


def test_dst_fall_back_on_the_due_day() -> None:
    # winter time starts on 25 October 2026 at 03:00 CEST
    reply = case_clocks(received_at=brussels(2026, 10, 10, 8), channel=Channel.PHONE, kind=Kind.DETENTION).reply
    assert reply.due_date == date(2026, 10, 25)
    assert reply.due_by.utcoffset() == timedelta(hours=1)
    assert reply.missed_at.astimezone(UTC) == datetime(2026, 10, 25, 23, 0, tzinfo=UTC)
    assert reply.approaching_at.astimezone(UTC) == datetime(2026, 10, 22, 21, 59, 59, tzinfo=UTC)


def test_received_in_the_skipped_and_repeated_hours() -> None:
    # 01:30 UTC on 29 March 2026 is 03:30 CEST; 00:30 UTC on 25 October is 02:30 CEST (first pass)
    spring = case_clocks(received_at=datetime(2026, 3, 29, 1, 30, tzinfo=UTC), channel=Channel.SMS,
                         kind=Kind.DETENTION)
    autumn = case_clocks(received_at=datetime(2026, 10, 25, 0, 30, tzinfo=UTC), channel=Channel.SMS,
                         kind=Kind.DETENTION)
    assert spring.reply.due_date == date(2026, 4, 13)
    assert autumn.reply.due_date == date(2026, 11, 9)


def test_complex_case_has_provisional_reply() -> None:
    received = brussels(2026, 5, 4, 10)
    clocks = case_clocks(received_at=received, channel=Channel.POST, kind=Kind.MISSING_PERSON, complex_case=True,
                         complex_reply_days=45)
    assert clocks.provisional_reply is not None
    assert clocks.provisional_reply.due_date == date(2026, 5, 19)
    assert clocks.provisional_reply.kind is DeadlineKind.PROVISIONAL_REPLY
    assert clocks.reply.due_date == date(2026, 6, 18)


def test_complex_reply_never_earlier_than_the_channel_clock() -> None:
    clocks = case_clocks(received_at=brussels(2026, 5, 4, 10), channel=Channel.POST, kind=Kind.DETENTION,
                         complex_case=True, complex_reply_days=10)
    assert clocks.reply.due_date == date(2026, 6, 3)


def test_information_request_forwarded_within_fifteen_days_even_by_post() -> None:
    clocks = case_clocks(received_at=brussels(2026, 5, 4, 10), channel=Channel.POST,
                         kind=Kind.INFORMATION_REQUEST, forwarded=True)
    assert clocks.forward_notice is not None and clocks.forward_notice.due_date == date(2026, 5, 19)
    assert clocks.reply.due_date == date(2026, 5, 19)


def test_only_information_requests_are_forwarded() -> None:
    with pytest.raises(ValueError):
        case_clocks(received_at=brussels(2026, 5, 4), channel=Channel.WEB, kind=Kind.DETENTION, forwarded=True)


def test_complaints_on_the_same_clocks() -> None:
    received = brussels(2026, 6, 1, 10)
    for channel in Channel:
        complaint = case_clocks(received_at=received, channel=channel, kind=Kind.COMPLAINT)
        other = case_clocks(received_at=received, channel=channel, kind=Kind.SERIOUS_DIFFICULTY)
        assert complaint == other


def test_schedule_lists_every_instant_in_order() -> None:
    clocks = case_clocks(received_at=brussels(2026, 5, 4, 10), channel=Channel.WEB, kind=Kind.DETENTION,
                         complex_case=True)
    events = schedule(clocks)
    assert len(events) == 4
    assert [e.fire_at for e in events] == sorted(e.fire_at for e in events)
    assert all(e.fire_at.tzinfo is UTC for e in events)
    first = events[0]
    assert (first.deadline, first.event) == (DeadlineKind.PROVISIONAL_REPLY, ClockEvent.APPROACHING)
    assert events[-1].deadline is DeadlineKind.REPLY and events[-1].event is ClockEvent.MISSED


def test_naive_datetime_refused() -> None:
    with pytest.raises(ValueError):
        case_clocks(received_at=datetime(2026, 1, 1), channel=Channel.SMS, kind=Kind.DETENTION)
