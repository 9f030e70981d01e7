"""The public feeds of the active crises: JSON, Atom and one CAP 1.2 alert per crisis, served from a short cache
(dropped when a crisis changes) with ETags."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field, TypeAdapter

from services.crisis_center import handlers
from services.crisis_center.deps import ApiState, Deps
from services.crisis_center.domain.atom import build_atom
from services.crisis_center.domain.cap import build_cap
from services.crisis_center.domain.crisis import Crisis
from services.crisis_center.domain.exercise import title as exercise_title

router = APIRouter(tags=["public"])


class PublicCrisis(BaseModel):
    crisis_id: str
    title: str
    kind: str
    hotline_number: str
    affected_count: int
    area: dict[str, Any]
    activated_at: datetime
    cap_url: str
    exercise: bool = Field(default=False, description=(
        "An exercise, not a real crisis (listed only with EXERCISE_IN_PUBLIC_FEEDS; its title then starts with "
        "EXERCISE and its CAP status is Exercise)."))


PUBLIC_LIST = TypeAdapter(list[PublicCrisis])

CACHED = {200: {"description": "from memory for PUBLIC_CACHE_SECONDS at most (dropped when a crisis changes); "
                               "ETag and Cache-Control set"},
          304: {"description": "If-None-Match matched the ETag"}}


async def _active(state: ApiState) -> list[Crisis]:
    """The active crises of the public JSON and Atom feeds: exercises only with EXERCISE_IN_PUBLIC_FEEDS."""
    crises = [handlers.row_to_crisis(r) for r in await handlers.list_crises(pool=state.pool, status="active")]
    return [c for c in crises if state.settings.exercise_in_public_feeds or not c.exercise]


def _base(state: ApiState) -> str:
    return state.settings.public_base_url.rstrip("/")


@router.get("/public/crises", response_model=list[PublicCrisis], response_class=Response,
            responses={200: {**CACHED[200], "content": {"application/json": {}}}, 304: CACHED[304]})
async def public_crises(state: Deps, request: Request) -> Response:
    async def render() -> tuple[bytes, str, int]:
        base = _base(state)
        listed = [PublicCrisis(crisis_id=c.crisis_id, title=exercise_title(c.title, c.exercise), kind=c.kind,
                               hotline_number=c.hotline_number, affected_count=c.affected_count,
                               area=c.area.to_dict(), activated_at=c.activated_at,
                               cap_url=f"{base}/public/crises/{c.crisis_id}.cap", exercise=c.exercise)
                  for c in await _active(state)]
        return PUBLIC_LIST.dump_json(listed), "application/json", 200

    return await state.public_cache.respond(request, "list", render)


@router.get("/public/crises.atom", response_class=Response,
            responses={200: {**CACHED[200], "content": {"application/atom+xml": {}}}, 304: CACHED[304]})
async def public_atom(state: Deps, request: Request) -> Response:
    async def render() -> tuple[bytes, str, int]:
        return build_atom(await _active(state), base_url=_base(state), now=state.now()), "application/atom+xml", 200

    return await state.public_cache.respond(request, "atom", render)


@router.get("/public/crises/{crisis_id}.cap", response_class=Response,
            responses={200: {**CACHED[200], "content": {"application/cap+xml": {}}}, 304: CACHED[304],
                       404: {"description": "unknown crisis"}})
async def public_cap(state: Deps, request: Request,
                     crisis_id: Annotated[str, Path(min_length=1, max_length=200)]) -> Response:
    async def render() -> tuple[bytes, str, int]:
        row = await handlers.get_crisis(pool=state.pool, crisis_id=crisis_id)
        if row is None:  # not kept: unknown ids must not fill the memory
            return json.dumps({"detail": f"no crisis {crisis_id}"}).encode(), "application/json", 404
        cap = build_cap(handlers.row_to_crisis(row), web=f"{_base(state)}/public/crises")
        return cap, "application/cap+xml", 200

    return await state.public_cache.respond(request, f"cap:{crisis_id}", render)
