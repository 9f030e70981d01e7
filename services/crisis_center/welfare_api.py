"""Welfare checks over HTTP: coordinators start rounds and read counts and people; people answer by link.

An email's answer link opens a page that names the answer and asks for one press of a button (a `POST` to the
same address): mail scanners and link previews open every link of a message, and with a "safe" and a "help"
link side by side, recording on `GET` would record whichever they opened last.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Path, Query
from fastapi.responses import HTMLResponse
from jinja2 import Environment, select_autoescape
from pydantic import BaseModel, Field

from services.crisis_center import inquiries, welfare
from services.crisis_center.adapters import welfare_repository
from services.crisis_center.deps import ApiState, Coordinator, CrisisId, Deps
from services.crisis_center.domain.welfare import STATUSES, BadToken, LinkClaim, read_token
from shared.events.common import Integer

Token = Annotated[str, Path(min_length=10, max_length=400, pattern=r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$")]
Status = Literal["safe", "needs_help", "unclear", "no_answer", "unreachable", "checked_in"]
assert set(Status.__args__) == set(STATUSES)  # type: ignore[attr-defined]

HEADERS = {"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
                                      "frame-ancestors 'none'; base-uri 'none'",
           "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer", "Cache-Control": "no-store"}


class RoundIn(BaseModel):
    escalate_after_minutes: Integer = Field(default=60, ge=1, le=7 * 24 * 60, description=(
        "Minutes without an answer before the question is asked again; after twice this, a call (or the list "
        "for officers to phone)."))


class RoundOut(BaseModel):
    check_id: str
    crisis_id: str
    recipients: int


class WelfareCounts(BaseModel):
    safe: int
    needs_help: int
    unclear: int
    no_answer: int
    unreachable: int
    checked_in: int
    sought: int = Field(ge=0, description="People sought by their families in this crisis (inquiries from intake on "
                                          "`families.inquiries`), the closed inquiries left out.")
    sought_matched: int = Field(ge=0, description="Of `sought`, those matched to someone we know of (matched, or "
                                                  "answered safe).")
    sought_safe: int = Field(ge=0, description="Of `sought_matched`, those whose matched person answered safe.")


assert list(WelfareCounts.model_fields) == [*STATUSES, *inquiries.SOUGHT]


class PersonOut(BaseModel):
    person_id: str
    status: Status
    source: Literal["registration", "check_in"]
    language: str
    phone: str | None
    email: str | None
    answer: Literal["safe", "needs_help", "unclear"] | None
    channel: str | None
    text: str | None
    case_reference: str | None
    answered_at: datetime | None
    escalation: Literal["pending", "asked", "reminded", "called", "to_phone"] | None = Field(
        description="Where this person's latest round stands (null: never asked).")
    asked_at: datetime | None
    check_id: str | None


class PeoplePage(BaseModel):
    people: list[PersonOut]
    next_after: str | None = Field(description="Pass as `after` for the next page; null on the last page.")


# the public page ----------------------------------------------------------------------------------------------
_TEXT: dict[str, dict[str, str]] = {
    "en": {"ministry": "FPS Foreign Affairs - Crisis Centre", "title": "Your answer",
           "safe": "I am safe", "needs_help": "I need help", "confirm": "Send this answer",
           "thanks_safe": "Thank you. We have recorded that you are safe.",
           "thanks_help": "Thank you. An officer will contact you; you will receive the reference of your case.",
           "already": "This answer was already recorded.", "gone": "This link is no longer valid.",
           "unknown": "This link is not valid.", "hotline": "If you need help now, call the crisis hotline."},
    "fr": {"ministry": "SPF Affaires étrangères - Centre de crise", "title": "Votre réponse",
           "safe": "Je suis en sécurité", "needs_help": "J'ai besoin d'aide", "confirm": "Envoyer cette réponse",
           "thanks_safe": "Merci. Nous avons noté que vous êtes en sécurité.",
           "thanks_help": "Merci. Un agent va vous contacter ; vous recevrez la référence de votre dossier.",
           "already": "Cette réponse était déjà enregistrée.", "gone": "Ce lien n'est plus valable.",
           "unknown": "Ce lien n'est pas valable.",
           "hotline": "Si vous avez besoin d'aide maintenant, appelez la ligne de crise."},
    "nl": {"ministry": "FOD Buitenlandse Zaken - Crisiscentrum", "title": "Uw antwoord",
           "safe": "Ik ben veilig", "needs_help": "Ik heb hulp nodig", "confirm": "Dit antwoord versturen",
           "thanks_safe": "Dank u. We hebben genoteerd dat u veilig bent.",
           "thanks_help": "Dank u. Een medewerker neemt contact met u op; u krijgt de referentie van uw dossier.",
           "already": "Dit antwoord was al geregistreerd.", "gone": "Deze link is niet meer geldig.",
           "unknown": "Deze link is niet geldig.", "hotline": "Hebt u nu hulp nodig, bel dan de crisislijn."},
    "de": {"ministry": "FÖD Auswärtige Angelegenheiten - Krisenzentrum", "title": "Ihre Antwort",
           "safe": "Ich bin in Sicherheit", "needs_help": "Ich brauche Hilfe", "confirm": "Diese Antwort senden",
           "thanks_safe": "Danke. Wir haben vermerkt, dass Sie in Sicherheit sind.",
           "thanks_help": "Danke. Ein Mitarbeiter wird Sie kontaktieren; Sie erhalten das Aktenzeichen Ihres Falls.",
           "already": "Diese Antwort war bereits erfasst.", "gone": "Dieser Link ist nicht mehr gültig.",
           "unknown": "Dieser Link ist nicht gültig.",
           "hotline": "Wenn Sie jetzt Hilfe brauchen, rufen Sie das Krisentelefon an."},
}

_PAGE = Environment(autoescape=select_autoescape(default=True)).from_string("""<!doctype html>
<html lang="{{ lang }}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>{{ t.title }}</title>
<style>body{font-family:system-ui,sans-serif;max-width:36rem;margin:2rem auto;padding:0 1rem;line-height:1.5}
button{font-size:1.2rem;padding:.6rem 1.2rem}.safe{color:#1b5e20}.needs_help{color:#b00020}</style></head>
<body><p>{{ t.ministry }}</p><h1>{{ t.title }}</h1>
{% if answer %}<p class="{{ answer }}"><strong>{{ t[answer] }}</strong></p>{% endif %}
{% if message %}<p role="status">{{ message }}</p>{% endif %}
{% if form %}<form method="post"><button type="submit">{{ t.confirm }}</button></form>{% endif %}
<p>{{ t.hotline }}</p>
</body></html>""")

PAGE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/html": {}}},
    404: {"description": "not a link we issued (forged or altered)", "content": {"text/html": {}}},
    410: {"description": "the round is over: the link expired or the crisis closed", "content": {"text/html": {}}},
    422: {"description": "not the shape of a token (JSON)", "content": {"application/json": {}}},
}


def _page(language: str, *, status: int = 200, answer: str | None = None, form: bool = False,
          message: str | None = None) -> HTMLResponse:
    text = _TEXT.get(language, _TEXT["en"])
    return HTMLResponse(_PAGE.render(lang=language, t=text, answer=answer, form=form, message=message),
                        status_code=status, headers=HEADERS)


async def _read_link(state: ApiState, token: str) -> tuple[LinkClaim, str] | HTMLResponse:
    """The link's claim and the language of the person it was sent to (English if unknown); the 404 page when the
    token is not one we signed."""
    try:
        claim = read_token(state.welfare_link_key, token)
    except BadToken:
        return _page("en", status=404, message=_TEXT["en"]["unknown"])
    language = await welfare_repository.contact_language(state.pool, check_id=claim.check_id,
                                                         person_id=claim.person_id)
    return claim, str(language or "en")


router = APIRouter()


def _valid_for(state: ApiState) -> timedelta:
    """How long an email's answer link stays valid (WELFARE_LINK_DAYS)."""
    return timedelta(days=state.settings.welfare_link_days)


@router.post("/v1/crises/{crisis_id}/welfare-checks", status_code=202, response_model=RoundOut,
             tags=["welfare"], responses={404: {"description": "no such crisis"},
                                          409: {"description": "the crisis is closed"}})
async def start_round(crisis_id: CrisisId, state: Deps, principal: Coordinator,
                      body: RoundIn | None = None) -> RoundOut:
    """Ask every person counted in the crisis whether they are safe, in their language, by SMS (reply 1 or 2)
    and by email (two answer links); unanswered questions are repeated, then escalated."""
    body = body or RoundIn()
    try:
        started = await welfare.start_round(pool=state.pool, crisis_id=crisis_id, actor=principal.subject,
                                            escalate_after_minutes=body.escalate_after_minutes, now=state.now())
    except welfare.CrisisNotActive:
        raise HTTPException(409, f"crisis {crisis_id} is closed: no welfare check") from None
    if started is None:
        raise HTTPException(404, f"no crisis {crisis_id}")
    return RoundOut(check_id=started.check_id, crisis_id=started.crisis_id, recipients=started.recipients)


@router.get("/v1/crises/{crisis_id}/welfare", response_model=WelfareCounts, tags=["welfare"],
            responses={404: {"description": "no such crisis"}})
async def welfare_counts(crisis_id: CrisisId, state: Deps, _: Coordinator) -> WelfareCounts:
    """Each counted person once, by their latest answer; without one, `no_answer` while the round still chases
    them and `unreachable` once it has given up (they are to be phoned); `checked_in` counts people who
    checked in during the crisis, whatever their answer. `sought`, `sought_matched` and `sought_safe` count
    the families' inquiries of the crisis by their latest state (no names: the people stay in intake)."""
    counted = await welfare.counts(pool=state.pool, crisis_id=crisis_id)
    if counted is None:
        raise HTTPException(404, f"no crisis {crisis_id}")
    return WelfareCounts(**counted)


@router.get("/v1/crises/{crisis_id}/welfare/people", response_model=PeoplePage, tags=["welfare"],
            responses={404: {"description": "no such crisis"}})
async def welfare_people(crisis_id: CrisisId, state: Deps, _: Coordinator, status: Status | None = None,
                         limit: Annotated[int, Query(ge=1, le=1000)] = 100,
                         after: Annotated[str | None, Query(max_length=200)] = None) -> PeoplePage:
    """The people of the crisis by person id, with their answer or where their escalation stands (paged)."""
    found = await welfare.people(pool=state.pool, crisis_id=crisis_id, status=status, limit=limit, after=after)
    if found is None:
        raise HTTPException(404, f"no crisis {crisis_id}")
    return PeoplePage(people=[PersonOut(**p) for p in found],
                      next_after=found[-1]["person_id"] if len(found) == limit else None)


@router.get("/public/welfare/{token}", response_class=HTMLResponse, tags=["public"], responses=PAGE_RESPONSES)
async def answer_page(token: Token, state: Deps) -> HTMLResponse:
    """The page of an email's answer link: the answer it stands for and one button to send it."""
    link = await _read_link(state, token)
    if isinstance(link, HTMLResponse):
        return link
    claim, language = link
    return _page(language, answer=claim.answer, form=True)


@router.post("/public/welfare/{token}", response_class=HTMLResponse, tags=["public"], responses=PAGE_RESPONSES)
async def answer(token: Token, state: Deps) -> HTMLResponse:
    """Records the link's answer (the latest answer counts); a second press changes nothing."""
    link = await _read_link(state, token)
    if isinstance(link, HTMLResponse):
        return link
    claim, language = link
    text = _TEXT.get(language, _TEXT["en"])
    try:
        recorded = await welfare.answer_by_link(pool=state.pool, claim=claim, now=state.now(),
                                                valid_for=_valid_for(state), publishing=state.publishing)
    except welfare.LinkRefused:
        return _page(language, status=410, message=text["gone"])
    thanks = text["thanks_safe"] if claim.answer == "safe" else text["thanks_help"]
    return _page(language, answer=claim.answer, message=thanks if recorded else text["already"])
