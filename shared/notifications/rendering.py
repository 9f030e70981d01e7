"""Render a notification from the Jinja2 templates in `templates/<lang>/<name>.j2`: the one owner of what a person
is sent. The notifier renders a `SendNotification` with it to send it; intake renders the same command (template,
language, params, channel) to record in the case's history the text sent, and a letter's subject and text.

Each template file holds four blocks: `subject`, `sms`, `text` and `html`. Text blocks are rendered without
escaping, the `html` block by a second environment with autoescaping on, then put in `_layout.html.j2`. A language
without the template falls back to English; a missing parameter is an error (StrictUndefined), never a blank.
The messages about a case share one frame per language (the greeting, the reference, the officer's card, the
signature): the macros of `<lang>/_case.j2`, which each block imports itself (a block is rendered alone, without the
template's top level); such a template words only its own text, in a fifth block (`message`) the frame puts in.
Dates are written long in the language by `fdate` (`format_date`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache, lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jinja2
import phonenumbers
from markupsafe import Markup

from shared.sms import SmsInfo, analyse, tidy_sms

TEMPLATE_DIR = Path(__file__).parent / "templates"
LANGUAGES = ("fr", "nl", "de", "en")
FALLBACK_LANGUAGE = "en"
TEMPLATES = (
    "case_acknowledgement", "case_message", "case_provisional_reply", "case_forward_notice", "case_family_safe_notice",
    "case_forwarded_request", "crisis_alert", "crisis_update", "crisis_closed", "survey_request", "staff_deadline",
    "welfare_question", "check_in_code", "crisis_proposal", "crisis_followup",
)
VOICE_TEMPLATES = ("welfare_call",)
"""Said on a call (one `voice` block), not written: no subject, SMS or e-mail parts."""
BRUSSELS = ZoneInfo("Europe/Brussels")

_MONTHS = {
    "fr": ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre",
           "novembre", "décembre"),
    "nl": ("januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus", "september", "oktober",
           "november", "december"),
    "de": ("Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August", "September", "Oktober",
           "November", "Dezember"),
    "en": ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December"),
}


class TemplateError(ValueError):
    """Unknown template or missing/invalid parameter: the notification cannot be rendered."""


@dataclass(frozen=True)
class Rendered:
    language: str
    """The language actually used (after falling back)."""
    subject: str
    sms: str
    text: str
    html: str
    voice: str = ""

    @property
    def sms_info(self) -> SmsInfo:
        return analyse(self.sms)

    def body(self, channel: str) -> str:
        """What `channel` carries: the SMS text, the words said on a call, else the e-mail's plain text (which a
        letter prints too)."""
        return {"sms": self.sms, "voice": self.voice}.get(channel, self.text)


def _to_date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.astimezone(BRUSSELS).date() if value.tzinfo else value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        text = value.strip().replace("Z", "+00:00")
        try:
            return _to_date(datetime.fromisoformat(text))
        except ValueError:
            pass
    raise TemplateError(f"not a date: {value!r}")


def format_date(value: Any, language: str) -> str:
    day = _to_date(value)
    month = _MONTHS.get(language, _MONTHS["en"])[day.month - 1]
    if language == "de":
        return f"{day.day}. {month} {day.year}"
    return f"{day.day} {month} {day.year}"


def format_phone(value: Any) -> str:
    """E.164 to the international display form (+32 2 501 81 11); left as given when it does not parse."""
    return _display_phone(str(value))


@lru_cache(maxsize=4096)
def _display_phone(text: str) -> str:
    """Cached: the same few numbers (officers, hotlines) are in most messages, and parsing one costs ~70 us."""
    try:
        number = phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException:
        return text
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def _environment(autoescape: bool) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATE_DIR),
        autoescape=autoescape,  # noqa: S701 (two environments on purpose: text blocks unescaped, html escaped)
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
        auto_reload=False,  # the templates ship with the code: no stat() of the file at every render
    )
    env.filters["phone"] = format_phone
    return env


def _tidy_text(text: str) -> str:
    lines = [line.rstrip() for line in text.strip().splitlines()]
    out: list[str] = []
    for line in lines:
        if line or (out and out[-1]):
            out.append(line)
    return "\n".join(out).strip()


class Renderer:
    """Loads the templates once; `render` is then pure and thread-safe."""

    def __init__(self) -> None:
        self._text_env = _environment(autoescape=False)
        self._html_env = _environment(autoescape=True)
        self._layout = self._html_env.get_template("_layout.html.j2")

    def resolve_language(self, template: str, language: str | None) -> str:
        if template not in TEMPLATES and template not in VOICE_TEMPLATES:
            raise TemplateError(f"unknown template {template!r}")
        lang = (language or "").strip().lower()[:2]
        return lang if lang in LANGUAGES and _has_template(lang, template) else FALLBACK_LANGUAGE

    def render(self, template: str, language: str | None, params: Mapping[str, Any],
               channel: str | None = None, *, html: bool = True) -> Rendered:
        """Every part, or only the SMS text (`channel="sms"`) or only the e-mail parts (`channel="email"`);
        `html=False` leaves the e-mail's HTML out (a record of what was sent keeps its text)."""
        lang = self.resolve_language(template, language)
        name = f"{lang}/{template}.j2"
        context = {**params, "lang": lang, "fdate": lambda value: format_date(value, lang)}
        try:
            text_tmpl = self._text_env.get_template(name)
            html_tmpl = self._html_env.get_template(name)
            wanted = {"sms": ("sms",), "email": ("subject", "text"), "voice": ("voice",)}.get(
                channel or "", ("subject", "sms", "text"))
            blocks = {block: "".join(text_tmpl.blocks[block](text_tmpl.new_context(context))) for block in wanted}
            subject = " ".join(blocks.get("subject", "").split())
            html_text = ""
            if html and channel not in ("sms", "voice"):
                html_body = "".join(html_tmpl.blocks["html"](html_tmpl.new_context(context)))
                html_text = self._layout.render(lang=lang, subject=subject, body=Markup(html_body))  # noqa: S704 (autoescaped above)
        except jinja2.UndefinedError as exc:
            raise TemplateError(f"{template}: missing parameter ({exc.message})") from exc
        except KeyError as exc:
            raise TemplateError(f"{template}: block {exc} missing in {name}") from exc
        return Rendered(lang, subject, tidy_sms(blocks.get("sms", "")), _tidy_text(blocks.get("text", "")),
                        html_text.strip(), " ".join(blocks.get("voice", "").split()))


@cache
def _has_template(language: str, template: str) -> bool:
    """Whether the language has its own file of the template (asked once: the files do not change at run time)."""
    return (TEMPLATE_DIR / language / f"{template}.j2").is_file()


@cache
def default_renderer() -> Renderer:
    """One renderer per process (the templates are read once)."""
    return Renderer()
