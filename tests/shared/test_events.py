"""Every event type of the contract round-trips through the envelope; unknown extra fields are ignored."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest

from shared.events.envelope import CloudEvent, EventData, InvalidEvent, decode, encode, encode_new_event, new_event
from shared.events.registry import EVENT_MODELS, MODELS_BY_TYPE, parse_data, types_on

NOW = datetime(2026, 11, 28, 9, 30, tzinfo=UTC)
AREA = {"country": "NP", "circle": {"lat": 27.7, "lon": 85.3, "radius_km": 100}}
REPORT = {
    "reference": "BE-2026-000042", "kind": "lost_document",
    "reporter": {"full_name": "An Peeters", "phone": "+32470123456", "language": "nl", "channel": "sms"},
    "location": {"country": "NP", "city": "Kathmandu"}, "description": "passport stolen",
    "received_at": NOW.isoformat(), "channel": "sms",
}
CRISIS = {"crisis_id": "c-1", "incident_id": "i-1", "title": "Earthquake", "status": "active", "affected_count": 120,
          "threshold": 100, "hotline_number": "+3225011000", "area": AREA, "activated_at": NOW.isoformat(),
          "closed_at": None}
SAMPLES: dict[str, dict[str, Any]] = {
    "be.diplomatie.traveller.registered": {
        "traveller_id": "t-1", "full_name": "Marie Dubois", "email": "marie@example.org", "language": "fr",
        "country": "NP", "city": "Pokhara", "location": {"lat": 28.2, "lon": 83.98},
        "arrival": "2026-11-20", "departure": "2026-12-10"},
    "be.diplomatie.traveller.cancelled": {"traveller_id": "t-1"},
    "be.diplomatie.incident.reported": {"incident_id": "i-1", "title": "Earthquake", "kind": "earthquake",
                                        "severity": "severe", "area": AREA, "occurred_at": NOW.isoformat()},
    "be.diplomatie.incident.updated": {"incident_id": "i-1", "title": "Earthquake", "kind": "earthquake",
                                       "severity": "extreme",
                                       "area": {"country": "NP", "polygon": [[85, 27], [86, 27], [86, 28]]},
                                       "occurred_at": NOW.isoformat()},
    "be.diplomatie.incident.closed": {"incident_id": "i-1"},
    "be.diplomatie.report.submitted": REPORT,
    "be.diplomatie.crisis.activated": CRISIS,
    "be.diplomatie.crisis.updated": {**CRISIS, "affected_count": 130},
    "be.diplomatie.crisis.closed": {**CRISIS, "status": "closed", "closed_at": NOW.isoformat()},
    "be.diplomatie.notification.status": {"notification_id": "n-1", "channel": "sms", "status": "delivered",
                                          "at": NOW.isoformat(), "crisis_id": "c-1"},
    "be.diplomatie.notification.send": {
        "notification_id": "n-1", "purpose": "crisis:c-1:activated", "channel": "sms",
        "recipient": {"phone": "+32470123456"}, "language": "de", "template": "crisis_alert",
        "params": {"crisis_title": "Flood", "hotline_number": "+3225011000"}, "priority": "crisis", "crisis_id": "c-1"},
    "be.diplomatie.notification.sms_preference": {"phone": "+32470123456", "opted_out": True, "keyword": "ARRET",
                                                  "at": NOW.isoformat()},
    "be.diplomatie.case.routed": {
        "reference": "BE-2026-000042", "service": "emergency_travel_document",
        "post": {"post_id": "be-embassy-new-delhi", "name": "Embassy of Belgium in New Delhi", "type": "embassy",
                 "city": "New Delhi", "country": "IN"},
        "basis": "side_accreditation", "resolved_at": NOW.isoformat()},
    "be.diplomatie.post.changed": {"post_id": "be-embassy-x", "change": "closed", "post": {"status": "closed"},
                                   "changed_by": "admin", "at": NOW.isoformat()},
    "be.diplomatie.case.deadline_approaching": {"reference": "BE-2026-000042", "deadline": "reply",
                                                "due_by": NOW.isoformat()},
    "be.diplomatie.case.deadline_missed": {"reference": "BE-2026-000042", "deadline": "provisional_reply",
                                           "due_by": NOW.isoformat()},
    "be.diplomatie.privacy.requested": {"request_id": "r-1", "kind": "erasure", "traveller_ids": ["t-1"],
                                        "phones": ["+32470123456"], "requested_by": "admin-1",
                                        "requested_at": NOW.isoformat()},
    "be.diplomatie.privacy.answered": {
        "request_id": "r-1", "service": "intake", "kind": "erasure", "answered_at": NOW.isoformat(),
        "items": [{"category": "case", "item_id": "BE-2026-000042", "outcome": "legal_hold",
                   "note": "under legal hold: reported, not erased"}]},
    "be.diplomatie.welfare.asked": {
        "check_id": "w-1", "crisis_id": "c-1", "crisis_title": "Earthquake", "hotline_number": "+3225011000",
        "person_id": "t-1", "phone": "+32470123456", "language": "nl", "step": "question",
        "asked_at": NOW.isoformat(), "open_until": NOW.isoformat()},
    "be.diplomatie.welfare.replied": {"check_id": "w-1", "crisis_id": "c-1", "person_id": "t-1",
                                      "answer": "needs_help", "channel": "web", "language": "fr",
                                      "email": "marie@example.org", "at": NOW.isoformat()},
    "be.diplomatie.welfare.answered": {"crisis_id": "c-1", "person_id": "t-1", "answer": "needs_help",
                                       "channel": "sms", "text": "2", "case_reference": "BE-2026-000042",
                                       "at": NOW.isoformat()},
    "be.diplomatie.inquiry.updated": {"sought_id": "42", "crisis_id": "c-1", "state": "safe", "at": NOW.isoformat()},
}
CONTRACT_TYPES = {
    "travellers.registrations": {"be.diplomatie.traveller.registered", "be.diplomatie.traveller.cancelled"},
    "crisis.incidents": {"be.diplomatie.incident.reported", "be.diplomatie.incident.updated",
                         "be.diplomatie.incident.closed"},
    "consular.reports": {"be.diplomatie.report.submitted"},
    "crisis.status": {"be.diplomatie.crisis.activated", "be.diplomatie.crisis.updated",
                      "be.diplomatie.crisis.closed"},
    "notifications.status": {"be.diplomatie.notification.status"},
    "welfare.answers": {"be.diplomatie.welfare.answered"},
}


def test_the_contract_types_are_all_modelled_on_their_topics() -> None:
    for topic, types in CONTRACT_TYPES.items():
        assert set(types_on(topic)) == types
    assert set(SAMPLES) == set(MODELS_BY_TYPE), "a sample for every model"


@pytest.mark.parametrize("model", EVENT_MODELS, ids=lambda m: m.TYPE)
def test_round_trip_through_the_envelope(model: type[EventData]) -> None:
    data = model.model_validate(SAMPLES[model.TYPE])
    event = new_event(data, source="/tests", traceparent="00-" + "a" * 32 + "-" + "b" * 16 + "-01")
    wire = json.loads(encode(event))
    assert wire["specversion"] == "1.0" and wire["type"] == model.TYPE and wire["source"] == "/tests"
    assert wire["datacontenttype"] == "application/json" and wire["time"].endswith("Z")
    back = parse_data(decode(encode(event)), topic=model.TOPIC)
    assert back == data
    assert decode(encode(event)).traceparent == event.traceparent


@pytest.mark.parametrize("traceparent", [None, "00-" + "a" * 32 + "-" + "b" * 16 + "-01"])
@pytest.mark.parametrize("model", EVENT_MODELS, ids=lambda m: m.TYPE)
def test_the_outbox_s_direct_encoding_gives_the_envelope_s_bytes(model: type[EventData], traceparent: str) -> None:
    """`encode_new_event` skips the CloudEvent model: the same bytes, null data fields and data versions kept,
    the time (given with an offset) in UTC."""
    data = model.model_validate(SAMPLES[model.TYPE])
    at = datetime(2026, 3, 29, 3, 30, 1, 250, tzinfo=timezone(timedelta(hours=2)))
    direct = encode_new_event(data, source="/tests", event_id="e-1", traceparent=traceparent, time=at)
    assert direct == encode(new_event(data, source="/tests", event_id="e-1", traceparent=traceparent, time=at))


def test_the_direct_encoding_refuses_what_the_envelope_refuses() -> None:
    data = MODELS_BY_TYPE["be.diplomatie.crisis.closed"].model_validate(SAMPLES["be.diplomatie.crisis.closed"])
    with pytest.raises(ValueError, match="time zone"):
        encode_new_event(data, source="/tests", event_id="e-1", time=datetime(2026, 3, 29, 3, 30))
    with pytest.raises(ValueError, match="source and an id"):
        encode_new_event(data, source="", event_id="e-1")


@pytest.mark.parametrize("model", EVENT_MODELS, ids=lambda m: m.TYPE)
def test_unknown_extra_fields_are_ignored(model: type[EventData]) -> None:
    event = CloudEvent(id="e-1", source="/x", type=model.TYPE, time=NOW,
                       data={**SAMPLES[model.TYPE], "added_in_v2": {"anything": 1}}, futureattribute="kept")
    parsed = parse_data(decode(encode(event)))
    assert not hasattr(parsed, "added_in_v2")
    assert parsed == model.model_validate(SAMPLES[model.TYPE])


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"", "not JSON"),
        (b"[1,2]", "JSON object"),
        (b'"an event"', "JSON object"),
        (b"null", "JSON object"),
        (b'{"specversion":"1.0","id":"1"', "not JSON"),
        (b'{"specversion":"0.3","id":"1","source":"/x","type":"t","time":"2026-01-01T00:00:00Z","data":{}}',
         "specversion"),
        (b'{"specversion":"1.0","id":"1","source":"/x","type":"t","time":"2026-01-01T00:00:00","data":{}}',
         "time zone"),
        (b'{"specversion":"1.0","id":"","source":"/x","type":"t","time":"2026-01-01T00:00:00Z","data":{}}', "id"),
        (None, "tombstone"),
    ],
)
def test_envelopes_that_are_not_cloudevents_are_refused_with_a_reason(raw: bytes | None, reason: str) -> None:
    with pytest.raises(InvalidEvent, match=reason):
        decode(raw)


def test_data_of_the_wrong_shape_names_the_field_and_rule() -> None:
    bad = {**SAMPLES["be.diplomatie.traveller.registered"], "phone": "0470 12 34 56", "email": None}
    event = CloudEvent(id="e", source="/x", type="be.diplomatie.traveller.registered", time=NOW, data=bad)
    with pytest.raises(InvalidEvent, match="phone: .*E.164"):
        parse_data(event)
    unknown = CloudEvent(id="e", source="/x", type="be.diplomatie.nope", time=NOW, data={})
    with pytest.raises(InvalidEvent, match="unknown event type"):
        parse_data(unknown)
    misplaced = CloudEvent(id="e", source="/x", type="be.diplomatie.incident.closed", time=NOW,
                           data={"incident_id": "i"})
    with pytest.raises(InvalidEvent, match="does not belong"):
        parse_data(misplaced, topic="consular.reports")


def test_a_traveller_needs_a_phone_or_an_email_and_a_sane_stay() -> None:
    base = SAMPLES["be.diplomatie.traveller.registered"]
    model = MODELS_BY_TYPE["be.diplomatie.traveller.registered"]
    with pytest.raises(ValueError, match="phone or email"):
        model.model_validate({**base, "email": None})
    with pytest.raises(ValueError, match="departure"):
        model.model_validate({**base, "arrival": str(date(2026, 12, 31))})
    with pytest.raises(ValueError, match="ISO 3166"):
        model.model_validate({**base, "country": "XX"})


def test_a_dead_letters_reason_names_the_fields_but_not_their_values() -> None:
    """Reasons are logged: pydantic's own text quotes the input, which may be a phone number or an address."""
    from pydantic import BaseModel, EmailStr, ValidationError

    from shared.events.envelope import describe_failure

    class Contact(BaseModel):
        phone: int
        email: EmailStr

    with pytest.raises(ValidationError) as caught:
        Contact.model_validate({"phone": "+32 470 12 34 56", "email": "marie.dubois-at-example.org"})
    assert "+32 470 12 34 56" in str(caught.value)  # what the reason must not carry
    reason = describe_failure(caught.value)
    assert reason.startswith("ValidationError: phone: ")
    assert "email: " in reason
    assert "+32 470" not in reason and "marie.dubois" not in reason
    assert describe_failure(KeyError("country")) == "KeyError: 'country'"
