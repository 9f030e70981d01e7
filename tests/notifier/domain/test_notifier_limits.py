"""The carriers' limits decided when messages are taken (domain/limits.py), pure, on a set clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.notifier.domain.limits import HOUR, Candidate, Decision, RecentSms, Verdict, plan, room_again

NOW = datetime(2026, 3, 14, 9, 30, tzinfo=UTC)
A, B = "+32470000001", "+32470000002"


def sms(nid: str, to: str = A, body: str | None = None, expires_at: datetime | None = None,
        channel: str = "sms", opted_out: bool = False) -> Candidate:
    return Candidate(nid, channel, to, body or f"text of {nid}", expires_at, opted_out)


def sent(nid: str, minutes_ago: float, to: str = A, body: str | None = None, status: str = "delivered") -> RecentSms:
    return RecentSms(nid, to, body or f"text of {nid}", NOW - timedelta(minutes=minutes_ago), status)


def verdicts(result: dict[str, Decision]) -> dict[str, Verdict]:
    return {nid: d.verdict for nid, d in result.items()}


def test_the_fourth_in_an_hour_is_held_when_the_limit_is_three() -> None:
    result = plan([sms(f"m{i}") for i in range(4)], [], now=NOW, limit=3)
    assert verdicts(result) == {"m0": Verdict.SEND, "m1": Verdict.SEND, "m2": Verdict.SEND, "m3": Verdict.HOLD}
    assert result["m3"].until == NOW + HOUR


def test_sends_already_in_the_window_count() -> None:
    recent = [sent("a", 50), sent("b", 20), sent("c", 61)]  # c is out of the window
    result = plan([sms("m1"), sms("m2"), sms("x", to=B)], recent, now=NOW, limit=3)
    assert verdicts(result) == {"m1": Verdict.SEND, "m2": Verdict.HOLD, "x": Verdict.SEND}
    assert result["m2"].until == NOW - timedelta(minutes=50) + HOUR, "when the oldest send leaves the window"


def test_failed_sends_still_count_toward_the_limit() -> None:
    recent = [sent("a", 5, status="failed"), sent("b", 5, status="undeliverable")]
    assert verdicts(plan([sms("m")], recent, now=NOW, limit=2)) == {"m": Verdict.HOLD}


def test_no_limit_with_zero() -> None:
    assert set(verdicts(plan([sms(f"m{i}") for i in range(50)], [], now=NOW, limit=0)).values()) == {Verdict.SEND}


def test_identical_text_to_the_same_number_within_the_hour_goes_once() -> None:
    result = plan([sms("m1", body="Alert"), sms("m2", body="Alert"), sms("m3", to=B, body="Alert")], [],
                  now=NOW, limit=10)
    assert verdicts(result) == {"m1": Verdict.SEND, "m2": Verdict.DUPLICATE, "m3": Verdict.SEND}
    assert result["m2"].original == "m1"
    earlier = [sent("old", 30, body="Alert")]
    assert plan([sms("m4", body="Alert")], earlier, now=NOW, limit=10)["m4"] == Decision(Verdict.DUPLICATE,
                                                                                           original="old")


def test_a_text_that_did_not_arrive_or_is_older_than_the_hour_is_no_original() -> None:
    recent = [sent("failed", 10, body="Alert", status="failed"), sent("old", 61, body="Alert")]
    assert verdicts(plan([sms("m", body="Alert")], recent, now=NOW, limit=10)) == {"m": Verdict.SEND}


def test_a_duplicate_does_not_take_a_place_of_the_limit() -> None:
    result = plan([sms("m1", body="Alert"), sms("m2", body="Alert"), sms("m3"), sms("m4")], [], now=NOW, limit=3)
    assert verdicts(result) == {"m1": Verdict.SEND, "m2": Verdict.DUPLICATE, "m3": Verdict.SEND, "m4": Verdict.SEND}


def test_past_its_validity_a_message_expires_whatever_its_channel() -> None:
    result = plan([sms("late", expires_at=NOW), sms("mail", channel="email", expires_at=NOW - HOUR),
                   sms("fine", expires_at=NOW + timedelta(seconds=1)), sms("always")], [], now=NOW, limit=3)
    assert verdicts(result) == {"late": Verdict.EXPIRE, "mail": Verdict.EXPIRE, "fine": Verdict.SEND,
                                "always": Verdict.SEND}


def test_other_channels_and_opted_out_numbers_do_not_count() -> None:
    result = plan([sms("e1", channel="email"), sms("v1", channel="voice"), sms("o", opted_out=True), sms("m1")],
                  [sent("a", 1), sent("b", 2)], now=NOW, limit=3)
    assert set(verdicts(result).values()) == {Verdict.SEND}


def test_room_again_is_when_all_but_limit_minus_one_sends_left_the_window() -> None:
    times = [NOW - timedelta(minutes=m) for m in (10, 40, 30, 50)]
    assert room_again(times, limit=3) == NOW - timedelta(minutes=40) + HOUR
    assert room_again(times, limit=1) == NOW - timedelta(minutes=10) + HOUR


def test_a_message_sent_again_is_not_a_duplicate_of_its_own_earlier_attempt() -> None:
    """A redriven message is queued again with the `sent_at` of its attempt during the outage: that attempt counts
    toward the number's limit but is no original (the new-year CI run of stop 33 ended such a message
    `deduplicated`)."""
    own_attempt = [sent("m", 3, body="Alert", status="queued")]
    assert verdicts(plan([sms("m", body="Alert")], own_attempt, now=NOW, limit=10)) == {"m": Verdict.SEND}
    assert verdicts(plan([sms("m", body="Alert")], own_attempt, now=NOW, limit=1)) == {"m": Verdict.HOLD}
    other = [*own_attempt, sent("x", 3, body="Alert")]
    assert plan([sms("m", body="Alert")], other, now=NOW, limit=10)["m"] == Decision(Verdict.DUPLICATE, original="x")
