"""Intake's routes for reports and cases: submit, search, the charter board, read, close; the read audit; a
person's privacy requests and legal holds. Thin adapters over the use cases (`opening`, `reading`,
`closing`, `privacy`)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, HTTPException, Path, Query, Response
from pydantic import BaseModel, ConfigDict, EmailStr, Field, model_validator

from services.intake import closing, handlers, opening, privacy, reading
from services.intake.adapters import repository
from services.intake.deps import Deps
from services.intake.domain.model import ReportIn, Status
from services.intake.domain.reference import ReferenceError_, parse_reference
from services.intake.domain.search import BOARD_HORIZON_DAYS, like_escape, read_query, split_due
from shared.auth import Principal, require_roles
from shared.crypto import DecryptionError
from shared.events.common import E164
from shared.events.privacy import RequestKind
from shared.logging import get_logger
from shared.openapi import RETRY_AFTER_CONFIGURATION

log = get_logger(__name__)

REFERENCE = r"^BE-\d{4}-\d{6}$"
BOARD_LIMIT = 200
BIGINT_MAX = 2**63 - 1
#: Paging of long lists (a case's history and messages, the read audit): the latest `limit`, then back by id.
PageLimit = Annotated[int, Query(ge=1, le=1000, description="Entries in this response (the latest ones).")]
PageBefore = Annotated[int | None, Query(ge=1, le=BIGINT_MAX, description=(
    "Only entries older than this one (an entry's `id`, or the previous page's `next_before`)."))]

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


router = APIRouter()

# --- reports -------------------------------------------------------------------------------------------

@router.post("/v1/reports", status_code=201, response_model=CaseOut, tags=["reports"],
          responses={200: {"description": "replay of an Idempotency-Key: the same case"},
                     409: {"description": "Idempotency-Key reused with another body"}})
async def submit(
    report: ReportIn,
    principal: SubmitRoles,
    deps: Deps,
    response: Response,
    idempotency_key: Annotated[str | None, Header(min_length=1, max_length=200)] = None,
) -> dict[str, Any]:
    """A report opens a case (201). Beyond its schema (422 otherwise, naming the field and the rule): the reporter's
    `phone` is a valid number for its country (libphonenumber, rule `e164`); their `email` is an address email-validator
    accepts (syntax, no special-use domain such as .test, no DNS lookup; rule `email`); `lat` and `lon` go together;
    only an `information_request` has `forward_to`. E.g. `{"kind": "lost_document", "reporter": {"full_name": "Anna
    Peeters", "phone": "+32470123456", "email": "anna@example.org", "language": "nl", "channel": "email"}, "location":
    {"country": "FR", "city": "Lyon"}, "description": "My passport was stolen at the station"}`."""
    try:
        result = await opening.submit_report(report, pool=deps.pool, officers=deps.officers,
                                             config=deps.config, actor=principal.subject,
                                             idempotency_key=idempotency_key)
    except opening.IdempotencyConflict:
        raise HTTPException(409, [{"field": "Idempotency-Key", "rule": "same_body",
                                   "message": "this key was used with a different body"}]) from None
    if result.view is not None:
        return result.view
    response.status_code = 200
    response.headers["Idempotent-Replayed"] = "true"
    return await reading.get_case(result.reference, pool=deps.pool, details=False)

@router.get("/v1/reports", response_model=list[CaseOut], tags=["reports"])
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
    return [reading.case_view(row) for row in rows]

@router.get("/v1/charter-board", response_model=CharterBoard, tags=["reports"])
async def charter_board(
    principal: ReadRoles,
    deps: Deps,
    officer: Annotated[Literal["me"] | None, Query(description=(
        "me: the cases of the officer whose sign-in name (or e-mail) is the token's subject"))] = None,
    post_id: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
) -> dict[str, Any]:
    """Open cases due within three days or overdue, and provisional replies due, the most urgent first."""
    at = deps.now()
    async with deps.pool.acquire() as conn:
        replies, provisional = await repository.charter_board(
            conn, horizon=at + timedelta(days=BOARD_HORIZON_DAYS),
            officer_email=principal.subject if officer == "me" else None, post_id=post_id, limit=BOARD_LIMIT)
    attention = [r for r in replies if r["attention"] is not None]
    overdue, due_soon = split_due([r for r in replies if r["attention"] is None], at)
    return {"attention": [reading.case_view(r) for r in attention],
            "overdue": [reading.case_view(r) for r in overdue],
            "due_soon": [reading.case_view(r) for r in due_soon],
            "provisional": [reading.case_view(r) for r in provisional]}

@router.get("/v1/reports/{reference}", tags=["reports"])
async def read(reference: Annotated[str, Path(pattern=REFERENCE)], principal: ReadRoles,
               deps: Deps, limit: PageLimit = reading.CASE_LIST_DEFAULT,
               history_before: Annotated[int | None, Query(ge=1, le=BIGINT_MAX, description=(
                   "Only history entries older than this one (an entry's `id`, or `history_next_before`)."))
               ] = None,
               messages_before: Annotated[int | None, Query(ge=1, le=BIGINT_MAX, description=(
                   "Only messages older than this one (a message's `id`, or `messages_next_before`)."))] = None,
               ) -> dict[str, Any]:
    """The case with the latest `limit` entries of its history and of its messages, oldest first;
    `history_next_before` and `messages_next_before` (null when there is nothing older) page back."""
    reader = reading.Reader(subject=principal.subject, roles=tuple(sorted(principal.roles)))
    page = reading.CasePage(limit=limit, history_before=history_before, messages_before=messages_before)
    try:
        parse_reference(reference)  # BE-0000-000000 matches the pattern but is no reference
        return await reading.get_case(reference, pool=deps.pool, cipher=deps.config.cipher, reader=reader,
                                      now=deps.now(), page=page)
    except ReferenceError_:
        raise HTTPException(404, f"no case {reference}") from None
    except handlers.CaseNotFound:
        raise HTTPException(404, f"no case {reference}") from None
    except DecryptionError:
        log.error("case_key_missing", reference=reference)
        raise HTTPException(503, "this case's encryption key is not configured",
                            headers=RETRY_AFTER_CONFIGURATION) from None

# --- read audit ----------------------------------------------------------------------------------------

@router.get("/v1/audit/reads", tags=["audit"])
async def audit_reads(_: AdminRole, deps: Deps,
                      reference: Annotated[str | None, Query(pattern=REFERENCE)] = None,
                      limit: Annotated[int, Query(ge=1, le=1000)] = 200,
                      before: PageBefore = None) -> dict[str, Any]:
    """Who read which detention or missing-person case, and when (newest first); `next_before` (null: no
    more) as `before` gives the next page."""
    async with deps.pool.acquire() as conn:
        reads = await repository.case_reads(conn, reference=reference, limit=limit + 1, before=before)
    return {"reads": reads[:limit], "next_before": reads[limit - 1]["id"] if len(reads) > limit else None}

@router.post("/v1/reports/{reference}/close", tags=["reports"], status_code=200)
async def close(reference: Annotated[str, Path(pattern=REFERENCE)], principal: ReadRoles, deps: Deps,
                body: CloseIn | None = None) -> dict[str, Any]:
    try:
        await closing.close_case(reference, pool=deps.pool, officers=deps.officers, config=deps.config,
                                 actor=principal.subject, note=body.note if body else None)
        return await reading.get_case(reference, pool=deps.pool, details=False)
    except handlers.CaseNotFound:
        raise HTTPException(404, f"no case {reference}") from None

# --- requests from a person (admin) ------------------------------------------------------------------

@router.post("/v1/privacy/requests", status_code=202, tags=["privacy"])
async def privacy_request(body: PrivacyRequestIn, principal: AdminRole, deps: Deps,
                          response: Response) -> dict[str, Any]:
    """Records an access or erasure request (202, `Location` names it). `phone` is a valid E.164 number
    (libphonenumber); `email` an address email-validator accepts (syntax, no special-use domain such as .test, no DNS
    lookup); 422 otherwise. E.g. `{"kind": "access", "email": "anna@example.org"}`."""
    request_id = await privacy.create_request(
        deps.pool, kind=body.kind, traveller_id=body.traveller_id, phone=body.phone, email=body.email,
        requested_by=principal.subject, source=deps.config.source, topic_prefix=deps.config.topic_prefix)
    response.headers["Location"] = f"/v1/privacy/requests/{request_id}"
    return {"request_id": request_id, "status": "pending"}

@router.get("/v1/privacy/requests/{request_id}", tags=["privacy"])
async def privacy_request_status(request_id: Annotated[str, Path(max_length=100)], _: AdminRole,
                                 deps: Deps) -> dict[str, Any]:
    view = await privacy.request_view(deps.pool, request_id)
    if view is None:
        raise HTTPException(404, f"no privacy request {request_id}")
    return view

@router.put("/v1/reports/{reference}/legal-hold", tags=["privacy"])
async def legal_hold(reference: Annotated[str, Path(pattern=REFERENCE)], body: LegalHoldIn,
                     principal: AdminRole, deps: Deps) -> dict[str, Any]:
    if not await privacy.set_legal_hold(deps.pool, reference, hold=body.legal_hold, actor=principal.subject):
        raise HTTPException(404, f"no case {reference}")
    return {"reference": reference, "legal_hold": body.legal_hold}
