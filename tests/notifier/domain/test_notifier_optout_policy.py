from __future__ import annotations

import pytest

from services.notifier.domain.policy import (
    Channel,
    Priority,
    Route,
    dedup_key,
    is_retryable_http,
    priority_for,
    route,
)
from shared.sms_keywords import Keyword, classify


@pytest.mark.parametrize("body", ["STOP", "stop", " Stop. ", "ARRET", "Arrêt", "ARRÊT!", "STOPPEN", "halt", "Stopp",
                                  "UNSUBSCRIBE", "stop all", "opt-out"])
def test_opt_out_keywords(body: str) -> None:
    assert classify(body) is Keyword.OPT_OUT


@pytest.mark.parametrize("body", ["START", "unstop", "Oui"])
def test_opt_in_keywords(body: str) -> None:
    assert classify(body) is Keyword.OPT_IN


@pytest.mark.parametrize("body", ["please do not stop helping me", "STOP IT NOW", "", "Merci", "arrêtez"])
def test_a_sentence_is_not_a_keyword(body: str) -> None:
    assert classify(body) is None


def test_priorities_order_crisis_then_case_then_bulk() -> None:
    ordered = sorted(["survey_request", "case_acknowledgement", "crisis_closed", "crisis_alert"], key=priority_for)
    assert ordered[0] == "crisis_alert"
    assert ordered[1] == "case_acknowledgement"
    assert {priority_for(t) for t in ordered[2:]} == {Priority.BULK}
    assert priority_for("survey_request", "crisis") is Priority.CRISIS
    assert priority_for("crisis_alert", 2) is Priority.BULK
    assert priority_for("crisis_alert", "nonsense") is Priority.CRISIS
    assert priority_for("crisis_alert", " low ") is Priority.BULK  # the usual words, too
    assert priority_for("survey_request", "Urgent") is Priority.CRISIS
    assert priority_for("unknown") is Priority.BULK


def test_dedup_key_normalises_the_recipient() -> None:
    key = dedup_key("crisis_alert:C1", Channel.EMAIL, "a@b.be")
    assert dedup_key("crisis_alert:C1", Channel.EMAIL, "A@B.be ") == key
    assert dedup_key("p", Channel.SMS, "+32 470 00 00 01") == dedup_key("p", Channel.SMS, "+32470000001")
    assert dedup_key("p", Channel.SMS, "+32470000001") != dedup_key("p", Channel.EMAIL, "+32470000001")
    assert dedup_key("p1", Channel.SMS, "+32470000001") != dedup_key("p2", Channel.SMS, "+32470000001")


def test_opted_out_number_is_skipped_except_own_case_by_email() -> None:
    skipped = route(channel=Channel.SMS, recipient="+32470000001", opted_out=True, own_open_case=False,
                    fallback_email="a@b.be")
    assert skipped.route is Route.OPTED_OUT
    rerouted = route(channel=Channel.SMS, recipient="+32470000001", opted_out=True, own_open_case=True,
                     fallback_email="a@b.be")
    assert (rerouted.route, rerouted.channel, rerouted.recipient) == (Route.SEND, Channel.EMAIL, "a@b.be")
    no_email = route(channel=Channel.SMS, recipient="+32470000001", opted_out=True, own_open_case=True,
                     fallback_email=None)
    assert no_email.route is Route.OPTED_OUT
    sent = route(channel=Channel.SMS, recipient="+32470000001", opted_out=False, own_open_case=False,
                 fallback_email=None)
    assert sent.route is Route.SEND and sent.channel is Channel.SMS


def test_retryable_statuses() -> None:
    assert is_retryable_http(429)
    assert is_retryable_http(503)
    assert not is_retryable_http(400)
    assert not is_retryable_http(404)
