"""How many claimed messages the dispatcher keeps ready for its senders (dispatcher.buffer_low_water)."""

from __future__ import annotations

from services.notifier.dispatcher import buffer_low_water


def test_a_paced_rate_keeps_a_second_of_sending_ready() -> None:
    assert buffer_low_water(send_concurrency=128, claim_batch=500, sms_rate_per_second=1000) == 1000
    assert buffer_low_water(send_concurrency=32, claim_batch=200, sms_rate_per_second=250.5) == 251


def test_at_least_every_call_in_flight_and_a_cheap_claim() -> None:
    assert buffer_low_water(send_concurrency=128, claim_batch=500, sms_rate_per_second=50) == 128
    assert buffer_low_water(send_concurrency=8, claim_batch=500, sms_rate_per_second=0) == 100  # no limit
    assert buffer_low_water(send_concurrency=8, claim_batch=20, sms_rate_per_second=0) == 20
