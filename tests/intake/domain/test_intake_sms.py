from __future__ import annotations

import pytest

from services.intake.domain.model import Kind, Language
from services.intake.domain.sms import (
    appended_reply,
    classify,
    fold,
    keyword_language,
    new_case_reply,
    quoted_reference,
)
from services.intake.domain.survey import parse_answer


@pytest.mark.parametrize(("text", "kind", "language"), [
    ("My passport was stolen at the station", Kind.LOST_DOCUMENT, Language.EN),
    ("On m'a volé mon passeport", Kind.LOST_DOCUMENT, Language.FR),
    ("Mijn paspoort is gestolen", Kind.LOST_DOCUMENT, Language.NL),
    ("Mein Reisepass wurde gestohlen", Kind.LOST_DOCUMENT, Language.DE),
    ("My brother was arrested by the police", Kind.DETENTION, Language.EN),
    ("Mon fils a été arrêté hier", Kind.DETENTION, Language.FR),
    ("Mijn zoon is gearresteerd", Kind.DETENTION, Language.NL),
    ("Meine Tochter wurde verhaftet", Kind.DETENTION, Language.DE),
    ("My daughter is missing since Monday", Kind.MISSING_PERSON, Language.EN),
    ("Ma fille a disparu", Kind.MISSING_PERSON, Language.FR),
    ("Mijn dochter is vermist", Kind.MISSING_PERSON, Language.NL),
    ("Mein Sohn wird vermisst", Kind.MISSING_PERSON, Language.DE),
    ("Ik wil een klacht indienen", Kind.COMPLAINT, Language.NL),
    ("Ich habe eine Frage zum Visum", Kind.INFORMATION_REQUEST, Language.DE),
])
def test_keywords_in_four_languages(text: str, kind: Kind, language: Language) -> None:
    result = classify(text)
    assert (result.kind, result.language) == (kind, language)


def test_without_accents_and_in_capitals() -> None:
    assert classify("PASSEPORT VOLE").kind is Kind.LOST_DOCUMENT
    assert classify("il a ete ARRETE").kind is Kind.DETENTION
    assert classify("Er ist im GEFÄNGNIS").kind is Kind.DETENTION


def test_detention_wins_over_document() -> None:
    result = classify("arrested, they took my passport")
    assert result.kind is Kind.DETENTION and {"arrest", "passport"} <= set(result.keywords)


def test_no_keyword_is_serious_difficulty() -> None:
    assert classify("I had an accident and I am in hospital").kind is Kind.SERIOUS_DIFFICULTY
    assert classify("").kind is Kind.SERIOUS_DIFFICULTY


def test_unknown_language_is_english() -> None:
    assert classify("Ayuda por favor").language is Language.EN
    assert classify("12345").language is Language.EN


def test_words_not_substrings() -> None:
    # "pass" is a German word for passport, but "passed" or "password" are not
    assert classify("time passed").kind is Kind.SERIOUS_DIFFICULTY
    assert classify("Pass verloren").kind is Kind.LOST_DOCUMENT


def test_fold() -> None:
    assert fold("Gefängnis Volé ARRÊTÉ") == "gefangnis vole arrete"


@pytest.mark.parametrize("language", list(Language))
def test_replies_carry_reference(language: Language) -> None:
    assert "BE-2026-000011" in new_case_reply(language, "BE-2026-000011")
    assert "BE-2026-000011" in appended_reply(language, "BE-2026-000011")


def test_replies_are_in_the_language() -> None:
    assert "dossier" in new_case_reply(Language.FR, "R").lower()
    assert "aktenzeichen" in new_case_reply(Language.DE, "R").lower()
    assert len({new_case_reply(lang, "R") for lang in Language}) == 4


@pytest.mark.parametrize(("text", "answer"), [("5", 5), (" 1 ", 1), ("4/5", 4), ("3.", 3), ("0", None),
                                               ("6", None), ("12", None), ("yes", None), ("5 stars", None)])
def test_survey_answers(text: str, answer: int | None) -> None:
    assert parse_answer(text) == answer


@pytest.mark.parametrize(("body", "expected"), [
    ("Dossier BE-2026-000123 svp", "BE-2026-000123"), ("be 2031 004567 any news", "BE-2031-004567"),
    ("ref:BE2027000001.", "BE-2027-000001"), ("Reference be-2026-12345", None), ("BE-2026-0001234", None),
    ("no reference here", None)])
def test_a_quoted_reference_is_read_however_typed(body: str, expected: str | None) -> None:
    assert quoted_reference(body) == expected


def test_confirmations_follow_the_keyword_language() -> None:
    assert keyword_language("ARRET") is Language.FR and keyword_language("STOPPEN") is Language.NL
    assert keyword_language("STOPP") is Language.DE and keyword_language("STOP") is Language.EN
