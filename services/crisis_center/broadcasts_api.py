"""Broadcasts over HTTP: coordinators write follow-up messages and the all-clear, plan them, and a second
coordinator approves or rejects them (services/crisis_center/broadcasts.py has the rules' story).

Statuses: 201 written; 200 read, planned, edited, approved, rejected; 403 the author approving their own broadcast,
or someone else than the author editing it; 404 no such crisis or broadcast; 409 a broadcast to a closed crisis,
a second all-clear, a decision on a broadcast no longer pending (approved, rejected, expired), or an approval of
a version that is no longer the current one; 422 a malformed body, a polygon without the audience 'area' (or the
reverse), a polygon outside the crisis area.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import asyncpg
from fastapi import APIRouter, HTTPException, Path
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from services.crisis_center import broadcasts, handlers
from services.crisis_center.deps import ApiState, Coordinator, CrisisId, Deps
from services.crisis_center.domain import broadcasts as rules
from shared.auth import Principal
from shared.events.common import JSON_NUMBER, Integer
from shared.openapi import error_responses

BroadcastId = Annotated[str, Path(min_length=1, max_length=200)]
Audience = Literal["everyone", "not_answered", "needs_help", "area"]
Status = Literal["pending", "approved", "rejected", "expired"]
assert set(Audience.__args__) == set(rules.AUDIENCES)  # type: ignore[attr-defined]
assert set(Status.__args__) == set(rules.STATUSES)  # type: ignore[attr-defined]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=rules.MAX_TEXT,
                                        pattern=r"\S")]
Corner = tuple[Annotated[float, Field(ge=-180, le=180), JSON_NUMBER],
               Annotated[float, Field(ge=-90, le=90), JSON_NUMBER]]


class TextsIn(BaseModel):
    """Every language named: its own text, or null for the English text (an explicit fallback)."""

    model_config = ConfigDict(extra="forbid")
    fr: Text | None = Field(description="null: French speakers get the English text.")
    nl: Text | None = Field(description="null: Dutch speakers get the English text.")
    de: Text | None = Field(description="null: German speakers get the English text.")
    en: Text

    def given(self) -> dict[str, str]:
        return {lang: text for lang, text in self.model_dump().items() if text is not None}

    def fallback(self) -> tuple[str, ...]:
        return tuple(lang for lang, text in self.model_dump().items() if text is None)


class DraftIn(BaseModel):
    """A follow-up message. Rules no schema states (422): a polygon comes with the audience 'area' and only then,
    and its corners lie inside the crisis area."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "texts": {"fr": "Affaires étrangères - l'aéroport rouvre demain.", "nl": None, "de": None,
                  "en": "Belgian Foreign Affairs - the airport reopens tomorrow."},
        "audience": "everyone"}]})
    texts: TextsIn = Field(description=(
        "The text per language, sent as written by SMS (and in the email with the hotline); every language is "
        "named, null where its people get the English text."))
    audience: Audience = Field(default="everyone", description=(
        "everyone: everyone the crisis alerted (its counted contacts); not_answered: those without a welfare "
        "answer; needs_help: those whose latest answer is 'needs help'; area: those whose known position lies in "
        "`polygon`."))
    polygon: list[Corner] | None = Field(default=None, min_length=3, max_length=500, description=(
        "[lon, lat] corners of a drawn area inside the crisis area; with audience 'area', and only then."))

    @model_validator(mode="after")
    def _area(self) -> DraftIn:
        if (self.audience == "area") != (self.polygon is not None):
            raise ValueError("a polygon is given with the audience 'area', and only then")
        return self

    def draft(self) -> broadcasts.Draft:
        return broadcasts.Draft("followup", self.audience, self.texts.given(), self.texts.fallback(),
                                tuple(self.polygon) if self.polygon is not None else None)


class ApprovalIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: Integer = Field(ge=1, le=2**31 - 1, description=(
        "The version approved (the broadcast's `version` as read): an edit since makes the approval 409."))


class RejectionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=1000,
                                             pattern=r"\S")] = Field(description="Why: kept in the audit trail.")


class SmsTextOut(BaseModel):
    encoding: Literal["GSM-7", "UCS-2"]
    units: int = Field(description="GSM-7 septets (an extension character counts 2) or UCS-2 code units.")
    segments: int = Field(description="160/153 septets (GSM-7) or 70/67 units (UCS-2) per segment.")


class ScenarioOut(BaseModel):
    senders: int
    sms_per_second: float = Field(description="The senders' summed rates.")
    sms_seconds: float = Field(description="Until the last SMS is handed to the provider.")
    seconds_to_last: float = Field(description="Until the last message (SMS or email) is handed over.")


