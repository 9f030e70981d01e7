"""The families' matching, measured on a hand-labelled set of name pairs (tests/intake/data/name_pairs.csv: Dutch,
French and German particles, accents, transliterations, typos, swapped names, common names that must not match on
the name alone), and its rules one by one."""

from __future__ import annotations

import csv
from collections import Counter
from datetime import date
from pathlib import Path

import pytest

from services.intake.domain import matching
from services.intake.domain.matching import Person, blocking_codes, fold, name_similarity, score

PAIRS = Path(__file__).parent.parent / "data" / "name_pairs.csv"


def _person(row: dict[str, str], side: str) -> Person:
    birth = row[f"{side}_dob"]
    return Person(full_name=row[f"{side}_name"], date_of_birth=date.fromisoformat(birth) if birth else None,
                  phone=row[f"{side}_phone"] or None, country=row[f"{side}_country"] or None)


def _rows() -> list[dict[str, str]]:
    with PAIRS.open(encoding="utf-8") as file:
        return list(csv.DictReader(file))


def test_the_labelled_set_is_large_and_varied() -> None:
    rows = _rows()
    assert len(rows) >= 200
    labels = Counter(row["same_person"] for row in rows)
    assert labels["1"] >= 150 and labels["0"] >= 50
    assert {"particle", "accent", "transliteration", "typo", "swapped", "common_name", "different_person"} <= {
        row["category"] for row in rows}


def test_precision_and_recall_at_the_threshold() -> None:
    """The figures of the issue's note: precision 0.990, recall 0.941 on 311 pairs at 0.8 (13 pairs missed: short
    forms of given names, some transliterations; 2 wrongly matched: a family's shared phone, a near name)."""
    outcome: Counter[str] = Counter()
    for row in _rows():
        predicted = score(_person(row, "sought"), _person(row, "candidate")) >= matching.THRESHOLD
        actual = row["same_person"] == "1"
        outcome[("t" if predicted == actual else "f") + ("p" if predicted else "n")] += 1
    precision = outcome["tp"] / (outcome["tp"] + outcome["fp"])
    recall = outcome["tp"] / (outcome["tp"] + outcome["fn"])
    assert precision >= 0.98, outcome
    assert recall >= 0.93, outcome


def test_the_index_reaches_nearly_every_true_pair() -> None:
    """A candidate must share a name code (or the phone) to be scored at all: the index's recall."""
    positives = [row for row in _rows() if row["same_person"] == "1"]
    reached = [row for row in positives
               if set(blocking_codes(row["sought_name"])) & set(blocking_codes(row["candidate_name"]))
               or (row["sought_phone"] and row["sought_phone"] == row["candidate_phone"])]
    assert len(reached) / len(positives) >= 0.99


@pytest.mark.parametrize(("left", "right"), [
    ("Pieter Van den Broeck", "pieter vandenbroeck"), ("Marie-Claire DUBOIS", "Marie Claire Dubois"),
    ("DUBOIS Marie", "Marie Dubois"), ("Annick d'Hondt", "Annick Dhondt"), ("Zoë Müller", "Zoe Muller"),
])
def test_spelling_order_and_particles_do_not_matter(left: str, right: str) -> None:
    assert name_similarity(left, right) == 1.0


def test_transliteration_and_sound() -> None:
    assert fold("Александр Пушкин") == ("aleksandr", "pushkin")
    assert name_similarity("Александр Пушкин", "Alexander Pushkin") >= matching.THRESHOLD
    assert name_similarity("Mohammed Benali", "Muhammad Ben Ali") >= matching.THRESHOLD


def test_a_shared_particle_or_given_name_is_not_a_match() -> None:
    assert name_similarity("Wim Van den Broeck", "Wim Van den Berg") < matching.THRESHOLD
    assert name_similarity("Jan Peeters", "Anna Peeters") < matching.THRESHOLD
    assert name_similarity("Jan", "Jan Peeters") < matching.THRESHOLD  # a given name alone


def test_other_evidence_moves_the_score() -> None:
    name = "Jan Peeters"
    base = score(Person(name), Person(name))
    assert score(Person(name, date_of_birth=date(1980, 3, 4)), Person(name, date_of_birth=date(1975, 9, 1))) < (
        matching.THRESHOLD)
    assert score(Person(name, phone="+32470000001", country="NP"),
                 Person(name, phone="+32470000002", country="TH")) < matching.THRESHOLD
    assert score(Person("Sofie Claes", phone="+32470000001"),
                 Person("Sofie Van Damme", phone="+32470000001")) >= matching.THRESHOLD  # a married name
    assert score(Person(name, date_of_birth=date(1980, 3, 4)), Person(name, date_of_birth=date(1980, 4, 3))) >= base


def test_a_common_name_alone_is_held_below_the_threshold() -> None:
    name = "Jan Peeters"
    assert score(Person(name), Person(name), namesakes=1) >= matching.THRESHOLD
    assert score(Person(name), Person(name), namesakes=matching.COMMON_NAME_PEOPLE + 1) < matching.THRESHOLD
    assert score(Person(name, phone="+32470000001"), Person(name, phone="+32470000001"),
                 namesakes=matching.COMMON_NAME_PEOPLE + 1) >= matching.THRESHOLD


def test_blocking_codes_index_the_core_of_a_particle_name() -> None:
    assert set(blocking_codes("Lukas von Bergh")) & set(blocking_codes("Lukas Bergh")) == set(
        blocking_codes("Lukas Bergh"))
    assert blocking_codes("") == []
