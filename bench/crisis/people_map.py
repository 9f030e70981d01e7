"""The dashboard's map at 100,000 people (issue 26): `python -m bench.crisis.people_map [N]`.

One active crisis with N people (default 100,000) in a 50 km circle around Bangkok, written straight into
affected_people; the crisis center's API served by uvicorn on a free port. Measured:
1. GET /v1/crises/{id}/people (every point, the old layer) and GET /v1/crises/{id}/people/map at the world's zoom
   and at the zoom the dashboard fits the circle to: bytes and median time of 5 requests each;
2. in headless Chromium (Debian's chromium through Playwright): from the click on the crisis's card to its people
   drawn as the clusters of the fitted view (median of 5 clicks, the map back to the world between them).

Figures are indicative: everything shares a 2-core machine.
"""

from __future__ import annotations

import asyncio
import math
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx
import uvicorn

from bench.crisis.bench_crisis import _env, drop, schema_for
from bench.loop import run as run_loop
from bench.topics import drop_topics
from services.crisis_center.handlers import crisis_id_for_incident
from shared.auth import JwtConfig, mint_token
from shared.kafka.admin import ensure_topics
from shared.passwords import hash_password
from shared.topics import all_topic_specs

USER, PASSWORD = "bench-coordinator", "bench-map-password"
BANGKOK = (13.7563, 100.5018)


async def seed(schema: str, n: int) -> str:
    rng = random.Random(26)
    lats, lons = [], []
    for _ in range(n):
        distance, bearing = 50 * rng.random() ** 0.7 / 111.32, rng.random() * 2 * math.pi
        lats.append(round(BANGKOK[0] + distance * math.cos(bearing), 2))
        lons.append(round(BANGKOK[1] + distance * math.sin(bearing) / math.cos(math.radians(BANGKOK[0])), 2))
    conn = await asyncpg.connect(os.environ["DATABASE_URL"], server_settings={"search_path": schema})
    try:
        crisis_id = crisis_id_for_incident("bench-bangkok")
        area = '{"country": "TH", "circle": {"lat": 13.7563, "lon": 100.5018, "radius_km": 50}}'
        await conn.execute(
            "INSERT INTO crises(crisis_id, incident_id, title, kind, severity, status, affected_count,"
            " count_registrations, count_reports, threshold, hotline_number, hotline_from_pool, area, activated_at,"
            " activated_by, source) VALUES ($1,'bench-bangkok','Flood in Bangkok','flood','severe','active',$2,$2,0,"
            " 5,'+3225011000',true,$3::jsonb,$4,'system','external')", crisis_id, n, area, datetime.now(UTC))
        await conn.execute(
            "INSERT INTO affected_people(incident_id, contribution_id, person, source, lat, lon)"
            " SELECT 'bench-bangkok', 'registration:' || i, 'p' || i, 'registration', lat, lon"
            " FROM unnest($1::float8[], $2::float8[]) WITH ORDINALITY AS r(lat, lon, i)", lats, lons)
        await conn.execute("ANALYZE affected_people")
    finally:
        await conn.close()
    return crisis_id


async def timed(client: httpx.AsyncClient, path: str, params: dict[str, Any], headers: dict[str, str]) -> str:
    times, size = [], 0
    for _ in range(5):
        started = time.perf_counter()
        response = await client.get(path, params=params, headers=headers)
        times.append(time.perf_counter() - started)
        response.raise_for_status()
        size = len(response.content)
    return f"{size:,} bytes, median {statistics.median(times) * 1000:.0f} ms"


