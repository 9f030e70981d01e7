"""The provider's circuit breaker and the reading of `Retry-After` (pure)."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import format_datetime

from services.notifier.domain.breaker import CircuitBreaker, parse_retry_after


def test_the_circuit_opens_for_retry_after_or_a_doubling_backoff_and_closes_on_success() -> None:
    breaker = CircuitBreaker(base=1.0, ceiling=10.0)
    assert not breaker.is_open(0.0)
    assert breaker.failed(100.0, retry_after=None) == 101.0
    assert breaker.is_open(100.5) and not breaker.is_open(101.0)
    assert breaker.failed(101.0, retry_after=None) == 103.0  # doubled
    assert breaker.failed(103.0, retry_after=7.0) == 110.0  # the provider's word wins
    assert breaker.failed(110.0, retry_after=3600.0) == 120.0  # cut to the ceiling
    assert breaker.failed(120.0, retry_after=None) == 130.0  # the backoff stops at the ceiling too
    breaker.succeeded()
    assert not breaker.is_open(120.0) and breaker.failures_in_a_row == 0
    assert breaker.failed(200.0, retry_after=None) == 201.0  # back to the base


def test_retry_after_in_seconds_or_as_a_date() -> None:
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("30", now_epoch=now.timestamp()) == 30.0
    later = format_datetime(datetime(2026, 1, 1, 12, 0, 45, tzinfo=UTC), usegmt=True)
    assert parse_retry_after(later, now_epoch=now.timestamp()) == 45.0
    earlier = format_datetime(datetime(2026, 1, 1, 11, 0, 0, tzinfo=UTC), usegmt=True)
    assert parse_retry_after(earlier, now_epoch=now.timestamp()) == 0.0
    assert parse_retry_after(None, now_epoch=0) is None
    assert parse_retry_after("soon", now_epoch=0) is None
