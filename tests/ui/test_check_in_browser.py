"""The public check-in page of an active crisis in headless Chromium, against the real crisis center API (uvicorn on
a free port), broker and database: the page loads under its Content-Security-Policy with no console error, its
offline map of the area turns a tap near a town into that town's latitude and longitude, "use my position" fills
them from the browser's geolocation, and a check-in sent with the tapped position is confirmed with the one-time
code read from the notifier's command, in the person's language."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from services.crisis_center import handlers
from services.crisis_center.api import create_app as crisis_app
from services.crisis_center.settings import Settings as CrisisSettings
from shared.db import create_pool
from shared.events.envelope import decode
from shared.geo import Area
from tests.support import (
    bootstrap,
    consume,
    database_url,
    drop_schema,
    free_port,
    new_schema,
    new_topic_prefix,
    unique,
)
from tests.ui.a11y import problems
from tests.ui.conftest import VIEWPORT, screenshot_path, serve

expect: Any = None  # playwright.async_api's Expect, with WAIT_MS as its timeout: made with the first page

WAIT_MS = 60_000
PHONE_VIEWPORT = {"width": 360, "height": 740}
HOTLINES = "+3225013000,+3225013001"
KATHMANDU = {"lat": 27.7172, "lon": 85.3240}
NEAR = 0.05  # degrees: a tap on the town's dot gives the town, give or take a pixel or two of the drawing
PHONE, E164 = "0470 12 34 56", "+32470123456"
THANKS_NL = "Dank u. U bent als veilig geteld."
# Where the browser says the person is (Patan, inside the area, away from the town dots).
POSITION = {"latitude": 27.6710, "longitude": 85.3260, "accuracy": 20}
# Collects the page's CSP violations; Playwright's init scripts are not subject to the page's policy.
CSP_LISTENER = """window.__cspViolations = [];
document.addEventListener("securitypolicyviolation",
  (e) => window.__cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`));"""


@dataclass
class System:
    url: str
    prefix: str
    pool: asyncpg.Pool
    crisis_id: str

    def check_in_url(self, lang: str) -> str:
        return f"{self.url}/public/crises/{self.crisis_id}/check-in?lang={lang}"


@pytest.fixture(scope="module")
async def system(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[System]:
    """The crisis center's API on fresh topics and a fresh schema, with an active crisis: a circle of 50 km around
    Kathmandu (activated by hand, as a coordinator would)."""
    prefix = await new_topic_prefix()
    schema = await new_schema("crisis_center")
    tmp = tmp_path_factory.mktemp("ui-check-in")
    port = free_port()
    settings = CrisisSettings(
        kafka_bootstrap_servers=bootstrap(), kafka_topic_prefix=prefix, database_schema=schema,
        faust_app_id=unique("crisis-ui-check-in-"), faust_store="memory://", faust_data_dir=str(Path(tmp) / "faust"),
        crisis_threshold=3, hotline_numbers=HOTLINES, crisis_update_interval_seconds=1.0, crisis_tick_seconds=2.0,
        faust_partitions=3, public_base_url=f"http://127.0.0.1:{port}",
    )  # type: ignore[call-arg]
    pool = await create_pool(database_url(), schema, min_size=1, max_size=4)
    try:
        crisis = await handlers.activate_manually(
            pool=pool, title="Earthquake in Kathmandu", kind="earthquake", severity="severe",
            area=Area.from_dict({"country": "NP", "circle": {**KATHMANDU, "radius_km": 50}}),
            actor="coordinator-ui", pool_numbers=HOTLINES.split(","), general_number="+3225014000", threshold=3,
            now=datetime.now(UTC), publishing=handlers.Publishing(settings.source, prefix))
        async with serve(crisis_app(settings), port) as url:
            yield System(url, prefix, pool, crisis.crisis_id)
    finally:
        await pool.close()
        await drop_schema(schema)


@dataclass
class Watched:
    page: Any
    errors: list[str]

    async def csp_violations(self) -> list[str]:
        return list(await self.page.evaluate("window.__cspViolations || []"))


@pytest.fixture
async def new_page(browser: Any) -> AsyncIterator[Any]:
    """Pages in their own contexts (options as for `browser.new_context`), each watched for console errors (CSP
    violations among them), uncaught exceptions and failed requests; the test fails on any."""
    global expect
    from playwright.async_api import Expect
    expect = Expect()  # its own: the timeout set here is not the other modules'
    expect.set_options(timeout=WAIT_MS)
    contexts: list[Any] = []
    watched: list[Watched] = []

    async def make(**options: Any) -> Watched:
        context = await browser.new_context(**{"viewport": VIEWPORT, "locale": "nl-BE", "service_workers": "block",
                                               **options})
        contexts.append(context)
        context.set_default_timeout(WAIT_MS)
        context.set_default_navigation_timeout(WAIT_MS)
        await context.add_init_script(CSP_LISTENER)
        page = await context.new_page()
        errors: list[str] = []
        page.on("console", lambda m: errors.append(f"console.{m.type}: {m.text}") if m.type == "error" else None)
        page.on("pageerror", lambda exc: errors.append(f"pageerror: {exc}"))
        page.on("requestfailed", lambda r: errors.append(f"failed: {r.method} {r.url} {r.failure}"))
        page.on("response", lambda r: errors.append(f"{r.status} {r.request.method} {r.url}")
                if r.status >= 400 else None)
        watched.append(Watched(page, errors))
        return watched[-1]

    try:
        yield make
    finally:
        for context in contexts:
            await context.close()
    assert [w.errors for w in watched] == [[] for _ in watched], "errors on the page"


async def open_form(watched: Watched, system: System, lang: str) -> None:
    page = watched.page
    response = await page.goto(system.check_in_url(lang))
    assert response is not None and response.status == 200
    policy = response.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "script-src 'self'" in policy
    # The page's one script has run: the button it shows only where the browser has geolocation.
    await expect(page.locator("#use-position")).to_be_visible(timeout=WAIT_MS)
    await expect(page.locator("svg#area-map")).to_be_visible(timeout=WAIT_MS)


def town_label(page: Any, name: str) -> Any:
    return page.locator("svg#area-map text", has_text=re.compile(f"^{re.escape(name)}$"))


async def click_on_town(page: Any, name: str) -> dict[str, float]:
    """Click the centre of the town's dot (the <circle> drawn just before its label); the centre, in page pixels."""
    dot = town_label(page, name).locator("xpath=preceding-sibling::*[1]")
    assert await dot.evaluate("(e) => e.tagName.toLowerCase()") == "circle"
    await dot.scroll_into_view_if_needed()
    box = await dot.bounding_box()
    assert box is not None and 0 < box["width"] < 20, box
    centre = {"x": box["x"] + box["width"] / 2, "y": box["y"] + box["height"] / 2}
    await page.mouse.click(centre["x"], centre["y"])
    return centre


async def position_of(page: Any) -> tuple[float, float]:
    return float(await page.locator("#lat").input_value()), float(await page.locator("#lon").input_value())


async def test_a_tap_near_kathmandu_gives_its_position_and_the_check_in_is_confirmed(
        new_page: Any, system: System) -> None:
    watched = await new_page()
    page = watched.page
    await open_form(watched, system, "nl")
    assert await page.evaluate("document.documentElement.lang") == "nl"
    await expect(page.locator("h1")).to_have_text("Aanmelden: Earthquake in Kathmandu")

    # The map: the area's outline and its towns, Kathmandu among them; the marker hidden until a tap.
    area_map = page.locator("svg#area-map")
    await expect(town_label(page, "Kathmandu")).to_be_visible()
    assert len(await area_map.locator("path").first.get_attribute("d") or "") > 100
    assert await area_map.get_attribute("aria-labelledby") == "map-caption"
    await expect(page.locator("#map-caption")).to_have_text("Tik op de kaart waar u bent (of gebruik de positie "
                                                            "van uw telefoon).")
    marker = page.locator("#map-marker")
    await expect(marker).to_be_hidden()
    await expect(page.locator("#lat")).to_have_value("")
    await expect(page.locator("#lon")).to_have_value("")

    # A tap on Kathmandu's dot: latitude and longitude of Kathmandu, and the marker on the dot.
    centre = await click_on_town(page, "Kathmandu")
    await expect(marker).to_be_visible()
    await expect(page.locator("#lat")).to_have_value(re.compile(r"^\d+\.\d{5}$"))
    lat, lon = await position_of(page)
    assert abs(lat - KATHMANDU["lat"]) < NEAR and abs(lon - KATHMANDU["lon"]) < NEAR, (lat, lon)
    box = await marker.bounding_box()
    assert box is not None
    assert abs(box["x"] + box["width"] / 2 - centre["x"]) < 3 and abs(box["y"] + box["height"] / 2 - centre["y"]) < 3
    await page.screenshot(path=screenshot_path("check-in-map"), full_page=True)

    # Readable, labelled, no sideways scrolling (a form longer than the screen scrolls down, as pages do).
    found = await problems(page)
    assert (found["low_contrast"], found["unlabelled_controls"], found["horizontal_overflow"]) == ([], [], False), \
        found

    # The rest of the form, sent with the tapped position (no place named): the code form comes.
    await page.get_by_label("Uw naam").fill("Anna Peeters")
    await page.get_by_label("Gsm-nummer (de code komt daarheen)").fill(PHONE)
    await expect(page.get_by_role("combobox", name="Taal")).to_have_value("nl")
    await page.get_by_label("Hoeveel mensen zijn bij u?").fill("1")
    await page.get_by_label("Ik ben veilig").check()
    await page.get_by_role("button", name="Versturen").click()
    await expect(page.locator("#code")).to_be_visible(timeout=WAIT_MS)
    await expect(page.get_by_role("status")).to_have_text("We stuurden u een code. Vul ze in om te bevestigen.")
    check_in_id = await page.locator('input[type="hidden"][name="check_in_id"]').get_attribute("value")
    assert check_in_id and re.fullmatch(r"[0-9a-f]{32}", check_in_id), check_in_id
    stored = await system.pool.fetchrow("SELECT phone, lat, lon, place, answer, companions, confirmed_at FROM check_ins"
                                        " WHERE check_in_id = $1", check_in_id)
    assert stored is not None
    assert (stored["phone"], stored["place"], stored["answer"], stored["companions"], stored["confirmed_at"]) == (
        E164, None, "safe", 1, None)
    assert (round(stored["lat"], 5), round(stored["lon"], 5)) == (lat, lon), "the position tapped on the map"

    # The code, as the notifier is asked to send it by SMS.
    def ours(record: Any) -> bool:
        data = decode(record.value).data
        return bool(data.get("template") == "check_in_code" and f":check-in:{check_in_id}:" in data.get("purpose", ""))

    records = await consume(f"{system.prefix}notifications.commands", count=1, timeout=WAIT_MS / 1000,
                            predicate=ours)
    assert len(records) == 1, "no check_in_code command for this check-in"
    command = decode(records[0].value).data
    assert (command["channel"], command["recipient"]["phone"], command["language"]) == ("sms", E164, "nl")
    code = command["params"]["code"]
    assert re.fullmatch(r"\d{6}", code)

    await page.get_by_label("Code", exact=True).fill(code)
    await page.get_by_role("button", name="Bevestigen").click()
    await expect(page.get_by_role("status")).to_have_text(THANKS_NL, timeout=WAIT_MS)
    await expect(page.locator("#code")).to_have_count(0)
    assert await system.pool.fetchval("SELECT confirmed_at FROM check_ins WHERE check_in_id = $1",
                                      check_in_id) is not None
    await page.screenshot(path=screenshot_path("check-in-confirmed"))
    assert await watched.csp_violations() == []


async def test_use_my_position_fills_latitude_and_longitude(new_page: Any, system: System) -> None:
    watched = await new_page(geolocation=POSITION)
    page = watched.page
    await page.context.grant_permissions(["geolocation"], origin=system.url)
    await open_form(watched, system, "nl")
    button = page.get_by_role("button", name="Mijn positie gebruiken")
    await expect(button).to_be_visible()
    await expect(page.locator("#map-marker")).to_be_hidden()
    await button.click()
    await expect(page.locator("#lat")).to_have_value(f"{POSITION['latitude']:.5f}", timeout=WAIT_MS)
    await expect(page.locator("#lon")).to_have_value(f"{POSITION['longitude']:.5f}")
    await expect(page.locator("#map-marker")).to_be_visible()
    # The marker is drawn where the map puts that position: a tap there gives the same position back.
    box = await page.locator("#map-marker").bounding_box()
    assert box is not None
    await page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    lat, lon = await position_of(page)
    assert abs(lat - POSITION["latitude"]) < 0.01 and abs(lon - POSITION["longitude"]) < 0.01, (lat, lon)
    assert await watched.csp_violations() == []


async def test_a_refused_position_says_so_and_a_typed_one_moves_the_marker(new_page: Any, system: System) -> None:
    watched = await new_page()  # no geolocation permission: the browser refuses the position
    page = watched.page
    await open_form(watched, system, "nl")
    await page.get_by_role("button", name="Mijn positie gebruiken").click()
    await expect(page.locator("#position-status")).to_have_text(re.compile("Uw positie is niet beschikbaar"))
    await expect(page.locator("#map-marker")).to_be_hidden()
    await page.locator("#lat").fill("27.7172")
    await page.locator("#lon").fill("85.3240")
    await page.locator("#lon").press("Tab")  # the change event
    await expect(page.locator("#map-marker")).to_be_visible()


@pytest.mark.parametrize("lang", ["fr", "de", "en"])
async def test_the_form_is_readable_and_labelled_in_each_language(new_page: Any, system: System, lang: str) -> None:
    watched = await new_page()
    page = watched.page
    await open_form(watched, system, lang)
    assert await page.evaluate("document.documentElement.lang") == lang
    await expect(town_label(page, "Kathmandu")).to_be_visible()
    found = await problems(page)
    assert (found["low_contrast"], found["unlabelled_controls"], found["horizontal_overflow"]) == ([], [], False), \
        found
    assert await watched.csp_violations() == []


async def test_on_a_phone_the_form_fits_and_a_tap_on_the_map_gives_the_position(new_page: Any,
                                                                                 system: System) -> None:
    watched = await new_page(viewport=PHONE_VIEWPORT, is_mobile=True, has_touch=True, device_scale_factor=2)
    page = watched.page
    await open_form(watched, system, "fr")
    found = await problems(page)
    assert (found["low_contrast"], found["unlabelled_controls"], found["horizontal_overflow"]) == ([], [], False), \
        found
    dot = town_label(page, "Kathmandu").locator("xpath=preceding-sibling::*[1]")
    await dot.scroll_into_view_if_needed()
    box = await dot.bounding_box()
    assert box is not None
    await page.touchscreen.tap(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    await expect(page.locator("#map-marker")).to_be_visible()
    lat, lon = await position_of(page)
    assert abs(lat - KATHMANDU["lat"]) < NEAR and abs(lon - KATHMANDU["lon"]) < NEAR, (lat, lon)
    await page.screenshot(path=screenshot_path("check-in-phone"))
    assert await watched.csp_violations() == []
