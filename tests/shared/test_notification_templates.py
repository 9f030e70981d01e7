"""Issue 21: the notifier's templates and their parameter models (shared/events/notifications.py TEMPLATE_PARAMS)
agree: one model per template file, every variable a template reads is a field of its model and every field is read,
and every template renders in every language from the minimal parameters its model accepts (and from all of them)."""

from __future__ import annotations

import types
import typing
from datetime import date
from pathlib import Path
from typing import Any, Literal

import jinja2
import jinja2.meta
import pytest
from pydantic import AwareDatetime, BaseModel

from shared.events.notifications import TEMPLATE_PARAMS, OfficerCard, template_params
from shared.notifications.rendering import LANGUAGES, TEMPLATE_DIR, TEMPLATES, VOICE_TEMPLATES, Renderer

#: Names the renderer itself gives every template (not parameters).
RENDERER_NAMES = frozenset({"lang", "fdate"})
SAMPLE_TEXT = {"reference": "BE-2026-000123", "hotline_number": "+3225011000", "code": "042917"}


def _templates_in(directory: Path) -> set[str]:
    return {path.name.removesuffix(".j2") for path in directory.glob("*.j2") if not path.name.startswith("_")}


def test_one_model_per_template_file() -> None:
    assert set(TEMPLATE_PARAMS) == _templates_in(TEMPLATE_DIR / "en")
    assert set(TEMPLATE_PARAMS) == set(TEMPLATES) | set(VOICE_TEMPLATES)
    for language in LANGUAGES:
        assert _templates_in(TEMPLATE_DIR / language) == set(TEMPLATE_PARAMS), language


def _read(template: str, language: str) -> set[str]:
    env = jinja2.Environment(autoescape=False)  # noqa: S701 (parsed, not rendered)
    env.filters["phone"] = str  # the renderer's own filter
    source = (TEMPLATE_DIR / language / f"{template}.j2").read_text()
    return jinja2.meta.find_undeclared_variables(env.parse(source)) - RENDERER_NAMES


@pytest.mark.parametrize("template", sorted(TEMPLATE_PARAMS))
def test_a_template_reads_its_models_fields_and_nothing_else(template: str) -> None:
    fields = set(TEMPLATE_PARAMS[template].model_fields)
    read = {language: _read(template, language) for language in LANGUAGES}
    for language, names in read.items():
        assert names <= fields, f"{language}/{template}.j2 reads {sorted(names - fields)}, not in its model"
    unread = fields - set().union(*read.values())
    assert not unread, f"{template}: fields no template reads: {sorted(unread)}"


def _sample(name: str, annotation: Any) -> Any:
    """A valid JSON value for a field, by its type (and its name for constrained strings)."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        annotation = next(a for a in typing.get_args(annotation) if a is not type(None))
    if typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    if typing.get_origin(annotation) is Literal:
        return typing.get_args(annotation)[-1]
    if annotation is bool:
        return True
    if annotation is int:
        return 5
    if annotation is date:
        return "2026-12-12"
    if annotation is AwareDatetime:
        return "2026-12-12T22:59:59+00:00"
    if isinstance(annotation, type) and issubclass(annotation, OfficerCard):
        return {"name": "Anne Peeters", "role": "Consular officer", "phone": "+3225018111", "email": "a@example.be"}
    if name.endswith("_url"):
        return f"https://example.be/{name}"
    return SAMPLE_TEXT.get(name, f"some {name}")


def _params(model: type[BaseModel], *, channel: str, full: bool) -> dict[str, Any]:
    wanted = {name for name, info in model.model_fields.items() if full or info.is_required()}
    if channel == "email":
        wanted |= set(getattr(model, "EMAIL_NEEDS", ()))
    return {name: _sample(name, model.model_fields[name].annotation) for name in sorted(wanted)}


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    return Renderer()


@pytest.mark.parametrize("full", [False, True], ids=["minimal", "full"])
@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("template", sorted(TEMPLATE_PARAMS))
def test_every_template_renders_from_its_models_params(renderer: Renderer, template: str, language: str,
                                                       full: bool) -> None:
    channels = ("voice",) if template in VOICE_TEMPLATES else ("sms", "email")
    for channel in channels:
        params = template_params(template, _params(TEMPLATE_PARAMS[template], channel=channel, full=full), channel)
        rendered = renderer.render(template, language, params, channel=channel)
        assert rendered.language == language
        parts = {"sms": (rendered.sms,), "voice": (rendered.voice,),
                 "email": (rendered.subject, rendered.text, rendered.html)}[channel]
        for part in parts:
            assert part.strip(), (template, channel)
            assert "None" not in part, (template, channel, part)


def test_an_email_welfare_question_without_its_links_is_refused() -> None:
    params = _params(TEMPLATE_PARAMS["welfare_question"], channel="sms", full=False)
    assert template_params("welfare_question", params, "sms")
    with pytest.raises(ValueError, match="safe_url and help_url"):
        template_params("welfare_question", params, "email")


def test_an_email_survey_without_its_link_is_refused() -> None:
    """The survey asks by SMS (answered 1-5) and links to its page by e-mail: only the e-mail needs the link."""
    assert template_params("survey_request", {"reference": "BE-2026-000123"}, "sms") == {"reference": "BE-2026-000123"}
    with pytest.raises(ValueError, match="survey_url"):
        template_params("survey_request", {"reference": "BE-2026-000123"}, "email")
