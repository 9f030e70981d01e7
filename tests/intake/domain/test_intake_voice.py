from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.intake.domain.clocks import BRUSSELS
from services.intake.domain.model import Language
from services.intake.domain.roster import RosterEntry, on_call
from services.intake.domain.voice import (
    ActiveCrisis,
    OfficeHours,
    RouteReason,
    greeting,
    is_office_hours,
    language_for_digit,
    next_target,
    route_emergency,
)

LINE = "+3225010000"
ROSTER = [
    RosterEntry(starts_at=datetime(2026, 11, 1, tzinfo=UTC), ends_at=datetime(2026, 12, 1, tzinfo=UTC),
                officer_phone="+32470000001", backup_phone="+32470000002"),
    RosterEntry(starts_at=datetime(2026, 11, 20, tzinfo=UTC), ends_at=datetime(2026, 11, 23, tzinfo=UTC),
                officer_phone="+32470000003"),
]


def b(*args: int) -> datetime:
    return datetime(*args, tzinfo=BRUSSELS)  # type: ignore[misc]


def test_office_hours_edges() -> None:
    assert is_office_hours(b(2026, 11, 27, 9, 0))  # a Friday
    assert is_office_hours(b(2026, 11, 27, 16, 59))
    assert not is_office_hours(b(2026, 11, 27, 17, 0))
    assert not is_office_hours(b(2026, 11, 27, 8, 59))
    assert not is_office_hours(b(2026, 11, 28, 11, 0))  # Saturday


def test_office_hours_are_brussels_time() -> None:
    # 08:30 UTC in July is 10:30 in Brussels; in January 08:30 UTC is 09:30
    assert is_office_hours(datetime(2026, 7, 8, 7, 30, tzinfo=UTC))
    assert not is_office_hours(datetime(2026, 1, 7, 7, 30, tzinfo=UTC))
    assert is_office_hours(datetime(2026, 1, 7, 8, 30, tzinfo=UTC))


def test_public_holidays_are_closed() -> None:
    for day in [(2026, 11, 11), (2026, 7, 21), (2026, 4, 6), (2026, 5, 14), (2026, 5, 25)]:  # all weekdays
        assert not is_office_hours(b(*day, 11))
        assert is_office_hours(b(*day, 11) + timedelta(days=7 if day != (2026, 5, 14) else 6))


def test_route_in_office_hours_goes_to_consular_line() -> None:
    route = route_emergency(b(2026, 11, 25, 10), consular_line=LINE, roster=ROSTER)
    assert route.reason is RouteReason.OFFICE_HOURS and route.targets == (LINE,)


def test_route_outside_hours_goes_to_on_call_then_backup() -> None:
    route = route_emergency(b(2026, 11, 25, 22), consular_line=LINE, roster=ROSTER)
    assert route.reason is RouteReason.ON_CALL
    assert next_target(route, 0) == "+32470000001"
    assert next_target(route, 1) == "+32470000002"
    assert next_target(route, 2) is None


def test_route_on_holiday_goes_to_on_call() -> None:
    route = route_emergency(b(2026, 11, 11, 10), consular_line=LINE, roster=ROSTER)
    assert route.reason is RouteReason.ON_CALL and LINE not in route.targets


def test_overlapping_shift_takes_latest() -> None:
    assert on_call(ROSTER, datetime(2026, 11, 21, 3, tzinfo=UTC)) == ROSTER[1]
    route = route_emergency(datetime(2026, 11, 21, 3, tzinfo=UTC), consular_line=LINE, roster=ROSTER)
    assert route.targets == ("+32470000003",)


def test_nobody_on_call() -> None:
    route = route_emergency(b(2027, 1, 2, 3), consular_line=LINE, roster=ROSTER)
    assert route.reason is RouteReason.NO_ONE and next_target(route, 0) is None


def test_greeting_announces_crisis_first_in_every_language() -> None:
    crisis = ActiveCrisis(crisis_id="c1", title="Earthquake in Morocco", hotline_number="+3222000000")
    said = greeting([crisis])
    announcements = said[:4]
    assert {u.language for u in announcements} == set(Language)
    assert all("Earthquake in Morocco" in u.text and "+ 3 2 2 2 0 0 0 0 0 0" in u.text for u in announcements)
    assert len(said) == 8 and all("Earthquake" not in u.text for u in said[4:])


def test_greeting_without_crisis_is_the_menu() -> None:
    said = greeting([])
    assert [u.language for u in said] == [Language.FR, Language.NL, Language.DE, Language.EN]
    assert said[0].locale == "fr-FR"


def test_language_digits() -> None:
    assert [language_for_digit(d) for d in "1234"] == [Language.FR, Language.NL, Language.DE, Language.EN]
    assert language_for_digit("9") is None and language_for_digit(None) is None


def test_office_hours_from_configuration_per_weekday() -> None:
    hours = OfficeHours.parse("mon-thu 09:00-17:00; fri 09:00-12:30, 13:30-16:00; sat 10:00-12:00")
    assert hours.open_at(b(2026, 11, 26, 16, 59)) and not hours.open_at(b(2026, 11, 27, 16, 59))  # Thu, Fri
    assert hours.open_at(b(2026, 11, 27, 12, 29)) and not hours.open_at(b(2026, 11, 27, 13, 0))   # Friday lunch
    assert hours.open_at(b(2026, 11, 28, 11, 0)) and not hours.open_at(b(2026, 11, 29, 11, 0))    # Sat, Sun
    assert not hours.open_at(b(2026, 12, 25, 10, 0))  # Christmas, a Friday: holidays stay closed
    wrapped = OfficeHours.parse("fri-mon 08:00-09:00")
    assert wrapped.open_at(b(2026, 11, 30, 8, 30)) and not wrapped.open_at(b(2026, 12, 1, 8, 30))  # Mon, Tue


@pytest.mark.parametrize("text", ["weekdays 09:00-17:00", "mon 9-17", "mon 17:00-09:00", "mon-fri", "xyz 09:00-10:00"])
def test_unreadable_office_hours_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="office hours"):
        OfficeHours.parse(text)


def test_route_follows_configured_hours() -> None:
    saturday_morning = OfficeHours.parse("mon-sat 09:00-17:00")
    route = route_emergency(b(2026, 11, 28, 11, 0), consular_line=LINE, roster=ROSTER, hours=saturday_morning)
    assert route.reason is RouteReason.OFFICE_HOURS
