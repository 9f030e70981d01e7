"""The coordinators' dashboard in headless Chromium, end to end: events produced here cross the threshold in the
real crisis worker, the crisis appears live (server-sent events) with its hotline and its area on the map, the
notifier sends through the local Twilio server and the delivery progress shows it, and closing the crisis from the
page publishes `crisis.closed`."""

from __future__ import annotations

import asyncio
import os
import re
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from services.crisis_center.dashboard.demo import DemoSettings, Plan, close_previous_runs, play
from services.crisis_center.handlers import crisis_id_for_incident
from services.notifier.api import create_app as notifier_app
from services.notifier.bootstrap import open_resources
from services.notifier.dev.smtp_sink import SmtpSink
from services.notifier.dev.twilio_server import ServerConfig, build_app
from services.notifier.worker import Worker as NotifierWorker
from shared.events.envelope import decode
from shared.events.incidents import IncidentReported
from shared.events.reports import ReportSubmitted
from shared.events.travellers import TravellerRegistered
from tests.support import (
    ROOT,
    auth,
    bootstrap,
    consume,
    drop_schema,
    eventually,
    free_port,
    new_schema,
    serve_stand_in,
    unique,
)
from tests.ui.a11y import LANGUAGE_LABEL, NONE, problems
from tests.ui.conftest import VIEWPORT, screenshot_path, serve
from tests.ui.support import (
    CrisisCenter,
    crisis_center,
    earthquake,
    expect,
    fill_sign_in,
    notifier_settings,
    open_dashboard,
    staying,
    use_token,
)

THRESHOLD = 3
HOTLINES = "+3225011000,+3225011001"
USER, PASSWORD = "coordinator-anna", "kathmandu-drill"
KATHMANDU = {"lat": 27.7172, "lon": 85.3240}
WAIT_MS = 60_000
HOTLINE_PATTERN = re.compile("^(" + "|".join(re.escape(n) for n in HOTLINES.split(",")) + ")$")
NONZERO = re.compile(r"^[1-9]\d*$")


