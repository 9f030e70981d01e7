"""Reading an SMS answer to "are you safe?" in the four languages."""

from __future__ import annotations

import pytest

from services.intake.domain.welfare import read_answer


@pytest.mark.parametrize("text", [
    "1", " 1 ", "1.", "1 Pokhara", "SAFE", "safe, in Thamel", "I'm ok", "all fine",  # en
    "sain et sauf", "en sécurité", "Ça va bien", "SECURITE",  # fr
    "veilig", "Ik ben veilig", "alles goed",  # nl
    "in Sicherheit", "Alles gut", "sicher",  # de
])
def test_safe(text: str) -> None:
    assert read_answer(text) == "safe"


@pytest.mark.parametrize("text", [
    "2", "2 we are 3 people", "HELP", "help us please", "SOS",  # en
    "aide", "au secours", "j'ai besoin d'aide", "blessé",  # fr
    "hulp", "HULP Thamel Kathmandu", "gewond",  # nl
    "Hilfe", "Notfall", "verletzt",  # de
])
def test_needs_help(text: str) -> None:
    assert read_answer(text) == "needs_help"


@pytest.mark.parametrize("text", [
    "", "   ", "?", "3", "who is this?", "bonjour",
    "not safe", "pas en sécurité", "niet veilig", "nicht sicher",  # negated: an officer reads it
    "safe but my friend needs help",  # both
    "1 2",
])
def test_unclear(text: str) -> None:
    assert read_answer(text) == "unclear"
