"""Delivery progress for coordinators and admins: counts per state for a case or a crisis, and one notification
with its history (recipients masked)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query
from pydantic import BaseModel, Field

from services.notifier.adapters import repository as repo
from services.notifier.deps import Coordinator, Deps
from services.notifier.domain.delivery import DeliveryStatus
from services.notifier.domain.policy import mask_address
from shared.openapi import NO_NUL, exactly_one_of_parameter

router = APIRouter()


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


@router.get("/v1/notifications", response_model=Progress, tags=["progress"],
            openapi_extra={"parameters": [exactly_one_of_parameter(
                "subject", {"case_reference": {"type": "string", "maxLength": 100, "pattern": NO_NUL},
                            "crisis_id": {"type": "string", "maxLength": 100, "pattern": NO_NUL}},
                description="exactly one of `case_reference` and `crisis_id` (separate query parameters)")]})
async def notifications(
    _: Coordinator,
    deps: Deps,
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
    async with deps.resources.pool.acquire() as conn:
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


@router.get("/v1/notifications/{notification_id}", tags=["progress"])
async def notification(notification_id: Annotated[str, Path(min_length=1, max_length=200)],
                       _: Coordinator, deps: Deps) -> dict[str, Any]:
    """One notification (its recipient masked) with its history; the id as `notifications.status` carries it
    (at most 200 characters, as that event allows)."""
    async with deps.resources.pool.acquire() as conn:
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
