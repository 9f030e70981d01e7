"""Issue 19, finding 11: the public feeds are served from memory (with ETag and Cache-Control), and a crisis change
read from `crisis.status` drops the copies at once (real database and broker)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest

from services.crisis_center import handlers
from services.crisis_center.api import create_app
from shared.geo import Area
from tests.crisis_center.conftest import POOL, Env
from tests.support import eventually

NEPAL = Area.from_dict({"country": "NP", "circle": {"lat": 27.7, "lon": 85.3, "radius_km": 50}})


async def activate(env: Env, title: str) -> str:
    crisis = await handlers.activate_manually(
        pool=env.pool, title=title, kind="earthquake", severity="severe", area=NEPAL, actor="tester",
        pool_numbers=POOL.split(","), general_number="+3225014000", threshold=5, now=datetime.now(UTC),
        publishing=handlers.Publishing(env.settings.source, env.settings.kafka_topic_prefix))
    return crisis.crisis_id


@pytest.fixture
async def quiet_crisis(env: Env) -> str:
    """A crisis whose events never leave (its outbox rows dropped before the app and its relay start): only the
    expiry can make the feeds see a change to it."""
    crisis_id = await activate(env, "Floods")
    await env.pool.execute("DELETE FROM outbox")
    return crisis_id


@pytest.fixture
async def client(env: Env, request: pytest.FixtureRequest) -> AsyncIterator[httpx.AsyncClient]:
    ttl = getattr(request, "param", 300.0)
    app = create_app(env.settings.model_copy(update={"public_cache_seconds": ttl}))
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://test") as c:
        yield c


@pytest.mark.parametrize("client", [1.0], indirect=True)
async def test_the_feeds_come_from_memory_until_they_expire(quiet_crisis: str, client: httpx.AsyncClient,
                                                           env: Env) -> None:
    crisis_id = quiet_crisis
    first = await client.get("/public/crises")
    assert [c["title"] for c in first.json()] == ["Floods"]
    assert first.headers["cache-control"] == "public, max-age=1" and first.headers["etag"].startswith('"')
    await env.pool.execute("UPDATE crises SET title = 'Floods (renamed)' WHERE crisis_id = $1", crisis_id)
    assert [c["title"] for c in (await client.get("/public/crises")).json()] == ["Floods"], "from memory"
    unchanged = await client.get("/public/crises", headers={"If-None-Match": first.headers["etag"]})
    assert unchanged.status_code == 304 and unchanged.content == b""
    for path in ("/public/crises.atom", f"/public/crises/{crisis_id}.cap"):
        response = await client.get(path)
        assert response.status_code == 200 and "etag" in response.headers
    assert (await client.get("/public/crises/unknown.cap")).status_code == 404
    await asyncio.sleep(1.1)
    assert [c["title"] for c in (await client.get("/public/crises")).json()] == ["Floods (renamed)"]


async def test_a_crisis_change_drops_the_copies_at_once(client: httpx.AsyncClient, env: Env) -> None:
    assert (await client.get("/public/crises")).json() == []  # kept for 300 s

    async def listed() -> list[str]:
        return [c["title"] for c in (await client.get("/public/crises")).json()]

    await activate(env, "Storm")  # crisis.activated through the outbox, read back by the API's live feed
    assert await eventually(listed, timeout=30) == ["Storm"]
