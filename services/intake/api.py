"""Intake's HTTP API: `create_app(settings)`; the lifespan owns the pool. Thin adapters over `handlers`."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, Header, HTTPException, Path, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, EmailStr, Field, model_validator

from services.intake import handlers, privacy
from services.intake.adapters import repository, staff, twiml
from services.intake.bootstrap import Resources, open_resources
from services.intake.case_api import case_router
from services.intake.console.router import ConsoleSettings, console_router
from services.intake.deps import Deps, resources
from services.intake.domain.model import Language, ReportIn, Status
from services.intake.domain.officers import NoOfficer
from services.intake.domain.reference import ReferenceError_, parse_reference
from services.intake.domain.search import BOARD_HORIZON_DAYS, like_escape, read_query, split_due
from services.intake.domain.voice import (
    OfficeHours,
    crisis_announcements,
    language_for_digit,
    language_menu,
    next_target,
    route_emergency,
)
from services.intake.letters_api import letters_router
from services.intake.pfif_api import pfif_router
from services.intake.pfif_exchange import PfifConfig
from services.intake.settings import Settings
from services.intake.staff_api import staff_router
from services.intake.survey_page import survey_router
from shared.auth import Principal, require_roles
from shared.crypto import DecryptionError
from shared.db import ping
from shared.events.common import E164, is_e164
from shared.events.privacy import RequestKind
from shared.http import install_common
from shared.logging import get_logger
from shared.openapi import TWILIO_WEBHOOK_RESPONSES

log = get_logger(__name__)

REFERENCE = r"^BE-\d{4}-\d{6}$"
BOARD_LIMIT = 200
BIGINT_MAX = 2**63 - 1
#: Paging of long lists (a case's history and messages, the read audit): the latest `limit`, then back by id.
PageLimit = Annotated[int, Query(ge=1, le=1000, description="Entries in this response (the latest ones).")]
PageBefore = Annotated[int | None, Query(ge=1, le=BIGINT_MAX, description=(
    "Only entries older than this one (an entry's `id`, or the previous page's `next_before`)."))]
TWIML = "application/xml"

SubmitRoles = Annotated[Principal, Depends(require_roles("duty_officer", "external_system"))]
ReadRoles = Annotated[Principal, Depends(require_roles("duty_officer", "coordinator"))]
AdminRole = Annotated[Principal, Depends(require_roles("admin"))]


class Officer(BaseModel):
    name: str
    role: str
    phone: str
    email: str


class CaseOut(BaseModel):
    reference: str
    status: str
    kind: str
    received_at: datetime
    reply_due_by: datetime
    provisional_reply_due_by: datetime | None
    officer: Officer
    post: dict[str, Any] | None
    attention: str | None = Field(default=None, description="Why the case is at the top of its officer's board "
                                                            "(\"sought person answered safe\"), else null.")
    crisis_id: str | None = Field(default=None, description="The crisis the case was opened for (a welfare answer "
                                                            "or a check-in asking for help); such cases come first "
                                                            "on the charter board.")


class CharterBoard(BaseModel):
    attention: list[CaseOut] = Field(description="Cases that need the officer now, whatever their deadline (a "
                                                 "sought person answered safe), first on the board.")
    overdue: list[CaseOut]
    due_soon: list[CaseOut]
    provisional: list[CaseOut]


class CloseIn(BaseModel):
    note: Annotated[str | None, Field(max_length=1000, description="why, in the case's history")] = None


class PrivacyRequestIn(BaseModel):
    """A person's access or erasure request, by at least one of traveller id, phone (E.164) or email."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, json_schema_extra={"anyOf": [
        {"required": [name], "properties": {name: {"type": "string"}}} for name in ("traveller_id", "phone", "email")]})

    kind: RequestKind
    traveller_id: str | None = Field(default=None, min_length=1, max_length=200, pattern=r"\S")
    phone: E164 | None = None
    email: EmailStr | None = None

    @model_validator(mode="after")
    def _identifies_someone(self) -> PrivacyRequestIn:
        if self.traveller_id is None and self.phone is None and self.email is None:
            raise ValueError("give at least one of traveller_id, phone or email")
        return self