class SenderOut(BaseModel):
    name: str
    rate_per_second: float


class PlanOut(BaseModel):
    people: int = Field(description="People reached (now: the audience is read again when approved).")
    recipients: dict[str, dict[str, int]] = Field(description="Messages per channel (sms, email) and language.")
    sms: dict[str, SmsTextOut] = Field(description="Per language, the SMS text's encoding and segments.")
    sms_segments: int = Field(description="Segments of the whole send (billed).")
    email_seconds: float
    senders: list[SenderOut] = Field(description="The configured SMS senders (BROADCAST_SENDERS).")
    current: ScenarioOut
    more_senders: list[ScenarioOut] = Field(description="With one, then two more senders at the mean rate.")


class HistoryEntry(BaseModel):
    at: datetime
    actor: str
    action: str
    detail: dict[str, Any]


class BroadcastOut(BaseModel):
    broadcast_id: str
    crisis_id: str
    kind: Literal["followup", "all_clear"]
    status: Status
    audience: Audience
    polygon: list[list[float]] | None
    texts: dict[str, str | None] = Field(description=(
        "A follow-up's text per language, null where the English text is sent; empty for the all-clear (its "
        "template's text)."))
    version: int = Field(description="Raised by every edit; an approval names it.")
    author: str
    created_at: datetime
    edited_at: datetime
    expires_at: datetime = Field(description="Unapproved by then (while pending), it expires unsent.")
    decided_by: str | None
    decided_at: datetime | None
    reason: str | None
    sent_people: int | None = Field(description="Once approved: people sent to.")
    sent_messages: int | None = Field(description="Once approved: messages enqueued (SMS and email).")


class BroadcastDetail(BroadcastOut):
    plan: PlanOut = Field(description="The send planner's figures for the audience as it is now.")
    history: list[HistoryEntry] = Field(description="Created, edited, approved, rejected, expired, refused.")


class TemplatesOut(BaseModel):
    followup: dict[str, str] = Field(description="A follow-up's starting text per language.")
    all_clear_sms: dict[str, str] = Field(description="The all-clear's SMS per language (`crisis_closed`).")


def _texts(row: asyncpg.Record) -> dict[str, str | None]:
    if row["kind"] != "followup":
        return {}
    given: dict[str, str] = row["texts"]
    return {lang: given.get(lang) for lang in rules.LANGUAGES}


def _out(row: asyncpg.Record) -> dict[str, Any]:
    return {"broadcast_id": row["broadcast_id"], "crisis_id": row["crisis_id"], "kind": row["kind"],
            "status": row["status"], "audience": row["audience"], "polygon": row["polygon"], "texts": _texts(row),
            "version": row["version"], "author": row["author"],
            "created_at": row["created_at"], "edited_at": row["edited_at"], "expires_at": row["expires_at"],
            "decided_by": row["decided_by"], "decided_at": row["decided_at"], "reason": row["reason"],
            "sent_people": row["sent_people"], "sent_messages": row["sent_messages"]}


BAD_DRAFT = "a polygon without the audience 'area' (or the reverse), or outside the crisis area"


def bad_draft(exc: broadcasts.BadDraft) -> HTTPException:
    """The platform's 422 body (`field`, `rule`, `message`): a draft that cannot go as written."""
    field = "polygon" if str(exc).startswith("polygon") else "(body)"
    return HTTPException(422, [{"field": field, "rule": "draft", "message": str(exc)}])


def plan_out(plan: rules.Plan, senders: tuple[rules.Sender, ...]) -> PlanOut:
    def scenario(s: rules.Scenario) -> ScenarioOut:
        return ScenarioOut(senders=s.senders, sms_per_second=s.sms_per_second, sms_seconds=s.sms_seconds,
                           seconds_to_last=s.seconds_to_last)

    return PlanOut(people=plan.people, recipients=plan.recipients,
                   sms={k: SmsTextOut(encoding=v.encoding, units=v.units, segments=v.segments)
                        for k, v in plan.sms.items()},
                   sms_segments=plan.sms_segments, email_seconds=plan.email_seconds,
                   senders=[SenderOut(name=s.name, rate_per_second=s.rate_per_second) for s in senders],
                   current=scenario(plan.current), more_senders=[scenario(s) for s in plan.more_senders])


router = APIRouter(tags=["broadcasts"])


async def detail(state: ApiState, broadcast_id: str) -> BroadcastDetail:
    """The broadcast with its plan and history (404: no such broadcast)."""
    pool, planning = state.pool, state.planning
    row = await broadcasts.get(pool=pool, broadcast_id=broadcast_id, now=state.now())
    if row is None:
        raise HTTPException(404, f"no broadcast {broadcast_id}")
    figures = await broadcasts.plan_of(pool=pool, row=row, planning=planning)
    entries = await broadcasts.history(pool=pool, broadcast_id=broadcast_id, crisis_id=row["crisis_id"])
    return BroadcastDetail(**_out(row), plan=plan_out(figures, planning.senders),
                           history=[HistoryEntry(**dict(e)) for e in entries])


