"""GET /v1/crises/{id}/people: the worker keeps the affected people's rounded positions in PostgreSQL, the API
serves them (real broker, real database)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from services.crisis_center import welfare
from services.crisis_center.api import create_app
from services.crisis_center.handlers import crisis_id_for_incident
from shared.events.reports import ReportSubmitted
from shared.events.travellers import TravellerCancelled
from shared.events.welfare import WelfareAnswered
from tests.crisis_center.conftest import NOW, THRESHOLD, Env, db_crisis, quake, registration, running
from tests.support import auth, eventually

COORDINATOR = auth("coordinator")


def position(n: int) -> tuple[float, float]:
    """Distinct positions inside the Istanbul circle, with more decimals than the map keeps."""
    return 41.01234 + n * 0.0217, 28.97861 + n * 0.0131


def rounded(n: int) -> dict[str, Any]:
    lat, lon = position(n)
    return {"lat": round(lat, 2), "lon": round(lon, 2), "source": "registration"}


def report(reference: str, *, phone: str, lat: float, lon: float) -> ReportSubmitted:
    return ReportSubmitted(
        reference=reference, kind="serious_difficulty",
        reporter={"full_name": "Someone", "phone": phone, "language": "en", "channel": "phone"},
        location={"country": "TR", "lat": lat, "lon": lon}, description="trapped", received_at=NOW,
        channel="phone")


@pytest.fixture
async def client(env: Env) -> AsyncIterator[httpx.AsyncClient]:
    application: FastAPI = create_app(env.settings)
    async with application.router.lifespan_context(application), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=application), base_url="http://test") as c:
        yield c


def as_set(points: list[dict[str, Any]]) -> set[tuple[float, float, str]]:
    return {(p["lat"], p["lon"], p["source"]) for p in points}


async def test_people_needs_a_coordinator_and_a_known_crisis(client: httpx.AsyncClient) -> None:
    path = f"/v1/crises/{crisis_id_for_incident('inc-1')}/people"
    assert (await client.get(path)).status_code == 401
    assert (await client.get(path, headers={"Authorization": "Bearer nonsense"})).status_code == 401
    assert (await client.get(path, headers=auth("duty_officer"))).status_code == 403
    assert (await client.get(path, headers=COORDINATOR)).status_code == 404


async def test_the_map_follows_the_affected_people(env: Env, client: httpx.AsyncClient) -> None:
    async with running(env):
        await env.send(quake())
        for n in range(THRESHOLD):
            lat, lon = position(n)
            await env.send(registration(n, lat=lat, lon=lon))
        crisis = await eventually(lambda: db_crisis(env))
        path = f"/v1/crises/{crisis['crisis_id']}/people"

        async def points() -> list[dict[str, Any]]:
            response = await client.get(path, headers=COORDINATOR)
            assert response.status_code == 200, response.text
            return response.json()

        async def shows(expected: set[tuple[float, float, str]]) -> list[dict[str, Any]] | None:
            current = await points()
            return current if as_set(current) == expected and len(current) == len(expected) else None

        everyone = {(p["lat"], p["lon"], p["source"]) for p in map(rounded, range(THRESHOLD))}
        shown = await eventually(lambda: shows(everyone))
        assert all(set(p) == {"lat", "lon", "source", "welfare"} for p in shown)  # no ids, names or phones
        assert {p["welfare"] for p in shown} == {None}, "nobody asked yet"

        # A welfare round: t0 answers safe, t1 needs help, the others are still being asked.
        await eventually(lambda: env.pool.fetchval("SELECT count(*) = $1 FROM crisis_contacts", THRESHOLD))
        await welfare.start_round(pool=env.pool, crisis_id=crisis["crisis_id"], actor="tester",
                                  escalate_after_minutes=30, now=NOW)
        async with env.pool.acquire() as conn:
            await conn.execute("UPDATE welfare_questions SET step = 'asked', asked_at = $1", NOW)
            for person, answer in (("t0", "safe"), ("t1", "needs_help")):
                await welfare.record_answer(conn, WelfareAnswered(
                    crisis_id=crisis["crisis_id"], person_id=person, answer=answer,  # type: ignore[arg-type]
                    channel="sms", at=NOW + timedelta(minutes=1)))
        by_place = {(p["lat"], p["lon"]): p["welfare"] for p in await points()}
        assert by_place[(rounded(0)["lat"], rounded(0)["lon"])] == "safe"
        assert by_place[(rounded(1)["lat"], rounded(1)["lon"])] == "needs_help"
        assert by_place[(rounded(2)["lat"], rounded(2)["lon"])] == "no_answer"

        # t1 again through a report elsewhere: still one person, shown where the registration puts them.
        await env.send(report("BE-2026-000001", phone="+32470000001", lat=41.05, lon=29.05))
        # Someone only known through a report.
        await env.send(report("BE-2026-000002", phone="+32499123456", lat=40.98765, lon=28.87654))
        with_report = everyone | {(40.99, 28.88, "report")}
        await eventually(lambda: shows(with_report), timeout=60)

        # Leaving the area, cancelling: off the map.
        await env.send(registration(0, lat=50.0, lon=4.0))
        await env.send(TravellerCancelled(traveller_id="t2"))
        gone = with_report - {tuple(rounded(0).values()), tuple(rounded(2).values())}
        await eventually(lambda: shows(gone), timeout=60)

        # Closing the crisis: no whereabouts kept.
        assert (await client.post(f"/v1/crises/{crisis['crisis_id']}/close", headers=COORDINATOR)).status_code == 200
        assert await points() == []
        assert await env.pool.fetchval("SELECT count(*) FROM affected_people") == 0
