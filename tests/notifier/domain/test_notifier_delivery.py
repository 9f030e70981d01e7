from __future__ import annotations

import itertools

import pytest

from services.notifier.domain.delivery import (
    FINAL,
    DeliveryStatus,
    advance,
    can_move,
    from_error_code,
    from_twilio,
    parse_error_code,
)

S = DeliveryStatus


def test_forward_moves_are_allowed() -> None:
    assert can_move(S.QUEUED, S.SENT)
    assert can_move(S.SENT, S.DELIVERED)
    assert can_move(S.QUEUED, S.DELIVERED)
    assert can_move(S.SENT, S.FAILED)
    assert can_move(S.QUEUED, S.OPTED_OUT)


def test_never_back_from_delivered_nor_out_of_a_final_state() -> None:
    for final, other in itertools.product(FINAL, S):
        assert not can_move(final, other), (final, other)
    assert advance(S.DELIVERED, S.SENT) is S.DELIVERED
    assert advance(S.SENT, S.QUEUED) is S.SENT
    assert not can_move(S.SENT, S.SENT)


@pytest.mark.parametrize("order", list(itertools.permutations([S.QUEUED, S.SENT, S.DELIVERED])))
def test_any_order_of_callbacks_ends_delivered(order: tuple[DeliveryStatus, ...]) -> None:
    state = S.QUEUED
    for observed in order:
        state = advance(state, observed)
    assert state is S.DELIVERED


@pytest.mark.parametrize(
    ("code", "status"),
    [
        (21211, S.UNDELIVERABLE), (21610, S.OPTED_OUT), (21614, S.UNDELIVERABLE),
        (30003, S.FAILED), (30004, S.UNDELIVERABLE), (30005, S.UNDELIVERABLE), (30006, S.UNDELIVERABLE),
        (30007, S.FAILED), (30008, S.FAILED), (99999, S.FAILED),
    ],
)
def test_error_codes(code: int, status: DeliveryStatus) -> None:
    observation = from_error_code(code)
    assert observation.status is status
    assert observation.reason


def test_twilio_statuses() -> None:
    assert from_twilio("queued") == from_twilio("accepted")
    assert from_twilio("sending").status is S.SENT  # type: ignore[union-attr]
    assert from_twilio("Delivered").status is S.DELIVERED  # type: ignore[union-attr]
    assert from_twilio("read").status is S.DELIVERED  # type: ignore[union-attr]
    undelivered = from_twilio("undelivered", 30005)
    assert undelivered is not None and undelivered.status is S.UNDELIVERABLE
    assert undelivered.reason == "unknown_handset"
    failed = from_twilio("failed")
    assert failed is not None and failed.status is S.FAILED
    assert from_twilio("received") is None


def test_parse_error_code() -> None:
    assert parse_error_code("30003") == 30003
    assert parse_error_code("") is None
    assert parse_error_code(None) is None
    assert parse_error_code("x") is None
