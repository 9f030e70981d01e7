"""Senders first: storing waits while the senders have enough work in hand, and never longer than it helps."""

from __future__ import annotations

from services.notifier.domain.admission import SendersFirst


class Scripted:
    """A clock that moves only when the hold sleeps; a backlog and a count of answered calls that follow a script
    of the time."""

    def __init__(self, backlog: list[tuple[float, int]], answered_per_second: float) -> None:
        self.now = 0.0
        self.backlog_script = backlog  # (from this time on, this backlog)
        self.answered_per_second = answered_per_second
        self.measurements = 0

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds

    async def backlog(self, limit: int) -> int:
        self.measurements += 1
        current = [count for since, count in self.backlog_script if since <= self.now][-1]
        return min(current, limit)

    def answered(self) -> int:
        return int(self.now * self.answered_per_second)

    def hold(self, ahead: int) -> SendersFirst:
        return SendersFirst(self.backlog, self.answered, ahead=ahead, poll_seconds=0.1, stall_seconds=5.0,
                            max_wait_seconds=60.0, clock=self.clock, sleep=self.sleep)


async def test_storing_goes_on_while_the_backlog_is_under_the_mark() -> None:
    script = Scripted([(0.0, 9_999)], answered_per_second=1000)
    await script.hold(ahead=10_000)()
    assert script.now == 0.0 and script.measurements == 1


async def test_storing_waits_until_the_senders_bring_the_backlog_under_the_mark() -> None:
    script = Scripted([(0.0, 50_000), (3.0, 9_000)], answered_per_second=1000)
    hold = script.hold(ahead=10_000)
    await hold()
    assert 3.0 <= script.now < 3.2
    assert 3.0 <= hold.held_seconds < 3.2


async def test_senders_that_get_no_answers_are_not_waited_for() -> None:
    """A provider outage: the backlog does not move and nothing competes for the CPU, so storing goes on."""
    script = Scripted([(0.0, 50_000)], answered_per_second=0)
    await script.hold(ahead=10_000)()
    assert 5.0 <= script.now < 5.2


async def test_a_hold_never_outlasts_its_maximum() -> None:
    script = Scripted([(0.0, 1_000_000)], answered_per_second=1000)
    await script.hold(ahead=10_000)()
    assert 60.0 <= script.now < 60.2


async def test_no_rate_means_no_hold() -> None:
    script = Scripted([(0.0, 1_000_000)], answered_per_second=1000)
    await script.hold(ahead=0)()
    assert script.now == 0.0 and script.measurements == 0


async def test_the_backlog_is_measured_once_per_poll_interval_whoever_asks() -> None:
    script = Scripted([(0.0, 5)], answered_per_second=1000)
    hold = script.hold(ahead=10_000)
    for _ in range(3):  # three consumers polling at the same moment
        await hold()
    assert script.measurements == 1
    script.now += 0.1
    await hold()
    assert script.measurements == 2
