"""Twilio's webhooks, each signed (X-Twilio-Signature): message and call status callbacks, and inbound SMS (opt-out
and opt-in keywords)."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request, Response
from twilio.request_validator import RequestValidator

from services.notifier.deps import Deps
from services.notifier.domain.delivery import DeliveryStatus, from_twilio, from_twilio_call, parse_error_code
from services.notifier.handlers import inbound_sms, record_observation
from services.notifier.settings import NotifierSettings
from shared.logging import get_logger
from shared.openapi import TWILIO_CALLBACK_RESPONSES, TWILIO_WEBHOOK_RESPONSES, TWIML_MEDIA_TYPE

log = get_logger(__name__)

router = APIRouter()


def signed_url(settings: NotifierSettings, request: Request) -> str:
    """The URL Twilio signed: our public base URL (what we gave Twilio), the path and the query."""
    url = settings.public_base_url.rstrip("/") + request.url.path
    return f"{url}?{request.url.query}" if request.url.query else url


async def _verified_form(settings: NotifierSettings, request: Request) -> dict[str, str]:
    form = {k: str(v) for k, v in (await request.form()).items()}
    signature = request.headers.get("X-Twilio-Signature", "")
    validator = RequestValidator(settings.twilio_auth_token.get_secret_value())
    if not signature or not validator.validate(signed_url(settings, request), form, signature):
        log.warning("twilio_signature_refused", path=request.url.path)
        raise HTTPException(403, "X-Twilio-Signature does not match")
    return form


@router.post("/twilio/status", status_code=204, tags=["twilio"], response_class=Response,
             responses=TWILIO_CALLBACK_RESPONSES)
async def twilio_status(request: Request, deps: Deps) -> Response:
    """Twilio's message status callback: moves the delivery state forward only, publishes each change."""
    form = await _verified_form(deps.settings, request)
    if form.get("CallSid"):  # a call's status (the welfare check's call), else a message's
        observation = from_twilio_call(form.get("CallStatus") or "")
    else:
        observation = from_twilio(form.get("MessageStatus") or form.get("SmsStatus") or "",
                                  parse_error_code(form.get("ErrorCode")))
    if observation is None:
        return Response(status_code=204)
    resources = deps.resources
    async with resources.pool.acquire() as conn, conn.transaction():
        moved = await record_observation(
            conn, observation, publisher=resources.publisher, source="callback",
            notification_id=request.query_params.get("nid") or None,
            provider_id=form.get("CallSid") or form.get("MessageSid") or None,
            opt_out_address=form.get("To") if observation.status is DeliveryStatus.OPTED_OUT else None,
            renderer=resources.renderer,
        )
    if moved is None:
        log.info("status_for_unknown_message", provider_id=form.get("MessageSid"))
    return Response(status_code=204)


@router.post("/twilio/inbound", tags=["twilio"], response_class=Response, responses=TWILIO_WEBHOOK_RESPONSES)
async def twilio_inbound(request: Request, deps: Deps) -> Response:
    """Inbound SMS webhook for opt-out keywords (STOP, ARRET, STOPPEN, HALT...) and opt-in (START...)."""
    form = await _verified_form(deps.settings, request)
    async with deps.resources.pool.acquire() as conn:
        keyword = await inbound_sms(conn, sender=form.get("From", ""), body=form.get("Body", ""))
    log.info("inbound_sms", keyword=keyword.value if keyword else None)
    return Response('<?xml version="1.0" encoding="UTF-8"?><Response/>', media_type=TWIML_MEDIA_TYPE)
