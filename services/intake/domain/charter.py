"""The users' charter on one case: which answer met it, whether on time, and what the case owes next.

The charter promises a reply within 15 calendar days (30 for a letter); a complex case may instead get a provisional
reply within 15 days stating the expected delay, which then becomes the reply's due date; a misdirected request is
forwarded with a notice to the citizen within 15 days, and that notice is the answer. A reopened case owes a new
reply on the same clocks, counted from the reopening.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum

from services.intake.domain.clocks import (
    FORWARD_DAYS,
    PROVISIONAL_DAYS,
    due_date,
    end_of_local_day,
    local,
    reply_days,
)
from services.intake.domain.model import Channel, Status


class Answer(StrEnum):
    REPLY = "reply"
    PROVISIONAL_REPLY = "provisional_reply"
    FORWARD = "forward"


#: The latest expected date a provisional reply may announce, counted from receipt.
MAX_EXPECTED_DAYS = 365


class CharterRuleError(ValueError):
    """An action the charter's rules refuse: `rule` names the rule, for the API's 4xx."""

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(message)
        self.rule = rule


@dataclass(frozen=True)
class Answered:
    by: Answer
    at: datetime
    on_time: bool


@dataclass(frozen=True)
class CharterState:
    due_by: datetime
    """The due date of what the case owes now (the reply, or the reply a provisional reply announced)."""
    met: bool | None
    """True: answered on time (or provisionally, on time, and the announced date not yet passed); False: a deadline
    passed without the answer, or the answer came late; None: pending and not yet late."""
    met_by: Answer | None
    met_at: datetime | None


def charter_state(*, reply_due_by: datetime, answered: Answered | None, now: datetime) -> CharterState:
    if answered is None:
        return CharterState(reply_due_by, False if now > reply_due_by else None, None, None)
    if answered.by is Answer.PROVISIONAL_REPLY:
        # The provisional reply defers the reply: its promise holds until the announced date passes.
        met = answered.on_time and now <= reply_due_by
        return CharterState(reply_due_by, met, answered.by, answered.at)
    return CharterState(reply_due_by, answered.on_time, answered.by, answered.at)


def answered_from(by: str | None, at: datetime | None, on_time: bool | None) -> Answered | None:
    """The stored answer of a case (`reports.answered_*`), if any."""
    if by is None or at is None:
        return None
    return Answered(Answer(by), at, bool(on_time))


def charter_view(*, reply_due_by: datetime, answered: Answered | None, now: datetime) -> dict[str, object]:
    """`charter` of `GET /v1/reports/{reference}`: {due_by, met, met_by, met_at}."""
    state = charter_state(reply_due_by=reply_due_by, answered=answered, now=now)
    return {"due_by": state.due_by, "met": state.met, "met_by": state.met_by.value if state.met_by else None,
            "met_at": state.met_at}


def reply(*, at: datetime, reply_due_by: datetime, previous: Answered | None) -> Answered:
    """A substantive reply: it meets the clock when sent by the current due date. After a first reply, a later one
    changes nothing (the clock was already answered)."""
    if previous is not None and previous.by is not Answer.PROVISIONAL_REPLY:
        return previous
    return Answered(Answer.REPLY, at, at <= reply_due_by)


def forward(*, at: datetime, received_at: datetime, reply_due_by: datetime) -> Answered:
    """Forwarding with a notice: on time within 15 days of receipt (and never later than the reply was due)."""
    deadline = min(end_of_local_day(due_date(received_at, FORWARD_DAYS)), reply_due_by)
    return Answered(Answer.FORWARD, at, at <= deadline)


@dataclass(frozen=True)
class Deferral:
    answered: Answered
    reply_due_by: datetime


def provisional_reply(*, at: datetime, received_at: datetime, expected_by: date,
                      provisional_due_by: datetime | None, reply_due_by: datetime,
                      previous: Answered | None) -> Deferral:
    """A provisional reply announcing `expected_by`: the reply is then due at the end of that day (Brussels).

    On time when sent within the provisional deadline (15 days from receipt, or the case's own), and never later than
    the reply it defers. Refused once the case has had its reply, or when the date is not after today or more than a
    year after receipt.
    """
    if previous is not None and previous.by is not Answer.PROVISIONAL_REPLY:
        raise CharterRuleError("already_answered", f"the case was already answered by {previous.by.value}")
    today = local(at).date()
    if expected_by <= today:
        raise CharterRuleError("after_today", "expected_by must be after today (Brussels)")
    if expected_by > local(received_at).date() + timedelta(days=MAX_EXPECTED_DAYS):
        raise CharterRuleError("within_a_year", f"expected_by must be within {MAX_EXPECTED_DAYS} days of receipt")
    deadline = provisional_due_by or end_of_local_day(due_date(received_at, PROVISIONAL_DAYS))
    on_time = at <= min(deadline, reply_due_by)
    if previous is not None:  # a second provisional reply: it moves the date, the first one's timing stands
        on_time = previous.on_time and at <= reply_due_by
    return Deferral(Answered(Answer.PROVISIONAL_REPLY, at, on_time), end_of_local_day(expected_by))


def provisional_due(*, received_at: datetime) -> datetime:
    """The provisional reply of a complex case: within 15 calendar days of receipt."""
    return end_of_local_day(due_date(received_at, PROVISIONAL_DAYS))


def reopened_reply_due(*, at: datetime, channel: Channel) -> datetime:
    """A reopened case owes a new reply on the channel's clock, counted from the reopening."""
    return end_of_local_day(due_date(at, reply_days(channel)))


# --- statuses ---------------------------------------------------------------------------------------------------

OPEN_STATUSES = frozenset({Status.RECEIVED, Status.IN_PROGRESS, Status.WAITING_FOR_CITIZEN, Status.REOPENED})


def check_transition(current: Status, wanted: Status) -> None:
    """Which status an officer may set from which: open cases move freely among the open statuses or close; a
    forwarded case closes or reopens; a closed case only reopens."""
    if wanted is Status.REOPENED:
        if current not in (Status.CLOSED, Status.FORWARDED):
            raise CharterRuleError("reopen_closed_only", f"only a closed or forwarded case reopens (it is {current})")
        return
    if current is Status.CLOSED:
        raise CharterRuleError("closed", "the case is closed: reopen it first")
    if wanted is Status.CLOSED:
        return
    if current is Status.FORWARDED:
        raise CharterRuleError("closed", "the case is forwarded: close or reopen it")
    if wanted not in (Status.IN_PROGRESS, Status.WAITING_FOR_CITIZEN):
        raise CharterRuleError("one_of", "status must be in_progress, waiting_for_citizen, closed or reopened")
    if wanted is current:
        raise CharterRuleError("unchanged", f"the case is already {current}")
