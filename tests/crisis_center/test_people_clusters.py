"""GET /v1/crises/{id}/people/map (issue 26): the map's people layer for one view, aggregated by PostgreSQL into
grid clusters beyond a few thousand people; 100,000 people in one crisis on the real database."""

from __future__ import annotations

import math
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from services.crisis_center.api import create_app
from services.crisis_center.handlers import MAP_POINTS_MAX, crisis_id_for_incident
from tests.crisis_center.conftest import drop_topics, make_settings
from tests.support import auth, drop_schema, new_pool, new_schema, new_topic_prefix

COORDINATOR = auth("coordinator")
BANGKOK = (13.7563, 100.5018)
RADIUS_KM = 50
PEOPLE = 100_000
REPORT_EVERY = 10  # every tenth person is known through a report only


@dataclass(frozen=True)
class Crowd:
    crisis_id: str
    people: int
    reports: int
    positions: list[tuple[float, float]]


def positions_around(centre: tuple[float, float], radius_km: float, n: int,
                     seed: int = 26) -> list[tuple[float, float]]:
    """n positions inside the circle, rounded to 2 decimals as the worker stores them (dense in the centre)."""
    rng = random.Random(seed)
    lat0, lon0 = centre
    out = []
    for _ in range(n):
        distance = radius_km * rng.random() ** 0.7 / 111.32
        bearing = rng.random() * 2 * math.pi
        out.append((round(lat0 + distance * math.cos(bearing), 2),
                    round(lon0 + distance * math.sin(bearing) / math.cos(math.radians(lat0)), 2)))
    return out


async def seed_crowd(conn: asyncpg.Connection, incident_id: str, people: int, *,
                     centre: tuple[float, float] = BANGKOK, title: str = "Flood in Bangkok",
                     hotline: str = "+3225011000") -> Crowd:
    """An active crisis with a circle area and `people` rows in affected_people, written in one statement
    (unnest), as the worker would have them; a crowd is one person per row."""
    crisis_id = crisis_id_for_incident(incident_id)
    area = {"country": "TH", "circle": {"lat": centre[0], "lon": centre[1], "radius_km": RADIUS_KM}}
    reports = people // REPORT_EVERY
    await conn.execute(
        "INSERT INTO crises(crisis_id, incident_id, title, kind, severity, status, affected_count,"
        " count_registrations, count_reports, threshold, hotline_number, hotline_from_pool, area, activated_at,"
        " activated_by, source) VALUES ($1,$2,$3,'flood','severe','active',$4,$5,$6,5,$7,true,$8,$9,"
        " 'system','external')",
        crisis_id, incident_id, title, people, people - reports, reports, hotline, area,
        datetime.now(UTC))
    positions = positions_around(centre, RADIUS_KM, people)
    sources = ["report" if n % REPORT_EVERY == 0 else "registration" for n in range(people)]
    await conn.execute(
        "INSERT INTO affected_people(incident_id, contribution_id, person, source, lat, lon)"
        " SELECT $1, s || ':' || n, 'p' || n, s, lat, lon"
        " FROM unnest($2::text[], $3::float8[], $4::float8[]) WITH ORDINALITY AS r(s, lat, lon, n)",
        incident_id, sources, [p[0] for p in positions], [p[1] for p in positions])
    return Crowd(crisis_id, people, reports, positions)


@pytest.fixture(scope="module")
async def database() -> AsyncIterator[tuple[str, str, Crowd, Crowd]]:
    """One schema (and topic prefix) for the module: a crisis of 100,000 people near Bangkok and one of 300 near
    Valencia."""
    prefix = await new_topic_prefix()
    schema = await new_schema("crisis_center")
    pool = await new_pool(schema)
    try:
        async with pool.acquire() as conn:
            big = await seed_crowd(conn, "inc-bangkok", PEOPLE)
            small = await seed_crowd(conn, "inc-valencia", 300, centre=(39.4699, -0.3763), title="Storm in Valencia",
                                     hotline="+3225011001")
        yield prefix, schema, big, small
    finally:
        await pool.close()
        await drop_schema(schema)
        await drop_topics(prefix)


@pytest.fixture
async def client(database: tuple[str, str, Crowd, Crowd], tmp_path: Any) -> AsyncIterator[httpx.AsyncClient]:
    application: FastAPI = create_app(make_settings(database[0], database[1], tmp_path))
    async with application.router.lifespan_context(application), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=application), base_url="http://test") as c:
        yield c


async def layer(client: httpx.AsyncClient, crisis_id: str, **params: Any) -> dict[str, Any]:
    response = await client.get(f"/v1/crises/{crisis_id}/people/map", params=params, headers=COORDINATOR)
    assert response.status_code == 200, response.text
    return response.json()


def inside(box: tuple[float, float, float, float], lat: float, lon: float) -> bool:
    west, south, east, north = box
    return south <= lat <= north and west <= lon <= east