class LegalHoldIn(BaseModel):
    legal_hold: bool




async def twilio_form(request: Request) -> dict[str, str]:
    """The webhook's form, after checking `X-Twilio-Signature` against the URL Twilio called; 403 otherwise.

    The URL is rebuilt from the public base URL (what Twilio was given, path prefix included: a proxy that serves
    intake under `/intake` strips it before the request arrives) and the request's path and query.
    """
    form = await request.form()
    params = {k: str(v) for k, v in form.items()}
    called = request.app.state.public_base_url.rstrip("/") + request.url.path
    if request.url.query:
        called += f"?{request.url.query}"
    signature = request.headers.get("X-Twilio-Signature", "")
    if not signature or not (await resources(request)).validator.validate(called, params, signature):
        raise HTTPException(403, "the Twilio signature does not match")
    return params


TwilioForm = Annotated[dict[str, str], Depends(twilio_form)]


async def _kafka_reachable(bootstrap_servers: str) -> bool:
    """A TCP connection to the first bootstrap server: the API itself publishes through the outbox."""
    host, _, port = bootstrap_servers.split(",")[0].strip().rpartition(":")
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host or "127.0.0.1", int(port)), 2)
    except (OSError, TimeoutError, ValueError):
        return False
    writer.close()
    return True


def create_app(settings: Settings, *, clock: Callable[[], datetime] | None = None) -> FastAPI:
    """The app; `clock` (default: now in UTC) decides office hours, so tests can place a call at any time."""
    now = clock or (lambda: datetime.now(UTC))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        resources = await open_resources(settings)
        app.state.resources = resources
        try:
            yield
        finally:
            await resources.pool.close()

    app = FastAPI(title="intake", version="1", lifespan=lifespan,
                  description="Distress reports from officers, external systems, SMS and the 24/7 voice line.")

    async def readiness() -> dict[str, bool]:
        resources: Resources | None = getattr(app.state, "resources", None)
        database = resources is not None and await ping(resources.pool)
        return {"database": database, "kafka": await _kafka_reachable(settings.kafka_bootstrap_servers)}

    app.state.public_base_url = settings.public_base_url
    install_common(app, service="intake", auth=settings, readiness=readiness)
    office_hours = OfficeHours.parse(settings.office_hours)
    app.include_router(staff_router(now, settings.consular_line, office_hours))
    app.include_router(case_router(now))
    app.include_router(letters_router(now))
    app.include_router(survey_router())
    app.include_router(pfif_router(PfifConfig(domain=settings.pfif_domain, source_name=settings.pfif_source_name,
                                              source=settings.source, topic_prefix=settings.kafka_topic_prefix),
                                   max_bytes=settings.pfif_max_bytes))
    async def officer_account(request: Request, login: str) -> str | None:
        async with (await resources(request)).pool.acquire() as conn:
            return await staff.password_hash(conn, login)

    app.include_router(console_router(ConsoleSettings(console_token_ttl_seconds=settings.console_token_ttl_seconds),
                                      officer_account))

    async def no_officer(_: Request, __: Exception) -> JSONResponse:
        log.error("no_officer_configured")  # a deployment without any officer: nobody could own the case
        return JSONResponse({"detail": "no officer is configured to take cases; try again later"}, status_code=503,
                            headers={"Retry-After": "60"})

    app.add_exception_handler(NoOfficer, no_officer)

    # --- reports -------------------------------------------------------------------------------------------

    @app.post("/v1/reports", status_code=201, response_model=CaseOut, tags=["reports"],
              responses={200: {"description": "replay of an Idempotency-Key: the same case"},
                         409: {"description": "Idempotency-Key reused with another body"}})
    async def submit(
        report: ReportIn,
        principal: SubmitRoles,
        deps: Deps,
        response: Response,
        idempotency_key: Annotated[str | None, Header(min_length=1, max_length=200)] = None,
    ) -> dict[str, Any]:
        try:
            result = await handlers.submit_report(report, pool=deps.pool, officers=deps.officers,
                                                  config=deps.config, actor=principal.subject,
                                                  idempotency_key=idempotency_key)
        except handlers.IdempotencyConflict:
            raise HTTPException(409, [{"field": "Idempotency-Key", "rule": "same_body",
                                       "message": "this key was used with a different body"}]) from None
        if result.view is not None:
            return result.view
        response.status_code = 200
        response.headers["Idempotent-Replayed"] = "true"
        return await handlers.get_case(result.reference, pool=deps.pool, details=False)

    @app.get("/v1/reports", response_model=list[CaseOut], tags=["reports"])
    async def search(
        _: ReadRoles,
        deps: Deps,
        q: Annotated[str, Query(min_length=2, max_length=100,
                                description="reference prefix, phone number or part of a name")],
        status: Annotated[Status | None, Query()] = None,
        limit: Annotated[int, Query(ge=1, le=100)] = 20,
    ) -> list[dict[str, Any]]:
        """Cases by reference prefix, reporter's phone (read as E.164) or reporter's or subject's name (case and
        accents ignored), newest first. The text is personal data: it is never logged."""
        query = read_query(q)
        async with deps.pool.acquire() as conn:
            rows = await repository.search_cases(
                conn, reference_prefix=query.reference_prefix, phone=query.phone,
                name_pattern=f"%{like_escape(query.name)}%" if query.name else None,
                status=status.value if status else None, limit=limit)
        return [handlers.case_view(row) for row in rows]

    @app.get("/v1/charter-board", response_model=CharterBoard, tags=["reports"])
    async def charter_board(
        principal: ReadRoles,
        deps: Deps,
        officer: Annotated[Literal["me"] | None, Query(description=(
            "me: the cases of the officer whose sign-in name (or e-mail) is the token's subject"))] = None,
        post_id: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    ) -> dict[str, Any]:
        """Open cases due within three days or overdue, and provisional replies due, the most urgent first."""
        at = now()
        async with deps.pool.acquire() as conn:
            replies, provisional = await repository.charter_board(
                conn, horizon=at + timedelta(days=BOARD_HORIZON_DAYS),
                officer_email=principal.subject if officer == "me" else None, post_id=post_id, limit=BOARD_LIMIT)
        attention = [r for r in replies if r["attention"] is not None]
        overdue, due_soon = split_due([r for r in replies if r["attention"] is None], at)
        return {"attention": [handlers.case_view(r) for r in attention],
                "overdue": [handlers.case_view(r) for r in overdue],
                "due_soon": [handlers.case_view(r) for r in due_soon],
                "provisional": [handlers.case_view(r) for r in provisional]}

    @app.get("/v1/reports/{reference}", tags=["reports"])
    async def read(reference: Annotated[str, Path(pattern=REFERENCE)], principal: ReadRoles,
                   deps: Deps, limit: PageLimit = handlers.CASE_LIST_DEFAULT,
                   history_before: Annotated[int | None, Query(ge=1, le=BIGINT_MAX, description=(
                       "Only history entries older than this one (an entry's `id`, or `history_next_before`)."))
                   ] = None,
                   messages_before: Annotated[int | None, Query(ge=1, le=BIGINT_MAX, description=(
                       "Only messages older than this one (a message's `id`, or `messages_next_before`)."))] = None,
                   ) -> dict[str, Any]:
        """The case with the latest `limit` entries of its history and of its messages, oldest first;
        `history_next_before` and `messages_next_before` (null when there is nothing older) page back."""
        reader = handlers.Reader(subject=principal.subject, roles=tuple(sorted(principal.roles)))
        page = handlers.CasePage(limit=limit, history_before=history_before, messages_before=messages_before)
        try:
            parse_reference(reference)  # BE-0000-000000 matches the pattern but is no reference
            return await handlers.get_case(reference, pool=deps.pool, cipher=deps.config.cipher, reader=reader,
                                           now=now(), page=page)
        except ReferenceError_:
            raise HTTPException(404, f"no case {reference}") from None
        except handlers.CaseNotFound:
            raise HTTPException(404, f"no case {reference}") from None
        except DecryptionError:
            log.error("case_key_missing", reference=reference)
            raise HTTPException(503, "this case's encryption key is not configured") from None

    # --- read audit ----------------------------------------------------------------------------------------

    @app.get("/v1/audit/reads", tags=["audit"])
    async def audit_reads(_: AdminRole, deps: Deps,
                          reference: Annotated[str | None, Query(pattern=REFERENCE)] = None,
                          limit: Annotated[int, Query(ge=1, le=1000)] = 200,
                          before: PageBefore = None) -> dict[str, Any]:
        """Who read which detention or missing-person case, and when (newest first); `next_before` (null: no
        more) as `before` gives the next page."""
        async with deps.pool.acquire() as conn:
            reads = await repository.case_reads(conn, reference=reference, limit=limit + 1, before=before)
        return {"reads": reads[:limit], "next_before": reads[limit - 1]["id"] if len(reads) > limit else None}

    @app.post("/v1/reports/{reference}/close", tags=["reports"], status_code=200)
    async def close(reference: Annotated[str, Path(pattern=REFERENCE)], principal: ReadRoles, deps: Deps,
                    body: CloseIn | None = None) -> dict[str, Any]:
        try:
            await handlers.close_case(reference, pool=deps.pool, officers=deps.officers, config=deps.config,
                                      actor=principal.subject, note=body.note if body else None)
            return await handlers.get_case(reference, pool=deps.pool, details=False)
        except handlers.CaseNotFound:
            raise HTTPException(404, f"no case {reference}") from None

    # --- requests from a person (admin) ------------------------------------------------------------------

    @app.post("/v1/privacy/requests", status_code=202, tags=["privacy"])
    async def privacy_request(body: PrivacyRequestIn, principal: AdminRole, deps: Deps,
                              response: Response) -> dict[str, Any]:
        request_id = await privacy.create_request(
            deps.pool, kind=body.kind, traveller_id=body.traveller_id, phone=body.phone, email=body.email,
            requested_by=principal.subject, source=settings.source, topic_prefix=settings.kafka_topic_prefix)
        response.headers["Location"] = f"/v1/privacy/requests/{request_id}"
        return {"request_id": request_id, "status": "pending"}

    @app.get("/v1/privacy/requests/{request_id}", tags=["privacy"])
    async def privacy_request_status(request_id: Annotated[str, Path(max_length=100)], _: AdminRole,
                                     deps: Deps) -> dict[str, Any]:
        view = await privacy.request_view(deps.pool, request_id)
        if view is None:
            raise HTTPException(404, f"no privacy request {request_id}")
        return view

    @app.put("/v1/reports/{reference}/legal-hold", tags=["privacy"])
    async def legal_hold(reference: Annotated[str, Path(pattern=REFERENCE)], body: LegalHoldIn,
                         principal: AdminRole, deps: Deps) -> dict[str, Any]:
        if not await privacy.set_legal_hold(deps.pool, reference, hold=body.legal_hold, actor=principal.subject):
            raise HTTPException(404, f"no case {reference}")
        return {"reference": reference, "legal_hold": body.legal_hold}

    # --- Twilio webhooks -----------------------------------------------------------------------------------

    base = settings.public_base_url.rstrip("/")  # TwiML action URLs: absolute, with the public path prefix

    def xml(body: str) -> Response:
        return Response(body, media_type=TWIML)

    @app.post("/twilio/sms", tags=["twilio"], response_class=Response, responses=TWILIO_WEBHOOK_RESPONSES)
    async def sms(form: TwilioForm, deps: Deps) -> Response:
        sender = form.get("From", "")
        if not sender:
            raise HTTPException(422, [{"field": "From", "rule": "required", "message": "From is required"}])
        if not is_e164(sender):  # a short code or an alphanumeric sender: no case can be answered by SMS
            raise HTTPException(422, [{"field": "From", "rule": "e164", "message": "From must be an E.164 number"}])
        reply = await handlers.inbound_sms(sender=sender, body=form.get("Body", ""),
                                           message_sid=form.get("MessageSid"), from_country=form.get("FromCountry"),
                                           pool=deps.pool, officers=deps.officers, config=deps.config)
        return xml(twiml.sms_reply(reply))

    @app.post("/twilio/voice", tags=["twilio"], response_class=Response, responses=TWILIO_WEBHOOK_RESPONSES)
    async def voice(_: TwilioForm, deps: Deps) -> Response:
        async with deps.pool.acquire() as conn:
            crises = await repository.active_crises(conn)
        return xml(twiml.greeting(crisis_announcements(crises), language_menu(), base=base))

    def chosen_language(lang: str | None) -> Language:
        return Language(lang) if lang in {lang.value for lang in Language} else Language.EN

    @app.post("/twilio/voice/language", tags=["twilio"], response_class=Response, responses=TWILIO_WEBHOOK_RESPONSES)
    async def voice_language(form: TwilioForm, lang: str | None = None) -> Response:
        language = language_for_digit(form.get("Digits"))
        if language is not None:
            return xml(twiml.main_menu(language, base=base))
        if lang is not None:  # nothing pressed at the main menu: say it again
            return xml(twiml.main_menu(chosen_language(lang), base=base))
        return xml(twiml.restart(base=base))

    async def route(deps: Resources, language: Language, attempt: int) -> Response:
        at = now()
        async with deps.pool.acquire() as conn:
            roster = await repository.roster(conn, at)
        plan = route_emergency(at, consular_line=settings.consular_line, roster=roster, hours=office_hours)
        number = next_target(plan, attempt)
        log.info("voice_route", reason=plan.reason.value, attempt=attempt, has_target=number is not None)
        if number is None:
            return xml(twiml.record(language, base=base))
        return xml(twiml.dial(language, number, base=base, attempt=attempt, timeout=settings.dial_timeout_seconds,
                              caller_id=None))

    @app.post("/twilio/voice/menu", tags=["twilio"], response_class=Response, responses=TWILIO_WEBHOOK_RESPONSES)
    async def voice_menu(form: TwilioForm, deps: Deps, lang: str = "en") -> Response:
        language = chosen_language(lang)
        digit = (form.get("Digits") or "").strip()
        if digit == "1":
            return await route(deps, language, 0)
        if digit == "2":
            return xml(twiml.record(language, base=base))
        return xml(twiml.main_menu(language, base=base, invalid=True))

    @app.post("/twilio/voice/dial", tags=["twilio"], response_class=Response, responses=TWILIO_WEBHOOK_RESPONSES)
    async def voice_dial(form: TwilioForm, deps: Deps, lang: str = "en", attempt: int = 0) -> Response:
        if form.get("DialCallStatus") == "completed":
            return xml(twiml.hangup())
        return await route(deps, chosen_language(lang), attempt + 1)

    @app.post("/twilio/voice/welfare", tags=["twilio"], response_class=Response, responses=TWILIO_WEBHOOK_RESPONSES)
    async def voice_welfare(form: TwilioForm, deps: Deps) -> Response:
        """The key pressed on a welfare check's call (the notifier's call to `To`): 1 safe, 2 needs help."""
        person_phone = form.get("To", "")
        if not is_e164(person_phone):
            return xml(twiml.hangup())
        spoken = await handlers.voice_welfare_answer(
            phone=person_phone, digits=form.get("Digits", ""), call_sid=form.get("CallSid"), pool=deps.pool,
            officers=deps.officers, config=deps.config)
        return xml(twiml.said(*spoken) if spoken else twiml.hangup())

    @app.post("/twilio/voice/recorded", tags=["twilio"], response_class=Response, responses=TWILIO_WEBHOOK_RESPONSES)
    async def voice_recorded(form: TwilioForm, deps: Deps, lang: str = "en") -> Response:
        language = chosen_language(lang)
        caller, recording = form.get("From", ""), form.get("RecordingUrl", "")
        if not caller or not recording or not is_e164(caller):  # withheld numbers come as "anonymous"
            return xml(twiml.hangup())
        reference = await handlers.voicemail(caller=caller, recording_url=recording, call_sid=form.get("CallSid"),
                                             language=language, from_country=form.get("FromCountry"),
                                             pool=deps.pool, officers=deps.officers, config=deps.config)
        return xml(twiml.recorded(language, reference))

    return app

