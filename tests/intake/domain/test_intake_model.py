from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from services.intake.domain.errors import describe_exception, field_path
from services.intake.domain.model import Channel, Kind, Language, ReportIn


def body(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "kind": "lost_document",
        "reporter": {"full_name": "A Reporter", "phone": "+32 470 12 34 56", "language": "fr", "channel": "sms"},
        "location": {"country": "ma", "city": "Rabat"},
        "description": "Passport stolen",
    }
    base.update(overrides)
    return base


def errors_of(data: dict[str, Any]) -> list[tuple[str, str]]:
    with pytest.raises(ValidationError) as info:
        ReportIn.model_validate(data)
    return [(e.field, e.rule) for e in describe_exception(info.value)]


def test_valid_report_is_normalised() -> None:
    report = ReportIn.model_validate(body())
    assert report.reporter.phone == "+32470123456"
    assert report.location.country == "MA"
    assert report.kind is Kind.LOST_DOCUMENT
    assert report.reporter.language is Language.FR
    assert report.reporter.channel is Channel.SMS
    assert report.complex is False


def test_national_number_read_as_belgian() -> None:
    reporter = {"full_name": "X", "phone": "0470 12 34 56", "language": "nl", "channel": "phone"}
    assert ReportIn.model_validate(body(reporter=reporter)).reporter.phone == "+32470123456"


@pytest.mark.parametrize("phone", ["12", "+32 12", "not a phone", "+999 123456"])
def test_bad_phone_names_field_and_rule(phone: str) -> None:
    reporter = {"full_name": "X", "phone": phone, "language": "fr", "channel": "phone", "email": "a@b.be"}
    assert ("reporter.phone", "e164") in errors_of(body(reporter=reporter))


@pytest.mark.parametrize("country", ["XX", "BEL", "", "Belgium"])
def test_bad_country(country: str) -> None:
    assert errors_of(body(location={"country": country})) == [("location.country", "iso3166_alpha2")]


def test_bad_nationality() -> None:
    errs = errors_of(body(subject={"full_name": "S", "nationality": "ZZ"}))
    assert errs == [("subject.nationality", "iso3166_alpha2")]


def test_language_and_kind_and_channel_must_be_known() -> None:
    reporter = {"full_name": "X", "phone": "+32470123456", "language": "es", "channel": "fax"}
    errs = errors_of(body(kind="burglary", reporter=reporter))
    assert ("kind", "one_of") in errs
    assert ("reporter.language", "one_of") in errs
    assert ("reporter.channel", "one_of") in errs


def test_at_least_one_way_to_reach() -> None:
    reporter = {"full_name": "X", "language": "en", "channel": "web"}
    assert errors_of(body(reporter=reporter)) == [("reporter", "contact_required")]


def test_email_is_enough_for_web_and_address_for_post() -> None:
    ReportIn.model_validate(body(reporter={"full_name": "X", "email": "x@example.be", "language": "en",
                                           "channel": "web"}))
    ReportIn.model_validate(body(reporter={"full_name": "X", "address": "Rue de la Loi 1, Bruxelles",
                                           "language": "fr", "channel": "post"}))


def test_channel_needs_its_own_address() -> None:
    assert errors_of(body(reporter={"full_name": "X", "email": "x@example.be", "language": "en",
                                    "channel": "sms"})) == [("reporter", "phone_required_for_channel")]
    assert errors_of(body(reporter={"full_name": "X", "phone": "+32470123456", "language": "en",
                                    "channel": "email"})) == [("reporter", "email_required_for_channel")]


def test_bad_email() -> None:
    reporter = {"full_name": "X", "email": "no-at-sign", "language": "en", "channel": "email"}
    assert ("reporter.email", "email") in errors_of(body(reporter=reporter))


def test_missing_fields_are_required() -> None:
    errs = errors_of({"kind": "detention"})
    assert {("reporter", "required"), ("location", "required"), ("description", "required")} <= set(errs)


def test_unknown_field_refused() -> None:
    assert ("colour", "unknown_field") in errors_of(body(colour="red"))


def test_coordinates_in_range_and_together() -> None:
    assert ("location.lat", "maximum") in errors_of(body(location={"country": "MA", "lat": 91, "lon": 0}))
    assert errors_of(body(location={"country": "MA", "lat": 10})) == [("location", "lat_lon_together")]


def test_occurred_at_needs_offset() -> None:
    assert errors_of(body(occurred_at="2026-01-02T10:00:00")) == [("occurred_at", "timezone")]
    ReportIn.model_validate(body(occurred_at="2026-01-02T10:00:00+01:00"))


def test_date_of_birth_not_in_future() -> None:
    errs = errors_of(body(subject={"full_name": "S", "date_of_birth": "2999-01-01"}))
    assert errs == [("subject.date_of_birth", "not_in_future")]


def test_forward_only_for_information_requests() -> None:
    assert errors_of(body(forward_to="FPS Finance")) == [("(body)", "forward_only_information_request")]
    ReportIn.model_validate(body(kind="information_request", forward_to="FPS Finance"))


def test_error_messages_are_readable() -> None:
    with pytest.raises(ValidationError) as info:
        ReportIn.model_validate(body(reporter={"full_name": "X", "language": "xx", "channel": "web",
                                               "email": "a@b.be"}))
    [error] = describe_exception(info.value)
    assert "'fr'" in error.message and "'en'" in error.message
    assert error.as_dict() == {"field": "reporter.language", "rule": "one_of", "message": error.message}


def test_field_path_drops_fastapi_prefix() -> None:
    assert field_path(("body", "reporter", "phone")) == "reporter.phone"
    assert field_path(("body", "items", 2, "name")) == "items[2].name"
    assert field_path(()) == "(body)"
