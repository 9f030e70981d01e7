"""Intake's Twilio webhooks: inbound SMS and the 24/7 voice line (language, menu, routing to the consular line
or the on-call officer, voicemail, welfare answers by keypad). Each checks the request's Twilio signature."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import Response

from services.intake import inbound, welfare
from services.intake.adapters import repository, twiml
from services.intake.bootstrap import Resources
from services.intake.deps import Deps, resources
from services.intake.domain.model import Language
from services.intake.domain.voice import (
    crisis_announcements,
    language_for_digit,
    language_menu,
    next_target,
    route_emergency,
)
from shared.events.common import is_e164
from shared.logging import get_logger
from shared.openapi import TWILIO_WEBHOOK_RESPONSES, TWIML_MEDIA_TYPE, error_responses

log = get_logger(__name__)

TWIML = TWIML_MEDIA_TYPE
#: The language of the voice line's prompts: our own action URLs carry it (`?lang=`), as one of Language's values.
LANG_DESCRIPTION = "the caller's language, as the previous step chose it"
Lang = Annotated[Language, Query(description=LANG_DESCRIPTION)]
#: The dial attempt our own action URL carries (0-based): at most the on-call officer then the backup, so a
#: bound of 9 leaves room and refuses nonsense (422).
Attempt = Annotated[int, Query(ge=0, le=9, description="the dial attempt that ended (0: the first number)")]
#: The SMS webhook's answers: its 422 when the sender cannot be answered by SMS.
SMS_RESPONSES = {**TWILIO_WEBHOOK_RESPONSES, **error_responses(422, descriptions={
    422: "`From` is missing, or is no E.164 number (a short code or an alphanumeric sender): no case can be "
         "answered by SMS"})}


def base_of(deps: Resources) -> str:
    """The public base URL Twilio was given, path prefix included (TwiML action URLs are absolute)."""
    return deps.settings.public_base_url.rstrip("/")


async def twilio_form(request: Request) -> dict[str, str]:
    """The webhook's form, after checking `X-Twilio-Signature` against the URL Twilio called; 403 otherwise.

    The URL is rebuilt from the public base URL (what Twilio was given, path prefix included: a proxy that serves
    intake under `/intake` strips it before the request arrives) and the request's path and query.
    """
    form = await request.form()
    params = {k: str(v) for k, v in form.items()}
    found: Resources = await resources(request)
    called = base_of(found) + request.url.path
    if request.url.query:
        called += f"?{request.url.query}"
    signature = request.headers.get("X-Twilio-Signature", "")
    if not signature or not found.validator.validate(called, params, signature):
        raise HTTPException(403, "the Twilio signature does not match")
    return params


TwilioForm = Annotated[dict[str, str], Depends(twilio_form)]
router = APIRouter(tags=["twilio"])


def xml(body: str) -> Response:
    return Response(body, media_type=TWIML)


@router.post("/twilio/sms", response_class=Response, responses=SMS_RESPONSES)

async def sms(form: TwilioForm, deps: Deps) -> Response:
    sender = form.get("From", "")
    if not sender:
        raise HTTPException(422, [{"field": "From", "rule": "required", "message": "From is required"}])
    if not is_e164(sender):  # a short code or an alphanumeric sender: no case can be answered by SMS
        raise HTTPException(422, [{"field": "From", "rule": "e164", "message": "From must be an E.164 number"}])
    reply = await inbound.inbound_sms(sender=sender, body=form.get("Body", ""),
                                      message_sid=form.get("MessageSid"), from_country=form.get("FromCountry"),
                                      pool=deps.pool, officers=deps.officers, config=deps.config)
    return xml(twiml.sms_reply(reply))


@router.post("/twilio/voice", response_class=Response, responses=TWILIO_WEBHOOK_RESPONSES)

async def voice(_: TwilioForm, deps: Deps) -> Response:
    async with deps.pool.acquire() as conn:
        crises = await repository.active_crises(conn)
    return xml(twiml.greeting(crisis_announcements(crises), language_menu(), base=base_of(deps)))


@router.post("/twilio/voice/language", response_class=Response, responses=TWILIO_WEBHOOK_RESPONSES)

async def voice_language(form: TwilioForm, deps: Deps,
                         lang: Annotated[Language | None, Query(description=LANG_DESCRIPTION)] = None) -> Response:
    base = base_of(deps)
    language = language_for_digit(form.get("Digits"))
    if language is not None:
        return xml(twiml.main_menu(language, base=base))
    if lang is not None:  # nothing pressed at the main menu: say it again
        return xml(twiml.main_menu(lang, base=base))
    return xml(twiml.restart(base=base))


async def route(deps: Resources, language: Language, attempt: int) -> Response:
    at, settings, base = deps.now(), deps.settings, base_of(deps)
    async with deps.pool.acquire() as conn:
        roster = await repository.roster(conn, at)
    plan = route_emergency(at, consular_line=settings.consular_line, roster=roster, hours=deps.office_hours)
    number = next_target(plan, attempt)
    log.info("voice_route", reason=plan.reason.value, attempt=attempt, has_target=number is not None)
    if number is None:
        return xml(twiml.record(language, base=base))
    return xml(twiml.dial(language, number, base=base, attempt=attempt, timeout=settings.dial_timeout_seconds,
                          caller_id=None))


@router.post("/twilio/voice/menu", response_class=Response, responses=TWILIO_WEBHOOK_RESPONSES)

async def voice_menu(form: TwilioForm, deps: Deps, lang: Lang = Language.EN) -> Response:
    language, base = lang, base_of(deps)
    digit = (form.get("Digits") or "").strip()
    if digit == "1":
        return await route(deps, language, 0)
    if digit == "2":
        return xml(twiml.record(language, base=base))
    return xml(twiml.main_menu(language, base=base, invalid=True))


@router.post("/twilio/voice/dial", response_class=Response, responses=TWILIO_WEBHOOK_RESPONSES)

async def voice_dial(form: TwilioForm, deps: Deps, lang: Lang = Language.EN, attempt: Attempt = 0) -> Response:
    if form.get("DialCallStatus") == "completed":
        return xml(twiml.hangup())
    return await route(deps, lang, attempt + 1)


@router.post("/twilio/voice/welfare", response_class=Response, responses=TWILIO_WEBHOOK_RESPONSES)

async def voice_welfare(form: TwilioForm, deps: Deps) -> Response:
    """The key pressed on a welfare check's call (the notifier's call to `To`): 1 safe, 2 needs help."""
    person_phone = form.get("To", "")
    if not is_e164(person_phone):
        return xml(twiml.hangup())
    spoken = await welfare.voice_welfare_answer(
        phone=person_phone, digits=form.get("Digits", ""), call_sid=form.get("CallSid"), pool=deps.pool,
        officers=deps.officers, config=deps.config)
    return xml(twiml.said(*spoken) if spoken else twiml.hangup())


@router.post("/twilio/voice/recorded", response_class=Response, responses=TWILIO_WEBHOOK_RESPONSES)

async def voice_recorded(form: TwilioForm, deps: Deps, lang: Lang = Language.EN) -> Response:
    language = lang
    caller, recording = form.get("From", ""), form.get("RecordingUrl", "")
    if not caller or not recording or not is_e164(caller):  # withheld numbers come as "anonymous"
        return xml(twiml.hangup())
    reference = await inbound.voicemail(caller=caller, recording_url=recording, call_sid=form.get("CallSid"),
                                        language=language, from_country=form.get("FromCountry"),
                                        pool=deps.pool, officers=deps.officers, config=deps.config)
    return xml(twiml.recorded(language, reference))
