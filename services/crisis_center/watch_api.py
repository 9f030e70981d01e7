"""The watch list and the proposals (activation mode `proposed`): every open incident with its live count, and
the coordinators' decisions on the proposals to open a crisis."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import asyncpg
from fastapi import APIRouter, HTTPException, Path
from pydantic import BaseModel, Field

from services.crisis_center import handlers
from services.crisis_center.crises_api import Counts
from services.crisis_center.deps import ApiState, Coordinator, Deps
from shared.auth import Principal

router = APIRouter(tags=["coordinators"])

IncidentIdPath = Annotated[str, Path(min_length=1, max_length=200)]


class ProposalOut(BaseModel):
    """A proposal to open an incident's crisis (activation mode `proposed`), waiting for or given a decision."""

    incident_id: str
    crisis_id: str = Field(description="The id the crisis has once confirmed (derived from the incident).")
    round: int = Field(description="1, or more when a dismissed incident was proposed again at another severity.")
    title: str
    severity: str
    source: str
    affected_count: int = Field(description="Affected people when it was proposed.")
    threshold: int
    status: Literal["pending", "confirmed", "dismissed", "superseded", "withdrawn"] = Field(description=(
        "superseded: a rule made it automatic meanwhile; withdrawn: the incident closed first."))
    proposed_at: datetime
    escalated_at: datetime | None = Field(description="When the on-call coordinator was sent an SMS about it.")
    decided_at: datetime | None
    decided_by: str | None
    applied: bool = Field(description="The worker has carried the decision out (confirmed: the crisis exists).")


def proposal_out(row: asyncpg.Record) -> ProposalOut:
    return ProposalOut(
        incident_id=row["incident_id"], crisis_id=row["crisis_id"], round=row["round"], title=row["title"],
        severity=row["severity"], source=row["origin"], affected_count=row["affected_count"],
        threshold=row["threshold"], status=row["status"], proposed_at=row["proposed_at"],
        escalated_at=row["escalated_at"], decided_at=row["decided_at"], decided_by=row["decided_by"],
        applied=row["applied_at"] is not None)


class WatchedIncident(BaseModel):
    """An open incident before (or after) it is a crisis: its live count, threshold, mode and source."""

    incident_id: str
    title: str
    kind: str
    severity: str
    area: dict[str, Any]
    source: Literal["gdacs", "usgs", "feed", "external"]
    link: str | None
    occurred_at: datetime
    affected_count: int
    counts: Counts
    threshold: int
    mode: Literal["automatic", "proposed"] = Field(description="What crossing the threshold does for this incident.")
    status: Literal["watching", "proposed", "confirmed", "dismissed", "crisis"] = Field(description=(
        "watching: below the threshold (or proposal superseded/withdrawn); proposed: waiting for a coordinator; "
        "confirmed: the crisis is being opened; dismissed: a coordinator said no; crisis: it has its crisis."))
    proposal: ProposalOut | None
    crisis_id: str | None = Field(description="The incident's crisis, once there is one.")
    updated_at: datetime


def watched_out(row: asyncpg.Record) -> WatchedIncident:
    proposal = None
    if row["proposal_status"] is not None:
        proposal = ProposalOut(
            incident_id=row["incident_id"], crisis_id=handlers.crisis_id_for_incident(row["incident_id"]),
            round=row["proposal_round"], title=row["title"], severity=row["severity"], source=row["origin"],
            affected_count=row["affected_count"], threshold=row["threshold"], status=row["proposal_status"],
            proposed_at=row["proposed_at"], escalated_at=row["escalated_at"], decided_at=row["decided_at"],
            decided_by=row["decided_by"], applied=row["crisis_id"] is not None)
    status: str = "watching"
    if row["crisis_id"] is not None:
        status = "crisis"
    elif row["proposal_status"] == "pending":
        status = "proposed"
    elif row["proposal_status"] in ("confirmed", "dismissed"):
        status = row["proposal_status"]
    return WatchedIncident(
        incident_id=row["incident_id"], title=row["title"], kind=row["kind"], severity=row["severity"],
        area=row["area"], source=row["origin"], link=row["link"], occurred_at=row["occurred_at"],
        affected_count=row["affected_count"],
        counts=Counts(total=row["affected_count"], registrations=row["count_registrations"],
                      reports=row["count_reports"]),
        threshold=row["threshold"], mode=row["mode"], status=status,  # type: ignore[arg-type]
        proposal=proposal, crisis_id=row["crisis_id"], updated_at=row["updated_at"])


class Confirmation(BaseModel):
    reason: str | None = Field(default=None, max_length=1000, description="Optional, kept in the audit trail.")


class Dismissal(BaseModel):
    reason: str = Field(min_length=3, max_length=1000, description="Why not: kept in the audit trail.")


@router.get("/v1/watch", response_model=list[WatchedIncident])
async def watch(state: Deps, _: Coordinator) -> list[WatchedIncident]:
    """Every open incident (from the feeds or external systems) with its live count of people inside, its
    threshold, activation mode and source: pending proposals first, then nearest to their threshold. Counts
    follow the worker within CRISIS_UPDATE_INTERVAL_SECONDS."""
    return [watched_out(r) for r in await handlers.watch_list(pool=state.pool)]


@router.get("/v1/proposals", response_model=list[ProposalOut])
async def proposals(state: Deps, _: Coordinator,
                    status: Literal["pending", "confirmed", "dismissed", "superseded", "withdrawn"] | None = None,
                    ) -> list[ProposalOut]:
    return [proposal_out(r) for r in await handlers.list_proposals(pool=state.pool, status=status)]


DECISION_RESPONSES: dict[int | str, dict[str, Any]] = {
    404: {"description": "no proposal for this incident"},
    409: {"description": "the proposal was already decided otherwise, superseded or withdrawn"}}


async def _decide(state: ApiState, incident_id: str, decision: str, who: Principal,
                  reason: str | None) -> ProposalOut:
    try:
        row = await handlers.decide_proposal(pool=state.pool, incident_id=incident_id, decision=decision,
                                             actor=who.subject, now=state.now(), reason=reason)
    except handlers.ProposalConflict as exc:
        raise HTTPException(409, str(exc)) from None
    if row is None:
        raise HTTPException(404, f"no proposal for incident {incident_id}")
    return proposal_out(row)


@router.post("/v1/proposals/{incident_id}/confirm", response_model=ProposalOut, responses=DECISION_RESPONSES)
async def confirm_proposal(state: Deps, incident_id: IncidentIdPath, who: Coordinator,
                           body: Confirmation | None = None) -> ProposalOut:
    """Open the crisis: the worker activates it within seconds exactly as in the automatic mode (hotline,
    `crisis.activated`, alerts to everyone inside), with the coordinator as the activating actor. Audited;
    confirming again changes nothing."""
    return await _decide(state, incident_id, "confirmed", who, body.reason if body else None)


@router.post("/v1/proposals/{incident_id}/dismiss", response_model=ProposalOut, responses=DECISION_RESPONSES)
async def dismiss_proposal(state: Deps, incident_id: IncidentIdPath, body: Dismissal,
                           who: Coordinator) -> ProposalOut:
    """No crisis for this incident (nothing is sent); audited with the reason. It is proposed again only if
    its severity changes."""
    return await _decide(state, incident_id, "dismissed", who, body.reason)
