"""The satisfaction survey: its public page (the email's link: an unguessable token per case, in the case's
language, answered again to change the answer) and the admins' satisfaction report per month, kind and post."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, HTTPException, Path, Query
from fastapi.responses import HTMLResponse
from jinja2 import Environment, select_autoescape

from services.intake.adapters import repository
from services.intake.deps import Deps
from services.intake.domain import texts
from services.intake.domain.clocks import BRUSSELS
from services.intake.domain.model import Language
from shared.auth import Principal, require_roles

AdminRole = Annotated[Principal, Depends(require_roles("admin"))]
Token = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{20,64}$")]
HEADERS = {"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
                                      "frame-ancestors 'none'; base-uri 'none'",
           "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer", "Cache-Control": "no-store"}

_PAGE = Environment(autoescape=select_autoescape(default=True)).from_string("""<!doctype html>
<html lang="{{ lang }}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>{{ title }}</title>
<style>body{font-family:system-ui,sans-serif;max-width:36rem;margin:2rem auto;padding:0 1rem;line-height:1.5}
fieldset{border:0;padding:0}label{margin-right:1rem}textarea{width:100%}.error{color:#b91c1c}</style></head>
<body><p>{{ ministry }}</p><h1>{{ title }}</h1>
{% if message %}<p role="status">{{ message }}</p>{% endif %}
{% if form %}<form method="post">
<fieldset><legend>{{ question }}</legend>
{% for n in range(1, 6) %}<label><input type="radio" name="answer" value="{{ n }}"
 {%- if answer == n %} checked{% endif %} required> {{ n }}</label>{% endfor %}</fieldset>
{% if error %}<p class="error">{{ error }}</p>{% endif %}
<p><label for="comment">{{ comment_label }}</label><br>
<textarea id="comment" name="comment" rows="4" maxlength="2000">{{ comment or "" }}</textarea></p>
<button type="submit">{{ send }}</button></form>{% endif %}
</body></html>""")




def _page(language: Language, *, reference: str | None, status: int = 200, form: bool = True,
          message: str | None = None, error: str | None = None, answer: int | None = None,
          comment: str | None = None) -> HTMLResponse:
    title = (texts.render(texts.SURVEY_PAGE_TITLE, language, reference=reference) if reference
             else texts.render(texts.SURVEY_PAGE_UNKNOWN, language))
    html = _PAGE.render(lang=language.value, ministry=texts.MINISTRY[language], title=title, form=form,
                        question=texts.SURVEY_PAGE_QUESTION[language],
                        comment_label=texts.SURVEY_PAGE_COMMENT[language],
                        send=texts.SURVEY_PAGE_SEND[language], message=message, error=error, answer=answer,
                        comment=comment)
    return HTMLResponse(html, status_code=status, headers=HEADERS)


EARLIEST, LATEST = date(2000, 1, 1), date(2100, 1, 1)
PAGE_ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"description": "no such survey (a page saying so)", "content": {"text/html": {}}},
    422: {"description": "no score chosen (the form again, saying so), or a malformed token (JSON)",
          "content": {"text/html": {}, "application/json": {}}},
}


router = APIRouter()


@router.get("/public/survey/{token}", response_class=HTMLResponse, tags=["public"], responses=PAGE_ERRORS)
async def survey_page(token: Token, deps: Deps) -> HTMLResponse:
    """The survey page (public: the token is the capability), in the case's language."""
    async with deps.pool.acquire() as conn:
        survey = await repository.survey_by_token(conn, token)
    if survey is None:
        return _page(Language.EN, reference=None, status=404, form=False)
    return _page(Language(survey["language"]), reference=survey["reference"], answer=survey["answer"],
                 comment=survey["comment"])

@router.post("/public/survey/{token}", response_class=HTMLResponse, tags=["public"], responses=PAGE_ERRORS)
async def answer_survey(token: Token, deps: Deps, answer: Annotated[str, Form(max_length=2)] = "",
                        comment: Annotated[str, Form(max_length=2000)] = "") -> HTMLResponse:
    """Records the 1-5 score and the comment; answering again replaces the earlier answer."""
    async with deps.pool.acquire() as conn:
        survey = await repository.survey_by_token(conn, token)
        if survey is None:
            return _page(Language.EN, reference=None, status=404, form=False)
        language = Language(survey["language"])
        if answer not in {"1", "2", "3", "4", "5"}:
            return _page(language, reference=survey["reference"], status=422,
                         error=texts.SURVEY_PAGE_CHOOSE[language], comment=comment)
        await repository.answer_survey_page(conn, token, int(answer), comment.strip() or None)
    return _page(language, reference=survey["reference"], form=False,
                 message=texts.render(texts.SURVEY_THANKS, language))

@router.get("/v1/admin/satisfaction", tags=["admin"])
async def satisfaction(_: AdminRole, deps: Deps,
                       since: Annotated[date, Query(alias="from", ge=EARLIEST, le=LATEST,
                                                    description="first day (Brussels)")],
                       until: Annotated[date, Query(alias="to", ge=EARLIEST, le=LATEST,
                                                    description="day after the last (Brussels): after "
                                                                "`from`, else 422 (rule `after_from`)",
                                                    examples=["2026-02-01"])],
                       ) -> dict[str, Any]:
    """Satisfaction per month, kind of case and post: surveys sent, answered, mean score, counts of 1 to 5."""
    if until <= since:
        raise HTTPException(422, [{"field": "to", "rule": "after_from", "message": "to must be after from"}])
    start = datetime.combine(since, datetime.min.time(), tzinfo=BRUSSELS).astimezone(UTC)
    end = datetime.combine(until, datetime.min.time(), tzinfo=BRUSSELS).astimezone(UTC)
    async with deps.pool.acquire() as conn:
        rows = await repository.satisfaction(conn, since=start, until=end)
    return {"from": since, "to": until, "rows": rows}
