"""Exercise mode (issue 23): a command of an exercise crisis carries `exercise: true` in its params, and every
template a crisis sends then starts with the EXERCISE line in every part (subject, SMS, text, HTML, voice), in
every language; without it (or with it false) nothing changes."""

from __future__ import annotations

from typing import Any

import pytest

from services.crisis_center.domain.exercise import BANNER
from shared.notifications.rendering import LANGUAGES, Renderer
from shared.sms import Encoding
from tests.shared.test_notification_rendering import PARAMS

#: Every template the crisis center sends for a crisis (case and staff templates never belong to one).
CRISIS_TEMPLATES = ("crisis_alert", "crisis_update", "crisis_followup", "crisis_closed", "crisis_proposal",
                    "welfare_question", "check_in_code")
SMS_BANNER = "EXERCISE - EXERCICE - OEFENING - ÜBUNG"  # the en dash is not GSM-7: the SMS gets a hyphen
EXERCISE: dict[str, Any] = {**PARAMS, "exercise": True}


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    return Renderer()


def test_the_banner_is_the_crisis_centres() -> None:
    assert BANNER == "EXERCISE \u2013 EXERCICE \u2013 OEFENING \u2013 \u00dcBUNG"


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("template", CRISIS_TEMPLATES)
def test_an_exercise_message_starts_with_the_exercise_line(renderer: Renderer, template: str, language: str) -> None:
    rendered = renderer.render(template, language, EXERCISE)
    assert rendered.language == language
    assert rendered.subject.startswith(f"{BANNER}: "), rendered.subject
    assert rendered.sms.splitlines()[0] == SMS_BANNER, rendered.sms
    assert rendered.text.splitlines()[0] == BANNER, rendered.text
    body = rendered.html.split("<body", 1)[1]
    assert body.index(BANNER) < min(body.index(tag) for tag in ("<h1", "<p>") if tag in body), "first in the body"
    assert rendered.sms_info.encoding is Encoding.GSM7, rendered.sms
    real = renderer.render(template, language, PARAMS)
    assert rendered.sms.split("\n", 1)[1] == real.sms, "the message itself is unchanged under the banner"
    assert rendered.sms_info.segments <= real.sms_info.segments + 1


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("template", CRISIS_TEMPLATES)
def test_a_real_message_has_no_banner(renderer: Renderer, template: str, language: str) -> None:
    for params in (PARAMS, {**PARAMS, "exercise": False}):
        rendered = renderer.render(template, language, params)
        for part in (rendered.subject, rendered.sms, rendered.text, rendered.html):
            assert "EXERCISE" not in part and "EXERCICE" not in part


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_welfare_call_says_it_is_an_exercise_first(renderer: Renderer, language: str) -> None:
    said = renderer.render("welfare_call", language, EXERCISE, channel="voice").voice
    assert said.startswith("Exercise. Exercice. Oefening. Übung. "), said
    real = renderer.render("welfare_call", language, PARAMS, channel="voice").voice
    assert said.endswith(real) and "Exercise" not in real
