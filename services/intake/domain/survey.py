"""Satisfaction survey sent when a case closes: SMS answered 1-5, or a link by email."""

from __future__ import annotations

import re

from services.intake.domain import texts
from services.intake.domain.model import Language

_ANSWER = re.compile(r"^\s*([1-5])\s*(?:/\s*5)?\s*[.!]?\s*$")


def parse_answer(text: str) -> int | None:
    """A lone digit 1-5 (optionally `4/5`) is an answer; anything else is not."""
    match = _ANSWER.match(text)
    return int(match.group(1)) if match else None


def survey_question(language: Language, *, reference: str) -> str:
    """The SMS question (answered 1-5), the `message` of its `case_message`; by e-mail the `survey_request`
    template sends the link."""
    return texts.render(texts.SURVEY_SMS, language, reference=reference)