async def click_to_drawn(url: str, crisis_id: str) -> list[float]:
    from playwright.async_api import async_playwright

    chromium = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium, headless=True,
                                                   args=["--headless", "--no-sandbox", "--disable-gpu"])
        page = await browser.new_page(viewport={"width": 1280, "height": 720})
        await page.route("**/dashboard/api/notifications?*", lambda route: route.fulfill(
            status=200, json={"total": 0, "counts": {}}))
        await page.goto(f"{url}/dashboard")
        await page.get_by_label("User name").fill(USER)
        await page.get_by_label("Password").fill(PASSWORD)
        await page.locator("#signin-form button[type=submit]").click()
        card = page.locator(f'.crisis-card[data-crisis-id="{crisis_id}"]')
        people = f'#map .people-of[data-crisis-id="{crisis_id}"]'
        await page.wait_for_selector(f'{people}[data-kind="clusters"]', timeout=60_000)
        times = []
        for _ in range(5):
            world = await page.locator("#map").get_attribute("data-zoom")
            await page.wait_for_selector(f'{people}[data-zoom="{world}"]', timeout=60_000)
            started = await page.evaluate("performance.now()")
            await card.click()
            # Drawn: the people layer of the fitted view (its zoom is the map's, no longer the world's).
            drawn = await page.wait_for_function(
                """([selector, world]) => { const zoom = document.querySelector('#map').dataset.zoom;
                  const g = document.querySelector(selector);
                  return zoom !== world && g && g.dataset.zoom === zoom && g.dataset.kind === 'clusters'
                    && performance.now(); }""", arg=[people, world], timeout=60_000, polling="raf")
            times.append((await drawn.json_value()) - started)
            await card.click()  # unselect
            await page.get_by_role("button", name="Whole world").click()
        await browser.close()
        return times


async def main(n: int) -> None:
    _env()
    os.environ["DASHBOARD_USERS"] = f"{USER}:{hash_password(PASSWORD, iterations=10_000)}"
    prefix = f"b{uuid.uuid4().hex[:10]}."
    await ensure_topics(os.environ["KAFKA_BOOTSTRAP_SERVERS"], [
        s for s in all_topic_specs() if not s.name.startswith("crisis.by-country")], prefix=prefix)
    schema = await schema_for(prefix)
    try:
        started = time.perf_counter()
        crisis_id = await seed(schema, n)
        print(f"{n} people written in {time.perf_counter() - started:.1f} s (one unnest INSERT)")
        from services.crisis_center.api import create_app
        from services.crisis_center.settings import Settings

        with socket_port() as port:
            settings = Settings(kafka_topic_prefix=prefix, database_schema=schema, http_port=port,
                                faust_data_dir=tempfile.mkdtemp(), public_base_url=f"http://127.0.0.1:{port}")
        server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port,
                                               log_level="warning", lifespan="on"))
        task = asyncio.create_task(server.serve())
        while not server.started:  # noqa: ASYNC110 (uvicorn offers no event to wait on)
            await asyncio.sleep(0.05)
        url = f"http://127.0.0.1:{port}"
        token = mint_token(JwtConfig(os.environ["JWT_SECRET"], "be.diplomatie.consular", "consular-platform"),
                           subject="bench", roles=["coordinator"], ttl_seconds=3600)
        headers = {"Authorization": f"Bearer {token}"}
        try:
            async with httpx.AsyncClient(base_url=url, timeout=60) as client:
                path = f"/v1/crises/{crisis_id}"
                print(f"GET {path}/people (every point): {await timed(client, f'{path}/people', {}, headers)}")
                for zoom, box in ((2, {}), (9, {"west": 99.9, "south": 13.3, "east": 101.1, "north": 14.2})):
                    print(f"GET {path}/people/map zoom={zoom}{' + box' if box else ''}: "
                          f"{await timed(client, f'{path}/people/map', {'zoom': zoom, **box}, headers)}")
            times = await click_to_drawn(url, crisis_id)
            print("click on the crisis to its clusters drawn (ms): "
                  + ", ".join(f"{t:.0f}" for t in times) + f"; median {statistics.median(times):.0f}")
        finally:
            server.should_exit = True
            await task
    finally:
        await drop(schema)
        await drop_topics(prefix, "none-")


class socket_port:
    """A free TCP port on 127.0.0.1."""

    def __enter__(self) -> int:
        import socket
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            return int(s.getsockname()[1])

    def __exit__(self, *_: object) -> None:
        return None


if __name__ == "__main__":
    run_loop(main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000))
