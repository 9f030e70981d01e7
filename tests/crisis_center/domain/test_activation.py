from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.crisis_center.domain.activation import (
    Phase,
    ThresholdPolicy,
    UpdateThrottle,
    allocate_hotline,
    parse_hotline_numbers,
    should_activate,
)

T0 = datetime(2026, 11, 28, 12, tzinfo=UTC)


def test_threshold_default_and_override_per_severity() -> None:
    policy = ThresholdPolicy(50, {"extreme": 10})
    assert policy.for_severity("extreme") == 10
    assert policy.for_severity("minor") == 50
    assert policy.for_severity(None) == 50
    with pytest.raises(ValueError, match="severity"):
        ThresholdPolicy(50, {"apocalyptic": 1})
    with pytest.raises(ValueError, match="at least 1"):
        ThresholdPolicy(0)


def test_threshold_minus_one_does_not_activate_threshold_does() -> None:
    threshold = 50
    assert not should_activate(Phase.NONE, threshold - 1, threshold)
    assert should_activate(Phase.NONE, threshold, threshold)
    assert should_activate(Phase.NONE, threshold + 7, threshold)


def test_no_flapping_and_no_second_crisis() -> None:
    # Already active: whatever the count, no new activation; closed: never again.
    for count in (0, 49, 50, 500):
        assert not should_activate(Phase.ACTIVE, count, 50)
        assert not should_activate(Phase.CLOSED, count, 50)


def test_throttle_publishes_first_change_and_coalesces_the_rest() -> None:
    throttle: UpdateThrottle[str] = UpdateThrottle(timedelta(seconds=5))
    assert throttle.offer("c1", T0)
    assert not throttle.offer("c1", T0 + timedelta(seconds=1))
    assert not throttle.offer("c1", T0 + timedelta(seconds=2))
    assert throttle.pending() == {"c1"}
    assert throttle.due(T0 + timedelta(seconds=4)) == []
    assert throttle.due(T0 + timedelta(seconds=5)) == ["c1"]  # one publication for the two held changes
    assert throttle.due(T0 + timedelta(seconds=11)) == []
    assert not throttle.offer("c1", T0 + timedelta(seconds=6))
    assert throttle.offer("c2", T0 + timedelta(seconds=6))  # keys are independent
    throttle.forget("c1")
    assert throttle.pending() == frozenset()


def test_throttle_counts_the_activation_as_a_publication() -> None:
    throttle: UpdateThrottle[str] = UpdateThrottle(timedelta(seconds=5))
    throttle.sent("c1", T0)
    assert not throttle.offer("c1", T0 + timedelta(seconds=1))
    assert throttle.offer("c1", T0 + timedelta(seconds=5))


def test_hotline_numbers_parse_to_e164() -> None:
    assert parse_hotline_numbers("+32 2 501 81 11, +3225018112,,+32 2 501 81 11") == ("+3225018111", "+3225018112")
    assert parse_hotline_numbers("") == ()
    with pytest.raises(ValueError, match=r"E\.164"):
        parse_hotline_numbers("025018111")


def test_hotline_allocation_never_gives_a_number_in_use() -> None:
    pool = ("+3225018111", "+3225018112")
    general = "+3225014000"
    first = allocate_hotline(pool, set(), general)
    second = allocate_hotline(pool, {first.number}, general)
    assert first.from_pool and second.from_pool and first.number != second.number
    exhausted = allocate_hotline(pool, {first.number, second.number}, general)
    assert exhausted.number == general and not exhausted.from_pool
    # Closing the first crisis frees its number for the next one.
    assert allocate_hotline(pool, {second.number}, general).number == first.number
    assert allocate_hotline((), set(), general) == exhausted
