"""The notifier's HTTP API: Twilio's status callbacks and inbound SMS (signed), and delivery progress."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Path, Query, Request, Response
from pydantic import BaseModel, Field
from twilio.request_validator import RequestValidator

from services.notifier.adapters import repository as repo
from services.notifier.bootstrap import open_resources
from services.notifier.domain.delivery import DeliveryStatus, from_twilio, from_twilio_call, parse_error_code
from services.notifier.domain.policy import mask_address
from services.notifier.handlers import inbound_sms, record_observation
from services.notifier.settings import NotifierSettings
from shared.auth import Principal, require_roles
from shared.db import ping
from shared.http import install_common
from shared.logging import get_logger
from shared.openapi import (
    NO_NUL,
    TWILIO_CALLBACK_RESPONSES,
    TWILIO_WEBHOOK_RESPONSES,
    TWIML_MEDIA_TYPE,
    exactly_one_of_parameter,
)

log = get_logger(__name__)

Coordinator = Annotated[Principal, Depends(require_roles("coordinator", "admin"))]


class Progress(BaseModel):
    case_reference: str | None
    crisis_id: str | None
    total: int
    counts: dict[str, int]
    notifications: list[dict[str, Any]]
    throttled: int = Field(default=0, description=(
        "Messages held by the per-number hourly limit right now (also in counts; issue 23)"))
    expired: int = Field(default=0, description="Messages whose validity passed before they could be sent")
    deduplicated: int = Field(default=0, description=(
        "Messages not sent: the same text went to the same number within the hour"))
    fallbacks: int = Field(default=0, description=(
        "Messages sent through another channel after the first failed (e-mail, then a call; also in counts)"))


def signed_url(settings: NotifierSettings, request: Request) -> str:
    """The URL Twilio signed: our public base URL (what we gave Twilio), the path and the query."""
    url = settings.public_base_url.rstrip("/") + request.url.path
    return f"{url}?{request.url.query}" if request.url.query else url


async def _verified_form(request: Request) -> dict[str, str]:
    settings: NotifierSettings = request.app.state.settings
    form = {k: str(v) for k, v in (await request.form()).items()}
    signature = request.headers.get("X-Twilio-Signature", "")
    validator = RequestValidator(settings.twilio_auth_token.get_secret_value())
    if not signature or not validator.validate(signed_url(settings, request), form, signature):
        log.warning("twilio_signature_refused", path=request.url.path)
        raise HTTPException(403, "X-Twilio-Signature does not match")
    return form


async def broker_reachable(bootstrap_servers: str) -> bool:
    """The API publishes through the outbox (the worker's relay sends), so a TCP answer from a broker is enough."""
    for server in bootstrap_servers.split(","):
        host, _, port = server.strip().rpartition(":")
        try:
            _, writer = await asyncio.wait_for(asyncio.open_connection(host or "127.0.0.1", int(port)), 2)
        except (OSError, TimeoutError, ValueError):
            continue
        writer.close()
        return True
    return False


def create_app(settings: NotifierSettings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        resources = await open_resources(settings)
        app.state.resources = resources
        try:
            yield
        finally:
            await resources.pool.close()

    app = FastAPI(title="notifier", version="1.0.0", lifespan=lifespan,
                  description="SMS (Twilio) and e-mail notifications: receipts and delivery progress.")
    app.state.settings = settings

    async def readiness() -> dict[str, bool]:
        resources = getattr(app.state, "resources", None)
        database = resources is not None and await ping(resources.pool)
        return {"database": database, "kafka": await broker_reachable(settings.kafka_bootstrap_servers)}

    install_common(app, service="notifier", auth=settings, readiness=readiness)

    @app.post("/twilio/status", status_code=204, tags=["twilio"], response_class=Response,
              responses=TWILIO_CALLBACK_RESPONSES)
    async def twilio_status(request: Request) -> Response:
        """Twilio's message status callback: moves the delivery state forward only, publishes each change."""
        form = await _verified_form(request)
        if form.get("CallSid"):  # a call's status (the welfare check's call), else a message's
            observation = from_twilio_call(form.get("CallStatus") or "")
        else:
            observation = from_twilio(form.get("MessageStatus") or form.get("SmsStatus") or "",
                                      parse_error_code(form.get("ErrorCode")))
        if observation is None:
            return Response(status_code=204)
        resources = app.state.resources
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

    @app.post("/twilio/inbound", tags=["twilio"], response_class=Response, responses=TWILIO_WEBHOOK_RESPONSES)
    async def twilio_inbound(request: Request) -> Response:
        """Inbound SMS webhook for opt-out keywords (STOP, ARRET, STOPPEN, HALT...) and opt-in (START...)."""
        form = await _verified_form(request)
        async with app.state.resources.pool.acquire() as conn:
            keyword = await inbound_sms(conn, sender=form.get("From", ""), body=form.get("Body", ""))
        log.info("inbound_sms", keyword=keyword.value if keyword else None)
        return Response('<?xml version="1.0" encoding="UTF-8"?><Response/>', media_type=TWIML_MEDIA_TYPE)

    @app.get("/v1/notifications", response_model=Progress, tags=["progress"],
             openapi_extra={"parameters": [exactly_one_of_parameter(
                 "subject", {"case_reference": {"type": "string", "maxLength": 100, "pattern": NO_NUL},
                             "crisis_id": {"type": "string", "maxLength": 100, "pattern": NO_NUL}},
                 description="exactly one of `case_reference` and `crisis_id` (separate query parameters)")]})
    async def notifications(
        _: Coordinator,
        case_reference: Annotated[str | None, Query(max_length=100, include_in_schema=False)] = None,
        crisis_id: Annotated[str | None, Query(max_length=100, include_in_schema=False)] = None,
        limit: Annotated[int, Query(ge=0, le=5000)] = 500,
    ) -> Progress:
        """Counts per state (queued, throttled, sent, delivered, failed, undeliverable, opted_out, expired,
        deduplicated) for a case or a crisis; `throttled`, `expired`, `deduplicated` and `fallbacks` also on their
        own."""
        if (case_reference is None) == (crisis_id is None):
            raise HTTPException(422, [{"field": "case_reference", "rule": "exactly_one",
                                       "message": "give exactly one of case_reference or crisis_id"}])
        async with app.state.resources.pool.acquire() as conn:
            counts = await repo.counts(conn, case_reference=case_reference, crisis_id=crisis_id)
            fallbacks = await repo.fallback_count(conn, case_reference=case_reference, crisis_id=crisis_id)
            items = await repo.list_notifications(conn, case_reference=case_reference, crisis_id=crisis_id,
                                                  limit=limit)
        full = {status.value: counts.get(status.value, 0) for status in DeliveryStatus}
        for item in items:
            item["recipient"] = mask_address(item["recipient"])
        return Progress(case_reference=case_reference, crisis_id=crisis_id, total=sum(full.values()), counts=full,
                        notifications=items, throttled=full["throttled"], expired=full["expired"],
                        deduplicated=full["deduplicated"], fallbacks=fallbacks)

    @app.get("/v1/notifications/{notification_id}", tags=["progress"])
    async def notification(notification_id: Annotated[str, Path(min_length=1, max_length=200)],
                           _: Coordinator) -> dict[str, Any]:
        """One notification (its recipient masked) with its history; the id as `notifications.status` carries it
        (at most 200 characters, as that event allows)."""
        async with app.state.resources.pool.acquire() as conn:
            rows = await conn.fetch(
                "SELECT notification_id, purpose, channel, recipient, language, template, status, reason, segments,"
                " encoding, case_reference, crisis_id, provider_id, created_at, updated_at FROM notifications"
                " WHERE notification_id = $1", notification_id)
            if not rows:
                raise HTTPException(404, "no such notification")
            item = dict(rows[0])
            item["recipient"] = mask_address(item["recipient"])
            item["history"] = await repo.history(conn, notification_id)
        return item

    return app
