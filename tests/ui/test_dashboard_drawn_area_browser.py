"""The compose dialog's drawn area (issue 23) in headless Chromium against the real crisis_center API, broker and
database: a coordinator chooses "People in an area I draw", draws a triangle on the crisis map around two of four
people at known positions (a drag pans and adds no corner, a click outside the crisis area adds none, Finish needs
three corners, Clear starts again), the plan counts the two, and the broadcast stored has the audience 'area' with
the polygon drawn. The same with the keyboard alone (WCAG 2.1.1): in draw mode the map takes the focus, the arrows
pan, + and - zoom, Enter or Space adds the centre (the cross) as a corner, Backspace or Delete removes the last one,
Escape cancels, and the draw bar's "Add a corner at the map's centre" does what Enter does."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest

from services.crisis_center.domain.broadcasts import inside
from tests.ui.a11y import problems
from tests.ui.conftest import screenshot_path, watched_page
from tests.ui.support import Clock, coordinator_on_crisis, expect, with_manual_crisis

WAIT_MS = 30_000
INCIDENT = "inc-drawn-area"
# (lat, lon) of the four contacts: p1 and p2 in the south-west of the 50 km circle around Kathmandu, p3 and p4 well
# north of them.
POSITIONS = {"p1": (27.60, 85.20), "p2": (27.62, 85.28), "p3": (27.85, 85.45), "p4": (27.80, 85.15)}
EN_TEXT = "Belgian Foreign Affairs - buses leave from the embassy at 10:00."


@dataclass
class System:
    url: str
    pool: asyncpg.Pool
    crisis_id: str


@pytest.fixture(scope="module")
async def system(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[System]:
    """The crisis_center API with the dashboard; one active crisis (a 50 km circle) with four contacts whose
    positions are known (rows of `affected_people` under the crisis's incident)."""
    clock = Clock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    async with with_manual_crisis("drawn", tmp_path_factory.mktemp("ui-drawn-area"), "Earthquake in Kathmandu",
                                  clock) as (center, crisis_id):
        async with center.pool.acquire() as conn:
            await conn.execute("UPDATE crises SET incident_id = $2 WHERE crisis_id = $1", crisis_id, INCIDENT)
            await conn.executemany(
                "INSERT INTO affected_people(incident_id, contribution_id, person, source, lat, lon)"
                " VALUES ($1, $2, $2, 'registration', $3, $4)",
                [(INCIDENT, f"registration:{p}", lat, lon) for p, (lat, lon) in POSITIONS.items()])
        yield System(center.url, center.pool, crisis_id)


@pytest.fixture(scope="module")
async def page(browser: Any, system: System) -> AsyncIterator[Any]:
    """Anne signed in, the crisis selected (the map fitted to its area, its four people drawn as dots)."""
    async with watched_page(browser) as anne:
        await coordinator_on_crisis(anne, system.url, "anne", system.crisis_id, timeout=WAIT_MS)
        yield anne


async def dots(page: Any, crisis_id: str) -> list[tuple[float, float]]:
    """The centres of the people's dots on the screen, from south to north (one dot each: they are far apart)."""
    group = page.locator(f'#map g.people-of[data-crisis-id="{crisis_id}"] circle.person')
    await expect(group).to_have_count(4, timeout=WAIT_MS)
    centres = []
    for i in range(4):
        box = await group.nth(i).bounding_box()
        assert box is not None
        centres.append((box["x"] + box["width"] / 2, box["y"] + box["height"] / 2))
    return sorted(centres, key=lambda c: -c[1])


async def plan_of_the_drawn_area(page: Any, show: Callable[[], Awaitable[None]], *, corners: int) -> list[list[float]]:
    """`show` asks for the plan of the drawn area; it must reach p1 (fr: SMS and e-mail) and p2 (nl: SMS), the two
    people inside the polygon sent, which has `corners` corners. The polygon."""
    async with page.expect_request(re.compile(r"/broadcasts/plan$")) as planned:
        await show()
    plan = page.locator("#bc-plan")
    await expect(plan).to_contain_text("Reaches 2 people.", timeout=WAIT_MS)
    await expect(plan.locator('tr[data-channel="sms"] td')).to_have_text(["1", "1", "0", "0", "2"])
    await expect(plan.locator('tr[data-channel="email"] td')).to_have_text(["1", "0", "0", "0", "1"])
    sent_plan = json.loads((await planned.value).post_data)
    polygon: list[list[float]] = sent_plan["polygon"]
    assert sent_plan["audience"] == "area" and len(polygon) == corners
    for person, (lat, lon) in POSITIONS.items():
        assert inside([(lon_, lat_) for lon_, lat_ in polygon], lat, lon) == (person in ("p1", "p2")), person
    return polygon


async def test_the_coordinator_draws_an_area_and_sends_to_the_people_in_it(page: Any, system: System) -> None:
    dialog = page.locator("#bc-dialog")
    await page.get_by_role("button", name="Write a follow-up…").click()
    await expect(dialog).to_be_visible()
    await page.get_by_label("English text", exact=True).fill(EN_TEXT)
    for language in ("fr", "nl", "de"):
        await dialog.locator(f'fieldset[data-lang="{language}"]').get_by_label("Send the English text").check()
    assert await page.locator("#bc-audience option").evaluate_all("os => os.map((o) => o.value)") == [
        "everyone", "not_answered", "needs_help", "area"]
    await page.get_by_label("Who gets it").select_option(label="People in an area I draw")
    await expect(page.locator("#bc-area-status")).to_have_text("No area drawn yet.")
    await dialog.get_by_role("button", name="Show the plan").click()  # no area yet: nothing asked of the API
    await expect(page.locator("#bc-form-error")).to_have_text("Draw the area on the map first (at least 3 corners).")
    await expect(dialog.get_by_role("button", name="Submit for approval")).to_be_disabled()

    # Draw mode: the dialog steps aside, the map takes clicks.
    await dialog.get_by_role("button", name="Draw the area on the map…").click()
    await expect(dialog).to_be_hidden()
    bar = page.locator("#bc-draw-bar")
    await expect(bar).to_be_visible()
    await expect(page.locator("#map")).to_have_attribute("data-drawing", "true")
    count = page.locator("#bc-draw-count")
    finish = bar.get_by_role("button", name="Finish")
    await expect(count).to_have_text("0 corner(s); at least 3 to finish.")
    await expect(finish).to_be_disabled()

    # A drag pans the map and adds no corner.
    (x, y) = (await dots(page, system.crisis_id))[0]
    await page.mouse.move(x + 30, y - 60)
    await page.mouse.down()
    await page.mouse.move(x + 60, y - 40, steps=5)
    await page.mouse.up()
    await expect(count).to_have_text("0 corner(s); at least 3 to finish.")
    await expect(page.locator("#map g.drawn-area")).to_have_attribute("data-corners", "0")
    # A click outside the crisis area (the map's corner, outside the fitted circle) adds none either.
    box = await page.locator("#map").bounding_box()
    await page.mouse.click(box["x"] + 6, box["y"] + 6)
    await expect(page.locator("#bc-draw-outside")).to_be_visible()
    await expect(count).to_have_text("0 corner(s); at least 3 to finish.")

    # Two corners, then Clear: none again.
    (x1, y1), (x2, y2), *_ = await dots(page, system.crisis_id)  # p1 and p2, the southernmost after the pan
    await page.mouse.click(x1 - 30, y1 + 30)
    await page.mouse.click(x2 + 30, y2 + 30)
    await expect(count).to_have_text("2 corner(s); at least 3 to finish.")
    await expect(page.locator("#bc-draw-outside")).to_be_hidden()
    await expect(finish).to_be_disabled()
    await bar.get_by_role("button", name="Clear").click()
    await expect(count).to_have_text("0 corner(s); at least 3 to finish.")
    await expect(page.locator("#map g.drawn-area circle.drawn-corner")).to_have_count(0)

    # A triangle around p1 and p2, below p3 and p4.
    left, right = min(x1, x2) - 30, max(x1, x2) + 30
    bottom, top = max(y1, y2) + 25, min(y1, y2) - 40
    for cx, cy in ((left, bottom), (right, bottom), ((left + right) / 2, top)):
        await page.mouse.click(cx, cy)
    await expect(count).to_have_text("3 corner(s); at least 3 to finish.")
    await expect(page.locator("#map g.drawn-area polygon")).to_have_count(1)
    await expect(page.locator("#map g.drawn-area circle.drawn-corner")).to_have_count(3)
    await page.screenshot(path=screenshot_path("dashboard-broadcast-draw-area"))
    await finish.click()
    await expect(bar).to_be_hidden()
    await expect(dialog).to_be_visible()
    await expect(page.locator("#map")).not_to_have_attribute("data-drawing", "true")
    await expect(page.locator("#map g.drawn-area")).to_have_attribute("data-corners", "3")  # still shown
    await expect(page.locator("#bc-area-status")).to_have_text("Area drawn: 3 corners.")
    await expect(page.get_by_label("English text", exact=True)).to_have_value(EN_TEXT)  # kept while drawing

    # The plan counts the two people inside: p1 (fr: SMS and email), p2 (nl: SMS).
    polygon = await plan_of_the_drawn_area(page, dialog.get_by_role("button", name="Show the plan").click, corners=3)
    assert (await problems(page))["unlabelled_controls"] == []

    async with page.expect_request(re.compile(rf"/v1/crises/{system.crisis_id}/broadcasts$")) as submitted:
        await dialog.get_by_role("button", name="Submit for approval").click()
    await expect(dialog).to_be_hidden()
    await expect(page.locator("#bc-result")).to_contain_text("Submitted", timeout=WAIT_MS)
    assert json.loads((await submitted.value).post_data)["polygon"] == polygon
    await expect(page.locator("#map g.drawn-area")).to_have_count(0)  # the composer is done: the area goes
    row = await system.pool.fetchrow("SELECT author, status, audience, polygon FROM broadcasts")
    assert row is not None
    stored = row["polygon"] if not isinstance(row["polygon"], str) else json.loads(row["polygon"])
    assert (row["author"], row["status"], row["audience"]) == ("anne", "pending", "area")
    assert [[float(lon), float(lat)] for lon, lat in stored] == polygon
    await expect(page.locator("#bc-list li[data-broadcast-id] .bc-audience")).to_have_text(
        "Who gets it: People in a drawn area", timeout=WAIT_MS)


# A synthetic keydown on the map: whether its default was prevented (the map handled the key).
PREVENTED = """([key, ctrl]) => !document.getElementById("map").dispatchEvent(
  new KeyboardEvent("keydown", { key, ctrlKey: ctrl, bubbles: true, cancelable: true }))"""


async def press(page: Any, *keys: str) -> None:
    for key in keys:
        await page.keyboard.press(key)


async def test_the_coordinator_draws_the_area_with_the_keyboard_alone(page: Any, system: System) -> None:
    dialog = page.locator("#bc-dialog")
    world = page.locator("#map")
    card = page.locator(f'.crisis-card[data-crisis-id="{system.crisis_id}"]')
    for _ in range(2):  # unselected, then selected again: the map fitted to the 50 km circle, centred on it
        await card.focus()
        await page.keyboard.press("Enter")
    await expect(page.locator("#broadcasts")).to_be_visible()
    await expect(page.locator(f'#map g.people-of[data-crisis-id="{system.crisis_id}"] circle.person')).to_have_count(4)
    assert await world.get_attribute("tabindex") is None  # not in the tab order outside draw mode
    assert await page.evaluate(PREVENTED, ["Enter", False]) is False  # and its keys do nothing then

    await page.get_by_role("button", name="Write a follow-up…").focus()
    await page.keyboard.press("Enter")
    await expect(dialog).to_be_visible()
    await page.get_by_label("English text", exact=True).fill(EN_TEXT)
    for language in ("fr", "nl", "de"):
        await dialog.locator(f'fieldset[data-lang="{language}"]').get_by_label("Send the English text").focus()
        await page.keyboard.press("Space")
    await page.get_by_label("Who gets it").select_option(label="People in an area I draw")
    draw = dialog.get_by_role("button", name="Draw the area on the map…")
    bar = page.locator("#bc-draw-bar")
    count = page.locator("#bc-draw-count")
    corners = page.locator("#map g.drawn-area circle.drawn-corner")
    cross = page.locator("#map g.draw-crosshair")
    outside = page.locator("#bc-draw-outside")

    # Draw mode by the keyboard: the map has the focus, a name, the keys as its description, the cross at its centre.
    await draw.focus()
    await page.keyboard.press("Enter")
    await expect(dialog).to_be_hidden()
    application = page.get_by_role("application", name="Map: drawing the area")
    await expect(application).to_be_focused()
    await expect(world).to_have_attribute("tabindex", "0")
    await expect(world).to_have_accessible_description(re.compile(
        r"With the keyboard, on the map: the arrow keys move it, \+ and - zoom, Enter or Space adds .*"
        r"Backspace removes the last one, Escape cancels\..*Add a corner at the map's centre"))
    await expect(cross).to_have_count(1)
    box, mark = await world.bounding_box(), await cross.bounding_box()
    assert abs(mark["x"] + mark["width"] / 2 - (box["x"] + box["width"] / 2)) < 2
    assert abs(mark["y"] + mark["height"] / 2 - (box["y"] + box["height"] / 2)) < 2
    # Only the keys of draw mode are taken from the page; the others (Tab, a letter, Ctrl with +) are left alone.
    for key, ctrl, taken in (("ArrowLeft", False, True), ("+", False, True), ("Enter", False, True),
                             ("Tab", False, False), ("a", False, False), ("+", True, False)):
        assert await page.evaluate(PREVENTED, [key, ctrl]) is taken, key
    await expect(count).to_have_text("1 corner(s); at least 3 to finish.")  # the synthetic Enter at the centre
    await page.keyboard.press("Escape")  # cancels like the Cancel button: the dialog comes back without an area
    await expect(bar).to_be_hidden()
    await expect(dialog).to_be_visible()
    await expect(draw).to_be_focused()
    await expect(world).not_to_have_attribute("data-drawing", "true")
    assert await world.get_attribute("tabindex") is None and await world.get_attribute("role") == "img"
    await expect(page.locator("#bc-area-status")).to_have_text("No area drawn yet.")

    # Again, after the view put back where it was (the synthetic ArrowLeft moved it, + zoomed in).
    await page.keyboard.press("Enter")
    await expect(application).to_be_focused()
    await expect(count).to_have_text("0 corner(s); at least 3 to finish.")
    await press(page, "-", "ArrowRight")
    zoom = int(await world.get_attribute("data-zoom"))
    await page.keyboard.press("+")
    await expect(world).to_have_attribute("data-zoom", str(zoom + 1))
    await page.keyboard.press("-")
    await expect(world).to_have_attribute("data-zoom", str(zoom))
    await page.keyboard.press("=")
    await expect(world).to_have_attribute("data-zoom", str(zoom + 1))
    await page.keyboard.press("Minus")
    await expect(world).to_have_attribute("data-zoom", str(zoom))
    # Tab leaves the map (its cross goes), Shift+Tab comes back.
    await page.keyboard.press("Tab")
    await expect(page.locator("#map-world")).to_be_focused()
    await expect(cross).to_have_count(0)
    await page.keyboard.press("Shift+Tab")
    await expect(application).to_be_focused()
    await expect(cross).to_have_count(1)

    # A rectangle whose north edge runs through the centre (27.7 N): p1 and p2 south of it, p3 and p4 north.
    # An arrow moves the view a tenth of its width (~20 km here) or height (~12 km).
    await press(page, "ArrowLeft", "Enter")  # north-west
    await expect(count).to_have_text("1 corner(s); at least 3 to finish.")
    await press(page, "ArrowDown", "Enter", "Space")  # two more (the same point twice) ...
    await expect(count).to_have_text("3 corner(s); at least 3 to finish.")
    await page.keyboard.press("Backspace")  # ... removed one by one
    await expect(count).to_have_text("2 corner(s); at least 3 to finish.")
    await page.keyboard.press("Delete")
    await expect(count).to_have_text("1 corner(s); at least 3 to finish.")
    await expect(corners).to_have_count(1)
    await press(page, "ArrowUp", *["ArrowUp"] * 6, "Enter")  # ~70 km north: outside the crisis area, refused
    await expect(outside).to_have_text("That point is outside the crisis area: no corner added.")
    await expect(outside).to_have_attribute("role", "alert")
    await page.keyboard.press("Enter")  # refused again: the alert is emptied and filled to be announced again
    await expect(outside).to_have_text("That point is outside the crisis area: no corner added.")
    await expect(count).to_have_text("1 corner(s); at least 3 to finish.")
    await expect(corners).to_have_count(1)
    await press(page, *["ArrowDown"] * 6)
    await press(page, "ArrowRight", "ArrowRight", "Enter")  # north-east
    await expect(outside).to_be_hidden()
    await expect(count).to_have_text("2 corner(s); at least 3 to finish.")
    await press(page, "ArrowDown", "ArrowDown", "Space")  # south-east
    await expect(count).to_have_text("3 corner(s); at least 3 to finish.")
    await expect(count).to_have_attribute("role", "status")
    await page.screenshot(path=screenshot_path("dashboard-broadcast-draw-area-keyboard"))
    await press(page, "ArrowLeft", "ArrowLeft")  # south-west: by the draw bar's button this time
    await press(page, "Tab", "Tab")
    add = bar.get_by_role("button", name="Add a corner at the map's centre")
    await expect(add).to_be_focused()
    await expect(cross).to_have_count(1)  # the cross shows where the button adds
    assert (await problems(page))["unlabelled_controls"] == []
    await page.keyboard.press("Enter")
    await expect(count).to_have_text("4 corner(s); at least 3 to finish.")
    await expect(page.locator("#map g.drawn-area polygon")).to_have_count(1)
    await expect(corners).to_have_count(4)
    await page.keyboard.press("Tab")
    await expect(bar.get_by_role("button", name="Finish")).to_be_focused()
    await page.keyboard.press("Enter")
    await expect(bar).to_be_hidden()
    await expect(dialog).to_be_visible()
    await expect(draw).to_be_focused()
    await expect(page.locator("#bc-area-status")).to_have_text("Area drawn: 4 corners.")

    # Planned and sent as a pointer-drawn area: the two people inside, the polygon stored as drawn.
    async def enter_on_show_the_plan() -> None:
        await dialog.get_by_role("button", name="Show the plan").focus()
        await page.keyboard.press("Enter")

    polygon = await plan_of_the_drawn_area(page, enter_on_show_the_plan, corners=4)
    async with page.expect_response(re.compile(rf"/v1/crises/{system.crisis_id}/broadcasts$")) as submitted:
        await dialog.get_by_role("button", name="Submit for approval").focus()
        await page.keyboard.press("Enter")
    await expect(dialog).to_be_hidden()
    response = await submitted.value
    assert json.loads(response.request.post_data)["polygon"] == polygon
    row = await system.pool.fetchrow("SELECT author, status, audience, polygon FROM broadcasts WHERE broadcast_id = $1",
                                     (await response.json())["broadcast_id"])
    assert row is not None
    stored = row["polygon"] if not isinstance(row["polygon"], str) else json.loads(row["polygon"])
    assert (row["author"], row["status"], row["audience"]) == ("anne", "pending", "area")
    assert [[float(lon), float(lat)] for lon, lat in stored] == polygon
