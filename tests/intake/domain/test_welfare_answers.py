"""Reading an SMS answer to "are you safe?" in the four languages."""

from __future__ import annotations

import pytest

from services.intake.domain.welfare import read_answer

#: What each text reads as.
ANSWERS = {
    "safe": [
        "1", " 1 ", "1.", "1 Pokhara", "SAFE", "safe, in Thamel", "I'm ok", "all fine",  # en
        "sain et sauf", "en sécurité", "Ça va bien", "SECURITE",  # fr
        "veilig", "Ik ben veilig", "alles goed",  # nl
        "in Sicherheit", "Alles gut", "sicher",  # de
    ],
    "needs_help": [
        "2", "2 we are 3 people", "HELP", "help us please", "SOS",  # en
        "aide", "au secours", "j'ai besoin d'aide", "blessé",  # fr
        "hulp", "HULP Thamel Kathmandu", "gewond",  # nl
        "Hilfe", "Notfall", "verletzt",  # de
    ],
    "unclear": [
        "", "   ", "?", "3", "who is this?", "bonjour",
        "not safe", "pas en sécurité", "niet veilig", "nicht sicher",  # negated: an officer reads it
        "safe but my friend needs help",  # both
        "1 2",
    ],
}


@pytest.mark.parametrize(("text", "answer"), [(text, answer) for answer, texts in ANSWERS.items() for text in texts])
def test_an_answer_reads_as_safe_needs_help_or_unclear(text: str, answer: str) -> None:
    assert read_answer(text) == answer
