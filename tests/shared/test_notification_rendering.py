from __future__ import annotations

from typing import Any

import pytest

from shared.notifications.rendering import LANGUAGES, TEMPLATES, Renderer, TemplateError, format_date
from shared.sms import Encoding

PARAMS: dict[str, Any] = {
    "reference": "BE-2026-000123",
    "officer": {"name": "Anne Peeters", "role": "Consular officer", "phone": "+3225018111",
                "email": "consular@example.be"},
    "reply_due_by": "2026-12-12T10:00:00Z",
    "message": "Your passport is ready.",
    "crisis_title": "Earthquake <Marrakesh> & region",
    "hotline_number": "+3225018112",
    "survey_url": "https://example.be/s/abc",
    "update": "Airport reopened.",
    "kind": "complaint",
    "deadline": "provisional_reply",
    "event": "missed",
    "due_by": "2026-12-12T22:59:59Z",
    "console_url": "https://consular.example.org/intake/console",
    "reminder": True,
    "code": "042917",
    "minutes": 15,
    "safe_url": "https://crisis.example.org/public/welfare/abc.def",
    "help_url": "https://crisis.example.org/public/welfare/abc.ghi",
    "affected_count": 57,  # crisis_proposal: the escalation of a proposal to open a crisis, to the on-call coordinator
    "threshold": 50,
    "dashboard_url": "https://crisis.example.org/dashboard",
    "service": "FPS Finance",  # the case templates of issue 21 (item 5): the texts intake used to word itself
    "sought_name": "Jan Peeters",
    "answered_safe_on": "2026-12-10",
    "citizen_language": "nl",
    "contact": "Jan Janssens, +32470123456",
    "description": "Mijn pensioen wordt niet betaald.",
}


#: The SMS that may take more than two segments: the family's safe notice is the agreed wording (issue 18) with the
#: officer's card (three); the request forwarded to a service goes by e-mail only (its SMS form is never sent).
LONG_SMS: dict[str, int | None] = {"case_family_safe_notice": 3, "case_forwarded_request": None}


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    return Renderer()


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("template", TEMPLATES)
def test_every_template_renders_in_gsm7_and_in_its_language(renderer: Renderer, template: str, language: str) -> None:
    rendered = renderer.render(template, language, PARAMS)
    assert rendered.language == language
    assert rendered.subject and rendered.sms and rendered.text
    assert rendered.html.startswith("<!DOCTYPE html>")
    assert f'lang="{language}"' in rendered.html
    assert rendered.sms_info.encoding is Encoding.GSM7, rendered.sms
    limit = LONG_SMS.get(template, 2)
    assert limit is None or rendered.sms_info.segments <= limit, rendered.sms


@pytest.mark.parametrize(("language", "due"), [("fr", "12 décembre 2026"), ("nl", "12 december 2026"),
                                               ("de", "12. Dezember 2026"), ("en", "12 December 2026")])
def test_acknowledgement_carries_the_officer_card_and_due_date(renderer: Renderer, language: str, due: str) -> None:
    rendered = renderer.render("case_acknowledgement", language, PARAMS)
    for part in (rendered.sms, rendered.text, rendered.html):
        assert "BE-2026-000123" in part
        assert "Anne Peeters" in part
        assert "+32 2 501 81 11" in part
        assert "consular@example.be" in part
        assert due in part


@pytest.mark.parametrize("language", LANGUAGES)
def test_crisis_alert_carries_the_hotline(renderer: Renderer, language: str) -> None:
    rendered = renderer.render("crisis_alert", language, PARAMS)
    assert "+32 2 501 81 12" in rendered.sms
    assert "+32 2 501 81 12" in rendered.text
    assert 'href="tel:+3225018112"' in rendered.html


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("reminder", [False, True])
def test_the_welfare_question_says_how_to_answer_under_two_segments(renderer: Renderer, language: str,
                                                                    reminder: bool) -> None:
    long_title = {**PARAMS, "reminder": reminder, "crisis_title": "Earthquake " + "and aftershocks " * 20}
    rendered = renderer.render("welfare_question", language, long_title)
    assert "1" in rendered.sms and "2" in rendered.sms and "+32 2 501 81 12" in rendered.sms
    assert rendered.sms_info.encoding is Encoding.GSM7 and rendered.sms_info.segments <= 2, rendered.sms
    assert ("REMINDER" in rendered.sms or "RAPPEL" in rendered.sms or "HERINNERING" in rendered.sms
            or "ERINNERUNG" in rendered.sms) is reminder
    for link in (PARAMS["safe_url"], PARAMS["help_url"]):
        assert link in rendered.text and f'href="{link}"' in rendered.html
    assert PARAMS["safe_url"] not in rendered.sms, "no links by SMS: the answer is 1 or 2"


