"""The dashboard's watch list and proposals (issue 22) in headless Chromium, against the real crisis worker, API,
broker and database: an incident from the feeds service shows with its source, its event page and its count
below the threshold; crossing it raises a proposal that a coordinator confirms (the crisis opens, labelled GDACS)
or dismisses with a reason from the page."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from services.crisis_center.handlers import crisis_id_for_incident
from shared.events.incidents import IncidentReported
from shared.events.travellers import TravellerRegistered
from tests.support import unique
from tests.ui.conftest import screenshot_path
from tests.ui.support import CrisisCenter, crisis_center, earthquake, expect, open_dashboard, staying

THRESHOLD = 3
USER, PASSWORD = "coordinator-bert", "watch-drill"
WAIT_MS = 60_000
FEEDS = "/services/feeds"
KATHMANDU = {"lat": 27.7172, "lon": 85.3240}


@pytest.fixture(scope="module")
async def system(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[CrisisCenter]:
    """crisis_center (API + dashboard + worker) on fresh topics and schema; the notifier a stand-in (no crisis is
    selected but one, whose delivery progress the page's router answers)."""
    async with crisis_center("watch", tmp_path_factory.mktemp("ui-watch"), worker=True, crisis_threshold=THRESHOLD,
                             hotline_numbers="+3225011000,+3225011001", proposal_poll_seconds=0.3,
                             user=(USER, PASSWORD)) as center:
        yield center


def feed_incident(incident_id: str, title: str, link: str) -> IncidentReported:
    return earthquake(incident_id, title, "NP", KATHMANDU, link=link)  # severe: GDACS Orange


def traveller(n: int, tag: str) -> TravellerRegistered:
    return staying(f"{tag}-{n}", n, "NP", KATHMANDU["lat"] + n * 0.01, KATHMANDU["lon"], phone=f"+3247{n:07d}",
                   language="en")


async def test_watch_list_then_a_proposal_confirmed_from_the_page(page: Any, system: CrisisCenter) -> None:
    await open_dashboard(page, system.url, USER, PASSWORD)
    tag = unique("gdacs:EQ:")
    link = "https://www.gdacs.org/report.aspx?eventtype=EQ&eventid=1500001"
    await system.send(feed_incident(tag, "Orange earthquake in Nepal", link), source=FEEDS)
    await system.send(traveller(0, tag))
    item = page.locator(f'.watch-item[data-incident-id="{tag}"]')
    await expect(item).to_have_attribute("data-status", "watching", timeout=WAIT_MS)
    await expect(item.locator(".watch-affected")).to_have_text(f"1 of {THRESHOLD} people", timeout=WAIT_MS)
    await expect(item.locator(".source")).to_have_text("GDACS")
    page_link = item.locator("a.source-link")
    await expect(page_link).to_have_attribute("href", link)
    await expect(page_link).to_have_attribute("rel", "noopener noreferrer")

    for n in range(1, THRESHOLD):
        await system.send(traveller(n, tag))
    await expect(item).to_have_attribute("data-status", "proposed", timeout=WAIT_MS)
    await expect(item.locator(".badge")).to_have_text("Proposed")
    await page.screenshot(path=screenshot_path("dashboard-watch-proposal"))
    crisis_id = crisis_id_for_incident(tag)
    card = page.locator(f'.crisis-card[data-crisis-id="{crisis_id}"]')
    await expect(card).to_have_count(0)  # nothing opened before a coordinator decides

    await item.get_by_role("button", name="Open the crisis…").click()
    dialog = page.locator("#confirm")
    await expect(dialog).to_contain_text("Orange earthquake in Nepal")
    await dialog.get_by_role("button", name="Confirm").click()
    await expect(card).to_be_visible(timeout=WAIT_MS)
    await expect(card.locator(".card-source")).to_have_text("Source: GDACS")
    await expect(item).to_have_count(0, timeout=WAIT_MS)  # a crisis now: off the watch list
    # No notifier runs here: its delivery progress (read when a crisis is selected) is answered by the page's router.
    await page.route("**/dashboard/api/notifications?*", lambda route: route.fulfill(
        status=200, json={"total": 0, "counts": {}}))
    await card.click()
    await expect(page.locator("#d-source .source")).to_have_text("GDACS")
    await expect(page.locator("#d-source a")).to_have_attribute("href", link)


async def test_a_proposal_dismissed_with_a_reason(page: Any, system: CrisisCenter) -> None:
    await open_dashboard(page, system.url, USER, PASSWORD)
    tag = unique("usgs:us")
    await system.send(feed_incident(tag, "Aftershock near Pokhara", "https://earthquake.usgs.gov/x"), source=FEEDS)
    for n in range(THRESHOLD):
        await system.send(traveller(n, tag))
    item = page.locator(f'.watch-item[data-incident-id="{tag}"]')
    await expect(item).to_have_attribute("data-status", "proposed", timeout=WAIT_MS)
    await expect(item.locator(".source")).to_have_text("USGS")
    await item.get_by_role("button", name="Dismiss…").click()
    dialog = page.locator("#dismiss-dialog")
    await expect(dialog).to_be_visible()
    await dialog.get_by_label("Reason (kept in the audit trail)").fill("felt only lightly, no damage reported")
    await dialog.get_by_role("button", name="Dismiss", exact=True).click()
    await expect(dialog).to_be_hidden()
    await expect(item).to_have_attribute("data-status", "dismissed", timeout=WAIT_MS)
    await expect(page.locator("#flash")).to_contain_text("Dismissed")
    await expect(page.locator('#recent li[data-event="proposal.dismiss"]')).to_contain_text(USER, timeout=WAIT_MS)
    await expect(page.locator(f'.crisis-card[data-crisis-id="{crisis_id_for_incident(tag)}"]')).to_have_count(0)
