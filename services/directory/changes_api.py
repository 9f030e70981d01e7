"""Changes to a post by admins and coordinators (every one audited): opening hours, suspended services, a
temporary closure; and the audit of a post's changes. Thin adapters over `handlers.change_post`."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, HTTPException
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from services.directory import handlers
from services.directory.adapters import repository
from services.directory.deps import ApiState, Deps, PostId
from services.directory.domain.model import Service as ServiceName
from services.directory.domain.posts import post_to_dict
from shared.auth import Principal, require_roles

router = APIRouter()

ChangeRoles = Annotated[Principal, Depends(require_roles("admin", "coordinator"))]

Day = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
HourMinute = Annotated[str, Field(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$|^24:00$", examples=["09:00"])]
Span = Annotated[list[HourMinute], Field(min_length=2, max_length=2, description="[open, close], open before close")]
IsoDate = Annotated[str, Field(pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$", json_schema_extra={"format": "date"})]


class HoursIn(BaseModel):
    """Each span opens before it closes (422 with the rule `span` otherwise: JSON Schema cannot compare them)."""

    model_config = {"json_schema_extra": {"examples": [{"weekly": {"mon": [["09:00", "12:30"], ["14:00", "17:00"]]},
                                                        "closed_dates": ["2026-12-25"]}]}}
    weekly: dict[Day, list[Span]] = Field(
        description='days mon..sun to [["09:00", "12:30"], ...] in the post\'s local time; days left out are closed'
    )
    closed_dates: list[IsoDate] = Field(default_factory=list, description="YYYY-MM-DD")


class ServicesIn(BaseModel):
    services: list[ServiceName] = Field(min_length=1)


class ClosureIn(BaseModel):
    note: str | None = Field(default=None, max_length=500, description="why, e.g. unrest (no personal data)")


async def _change(deps: ApiState, principal: Principal, post_id: str, change: str,
                  payload: dict[str, Any]) -> JSONResponse:
    try:
        post = await handlers.change_post(
            pool=deps.resources.pool,
            snapshot=deps.resources.snapshot,
            post_id=post_id,
            change=change,
            payload=payload,
            subject=principal.subject,
            roles=sorted(principal.roles),
            source=deps.settings.source,
            topic_prefix=deps.settings.kafka_topic_prefix,
            now=datetime.now(UTC),
        )
    except handlers.UnknownPost:
        raise HTTPException(404, f"no post {post_id}") from None
    return JSONResponse(post_to_dict(post))


@router.put("/v1/posts/{post_id}/hours", tags=["changes"])
async def set_hours(post_id: PostId, body: HoursIn, deps: Deps, principal: ChangeRoles) -> JSONResponse:
    """Set the opening hours (local time of the post); they replace the placeholder."""
    return await _change(deps, principal, post_id, "set_hours", body.model_dump())


@router.post("/v1/posts/{post_id}/suspensions", tags=["changes"])
async def suspend(post_id: PostId, body: ServicesIn, deps: Deps, principal: ChangeRoles) -> JSONResponse:
    """Suspend services at a post: resolution skips it for them until they are resumed."""
    return await _change(deps, principal, post_id, "suspend_services", body.model_dump())


@router.post("/v1/posts/{post_id}/resumptions", tags=["changes"])
async def resume(post_id: PostId, body: ServicesIn, deps: Deps, principal: ChangeRoles) -> JSONResponse:
    return await _change(deps, principal, post_id, "resume_services", body.model_dump())


@router.put("/v1/posts/{post_id}/closure", tags=["changes"])
async def close(
    post_id: PostId,
    deps: Deps,
    principal: ChangeRoles,
    body: Annotated[ClosureIn | None, Body()] = None,
) -> JSONResponse:
    """Close a post temporarily (during unrest, say): resolution skips it and offers the next one."""
    return await _change(deps, principal, post_id, "close_temporarily", (body or ClosureIn()).model_dump())


@router.delete("/v1/posts/{post_id}/closure", tags=["changes"])
async def reopen(post_id: PostId, deps: Deps, principal: ChangeRoles) -> JSONResponse:
    return await _change(deps, principal, post_id, "reopen", {})


@router.get("/v1/posts/{post_id}/changes", tags=["changes"])
async def post_changes(post_id: PostId, deps: Deps, principal: ChangeRoles) -> JSONResponse:
    """The audit of a post's changes, newest first."""
    if deps.resources.snapshot.seed_post(post_id) is None:
        raise HTTPException(404, f"no post {post_id}")
    rows = await repository.changes(deps.resources.pool, post_id)
    for row in rows:
        row["changed_at"] = row["changed_at"].isoformat()
    return JSONResponse({"post_id": post_id, "changes": rows})
