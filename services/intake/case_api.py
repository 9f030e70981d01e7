"""Case actions of contract version 2 (duty_officer): reply, provisional reply, forward, status, note, assignee; and
the reply templates. Each answers with the case as `GET /v1/reports/{reference}` shows it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query
from pydantic import BaseModel, ConfigDict, EmailStr, Field

from services.intake import case_actions, handlers, reading
from services.intake.bootstrap import Resources
from services.intake.case_actions import ActionContext
from services.intake.deps import Deps
from services.intake.domain import texts
from services.intake.domain.charter import CharterRuleError
from services.intake.domain.model import Kind, Language, Status
from services.intake.domain.reference import ReferenceError_, parse_reference
from shared.auth import Principal, require_roles
from shared.events.common import JSON_INTEGER

REFERENCE = r"^BE-\d{4}-\d{6}$"
MAX_ID = 2_147_483_647

DutyOfficer = Annotated[Principal, Depends(require_roles("duty_officer"))]
Readers = Annotated[Principal, Depends(require_roles("duty_officer", "coordinator"))]
Reference = Annotated[str, Path(pattern=REFERENCE)]
Body = Annotated[str, Field(min_length=1, max_length=5000, pattern=r"\S")]
PersonId = Annotated[str, Field(min_length=1, max_length=200, pattern=r"\S")]




class MessageIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    body: Body


class ProvisionalReplyIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    expected_by: date = Field(description="the day (Brussels) by which the reply will come; after today, within a "
                                          "year of receipt")
    body: Body | None = None


class ForwardIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    service: Annotated[str, Field(min_length=1, max_length=200, pattern=r"\S",
                                  description="the competent service, named to the citizen")]
    contact: EmailStr | None = Field(default=None, description="the service's address: the request is sent there")


class StatusIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    status: Literal["in_progress", "waiting_for_citizen", "closed", "reopened"]
    reason: Annotated[str | None, Field(min_length=1, max_length=1000, pattern=r"\S")] = None


class NoteIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    body: Body


class AssigneeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    officer_id: Annotated[int, Field(ge=1, le=MAX_ID), JSON_INTEGER]


class MatchDecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    decision: Literal["confirmed", "rejected"] = Field(description="rejected: the pair is never proposed again")


class FamilyNoticeIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    person_id: PersonId = Field(description="the matched person who answered safe")


ACTION_ERRORS: dict[int | str, dict[str, Any]] = {
    409: {"description": "the charter's rules refuse the action now (closed case, already answered, ...)"}}


router = APIRouter(tags=["case actions"])


async def act(reference: str, principal: Principal, deps: Resources, action: Callable[[ActionContext], Any]
              ) -> dict[str, Any]:
    try:
        parse_reference(reference)
        at = deps.now()
        await action(ActionContext(pool=deps.pool, officers=deps.officers, config=deps.config,
                                   actor=principal.subject, now=at))
        return await reading.get_case(reference, pool=deps.pool, cipher=deps.config.cipher, now=at)
    except (ReferenceError_, handlers.CaseNotFound):
        raise HTTPException(404, f"no case {reference}") from None
    except CharterRuleError as exc:
        raise HTTPException(409, [{"field": "(case)", "rule": exc.rule, "message": str(exc)}]) from None


@router.post("/v1/reports/{reference}/messages", responses=ACTION_ERRORS)

async def reply(reference: Reference, body: MessageIn, principal: DutyOfficer, deps: Deps) -> dict[str, Any]:
    """A reply to the citizen through the case's channel, signed with the officer card and the reference; the
    first reply answers the charter's clock."""
    return await act(reference, principal, deps,
                     lambda ctx: case_actions.reply(reference, body=body.body, ctx=ctx))


@router.post("/v1/reports/{reference}/provisional-reply", responses=ACTION_ERRORS)

async def provisional(reference: Reference, body: ProvisionalReplyIn, principal: DutyOfficer,
                      deps: Deps) -> dict[str, Any]:
    """A provisional reply stating when the reply will come; the reply is then due at the end of that day."""
    return await act(reference, principal, deps, lambda ctx: case_actions.provisional_reply(
        reference, expected_by=body.expected_by, body=body.body, ctx=ctx))