async def submit(state: ApiState, crisis_id: str, draft: broadcasts.Draft, who: Principal) -> BroadcastDetail:
    """Writes a pending broadcast (a follow-up or the all-clear) and reads it back."""
    try:
        broadcast_id = await broadcasts.create(pool=state.pool, crisis_id=crisis_id, draft=draft, actor=who.subject,
                                               now=state.now(),
                                               approval_minutes=state.settings.broadcast_approval_minutes)
    except broadcasts.NoCrisis:
        raise HTTPException(404, f"no crisis {crisis_id}") from None
    except broadcasts.CrisisNotActive:
        raise HTTPException(409, f"crisis {crisis_id} is closed: nobody is left to reach") from None
    except broadcasts.Conflict as exc:
        raise HTTPException(409, str(exc)) from None
    except broadcasts.BadDraft as exc:
        raise bad_draft(exc) from None
    return await detail(state, broadcast_id)


def refused(exc: rules.Refused) -> HTTPException:
    return HTTPException(exc.status, str(exc))


@router.get("/v1/crises/{crisis_id}/broadcasts/templates", response_model=TemplatesOut,
            responses=error_responses(404, descriptions={404: "no such crisis"}))
async def templates(crisis_id: CrisisId, state: Deps, _: Coordinator) -> TemplatesOut:
    """The texts a follow-up starts from in fr, nl, de and en (crisis title and hotline filled in), and the
    all-clear's SMS."""
    found = await broadcasts.templates(pool=state.pool, crisis_id=crisis_id)
    if found is None:
        raise HTTPException(404, f"no crisis {crisis_id}")
    return TemplatesOut(followup=found[0], all_clear_sms=found[1])


@router.post("/v1/crises/{crisis_id}/broadcasts/plan", response_model=PlanOut,
             responses=error_responses(404, 422, descriptions={
                 404: "no such crisis", 422: BAD_DRAFT}))
async def plan_draft(crisis_id: CrisisId, body: DraftIn, state: Deps, _: Coordinator) -> PlanOut:
    """The send planner for a draft, before it is submitted (nothing is written): people per channel and
    language, SMS segments per language, time to the last recipient at the configured sender rates and with
    one and two more senders."""
    try:
        figures = await broadcasts.plan(pool=state.pool, crisis_id=crisis_id, draft=body.draft(),
                                        planning=state.planning)
    except broadcasts.NoCrisis:
        raise HTTPException(404, f"no crisis {crisis_id}") from None
    except broadcasts.BadDraft as exc:
        raise bad_draft(exc) from None
    return plan_out(figures, state.planning.senders)


@router.post("/v1/crises/{crisis_id}/broadcasts", response_model=BroadcastDetail, status_code=201,
             responses=error_responses(404, 409, 422, descriptions={
                 404: "no such crisis", 409: "the crisis is closed",
                 422: BAD_DRAFT}))
async def create(crisis_id: CrisisId, body: DraftIn, state: Deps, who: Coordinator) -> BroadcastDetail:
    """Submit a follow-up message to an active crisis: it waits (`pending`) for a second coordinator's
    approval, for BROADCAST_APPROVAL_MINUTES at most. Audited."""
    return await submit(state, crisis_id, body.draft(), who)


@router.post("/v1/crises/{crisis_id}/all-clear", response_model=BroadcastDetail, status_code=201,
             responses=error_responses(404, 409, descriptions={
                 404: "no such crisis",
                 409: "the crisis is closed, or its all-clear is pending or approved already"}))
async def all_clear(crisis_id: CrisisId, state: Deps, who: Coordinator) -> BroadcastDetail:
    """Submit the all-clear (the `crisis_closed` message) to everyone the active crisis alerted, under the
    same two-person rule; one per crisis (a rejected or expired one can be submitted again). Its approval
    enqueues the messages and closes the crisis (closing first forgets who was alerted: nobody to tell)."""
    return await submit(state, crisis_id, broadcasts.Draft("all_clear", "everyone", {}), who)


@router.get("/v1/crises/{crisis_id}/broadcasts", response_model=list[BroadcastOut],
            responses=error_responses(404, descriptions={404: "no such crisis"}))