async def test_a_crowd_is_clusters_that_add_up_to_everyone(client: httpx.AsyncClient,
                                                           database: tuple[str, str, Crowd, Crowd]) -> None:
    big = database[2]
    body = await layer(client, big.crisis_id, zoom=8)
    assert body["kind"] == "clusters" and body["points"] == []
    assert body["total"] == PEOPLE == sum(c["count"] for c in body["clusters"])
    assert sum(c["reports"] for c in body["clusters"]) == big.reports
    assert all(c["registrations"] + c["reports"] == c["count"] for c in body["clusters"])
    assert body["cell_degrees"] == 45 / 2 ** 8
    # Each cluster is one grid cell: its people's mean position lies in it, and no two clusters share a cell.
    cells = {(math.floor(c["lat"] / body["cell_degrees"]), math.floor(c["lon"] / body["cell_degrees"]))
             for c in body["clusters"]}
    assert len(cells) == len(body["clusters"])
    # 100 km across in cells of ~0.18 degrees: a few dozen clusters, not 100,000 points.
    assert 20 <= len(body["clusters"]) <= 200
    assert all(c["welfare"] is None for c in body["clusters"])  # nobody was asked


async def test_a_closer_zoom_gives_smaller_cells(client: httpx.AsyncClient,
                                                 database: tuple[str, str, Crowd, Crowd]) -> None:
    big = database[2]
    coarse, fine = await layer(client, big.crisis_id, zoom=6), await layer(client, big.crisis_id, zoom=11)
    assert coarse["kind"] == fine["kind"] == "clusters"
    assert len(coarse["clusters"]) < len(fine["clusters"])
    assert sum(c["count"] for c in fine["clusters"]) == PEOPLE


async def test_the_box_keeps_only_the_people_in_view(client: httpx.AsyncClient,
                                                     database: tuple[str, str, Crowd, Crowd]) -> None:
    big = database[2]
    lat, lon = BANGKOK
    quarter = (lon, lat, lon + 1, lat + 1)  # the north-east quarter of the circle
    expected = sum(1 for p in big.positions if inside(quarter, *p))
    assert MAP_POINTS_MAX < expected < PEOPLE
    west, south, east, north = quarter
    body = await layer(client, big.crisis_id, zoom=10, west=west, south=south, east=east, north=north)
    assert body["kind"] == "clusters" and body["total"] == expected
    assert all(inside(quarter, c["lat"], c["lon"]) for c in body["clusters"])
    # A small box at a street's zoom holds few enough people to be points again.
    corner = (lon + 0.3, lat + 0.3, lon + 0.33, lat + 0.33)
    few = sum(1 for p in big.positions if inside(corner, *p))
    assert 0 < few <= MAP_POINTS_MAX
    west, south, east, north = corner
    body = await layer(client, big.crisis_id, zoom=14, west=west, south=south, east=east, north=north)
    assert body["kind"] == "points" and body["clusters"] == []
    assert body["total"] == len(body["points"]) == few
    assert all(inside(corner, p["lat"], p["lon"]) for p in body["points"])
    # Nobody across the antimeridian from here.
    body = await layer(client, big.crisis_id, zoom=3, west=170, south=-10, east=-170, north=10)
    assert body == {**body, "kind": "points", "total": 0, "points": []}


async def test_a_small_crisis_is_points_as_before(client: httpx.AsyncClient,
                                                  database: tuple[str, str, Crowd, Crowd]) -> None:
    small = database[3]
    body = await layer(client, small.crisis_id, zoom=8)
    assert body["kind"] == "points" and body["total"] == 300 and body["clusters"] == []
    old = await client.get(f"/v1/crises/{small.crisis_id}/people", headers=COORDINATOR)
    key = lambda p: (p["lat"], p["lon"], p["source"])  # noqa: E731
    assert sorted(map(key, body["points"])) == sorted(map(key, old.json()))
    # The threshold is the caller's: the same 300 as clusters.
    body = await layer(client, small.crisis_id, zoom=8, max_points=100)
    assert body["kind"] == "clusters" and sum(c["count"] for c in body["clusters"]) == 300


async def test_the_layer_needs_a_coordinator_and_a_known_crisis(
        client: httpx.AsyncClient, database: tuple[str, str, Crowd, Crowd]) -> None:
    small = database[3]
    path = f"/v1/crises/{small.crisis_id}/people/map"
    assert (await client.get(path)).status_code == 401
    assert (await client.get(path, headers=auth("duty_officer"))).status_code == 403
    assert (await client.get("/v1/crises/nope/people/map", headers=COORDINATOR)).status_code == 404
    zoom = await client.get(path, params={"zoom": 21}, headers=COORDINATOR)
    assert zoom.status_code == 422 and zoom.json()["detail"][0]["field"] == "zoom"


async def test_a_missing_edge_is_the_worlds_and_an_upside_down_box_holds_nobody(
        client: httpx.AsyncClient, database: tuple[str, str, Crowd, Crowd]) -> None:
    small = database[3]  # near Valencia, on both sides of the meridian of Greenwich
    west_of_greenwich = sum(1 for _, lon in small.positions if lon <= 0)
    assert 0 < west_of_greenwich < 300
    assert (await layer(client, small.crisis_id, east=0))["total"] == west_of_greenwich
    assert (await layer(client, small.crisis_id, west=0))["total"] == sum(1 for _, lon in small.positions if lon >= 0)
    assert (await layer(client, small.crisis_id, south=-90))["total"] == 300
    assert (await layer(client, small.crisis_id, west=-1, south=40, east=0, north=39))["total"] == 0
