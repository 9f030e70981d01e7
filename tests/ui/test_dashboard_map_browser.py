"""The dashboard's map with a crisis of 100,000 people (issue 26) in headless Chromium, against the real API and
database: the people layer arrives as the server's clusters, the count bubbles hold their labels, selecting the
crisis fits the map to its circle, and zooming in reads the layer again for the smaller view."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.crisis_center.conftest import drop_topics
from tests.crisis_center.test_people_clusters import PEOPLE, seed_crowd
from tests.support import unique
from tests.ui.conftest import screenshot_path
from tests.ui.support import crisis_center, expect, open_dashboard

USER, PASSWORD = "coordinator-chloe", "bangkok-flood-drill"
WAIT_MS = 60_000
VIEW_W, VIEW_H, MARGIN = 800, 460, 40  # the map's viewBox and the margin the area is fitted into


@dataclass
class System:
    url: str
    crisis_id: str


@pytest.fixture(scope="module")
async def system(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[System]:
    """The crisis center's API and dashboard on a fresh schema holding one active crisis of 100,000 people
    (written straight into affected_people, as the worker leaves them): no worker, the notifier a stand-in."""
    async with crisis_center("map", tmp_path_factory.mktemp("ui-map"), crisis_threshold=5,
                             hotline_numbers="+3225011000,+3225011001",
                             user=(USER, PASSWORD)) as center:
        async with center.pool.acquire() as conn:
            crowd = await seed_crowd(conn, unique("inc-bangkok-"), PEOPLE)
        yield System(center.url, crowd.crisis_id)
    await drop_topics(center.prefix)


# Every count bubble of the map whose text does not fit inside its circle (screen boxes, 0.5 px of rounding).
OVERFLOWING = """() => [...document.querySelectorAll('#map .count, #map .cluster')].filter((g) => {
  const text = g.querySelector('text'); const circle = g.querySelector('circle');
  if (!text) return false;
  const t = text.getBoundingClientRect(); const c = circle.getBoundingClientRect();
  return t.left < c.left - 0.5 || t.right > c.right + 0.5 || t.top < c.top - 0.5 || t.bottom > c.bottom + 0.5;
}).map((g) => g.querySelector('text').textContent)"""

# The selected area's box in the map's own units (its viewBox).
AREA_BOX = """(id) => { const b = document.querySelector(`#map path.area[data-crisis-id="${id}"]`).getBBox();
  return [b.x, b.y, b.width, b.height]; }"""

CLUSTERED = """(id) => [...document.querySelectorAll(`#map .people-of[data-crisis-id="${id}"] .cluster`)]
  .reduce((n, g) => n + Number(g.dataset.count), 0)"""


async def test_a_crisis_of_100000_people_is_clusters_fitted_to_its_circle(page: Any, system: System) -> None:
    # No notifier runs here: the delivery progress read on selection is answered by the page's router.
    await page.route("**/dashboard/api/notifications?*", lambda route: route.fulfill(
        status=200, json={"total": 0, "counts": {}}))
    await open_dashboard(page, system.url, USER, PASSWORD)
    card = page.locator(f'.crisis-card[data-crisis-id="{system.crisis_id}"]')
    await expect(card).to_be_visible(timeout=WAIT_MS)
    people = page.locator(f'#map .people-of[data-crisis-id="{system.crisis_id}"]')
    await expect(people).to_have_attribute("data-kind", "clusters", timeout=WAIT_MS)  # the world view too
    map_zoom = page.locator("#map")
    world_zoom = await map_zoom.get_attribute("data-zoom")
    assert int(world_zoom) <= 2
    await card.click()
    await expect(card).to_have_attribute("aria-pressed", "true")
    await expect(page.locator("#detail-title")).to_have_text("Flood in Bangkok")
    await expect(page.locator("#d-affected")).to_have_text(re.compile(r"^100\D?000$"))  # the language's grouping

    # Fitted to the 50 km circle: its box fills the map inside the margin (it was a few pixels in a country).
    await expect(people).to_have_attribute("data-zoom", await map_zoom.get_attribute("data-zoom"), timeout=WAIT_MS)
    x, y, width, height = await page.evaluate(AREA_BOX, system.crisis_id)
    assert x >= MARGIN - 1 and y >= MARGIN - 1
    assert x + width <= VIEW_W - MARGIN + 1 and y + height <= VIEW_H - MARGIN + 1
    assert max(width / (VIEW_W - 2 * MARGIN), height / (VIEW_H - 2 * MARGIN)) > 0.95
    fitted_zoom = int(await map_zoom.get_attribute("data-zoom"))
    assert fitted_zoom >= 8  # a city's zoom level, not a country's (5) or the world's (1)

    # The server's clusters, everyone in them, each label inside its bubble; the crisis's count reads 100k.
    await expect(people).to_have_attribute("data-kind", "clusters")
    await expect(people).to_have_attribute("data-people", str(PEOPLE))
    assert await page.evaluate(CLUSTERED, system.crisis_id) == PEOPLE
    assert 20 <= await people.locator(".cluster").count() <= 1000
    count = page.locator(f'#map .count[data-crisis-id="{system.crisis_id}"]')
    await expect(count.locator("text")).to_have_text("100k")
    assert await page.evaluate(OVERFLOWING) == []
    await page.screenshot(path=screenshot_path("dashboard-map-100000"))

    # Zooming in with the wheel reads the layer again for the closer zoom and the smaller box.
    box = await map_zoom.bounding_box()
    await page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    for _ in range(3):
        await page.mouse.wheel(0, -400)
    await expect(map_zoom).not_to_have_attribute("data-zoom", str(fitted_zoom))
    closer = await map_zoom.get_attribute("data-zoom")
    assert int(closer) > fitted_zoom
    await expect(people).to_have_attribute("data-zoom", closer, timeout=WAIT_MS)
    assert 0 < int(await people.get_attribute("data-people")) < PEOPLE  # only the people in view
    assert await page.evaluate(OVERFLOWING) == []

    # The whole world again: the layer is the coarse clusters of the world's zoom once more.
    await page.get_by_role("button", name="Whole world").click()
    await expect(map_zoom).to_have_attribute("data-zoom", world_zoom)
    await expect(people).to_have_attribute("data-zoom", world_zoom, timeout=WAIT_MS)
    await expect(people).to_have_attribute("data-people", str(PEOPLE))
    assert await page.evaluate(OVERFLOWING) == []