def test_languages_differ(renderer: Renderer) -> None:
    bodies = {lang: renderer.render("crisis_alert", lang, PARAMS).sms for lang in LANGUAGES}
    assert len(set(bodies.values())) == len(LANGUAGES)
    assert "Aide" in bodies["fr"] and "Hulp" in bodies["nl"] and "Hilfe" in bodies["de"] and "Help" in bodies["en"]


def test_unknown_language_falls_back_to_english(renderer: Renderer) -> None:
    assert renderer.render("crisis_alert", "es", PARAMS).sms == renderer.render("crisis_alert", "en", PARAMS).sms
    assert renderer.render("crisis_alert", None, PARAMS).language == "en"
    assert renderer.render("crisis_alert", "FR-be", PARAMS).language == "fr"


def test_html_is_escaped_but_text_is_not(renderer: Renderer) -> None:
    rendered = renderer.render("crisis_alert", "en", PARAMS)
    assert "Earthquake &lt;Marrakesh&gt; &amp; region" in rendered.html
    assert "<Marrakesh>" not in rendered.html
    assert "Earthquake <Marrakesh> & region" in rendered.text


def test_missing_parameter_is_an_error(renderer: Renderer) -> None:
    params = {k: v for k, v in PARAMS.items() if k != "hotline_number"}
    with pytest.raises(TemplateError, match="hotline_number"):
        renderer.render("crisis_alert", "fr", params)
    with pytest.raises(TemplateError, match="unknown template"):
        renderer.render("nope", "fr", PARAMS)


def test_optional_provisional_date_appears_only_when_given(renderer: Renderer) -> None:
    without = renderer.render("case_acknowledgement", "en", PARAMS)
    with_it = renderer.render("case_acknowledgement", "en", PARAMS | {"provisional_reply_due_by": "2026-12-05"})
    assert "provisional" not in without.text
    assert "5 December 2026" in with_it.text


def test_non_gsm_content_switches_to_ucs2(renderer: Renderer) -> None:
    rendered = renderer.render("case_message", "fr", PARAMS | {"message": "Votre passeport est prêt \u2013 merci"})
    assert rendered.sms_info.encoding is Encoding.UCS2  # 'ê' has no GSM-7 twin
    assert "\u2013" not in rendered.sms  # but the dash was made GSM


def test_dates_in_brussels_time() -> None:
    assert format_date("2026-12-11T23:30:00Z", "en") == "12 December 2026"  # 00:30 in Brussels
    assert format_date("2026-03-01", "de") == "1. März 2026"
    with pytest.raises(TemplateError):
        format_date("someday", "en")


def test_rendering_only_what_the_channel_needs(renderer: Renderer) -> None:
    full = renderer.render("crisis_alert", "nl", PARAMS)
    sms = renderer.render("crisis_alert", "nl", PARAMS, channel="sms")
    email = renderer.render("crisis_alert", "nl", PARAMS, channel="email")
    assert sms.sms == full.sms and not sms.html and not sms.text
    assert (email.subject, email.text, email.html) == (full.subject, full.text, full.html) and not email.sms
    record = renderer.render("crisis_alert", "nl", PARAMS, channel="email", html=False)
    assert (record.subject, record.text) == (email.subject, email.text) and email.html and not record.html


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_case_sms_always_carries_the_officer_card_once(renderer: Renderer, language: str) -> None:
    """The charter: every message names the officer (name, role, phone, email) and the reference."""
    officer = PARAMS["officer"]
    bare = renderer.render("case_message", language, PARAMS | {"message": "Votre passeport est prêt."}).sms
    assert PARAMS["reference"] in bare
    assert officer["name"] in bare and officer["role"] in bare and officer["email"] in bare
    signed = renderer.render("case_message", language, PARAMS | {
        "message": f"Prêt. {officer['name']}, {officer['email']}"}).sms
    assert signed.count(officer["email"]) == 1


@pytest.mark.parametrize(("language", "press"), [("fr", "Appuyez sur 1"), ("nl", "Druk op 1"),
                                                 ("de", "Drücken Sie 1"), ("en", "Press 1")])
def test_the_welfare_call_is_said_in_the_persons_language(renderer: Renderer, language: str, press: str) -> None:
    rendered = renderer.render("welfare_call", language, PARAMS, channel="voice")
    assert rendered.language == language and press in rendered.voice
    assert "Earthquake <Marrakesh> & region" in rendered.voice and "+32 2 501 81 12" in rendered.voice
    assert "\n" not in rendered.voice and rendered.sms == "" and rendered.html == ""


# --- the texts intake used to word itself, now templates of their own (issue 21, item 5) ---------------------------

LONG_DUE = {"fr": "12 décembre 2026", "nl": "12 december 2026", "de": "12. Dezember 2026", "en": "12 December 2026"}
COMPLEX = {"fr": "Votre demande est complexe.", "nl": "Uw aanvraag is complex.", "de": "Ihre Anfrage ist komplex.",
           "en": "Your request is complex."}


