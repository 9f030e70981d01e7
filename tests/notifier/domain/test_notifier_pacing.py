from __future__ import annotations

import itertools

from services.notifier.domain.pacing import Pacer


def test_slots_are_one_interval_apart_and_never_closer() -> None:
    pacer = Pacer(100)
    waits = [pacer.reserve(0.0) for _ in range(5)]
    assert waits == [0.0, 0.01, 0.02, 0.03, 0.04]


def test_a_late_sender_keeps_the_schedule() -> None:
    pacer = Pacer(10)
    assert pacer.reserve(0.0) == 0.0
    assert pacer.reserve(0.0) == 0.1  # slot 0.1
    # Woken late at 0.15 for the next one: its slot (0.2) still stands, the lost 0.05 s is made up.
    assert abs(pacer.reserve(0.15) - 0.05) < 1e-9


def test_idle_time_earns_no_burst() -> None:
    pacer = Pacer(10)
    pacer.reserve(0.0)
    assert pacer.reserve(5.0) == 0.0
    assert abs(pacer.reserve(5.0) - 0.1) < 1e-9


def test_n_slots_span_at_least_n_minus_one_intervals() -> None:
    pacer = Pacer(1000)
    now, sends = 0.0, []
    for i in range(2000):
        now += 0.0003 if i % 7 else 0.004  # irregular arrivals, some late
        sends.append(now + pacer.reserve(now))
    assert all(b - a >= 0.001 - 1e-12 for a, b in itertools.pairwise(sends))
    assert (len(sends) - 1) / (sends[-1] - sends[0]) <= 1000 + 1e-6
