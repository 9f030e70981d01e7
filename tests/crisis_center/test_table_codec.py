"""The country agent's tables and changelogs are written by Faust's json codec, which uses orjson when it is
installed (a fifth of the country agent's time per traveller, issue 20): it must be, and keep our records intact."""

from __future__ import annotations

from faust.serializers import codecs
from faust.utils import json as faust_json


def test_faust_serializes_with_orjson() -> None:
    assert faust_json.orjson is not None


def test_a_traveller_record_round_trips_through_the_table_codec() -> None:
    record = {"country": "FR", "lat": 48.8566, "lon": 2.3522, "tz": "Europe/Paris", "arrival": "2030-06-01",
              "departure": "2030-06-20", "phone": "+32470123456", "email": "marie@example.org", "language": "fr",
              "identifiers": ["email:marie@example.org", "phone:+32470123456"], "incidents": ["i-1"], "seq": 7,
              "name": "Zoë Ñúñez"}
    raw = codecs.dumps("json", record)
    assert isinstance(raw, bytes)
    assert codecs.loads("json", raw) == record
