from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.intake.domain.reference import (
    Reference,
    ReferenceError_,
    format_reference,
    parse_reference,
    reference_year,
)


def test_format_pads_to_six_digits() -> None:
    assert format_reference(2026, 42) == "BE-2026-000042"
    assert format_reference(2026, 999_999) == "BE-2026-999999"


@pytest.mark.parametrize("number", [0, -1, 1_000_000])
def test_number_out_of_range(number: int) -> None:
    with pytest.raises(ReferenceError_):
        format_reference(2026, number)


def test_round_trip() -> None:
    for year, number in [(2026, 1), (2027, 123456)]:
        assert parse_reference(format_reference(year, number)) == Reference(year, number)


@pytest.mark.parametrize("text", ["BE-26-000001", "FR-2026-000001", "BE-2026-1", "BE-2026-0000001", "be-2026-000001"])
def test_parse_refuses(text: str) -> None:
    with pytest.raises(ReferenceError_):
        parse_reference(text)


def test_year_of_receipt_is_brussels_year() -> None:
    assert reference_year(datetime(2026, 12, 31, 22, 59, tzinfo=UTC)) == 2026
    assert reference_year(datetime(2026, 12, 31, 23, 30, tzinfo=UTC)) == 2027
