"""The registrations of the crisis center's benchmark and `make registrations` (issue 20): spread like real stays,
deterministic for a seed and a date, and every one valid on the wire."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, date, datetime, timedelta

from bench.crisis.registrations import HEAD, Generator
from shared.events.envelope import decode
from shared.events.registry import parse_data
from shared.events.travellers import TravellerRegistered

NOW = datetime(2026, 7, 14, 9, 30, tzinfo=UTC)


def generator(seed: int = 7) -> Generator:
    return Generator(seed=seed, clock=lambda: NOW)


def test_the_same_seed_and_clock_give_the_same_events_and_another_seed_others() -> None:
    first = list(generator().events(500))
    assert first == list(generator().events(500))
    assert first != list(generator(seed=8).events(500))
    assert len({key for key, _ in first}) == 500


def test_every_event_is_a_valid_registration_keyed_by_its_traveller() -> None:
    for key, value in generator().events(3000):
        event = decode(value)
        data = parse_data(event, topic="travellers.registrations")
        assert isinstance(data, TravellerRegistered)
        assert data.key() == key.decode()
        assert event.time == NOW


def test_a_few_countries_hold_many_and_a_long_tail_holds_the_rest() -> None:
    gen = generator()
    countries = Counter(json.loads(value)["data"]["country"] for _, value in gen.events(20_000))
    ranked = [count for _, count in countries.most_common()]
    assert countries.most_common(1)[0][0] == HEAD[0]
    assert sum(ranked[:5]) > 0.4 * 20_000  # a few countries with many
    assert len(countries) > 100  # a long tail
    assert sum(1 for count in ranked if count < 20) > 50
    assert abs(countries[HEAD[0]] / 20_000 - gen.share(HEAD[0])) < 0.02


def test_stays_lie_around_the_date_of_generation_and_positions_inside_the_country() -> None:
    gen = Generator(seed=7, clock=lambda: NOW)
    today = NOW.date()
    for _, value in gen.events(2000):
        data = json.loads(value)["data"]
        arrival, departure = date.fromisoformat(data["arrival"]), date.fromisoformat(data["departure"])
        assert today - timedelta(days=30) <= arrival <= today + timedelta(days=14)
        assert arrival < departure <= arrival + timedelta(days=60)
    france = [json.loads(value)["data"]["location"] for _, value in gen.events(2000)
              if json.loads(value)["data"]["country"] == "FR"]
    assert france and all(41 < p["lat"] < 52 and -6 < p["lon"] < 10 for p in france)  # metropolitan France
