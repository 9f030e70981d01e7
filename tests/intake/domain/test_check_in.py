"""Reading a check-in SMS and placing it in a crisis area with the offline gazetteer."""

from __future__ import annotations

import pytest

from services.intake.domain.check_in import CrisisArea, crises_with_areas, locate, parse_check_in
from services.intake.domain.model import Language
from shared.gazetteer import Gazetteer, phrases
from shared.geo import Area, Circle

NEPAL_QUAKE = CrisisArea("c-np", "Earthquake in Nepal", "+3225011000",
                           Area("NP", circle=Circle(27.7172, 85.3240, 60)))  # Kathmandu, 60 km
MOROCCO_FLOOD = CrisisArea("c-ma", "Floods", "+3225011001", Area("MA"))  # the whole country


@pytest.fixture(scope="module")
def gazetteer() -> Gazetteer:
    return Gazetteer()


@pytest.mark.parametrize(("text", "answer", "language", "place"), [
    ("SAFE Pokhara", "safe", Language.EN, "pokhara"),
    ("hulp, Thamel Kathmandu!", "needs_help", Language.NL, "thamel kathmandu"),
    ("Sauf à Marrakech", "safe", Language.FR, "a marrakech"),
    ("HILFE", "needs_help", Language.DE, ""),
    ("sicher in Fès", "safe", Language.DE, "in fes"),
])
def test_a_check_in_gives_its_answer_language_and_place(text: str, answer: str, language: Language,
                                                        place: str) -> None:
    parsed = parse_check_in(text)
    assert parsed is not None and (parsed.answer, parsed.language, parsed.place) == (answer, language, place)


@pytest.mark.parametrize("text", ["my passport was stolen in Pokhara", "1", "2 Pokhara", "", "please help"])
def test_other_messages_are_not_check_ins(text: str) -> None:
    assert parse_check_in(text) is None


def test_phrases_longest_first() -> None:
    assert list(phrases("thamel kathmandu nepal")) == [
        "thamel kathmandu nepal", "thamel kathmandu", "kathmandu nepal", "thamel", "kathmandu", "nepal"]


def test_a_place_in_the_area_names_its_crisis(gazetteer: Gazetteer) -> None:
    found = locate("thamel kathmandu", [MOROCCO_FLOOD, NEPAL_QUAKE], gazetteer)
    assert found is not None and found.crisis == NEPAL_QUAKE and found.place == "kathmandu"
    assert found.country == "NP" and abs(found.point.lat - 27.7) < 0.1
    whole_country = locate("a marrakech", [NEPAL_QUAKE, MOROCCO_FLOOD], gazetteer)
    assert whole_country is not None and whole_country.crisis == MOROCCO_FLOOD


def test_a_place_outside_every_area_is_found_but_not_in_a_crisis(gazetteer: Gazetteer) -> None:
    found = locate("pokhara", [NEPAL_QUAKE], gazetteer)  # about 140 km from Kathmandu
    assert found is not None and found.crisis is None and found.country == "NP"


def test_an_unknown_place_is_not_found(gazetteer: Gazetteer) -> None:
    assert locate("nowhere at all", [NEPAL_QUAKE], gazetteer) is None
    assert locate("", [NEPAL_QUAKE], gazetteer) is None


def test_crises_without_a_usable_area_are_left_out() -> None:
    rows = [{"crisis_id": "a", "title": "t", "hotline_number": "+3225011000", "area": None},
            {"crisis_id": "b", "title": "t", "hotline_number": "+3225011000", "area": {"country": "NP"}},
            {"crisis_id": "c", "title": "t", "hotline_number": "+3225011000",
             "area": {"country": "NP", "circle": {"lat": 0, "lon": 0, "radius_km": -1}}}]
    assert [c.crisis_id for c in crises_with_areas(rows)] == ["b"]
