"""The check-in form's read, without I/O: the contact normalised, the person placed and inside the crisis area, or
the key of the text naming what to correct."""

from __future__ import annotations

from dataclasses import replace

import pytest

from services.crisis_center import check_in
from services.crisis_center.check_in_form import Fields, companions, contact, position, read_form
from shared.gazetteer import Gazetteer
from shared.geo import Area, Circle, Point

KATHMANDU = Area("NP", circle=Circle(lat=27.7, lon=85.3, radius_km=50))
GAZETTEER = Gazetteer()
FIELDS = Fields(full_name="  Anna Peeters ", phone="0470 12 34 56", place="Thamel, Kathmandu", companions="2",
                answer="safe")


def test_contact_normalises_the_phone_in_the_country_then_belgium_and_the_email() -> None:
    assert contact("0470 12 34 56", "", "NP") == ("+32470123456", None, None)
    assert contact("", " Anna@Example.org ", "NP") == (None, "Anna@example.org", None)
    assert contact("+977 980-1234567", "anna@example.org", "NP") == ("+9779801234567", "anna@example.org", None)


@pytest.mark.parametrize(("phone", "email", "problem"), [
    ("12", "", "bad_phone"), ("12", "anna@example.org", "bad_phone"), ("", "anna@", "bad_email"),
    ("", "anna@example.test", "bad_email"), ("  ", " ", "need_contact"),
])
def test_contact_names_what_to_correct(phone: str, email: str, problem: str) -> None:
    assert contact(phone, email, "NP") == (None, None, problem)


@pytest.mark.parametrize(("lat", "lon", "point"), [
    ("27.7", "85.3", Point(27.7, 85.3)), ("27,7", " 85,3 ", Point(27.7, 85.3)), ("-90", "180", Point(-90, 180)),
    ("", "85.3", None), ("27.7", " ", None), ("north", "85.3", None), ("91", "85.3", None), ("27.7", "-181", None),
    ("nan", "85.3", None),
])
def test_position_reads_a_decimal_comma_and_ignores_the_unreadable(lat: str, lon: str, point: Point | None) -> None:
    assert position(lat, lon) == point


@pytest.mark.parametrize(("raw", "count"), [("2", 2), ("0", 0), ("", 0), ("-3", 0), ("51", 50), ("two", 0)])
def test_companions_count_from_0_to_50(raw: str, count: int) -> None:
    assert companions(raw) == count


def read(fields: Fields) -> check_in.Form | str:
    return read_form(fields, language="nl", area=KATHMANDU, gazetteer=GAZETTEER, client_ip="192.0.2.1")


def test_a_complete_form_is_placed_by_the_town_named() -> None:
    form = read(FIELDS)
    assert isinstance(form, check_in.Form)
    assert (form.full_name, form.phone, form.email, form.language, form.place, form.country, form.companions,
            form.answer, form.client_ip) == ("Anna Peeters", "+32470123456", None, "nl", "Thamel, Kathmandu", "NP",
                                             2, "safe", "192.0.2.1")
    assert KATHMANDU.contains(form.point, "NP")


def test_the_position_typed_wins_over_the_place() -> None:
    form = read(replace(FIELDS, lat="27,71", lon="85,31", place="Pokhara", answer="needs_help"))
    assert isinstance(form, check_in.Form)
    assert form.point == Point(27.71, 85.31) and form.place == "Pokhara" and form.answer == "needs_help"


@pytest.mark.parametrize(("changes", "problem"), [
    ({"full_name": "  "}, "need_name"), ({"phone": "12"}, "bad_phone"), ({"phone": "", "email": "x@"}, "bad_email"),
    ({"phone": ""}, "need_contact"), ({"answer": "fine"}, "title"), ({"place": "Atlantis"}, "not_found"),
    ({"place": ""}, "not_found"), ({"place": "Pokhara"}, "outside"), ({"lat": "40", "lon": "4"}, "outside"),
])
def test_what_stops_a_check_in_is_named(changes: dict[str, str], problem: str) -> None:
    assert read(replace(FIELDS, **changes)) == problem
