"""`shared.http.single_query_values`: a query parameter declared as one value and given twice is a 422, not the
last value taken silently (the notifier's fuzz run found `?limit=1&limit=2` accepted)."""

from __future__ import annotations

import os
from typing import Annotated

import httpx
from fastapi import APIRouter, Depends, FastAPI, Query

from shared.http import install_common
from shared.settings import AuthSettings


def page_size(size: Annotated[int, Query(ge=1)] = 10) -> int:
    return size


def app_with_routes() -> FastAPI:
    router = APIRouter()

    @router.get("/items")
    async def items(limit: Annotated[int, Query(ge=0)] = 5, size: int = Depends(page_size),
                    tag: Annotated[list[str] | None, Query()] = None) -> dict[str, object]:
        return {"limit": limit, "size": size, "tags": tag or []}

    app = FastAPI()
    install_common(app, service="query-test", database=False,
                   auth=AuthSettings(jwt_secret=os.environ["JWT_SECRET"]))  # type: ignore[call-arg]
    app.include_router(router)
    return app


async def test_a_scalar_query_parameter_given_twice_is_refused_and_a_list_is_not() -> None:
    app = app_with_routes()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://query.test") as client:
        once = await client.get("/items", params=[("limit", "1"), ("size", "3"), ("tag", "a"), ("tag", "b")])
        twice = await client.get("/items", params=[("limit", "1"), ("limit", "2")])
        in_a_dependency = await client.get("/items", params=[("size", "1"), ("size", "2")])
        undeclared = await client.get("/items", params=[("other", "1"), ("other", "2")])
    assert once.status_code == 200 and once.json() == {"limit": 1, "size": 3, "tags": ["a", "b"]}
    assert twice.status_code == 422
    assert twice.json() == {"detail": [{"field": "limit", "rule": "single", "message": "give limit once"}]}
    assert in_a_dependency.status_code == 422 and in_a_dependency.json()["detail"][0]["field"] == "size"
    assert undeclared.status_code == 200  # not a parameter of the route: ignored like any unknown one
