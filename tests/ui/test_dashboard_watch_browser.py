"""The dashboard's watch list and proposals (issue 22) in headless Chromium, against the real crisis worker, API,
broker and database: an incident from the feeds service shows with its source, its event page and its count
below the threshold; crossing it raises a proposal that a coordinator confirms (the crisis opens, labelled GDACS)
or dismisses with a reason from the page."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from services.crisis_center.api import create_app as crisis_app
from services.crisis_center.handlers import crisis_id_for_incident
from services.crisis_center.settings import Settings as CrisisSettings
from services.crisis_center.worker import CrisisWorker
from shared.events.envelope import EventData
from shared.events.incidents import IncidentReported
from shared.events.travellers import TravellerRegistered
from shared.kafka.producer import make_producer, publish
from shared.passwords import hash_password
from tests.support import bootstrap, drop_schema, free_port, new_schema, new_topic_prefix, unique
from tests.ui.conftest import screenshot_path, serve, watched_page

expect: Any = None  # playwright.async_api.expect, imported with the browser fixture

THRESHOLD = 3
USER, PASSWORD = "coordinator-bert", "watch-drill"
WAIT_MS = 60_000
FEEDS = "/services/feeds"


@dataclass
class System:
    url: str
    prefix: str
    producer: AIOKafkaProducer

    async def send(self, data: EventData, source: str = "/tests/ui") -> None:
        await publish(self.producer, data, source=source, topic_prefix=self.prefix)


@pytest.fixture(scope="module")
async def system(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[System]:
    """crisis_center (API + dashboard + worker) on fresh topics and schema; no notifier (no crisis is selected)."""
    prefix = await new_topic_prefix()
    schema = await new_schema("crisis_center")
    port = free_port()
    settings = CrisisSettings(
        kafka_bootstrap_servers=bootstrap(), kafka_topic_prefix=prefix, database_schema=schema,
        faust_app_id=unique("crisis-ui-watch-"), faust_store="memory://",
        faust_data_dir=str(Path(tmp_path_factory.mktemp("ui-watch")) / "faust"), crisis_threshold=THRESHOLD,
        hotline_numbers="+3225011000,+3225011001", crisis_update_interval_seconds=1.0, crisis_tick_seconds=2.0,
        faust_partitions=3, public_base_url=f"http://127.0.0.1:{port}", proposal_poll_seconds=0.3,
        dashboard_users=f"{USER}:{hash_password(PASSWORD, iterations=10_000)}",
    )  # type: ignore[call-arg]
    producer = make_producer(bootstrap(), client_id="ui-watch-tests", linger_ms=0)
    await producer.start()
    worker = CrisisWorker(settings)
    try:
        async with serve(crisis_app(settings), port) as url:
            await worker.start()
            try:
                yield System(url, prefix, producer)
            finally:
                await worker.stop()
    finally:
        await producer.stop()
        await drop_schema(schema)


@pytest.fixture(scope="module")
async def page(browser: Any, system: System) -> AsyncIterator[Any]:
    global expect
    from playwright.async_api import expect as playwright_expect
    expect = playwright_expect
    async with watched_page(browser) as page:
        yield page


def feed_incident(incident_id: str, title: str, link: str) -> IncidentReported:
    return IncidentReported(
        incident_id=incident_id, title=title, kind="earthquake", severity="severe",  # GDACS Orange
        area={"country": "NP", "circle": {"lat": 27.7172, "lon": 85.3240, "radius_km": 60}},
        occurred_at=datetime.now(UTC) - timedelta(minutes=20), link=link)


def traveller(n: int, tag: str) -> TravellerRegistered:
    today = datetime.now(UTC).date()
    return TravellerRegistered(
        traveller_id=f"{tag}-{n}", full_name=f"Traveller {n}", phone=f"+3247{n:07d}", language="en", country="NP",
        location={"lat": 27.7172 + n * 0.01, "lon": 85.3240}, arrival=today - timedelta(days=2),
        departure=today + timedelta(days=10))


async def sign_in(page: Any, system: System) -> None:
    await page.goto(f"{system.url}/dashboard")
    await expect(page.locator("#signin:visible, #app:visible").first).to_be_visible()
    if await page.locator("#signin").is_visible():
        await page.get_by_label("User name").fill(USER)
        await page.get_by_label("Password").fill(PASSWORD)
        await page.get_by_role("button", name="Sign in").click()
    await expect(page.locator("#app")).to_be_visible()


async def test_watch_list_then_a_proposal_confirmed_from_the_page(page: Any, system: System) -> None:
    await sign_in(page, system)
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


async def test_a_proposal_dismissed_with_a_reason(page: Any, system: System) -> None:
    await sign_in(page, system)
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
