"""The charter's rules on one case: which answer met the clock, on time or not, and the status transitions."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from services.intake.domain import charter
from services.intake.domain.charter import Answer, Answered, CharterRuleError, check_transition
from services.intake.domain.clocks import BRUSSELS, end_of_local_day
from services.intake.domain.model import Channel, Status

RECEIVED = datetime(2031, 3, 20, 10, 0, tzinfo=UTC)            # a Thursday, 11:00 in Brussels
REPLY_DUE = end_of_local_day(date(2031, 4, 4))                 # 15 calendar days later, 23:59:59 Brussels


def test_unanswered_is_pending_until_the_due_instant_then_missed() -> None:
    assert charter.charter_state(reply_due_by=REPLY_DUE, answered=None, now=REPLY_DUE).met is None
    late = charter.charter_state(reply_due_by=REPLY_DUE, answered=None, now=REPLY_DUE + timedelta(seconds=1))
    assert late.met is False and late.met_by is None


def test_a_reply_on_the_last_day_meets_it_and_a_later_one_changes_nothing() -> None:
    last_minute = datetime(2031, 4, 4, 23, 59, tzinfo=BRUSSELS)
    first = charter.reply(at=last_minute, reply_due_by=REPLY_DUE, previous=None)
    assert first == Answered(Answer.REPLY, last_minute, True)
    assert charter.reply(at=last_minute + timedelta(days=9), reply_due_by=REPLY_DUE, previous=first) == first
    state = charter.charter_state(reply_due_by=REPLY_DUE, answered=first, now=REPLY_DUE + timedelta(days=30))
    assert state.met is True and state.met_by is Answer.REPLY and state.met_at == last_minute


def test_a_late_reply_is_recorded_as_late() -> None:
    late = charter.reply(at=datetime(2031, 4, 5, 0, 0, tzinfo=BRUSSELS), reply_due_by=REPLY_DUE, previous=None)
    assert late.on_time is False
    assert charter.charter_state(reply_due_by=REPLY_DUE, answered=late, now=late.at).met is False


def test_a_forward_within_fifteen_days_answers_even_a_letter() -> None:
    post_due = end_of_local_day(date(2031, 4, 19))   # 30 days for a letter
    on_day_15 = datetime(2031, 4, 4, 20, 0, tzinfo=BRUSSELS)
    assert charter.forward(at=on_day_15, received_at=RECEIVED, reply_due_by=post_due).on_time
    assert not charter.forward(at=on_day_15 + timedelta(days=1), received_at=RECEIVED, reply_due_by=post_due).on_time


def test_a_provisional_reply_on_time_defers_the_reply_to_the_announced_day() -> None:
    at = RECEIVED + timedelta(days=10)
    deferral = charter.provisional_reply(at=at, received_at=RECEIVED, expected_by=date(2031, 5, 30),
                                         provisional_due_by=None, reply_due_by=REPLY_DUE, previous=None)
    assert deferral.answered.on_time and deferral.reply_due_by == end_of_local_day(date(2031, 5, 30))
    holding = charter.charter_state(reply_due_by=deferral.reply_due_by, answered=deferral.answered,
                                    now=datetime(2031, 5, 30, 23, 0, tzinfo=BRUSSELS))
    assert holding.met is True and holding.met_by is Answer.PROVISIONAL_REPLY
    broken = charter.charter_state(reply_due_by=deferral.reply_due_by, answered=deferral.answered,
                                   now=datetime(2031, 5, 31, 0, 1, tzinfo=BRUSSELS))
    assert broken.met is False  # the announced day passed without the reply
    final = charter.reply(at=datetime(2031, 5, 29, tzinfo=BRUSSELS), reply_due_by=deferral.reply_due_by,
                          previous=deferral.answered)
    assert final.by is Answer.REPLY and final.on_time


def test_a_provisional_reply_after_fifteen_days_is_late_but_still_moves_the_date() -> None:
    at = datetime(2031, 4, 5, 9, 0, tzinfo=BRUSSELS)
    deferral = charter.provisional_reply(at=at, received_at=RECEIVED, expected_by=date(2031, 5, 1),
                                         provisional_due_by=None, reply_due_by=end_of_local_day(date(2031, 5, 19)),
                                         previous=None)
    assert not deferral.answered.on_time and deferral.reply_due_by == end_of_local_day(date(2031, 5, 1))


@pytest.mark.parametrize(("expected_by", "rule"), [(date(2031, 3, 30), "after_today"),
                                                   (date(2031, 3, 29), "after_today"),
                                                   (date(2032, 3, 21), "within_a_year")])
def test_provisional_reply_dates_refused(expected_by: date, rule: str) -> None:
    with pytest.raises(CharterRuleError) as refused:
        charter.provisional_reply(at=datetime(2031, 3, 30, 12, tzinfo=BRUSSELS), received_at=RECEIVED,
                                  expected_by=expected_by, provisional_due_by=None, reply_due_by=REPLY_DUE,
                                  previous=None)
    assert refused.value.rule == rule


def test_no_provisional_reply_after_the_reply() -> None:
    replied = Answered(Answer.REPLY, RECEIVED, True)
    with pytest.raises(CharterRuleError) as refused:
        charter.provisional_reply(at=RECEIVED, received_at=RECEIVED, expected_by=date(2031, 5, 1),
                                  provisional_due_by=None, reply_due_by=REPLY_DUE, previous=replied)
    assert refused.value.rule == "already_answered"


def test_reopening_owes_a_reply_on_the_channel_clock_from_the_reopening_across_new_year() -> None:
    at = datetime(2031, 12, 31, 23, 30, tzinfo=BRUSSELS)
    assert charter.reopened_reply_due(at=at, channel=Channel.EMAIL) == end_of_local_day(date(2032, 1, 15))
    assert charter.reopened_reply_due(at=at, channel=Channel.POST) == end_of_local_day(date(2032, 1, 30))


def test_a_clock_across_the_spring_change_stays_on_the_local_day() -> None:
    # 2031-03-30 is the last Sunday of March: Brussels moves from UTC+1 to UTC+2.
    due = charter.reopened_reply_due(at=datetime(2031, 3, 20, 23, 30, tzinfo=UTC), channel=Channel.WEB)
    assert due.astimezone(BRUSSELS).date() == date(2031, 4, 5) and due.utcoffset() == timedelta(hours=2)


@pytest.mark.parametrize(("current", "wanted", "allowed"), [
    (Status.RECEIVED, Status.IN_PROGRESS, True), (Status.IN_PROGRESS, Status.WAITING_FOR_CITIZEN, True),
    (Status.REOPENED, Status.CLOSED, True), (Status.FORWARDED, Status.CLOSED, True),
    (Status.CLOSED, Status.REOPENED, True), (Status.FORWARDED, Status.REOPENED, True),
    (Status.CLOSED, Status.IN_PROGRESS, False), (Status.RECEIVED, Status.REOPENED, False),
    (Status.IN_PROGRESS, Status.IN_PROGRESS, False), (Status.FORWARDED, Status.IN_PROGRESS, False),
    (Status.CLOSED, Status.CLOSED, False), (Status.RECEIVED, Status.FORWARDED, False),
])
def test_status_transitions(current: Status, wanted: Status, allowed: bool) -> None:
    if allowed:
        check_transition(current, wanted)
    else:
        with pytest.raises(CharterRuleError):
            check_transition(current, wanted)
