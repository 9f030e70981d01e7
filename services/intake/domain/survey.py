"""The satisfaction survey's SMS answer (the question itself is the notifier's `survey_request` template, sent when a
case closes: by SMS answered 1-5, by e-mail a link)."""

from __future__ import annotations

import re

_ANSWER = re.compile(r"^\s*([1-5])\s*(?:/\s*5)?\s*[.!]?\s*$")


def parse_answer(text: str) -> int | None:
    """A lone digit 1-5 (optionally `4/5`) is an answer; anything else is not."""
    match = _ANSWER.match(text)
    return int(match.group(1)) if match else None