@pytest.fixture(scope="module")
async def system(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[CrisisCenter]:
    """crisis_center (API + dashboard + worker) and notifier (API + worker) with the local Twilio server and SMTP
    sink, on fresh topics and schemas."""
    twilio = build_app(ServerConfig(account_sid=os.environ["TWILIO_ACCOUNT_SID"],
                                    auth_token=os.environ["TWILIO_AUTH_TOKEN"], callback_delay_seconds=0.05))[0]
    notifier_schema, notifier_port = await new_schema("notifier"), free_port()
    smtp = SmtpSink("127.0.0.1", 0)
    smtp.start()
    try:
        async with serve_stand_in(twilio) as (twilio_url, _), crisis_center(
                "dashboard", tmp_path_factory.mktemp("ui"), worker=True, crisis_threshold=THRESHOLD,
                hotline_numbers=HOTLINES, user=(USER, PASSWORD),
                notifier_url=f"http://127.0.0.1:{notifier_port}") as center:
            notifier = notifier_settings(
                schema=notifier_schema, prefix=center.prefix, port=notifier_port, twilio_api_base=twilio_url,
                smtp_host="127.0.0.1", smtp_port=smtp.port, command_consumers=1, database_pool_max=8)
            notifier_resources = await open_resources(notifier)
            notifier_worker = NotifierWorker(notifier, notifier_resources, center.producer)
            try:
                async with serve(notifier_app(notifier), notifier_port):
                    await notifier_worker.start()
                    try:
                        yield center
                    finally:
                        await notifier_worker.stop()
            finally:
                await notifier_resources.pool.close()
    finally:
        smtp.stop()
        await drop_schema(notifier_schema)


def incident(incident_id: str) -> IncidentReported:
    return earthquake(incident_id, "Earthquake near Kathmandu", "NP", KATHMANDU)


def traveller(n: int, tag: str) -> TravellerRegistered:
    return staying(f"{tag}-{n}", n, "NP", KATHMANDU["lat"] + n * 0.01, KATHMANDU["lon"], phone=f"+3247{n:07d}",
                   email=f"t{n}@example.org", language=("nl", "fr", "de", "en")[n % 4])


async def test_sign_in_live_crisis_map_delivery_and_close(page: Any, system: CrisisCenter) -> None:
    # Sign in with the local development user.
    await page.goto(f"{system.url}/dashboard")
    await expect(page.locator("#signin")).to_be_visible()
    await fill_sign_in(page, USER, PASSWORD)
    await expect(page.locator("#app")).to_be_visible()
    await expect(page.locator("#who")).to_contain_text(USER)
    await expect(page.locator("#live")).to_have_attribute("data-state", "on", timeout=WAIT_MS)
    await expect(page.locator("#no-crises")).to_be_visible()
    await page.evaluate("window.__notReloaded = true")

    # Events cross the threshold: the crisis appears with its hotline, without reload.
    tag = unique("np")
    crisis_id = crisis_id_for_incident(tag)
    await system.send(incident(tag))
    for n in range(THRESHOLD):
        await system.send(traveller(n, tag))
    card = page.locator(f'.crisis-card[data-crisis-id="{crisis_id}"]')
    await expect(card).to_be_visible(timeout=WAIT_MS)
    await expect(card.locator(".hotline-number")).to_have_text(HOTLINE_PATTERN, timeout=WAIT_MS)
    await expect(card.locator(".affected-count")).to_have_text(str(THRESHOLD))
    assert await page.evaluate("window.__notReloaded === true")

    # The map shows the area (a circle around Kathmandu) with the affected count.
    area = page.locator(f'#map path.area[data-crisis-id="{crisis_id}"]')
    await expect(area).to_have_attribute("data-shape", "circle")
    assert len(await area.get_attribute("d") or "") > 20
    await expect(page.locator(f'#map g.count[data-crisis-id="{crisis_id}"] text')).to_have_text(str(THRESHOLD))

    # One more traveller: the count moves live.
    await system.send(traveller(THRESHOLD, tag))
    await expect(card.locator(".affected-count")).to_have_text(str(THRESHOLD + 1), timeout=WAIT_MS)

    # Details: hotline, delivery progress from the notifier (SMS and email through the local servers), audit trail.
    await card.click()
    await expect(card).to_have_attribute("aria-pressed", "true")
    hotline = await card.locator(".hotline-number").inner_text()
    await expect(page.locator("#d-hotline a")).to_have_attribute("href", f"tel:{hotline}")
    # The system's entries apart from the coordinators' actions, grouped per kind and minute.
    await expect(page.locator('#audit-system li[data-event="activated"]')).to_contain_text("Activated",
                                                                                           timeout=WAIT_MS)
    await expect(page.locator('#audit li[data-event="activated"]')).to_have_count(0)
    await page.locator("#delivery").wait_for(state="visible")
    delivered = page.locator('#delivery li[data-status="delivered"] strong')
    await expect(delivered).to_have_text(NONZERO, timeout=WAIT_MS)
    await page.screenshot(path=screenshot_path("dashboard-crisis"))

    # Close it from the page, with confirmation: crisis.closed is published.
    await page.get_by_role("button", name="Close this crisis…").click()
    dialog = page.locator("#confirm")
    await expect(dialog).to_be_visible()
    await expect(dialog).to_contain_text(hotline)
    await page.screenshot(path=screenshot_path("dashboard-confirm-close"))
    await dialog.get_by_role("button", name="Confirm").click()
    await expect(page.locator("#d-status")).to_contain_text("Closed", timeout=WAIT_MS)
    await expect(page.locator("#flash")).to_contain_text("is closed")
    await expect(page.locator('#audit li[data-event="crisis.close"]')).to_contain_text(USER)
    records = await consume(f"{system.prefix}crisis.status", count=1, timeout=60, predicate=lambda r: (
        decode(r.value).type.endswith(".closed") and decode(r.value).data["crisis_id"] == crisis_id))
    assert len(records) == 1
    closed = decode(records[0].value).data
    assert closed["status"] == "closed" and closed["closed_at"] is not None
    await expect(card).to_be_hidden()  # closed crises are hidden unless asked for
    await page.get_by_label("Show closed crises").check()
    await expect(card.locator(".badge")).to_have_text("Closed")


async def test_language_is_chosen_and_remembered(page: Any, system: CrisisCenter) -> None:
    # Signed in already when the module's first test ran (the tab keeps the token); a test run on its own signs in.
    await open_dashboard(page, system.url, USER, PASSWORD)
    await page.get_by_label("Language").select_option("fr")
    await expect(page.locator("h1")).to_have_text("Centre de crise — tableau de bord des coordinateurs")
    assert await page.evaluate("document.documentElement.lang") == "fr"
    await page.reload()
    await expect(page.locator("#crises-title")).to_have_text("Crises")
    await expect(page.locator("#open-activate")).to_have_text("Activer une crise…")
    await page.get_by_label("Langue").select_option("de")
    await expect(page.locator("#open-activate")).to_have_text("Krise aktivieren…")
    await page.get_by_label("Sprache").select_option("nl")
    await expect(page.locator("#open-activate")).to_have_text("Crisis activeren…")
    await page.screenshot(path=screenshot_path("dashboard-nl"))
    await page.get_by_label("Taal").select_option("en")
    missing = await page.evaluate("""() => import("/dashboard/assets/messages.js").then(({ MESSAGES }) => {
      const keys = Object.keys(MESSAGES.en);
      return Object.fromEntries(["fr", "nl", "de"].map((l) => [l, keys.filter((k) => !MESSAGES[l][k])]));
    })""")
    assert missing == {"fr": [], "nl": [], "de": []}


async def test_keyboard_only_manual_activation_with_confirmation(page: Any, system: CrisisCenter) -> None:
    await open_dashboard(page, system.url, USER, PASSWORD)
    await page.locator("#open-activate").focus()
    await page.keyboard.press("Enter")
    await expect(page.locator("#activate-dialog")).to_be_visible()
    title = f"Floods in Valencia {unique('')}"
    await page.keyboard.type(title)  # the title field has the focus
    await page.get_by_label("Kind of incident").select_option("flood")
    await page.get_by_label("Country (ISO code, e.g. NP)").fill("ES")
    await page.get_by_role("button", name="Activate…").click()
    confirm = page.locator("#confirm")
    await expect(confirm).to_contain_text(title)
    await page.keyboard.press("Escape")  # cancel: nothing is activated, the form comes back
    await expect(page.locator("#activate-dialog")).to_be_visible()
    await page.get_by_role("button", name="Activate…").click()
    await confirm.get_by_role("button", name="Confirm").click()
    card = page.locator(".crisis-card", has_text=title)
    await expect(card).to_be_visible(timeout=WAIT_MS)
    await expect(card).to_have_attribute("aria-pressed", "true")
    crisis_id = await card.get_attribute("data-crisis-id")
    await expect(page.locator(f'#map path.area[data-crisis-id="{crisis_id}"]')).to_have_attribute(
        "data-shape", "country")
    await page.screenshot(path=screenshot_path("dashboard-manual-country"))



async def test_demo_scenario_comes_alive_on_the_dashboard(page: Any, system: CrisisCenter) -> None:
    """The `make demo` scenario, smaller: the page shows its crisis, hotline and area without any action."""
    await open_dashboard(page, system.url, USER, PASSWORD)
    await expect(page.locator("#live")).to_have_attribute("data-state", "on", timeout=WAIT_MS)
    narration: list[str] = []
    settings = DemoSettings(kafka_bootstrap_servers=bootstrap(), kafka_topic_prefix=system.prefix,
                            crisis_center_url=system.url)  # type: ignore[call-arg]
    plan = Plan(travellers=8, inside_share=0.75, per_second=50, sms=False, seed=7)
    incident_id = await play(settings, plan, say=narration.append)
    card = page.locator(f'.crisis-card[data-crisis-id="{crisis_id_for_incident(incident_id)}"]')
    # 6 of the 8 are inside the area, beside the travellers earlier tests left there: the page shows what the
    # worker counts once every registration is in.
    run = incident_id.removeprefix("demo-")
    demo = [f"demo-{run}-{n}" for n in range(plan.travellers)]
    registries = system.worker.registries
    await eventually(lambda: all(registries.holds(t) for t in demo)  # every registration in, those sent on counted
                     and all(system.worker.engine.travellers.get(t) is not None for t in demo if registries.sent_on(t)))
    expected = system.worker.engine.affected(incident_id).count
    assert expected >= 6
    await expect(card.locator(".affected-count")).to_have_text(str(expected), timeout=WAIT_MS)
    await expect(card.locator(".hotline-number")).to_have_text(HOTLINE_PATTERN)
    assert any("crisis active: hotline" in line for line in narration), narration
    await page.screenshot(path=screenshot_path("dashboard-demo"))

    # A replay first closes this run's crisis as a coordinator (token from JWT_SECRET); without it, nothing.
    without = settings.model_copy(update={"jwt_secret": SecretStr("")})
    assert await close_previous_runs(without, narration.append) == 0
    await expect(card).to_be_visible()
    replay = settings.model_copy(update={"jwt_secret": SecretStr(os.environ["JWT_SECRET"])})
    assert await close_previous_runs(replay, narration.append) == 1
    await expect(card).to_be_hidden(timeout=WAIT_MS)
    assert "closed 1 crisis(es) of earlier runs, releasing their hotlines" in narration[-1]


AREQUIPA = {"lat": -16.40, "lon": -71.54}  # far from Kathmandu: only this test's people are affected there
SPREAD = [(0.3, 0.0), (-0.3, 0.0), (0.0, 0.35), (0.0, -0.35)]  # ~35 km out, 12+ px apart once zoomed on the area
REPORTED = [(0.3, 0.35), (-0.3, -0.35)]  # ~50 km out, inside the 60 km circle
CROWD = 6


def arequipa_incident(incident_id: str) -> IncidentReported:
    return earthquake(incident_id, "Earthquake near Arequipa", "PE", AREQUIPA)


def arequipa_traveller(n: int, tag: str, offset: tuple[float, float]) -> TravellerRegistered:
    return staying(f"{tag}-{n}", n, "PE", AREQUIPA["lat"] + offset[0], AREQUIPA["lon"] + offset[1],
                   phone=f"+3248{n:07d}", email=f"{tag}-{n}@example.org", language="fr")


def arequipa_report(reference: str, n: int, offset: tuple[float, float]) -> ReportSubmitted:
    return ReportSubmitted(
        reference=reference, kind="serious_difficulty",
        reporter={"full_name": f"Reporter {n}", "phone": f"+3249{n:07d}", "language": "en", "channel": "phone"},
        location={"country": "PE", "lat": AREQUIPA["lat"] + offset[0], "lon": AREQUIPA["lon"] + offset[1]},
        description="house collapsed", received_at=datetime.now(UTC), channel="phone")


async def test_affected_travellers_on_the_map_and_silence_without_them(page: Any, system: CrisisCenter) -> None:
    """The real `GET /v1/crises/{id}/people`, end to end: registrations and reports inside a circle cross the
    threshold in the crisis worker, which writes their rounded positions; the page draws them as dots (a crowd as
    one larger dot, reports in their own colour), following the later arrivals without a reload. A manual crisis
    has nobody on the map (the route answers `[]`): its area and count are drawn, without dots or errors."""
    tag = unique("people")
    crisis_id = crisis_id_for_incident(tag)
    people_answers: dict[str, list[int]] = {}

    def observe(response: Any) -> None:
        match = re.search(r"/v1/crises/([^/]+)/people(?:/map)?(?:\?.*)?$", response.url)  # the map's layer
        if match:
            people_answers.setdefault(match.group(1), []).append(response.status)

    page.on("response", observe)
    try:
        await open_dashboard(page, system.url, USER, PASSWORD)
        await expect(page.locator("#live")).to_have_attribute("data-state", "on", timeout=WAIT_MS)

        # The threshold is crossed by the crowd in the centre; the others arrive after the activation.
        await system.send(arequipa_incident(tag))
        jitter = [(0.001 * (n % 3), -0.001 * (n // 3)) for n in range(CROWD)]
        for n in range(CROWD):
            await system.send(arequipa_traveller(n, tag, jitter[n]))
        card = page.locator(f'.crisis-card[data-crisis-id="{crisis_id}"]')
        await expect(card).to_be_visible(timeout=WAIT_MS)
        for n, offset in enumerate(SPREAD, start=CROWD):
            await system.send(arequipa_traveller(n, tag, offset))
        for n, offset in enumerate(REPORTED):
            await system.send(arequipa_report(f"BE-2026-{int(tag[-5:], 16) % 999_000 + n:06d}", n, offset))
        everyone = CROWD + len(SPREAD) + len(REPORTED)
        await expect(card.locator(".affected-count")).to_have_text(str(everyone), timeout=WAIT_MS)

        # Whole world: the page follows the later arrivals by itself (no selection, no reload).
        dots = page.locator(f'#map g.people-of[data-crisis-id="{crisis_id}"]')
        await expect(dots).to_have_attribute("data-people", str(everyone), timeout=WAIT_MS)
        await expect(page.locator("#people-legend")).to_be_visible()
        circles = dots.locator("circle.person")
        counts = [int(c) for c in await circles.evaluate_all("cs => cs.map(c => c.dataset.count)")]
        assert sum(counts) == everyone

        # Zoomed on the area: the crowd is one larger dot, every other position its own dot, the reports in theirs.
        await card.click()
        await expect(card).to_have_attribute("aria-pressed", "true")
        await expect(circles).to_have_count(1 + len(SPREAD) + len(REPORTED))
        counts = [int(c) for c in await circles.evaluate_all("cs => cs.map(c => c.dataset.count)")]
        assert sorted(counts) == [1] * (len(SPREAD) + len(REPORTED)) + [CROWD]
        await expect(dots.locator("circle.person-report")).to_have_count(len(REPORTED))
        await expect(dots.locator("circle.person-registration")).to_have_count(1 + len(SPREAD))
        radii = await circles.evaluate_all("cs => cs.map(c => Number(c.getAttribute('r')))")
        assert max(radii) > min(radii)  # the crowd is drawn larger than a single position
        assert await dots.locator(f'circle.person[data-count="{CROWD}"]').count() == 1
        await page.screenshot(path=screenshot_path("dashboard-people"))
        assert await problems(page) == NONE
        assert set(people_answers[crisis_id]) == {200}, people_answers

        # A manual crisis has no one on the map: the route answers [] and the page draws its area and count only.
        async with httpx.AsyncClient(base_url=system.url, headers=auth("coordinator")) as client:
            created = await client.post("/v1/crises", json={
                "title": f"Unrest in Lima {tag}", "kind": "unrest",
                "area": {"country": "PE", "circle": {"lat": -12.05, "lon": -77.04, "radius_km": 30}}})
            assert created.status_code == 201, created.text
            manual_id = created.json()["crisis_id"]
            assert (await client.get(f"/v1/crises/{manual_id}/people")).json() == []
        await card.click()  # back to the whole world, where both areas are in view
        await expect(page.locator(f'#map path.area[data-crisis-id="{manual_id}"]')).to_have_attribute(
            "data-shape", "circle", timeout=WAIT_MS)
        await expect(page.locator(f'#map g.count[data-crisis-id="{manual_id}"] text')).to_have_text("0")
        await eventually(lambda: people_answers.get(manual_id), timeout=WAIT_MS / 1000)
        assert set(people_answers[manual_id]) == {200}, people_answers
        await expect(page.locator(f'#map g.people-of[data-crisis-id="{manual_id}"]')).to_have_count(0)
        await expect(dots).to_have_attribute("data-people", str(everyone))
        await expect(page.locator("#map-desc")).to_contain_text(f"{everyone} affected travellers drawn as dots")
    finally:
        page.remove_listener("response", observe)


async def test_threshold_change_with_confirmation(page: Any, system: CrisisCenter) -> None:
    await open_dashboard(page, system.url, USER, PASSWORD)
    await page.get_by_role("button", name="Change thresholds…").click()
    dialog = page.locator("#thresholds-dialog")
    await expect(dialog.get_by_label("Default threshold (affected people)")).to_have_value(str(THRESHOLD))
    await dialog.get_by_label("Default threshold (affected people)").fill("40")
    await dialog.get_by_label("Extreme").fill("15")
    await dialog.get_by_role("button", name="Save…").click()
    confirm = page.locator("#confirm")
    await expect(confirm).to_contain_text("40, Extreme 15")
    await confirm.get_by_role("button", name="Confirm").click()
    await expect(page.locator("#flash")).to_have_text("Thresholds saved.")
    await expect(page.locator('#recent li[data-event="threshold.set"]').first).to_contain_text(USER)
    await page.get_by_role("button", name="Change thresholds…").click()  # read back from the service
    await expect(dialog).to_be_visible()  # opened once the service answered (the form is emptied before)
    await expect(dialog.get_by_label("Default threshold (affected people)")).to_have_value("40")
    await expect(dialog.get_by_label("Extreme")).to_have_value("15")
    await page.keyboard.press("Escape")
    await expect(dialog).to_be_hidden()


async def test_readable_labelled_and_fitting_at_1280x720(page: Any, browser: Any, system: CrisisCenter) -> None:
    await page.goto(f"{system.url}/dashboard")
    await expect(page.locator(".crisis-card").first).to_be_visible(timeout=WAIT_MS)
    await page.locator(".crisis-card").first.click()
    await expect(page.locator("#detail")).to_be_visible()
    await page.get_by_label("Show closed crises").check()
    assert await problems(page) == NONE
    for language in ("fr", "nl", "de"):  # longer words must still fit
        await page.get_by_label(LANGUAGE_LABEL).select_option(language)
        assert await problems(page) == NONE, language
    await page.get_by_label("Sprache", exact=True).select_option("en")
    await page.locator("#open-activate").click()
    assert (await problems(page))["unlabelled_controls"] == []
    await page.keyboard.press("Escape")
    context = await browser.new_context(viewport=VIEWPORT)  # a new visitor: the sign-in panel
    try:
        fresh = await context.new_page()
        await fresh.goto(f"{system.url}/dashboard")
        await expect(fresh.locator("#signin")).to_be_visible()
        await expect(fresh.get_by_label("User name")).to_be_focused()
        assert await problems(fresh) == NONE
    finally:
        await context.close()


async def test_a_token_from_the_project_cli_signs_in(browser: Any, system: CrisisCenter) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "shared.cli", "token", "--role", "coordinator", "--subject", "cli-coordinator",
        stdout=asyncio.subprocess.PIPE, cwd=str(ROOT))
    out, _ = await process.communicate()
    assert process.returncode == 0
    context = await browser.new_context(viewport=VIEWPORT, locale="en-GB")
    try:
        page = await context.new_page()
        await page.goto(f"{system.url}/dashboard")
        await use_token(page, out.decode().strip())
        await expect(page.locator("#who")).to_have_text("Signed in as cli-coordinator")
        await expect(page.locator("#live")).to_have_attribute("data-state", "on", timeout=WAIT_MS)
    finally:
        await context.close()