@router.post("/v1/reports/{reference}/forward", responses=ACTION_ERRORS)

async def forward(reference: Reference, body: ForwardIn, principal: DutyOfficer, deps: Deps) -> dict[str, Any]:
    """Forward to the competent service, with a notice to the citizen naming it (the notice answers the clock); with
    `contact`, the request itself goes there by email: an address email-validator accepts (syntax, no special-use domain
    such as .test, no DNS lookup; 422 otherwise). E.g. `{"service": "FPS Justice", "contact": "info@just.fgov.be"}`."""
    return await act(reference, principal, deps, lambda ctx: case_actions.forward(
        reference, service=body.service, contact=str(body.contact) if body.contact else None, ctx=ctx))


@router.post("/v1/reports/{reference}/status", responses=ACTION_ERRORS)

async def status(reference: Reference, body: StatusIn, principal: DutyOfficer, deps: Deps) -> dict[str, Any]:
    """in_progress, waiting_for_citizen, closed (the satisfaction survey goes out) or reopened (a new reply is
    owed on the channel's clock from now)."""
    return await act(reference, principal, deps, lambda ctx: case_actions.set_status(
        reference, status=Status(body.status), reason=body.reason, ctx=ctx))


@router.post("/v1/reports/{reference}/complex", responses=ACTION_ERRORS)

async def complex_case(reference: Reference, principal: DutyOfficer, deps: Deps) -> dict[str, Any]:
    """Mark the case complex after receipt: a provisional reply is then due within 15 days of receipt."""
    return await act(reference, principal, deps, lambda ctx: case_actions.mark_complex(reference, ctx=ctx))


@router.post("/v1/reports/{reference}/notes", responses=ACTION_ERRORS)

async def note(reference: Reference, body: NoteIn, principal: DutyOfficer, deps: Deps) -> dict[str, Any]:
    """An internal note in the history: never sent to the citizen."""
    return await act(reference, principal, deps,
                     lambda ctx: case_actions.add_note(reference, body=body.body, ctx=ctx))


@router.post("/v1/reports/{reference}/assignee", responses=ACTION_ERRORS)

async def assignee(reference: Reference, body: AssigneeIn, principal: DutyOfficer,
                   deps: Deps) -> dict[str, Any]:
    """Another officer takes the case: their card is on every message from now on."""
    return await act(reference, principal, deps,
                     lambda ctx: case_actions.assign(reference, officer_id=body.officer_id, ctx=ctx))


@router.post("/v1/reports/{reference}/matches/{person_id}", responses=ACTION_ERRORS)

async def decide_match(reference: Reference, person_id: Annotated[str, Path(min_length=1, max_length=200)],
                       body: MatchDecisionIn, principal: DutyOfficer, deps: Deps) -> dict[str, Any]:
    """Confirm or reject a match proposed for the person a family seeks (a rejected pair is not proposed
    again)."""
    return await act(reference, principal, deps, lambda ctx: case_actions.decide_match(
        reference, person_id=person_id, confirmed=body.decision == "confirmed", ctx=ctx))


@router.post("/v1/reports/{reference}/family-notice", responses=ACTION_ERRORS)

async def family_notice(reference: Reference, body: FamilyNoticeIn, principal: DutyOfficer,
                        deps: Deps) -> dict[str, Any]:
    """Tell the family, through their channel and in their language, that the person they seek answered safe
    (the agreed wording, with the officer card; never where the person is). It confirms the match and answers
    the charter's clock like a reply."""
    return await act(reference, principal, deps, lambda ctx: case_actions.tell_family(
        reference, person_id=body.person_id, ctx=ctx))


@router.get("/v1/reply-templates")

async def reply_templates(_: Readers, kind: Annotated[Kind, Query()],
                          language: Annotated[Language, Query()]) -> dict[str, str]:
    """A starting point for a reply of this kind, in the citizen's language (brackets for the officer to
    fill in)."""
    return {"kind": kind.value, "language": language.value,
            "body": texts.REPLY_TEMPLATES[kind.value][language]}
