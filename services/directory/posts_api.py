"""The directory's public posts: the list (filtered) and one post, each with whether it is open now."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from services.directory.deps import COUNTRY, Deps, PostId
from services.directory.domain.hours import HOURS_UNKNOWN, open_now
from services.directory.domain.model import POST_TYPES
from services.directory.domain.model import Service as ServiceName
from services.directory.domain.posts import post_to_dict

router = APIRouter()

PostType = Literal[
    "embassy", "consulate_general", "diplomatic_office", "representative_office", "permanent_representation"
]
assert set(PostType.__args__) == set(POST_TYPES)  # type: ignore[attr-defined]


class PostsOut(BaseModel):
    count: int
    posts: list[dict[str, Any]]


@router.get("/v1/posts", response_model=PostsOut, tags=["posts"])
async def list_posts(
    deps: Deps,
    country: Annotated[str | None, Query(pattern=COUNTRY, description="where the post is")] = None,
    type: Annotated[PostType | None, Query()] = None,  # the contract's filter name
    service: Annotated[ServiceName | None, Query()] = None,
) -> JSONResponse:
    directory = deps.resources.snapshot.current
    now = datetime.now(UTC)
    posts = directory.list_posts(country=country.upper() if country else None, type_=type, service=service)
    body = [{**post_to_dict(p), "open_now": open_now(p.opening_hours, p.time_zone, now)} for p in posts]
    return JSONResponse({"count": len(body), "posts": body})


@router.get("/v1/posts/{post_id}", tags=["posts"], responses={404: {"description": "no such post"}})
async def get_post(post_id: PostId, deps: Deps) -> JSONResponse:
    post = deps.resources.snapshot.current.posts.get(post_id)
    if post is None:
        raise HTTPException(404, f"no post {post_id}")
    state = open_now(post.opening_hours, post.time_zone, datetime.now(UTC))
    body = post_to_dict(post, open_now=state)
    if state is None:
        body["open_now"] = None
        body["open_now_note"] = HOURS_UNKNOWN
    return JSONResponse(body)
