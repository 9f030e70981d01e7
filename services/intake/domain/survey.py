"""Satisfaction survey sent when a case closes: SMS answered 1-5, or a link by email."""

from __future__ import annotations

import re

from services.intake.domain import texts
from services.intake.domain.acknowledgement import AckChannel
from services.intake.domain.model import Language

_ANSWER = re.compile(r"^\s*([1-5])\s*(?:/\s*5)?\s*[.!]?\s*$")


def parse_answer(text: str) -> int | None:
    """A lone digit 1-5 (optionally `4/5`) is an answer; anything else is not."""
    match = _ANSWER.match(text)
    return int(match.group(1)) if match else None


def survey_text(channel: AckChannel, language: Language, *, reference: str, link: str) -> str:
    if channel is AckChannel.SMS:
        return texts.render(texts.SURVEY_SMS, language, reference=reference)
    return texts.render(texts.SURVEY_EMAIL, language, reference=reference, link=link)
