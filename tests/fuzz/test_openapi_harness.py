"""The harness's own checks: what `undocumented` finds in an answer against the operation's documented responses."""

from __future__ import annotations

from shared.openapi import TWILIO_CALLBACK_RESPONSES, TWILIO_WEBHOOK_RESPONSES, error_responses
from tests.fuzz.openapi_harness import undocumented

WEBHOOK = {str(code): response for code, response in {**TWILIO_WEBHOOK_RESPONSES, **error_responses(422)}.items()}
CALLBACK = {str(code): response for code, response in TWILIO_CALLBACK_RESPONSES.items()}


def test_a_documented_status_and_media_type_pass() -> None:
    assert undocumented(WEBHOOK, 200, "text/xml; charset=utf-8", b"<Response/>") is None
    assert undocumented(WEBHOOK, 422, "application/json", b"{}") is None
    assert undocumented(CALLBACK, 204, None, b"") is None


def test_a_status_the_operation_does_not_list_is_found() -> None:
    assert "404" in (undocumented(WEBHOOK, 404, "application/json", b"{}") or "")
    assert "200" in (undocumented(CALLBACK, 200, "text/xml", b"<Response/>") or "")


def test_another_media_type_or_an_unexpected_body_is_found() -> None:
    assert "application/xml" in (undocumented(WEBHOOK, 200, "application/xml", b"<Response/>") or "")
    assert undocumented(CALLBACK, 204, "text/plain", b"x") is not None


def test_ranges_and_default_count() -> None:
    assert undocumented({"4XX": {"description": "any"}}, 418, None, b"") is None
    assert undocumented({"default": {"description": "any"}}, 500, None, b"") is None