async def listing(crisis_id: CrisisId, state: Deps, _: Coordinator,
                  status: Status | None = None) -> list[BroadcastOut]:
    """The crisis's broadcasts, newest first (expired ones marked so)."""
    rows = await broadcasts.listing(pool=state.pool, crisis_id=crisis_id, status=status, now=state.now())
    if rows is None:
        raise HTTPException(404, f"no crisis {crisis_id}")
    return [BroadcastOut(**_out(r)) for r in rows]


@router.get("/v1/broadcasts/{broadcast_id}", response_model=BroadcastDetail,
            responses=error_responses(404, descriptions={404: "no such broadcast"}))
async def read(broadcast_id: BroadcastId, state: Deps, _: Coordinator) -> BroadcastDetail:
    """The broadcast with its plan (for the approver to see before approving) and its history."""
    return await detail(state, broadcast_id)


@router.get("/v1/broadcasts/{broadcast_id}/plan", response_model=PlanOut,
            responses=error_responses(404, descriptions={404: "no such broadcast"}))
async def plan(broadcast_id: BroadcastId, state: Deps, _: Coordinator) -> PlanOut:
    row = await broadcasts.get(pool=state.pool, broadcast_id=broadcast_id, now=state.now())
    if row is None:
        raise HTTPException(404, f"no broadcast {broadcast_id}")
    planning = state.planning
    return plan_out(await broadcasts.plan_of(pool=state.pool, row=row, planning=planning), planning.senders)


@router.put("/v1/broadcasts/{broadcast_id}", response_model=BroadcastDetail,
            responses=error_responses(403, 404, 409, 422, descriptions={
                403: "only the author edits a broadcast (or the token lacks the role coordinator)",
                404: "no such broadcast", 409: "the broadcast is no longer pending",
                422: BAD_DRAFT}))
async def edit(broadcast_id: BroadcastId, body: DraftIn, state: Deps, who: Coordinator) -> BroadcastDetail:
    """The author replaces a pending follow-up's texts and audience: a new version, which is the one to
    approve, and a new approval window. Audited."""
    try:
        found = await broadcasts.edit(pool=state.pool, broadcast_id=broadcast_id, draft=body.draft(),
                                      actor=who.subject, now=state.now(),
                                      approval_minutes=state.settings.broadcast_approval_minutes)
    except rules.Refused as exc:
        raise refused(exc) from None
    except broadcasts.BadDraft as exc:
        raise bad_draft(exc) from None
    if not found:
        raise HTTPException(404, f"no broadcast {broadcast_id}")
    return await detail(state, broadcast_id)


@router.post("/v1/broadcasts/{broadcast_id}/approve", response_model=BroadcastDetail,
             responses=error_responses(403, 404, 409, descriptions={
                 403: "the author cannot approve their own broadcast (or the token lacks the role coordinator)",
                 404: "no such broadcast",
                 409: "not pending (approved by another, rejected, expired), another version, or the crisis "
                      "closed"}))
async def approve(broadcast_id: BroadcastId, body: ApprovalIn, state: Deps, who: Coordinator) -> BroadcastDetail:
    """A second coordinator (another `sub` than the author) approves this version: its messages are
    enqueued at once, each person's SMS and email once (approving again changes nothing). Approving the
    all-clear then closes the crisis (as `POST /v1/crises/{crisis_id}/close`). Audited."""
    try:
        approval = await broadcasts.approve(pool=state.pool, broadcast_id=broadcast_id, actor=who.subject,
                                            version=body.version, now=state.now(), publishing=state.publishing)
    except rules.Refused as exc:
        raise refused(exc) from None
    if approval is None:
        raise HTTPException(404, f"no broadcast {broadcast_id}")
    if approval.kind == "all_clear":  # the all-clear is enqueued: the crisis closes (closing twice: no-op)
        await handlers.close_crisis(pool=state.pool, crisis_id=approval.crisis_id, actor=who.subject,
                                    now=state.now(), publishing=state.publishing)
    return await detail(state, broadcast_id)


@router.post("/v1/broadcasts/{broadcast_id}/reject", response_model=BroadcastDetail,
             responses=error_responses(404, 409, descriptions={
                 404: "no such broadcast", 409: "the broadcast is no longer pending"}))
async def reject(broadcast_id: BroadcastId, body: RejectionIn, state: Deps, who: Coordinator) -> BroadcastDetail:
    """Any coordinator rejects a pending broadcast with a reason (its author: withdraws it). Audited."""
    try:
        found = await broadcasts.reject(pool=state.pool, broadcast_id=broadcast_id, actor=who.subject,
                                        reason=body.reason, now=state.now())
    except rules.Refused as exc:
        raise refused(exc) from None
    if not found:
        raise HTTPException(404, f"no broadcast {broadcast_id}")
    return await detail(state, broadcast_id)