def _case_parts(renderer: Renderer, template: str, language: str, params: dict[str, Any]) -> tuple[str, str, str]:
    """The SMS, the e-mail's text and its html, each checked to carry the reference and the officer's card once."""
    sms = renderer.render(template, language, params, channel="sms").sms
    email = renderer.render(template, language, params, channel="email")
    for part in (sms, email.text, email.html):
        assert PARAMS["reference"] in part and PARAMS["officer"]["name"] in part
        assert part.count(PARAMS["officer"]["email"]) == 1 + part.count("mailto:")
    assert PARAMS["reference"] in email.subject
    return sms, email.text, email.html


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_provisional_reply_names_the_due_date_in_the_language(renderer: Renderer, language: str) -> None:
    params = {"reference": PARAMS["reference"], "officer": PARAMS["officer"], "reply_due_by": "2026-12-12"}
    for part in _case_parts(renderer, "case_provisional_reply", language, params):
        assert COMPLEX[language] in part and LONG_DUE[language] in part
    text = renderer.render("case_provisional_reply", language, params | {"message": "Wir <prüfen> das."},
                           channel="email").text
    assert text.index("Wir <prüfen> das.") < text.index(COMPLEX[language])  # the officer's words first
    html = renderer.render("case_provisional_reply", language, params | {"message": "Wir <prüfen> das."}).html
    assert "Wir &lt;prüfen&gt; das." in html


@pytest.mark.parametrize(("language", "says"), [("fr", "relève de"), ("nl", "bevoegdheid van"),
                                                ("de", "Zuständigkeit von"), ("en", "a matter for")])
def test_the_forward_notice_names_the_service(renderer: Renderer, language: str, says: str) -> None:
    params = {"reference": PARAMS["reference"], "officer": PARAMS["officer"], "service": "SPF Finances & <Co>"}
    sms, text, html = _case_parts(renderer, "case_forward_notice", language, params)
    assert f"{says} SPF Finances & <Co>" in sms and f"{says} SPF Finances & <Co>" in text
    assert "SPF Finances &amp; &lt;Co&gt;" in html


@pytest.mark.parametrize(("language", "day"), [("fr", "le 1 mars 2026"), ("nl", "op 1 maart 2026"),
                                               ("de", "Am 1. März 2026"), ("en", "on 1 March 2026")])
def test_the_family_safe_notice_names_the_person_and_the_day(renderer: Renderer, language: str, day: str) -> None:
    params = {"reference": PARAMS["reference"], "officer": PARAMS["officer"], "sought_name": "Jan Peeters",
              "answered_safe_on": "2026-03-01"}
    for part in _case_parts(renderer, "case_family_safe_notice", language, params):
        assert "Jan Peeters" in part and day in part


@pytest.mark.parametrize(("language", "question"), [
    ("fr", "Notre aide vous a-t-elle satisfait? Répondez de 1 (pas du tout) à 5 (très)."),
    ("nl", "Bent u tevreden? Antwoord van 1 (helemaal niet) tot 5 (zeer)."),
    ("de", "Sind Sie zufrieden? Antworten Sie von 1 (gar nicht) bis 5 (sehr)."),
    ("en", "Are you satisfied? Reply from 1 (not at all) to 5 (very).")])
def test_the_survey_asks_by_sms_and_links_by_email(renderer: Renderer, language: str, question: str) -> None:
    sms = renderer.render("survey_request", language, {"reference": PARAMS["reference"], "officer": PARAMS["officer"]},
                          channel="sms")
    assert question in sms.sms and PARAMS["reference"] in sms.sms and PARAMS["officer"]["email"] in sms.sms
    assert "http" not in sms.sms  # answered by SMS, not on the page
    assert sms.sms_info.encoding is Encoding.GSM7 and sms.sms_info.segments <= 2, sms.sms
    email = renderer.render("survey_request", language, {"reference": PARAMS["reference"],
                                                         "survey_url": PARAMS["survey_url"]}, channel="email")
    assert PARAMS["survey_url"] in email.text and PARAMS["reference"] in email.text and question not in email.text


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_request_forwarded_to_a_service_carries_the_request(renderer: Renderer, language: str) -> None:
    params = {"reference": PARAMS["reference"], "officer": PARAMS["officer"], "citizen_language": "de",
              "contact": "Jan Janssens, +32470123456", "description": "Mein <Rente>\n\nkommt nicht."}
    text = renderer.render("case_forwarded_request", language, params, channel="email").text
    assert "Jan Janssens, +32470123456" in text and ": de." in text
    assert text.index("Mein <Rente>\n\nkommt nicht.") > text.index("+32470123456")
    without = renderer.render("case_forwarded_request", language, params | {"contact": None}, channel="email").text
    assert "None" not in without and "Mein <Rente>" in without and "Jan Janssens" not in without
