"""The optional `link` of `incident.reported/updated` (contract version 2, additive): the event's public page."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from shared.events.envelope import decode, encode, new_event
from shared.events.incidents import IncidentReported
from shared.events.registry import parse_data

FACTS = {"incident_id": "usgs:us7000abcd", "title": "M 7.1 - Bali", "kind": "earthquake", "severity": "severe",
         "area": {"country": "ID", "circle": {"lat": -8.65, "lon": 115.2, "radius_km": 80}},
         "occurred_at": datetime(2026, 3, 1, 4, 0, tzinfo=UTC)}


def test_a_link_travels_with_the_incident_and_may_be_absent() -> None:
    page = "https://earthquake.usgs.gov/earthquakes/eventpage/us7000abcd"
    wire = decode(encode(new_event(IncidentReported(**FACTS, link=page), source="/services/feeds")))
    parsed = parse_data(wire, topic="crisis.incidents")
    assert isinstance(parsed, IncidentReported) and parsed.link == page
    without = parse_data(decode(encode(new_event(IncidentReported(**FACTS), source="/x"))), topic="crisis.incidents")
    assert isinstance(without, IncidentReported) and without.link is None


@pytest.mark.parametrize("link", ["javascript:alert(1)", "ftp://example.org/x", "https://" + "a" * 2000])
def test_a_link_is_a_web_address_of_bounded_length(link: str) -> None:
    with pytest.raises(ValidationError):
        IncidentReported(**FACTS, link=link)
