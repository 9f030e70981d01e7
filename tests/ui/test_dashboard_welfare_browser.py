"""The dashboard's welfare panels in headless Chromium against the real crisis worker and API, broker and database:
registrations cross the threshold in the worker (so the crisis has people on the map and contacts to ask), a round
is started from the page after its confirmation, the welfare desk takes the due steps under a moved clock, answers
are recorded as `welfare.answers` would record them, and the page follows: the counts change live, the people who
need help show their case, the people to phone their number (paged), the unclear answers their text, and the map's
dots take the colour of each person's welfare."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import pytest

from services.crisis_center import inquiries, welfare
from services.crisis_center.domain.engine import Recipient
from services.crisis_center.handlers import crisis_id_for_incident
from services.crisis_center.welfare_desk import WelfareDesk
from shared.events.families import InquiryState, InquiryUpdated
from shared.events.incidents import IncidentReported
from shared.events.travellers import TravellerRegistered
from shared.events.welfare import WelfareAnswered
from tests.support import ROOT, eventually, unique
from tests.ui.a11y import LANGUAGE_LABEL, NONE, problems
from tests.ui.conftest import screenshot_path
from tests.ui.support import Clock, CrisisCenter, crisis_center, earthquake, expect, open_dashboard, staying

THRESHOLD = 3
HOTLINES = "+3225012000,+3225012001"
USER, PASSWORD = "coordinator-wendy", "welfare-drill"
WAIT_MS = 60_000
CHRISTCHURCH = {"lat": -43.53, "lon": 172.64}
SPREAD = [(0.0, 0.0), (0.3, 0.0), (-0.3, 0.0), (0.0, 0.4), (0.0, -0.4)]  # each its own dot once zoomed on the area
EXTRA = 26  # alerted people without a position on the map: with the two unanswered travellers, more than a page
PAGE = 25  # the page size of the dashboard's lists (frontend/src/dashboard/welfare.js)
CASE_REFERENCE = "BE-2026-004217"
UNCLEAR_TEXT = "roof came down next door, we are outside, not sure what to do"
FILLS = {"safe": "rgb(21, 128, 61)", "needs_help": "rgb(220, 38, 38)", "unclear": "rgb(249, 115, 22)",
         "unreachable": "rgb(51, 65, 85)", "no_answer": "rgb(156, 163, 175)"}


@pytest.fixture(scope="module")
async def system(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[CrisisCenter]:
    """crisis_center (API with the dashboard, and the worker) on fresh topics and a fresh schema."""
    async with crisis_center("welfare", tmp_path_factory.mktemp("ui-welfare"), worker=True,
                             crisis_threshold=THRESHOLD, hotline_numbers=HOTLINES,
                             user=(USER, PASSWORD)) as center:
        yield center


def incident(incident_id: str) -> IncidentReported:
    return earthquake(incident_id, "Earthquake near Christchurch", "NZ", CHRISTCHURCH)


def traveller(n: int, tag: str) -> TravellerRegistered:
    lat, lon = SPREAD[n]
    return staying(f"{tag}-{n}", n, "NZ", CHRISTCHURCH["lat"] + lat, CHRISTCHURCH["lon"] + lon, phone=phone(n),
                   email=f"{tag}-{n}@example.org", language=("nl", "fr", "de", "en", "fr")[n])


def phone(n: int) -> str:
    return f"+3247{n:07d}"


async def answer(system: CrisisCenter, crisis_id: str, person_id: str,
                 kind: Literal["safe", "needs_help", "unclear"], *, text: str | None = None,
                 case_reference: str | None = None) -> None:
    """An answer as the welfare desk records it from `welfare.answers`."""
    data = WelfareAnswered(crisis_id=crisis_id, person_id=person_id, answer=kind, channel="sms", text=text,
                           case_reference=case_reference, at=datetime.now(UTC))
    async with system.pool.acquire() as conn:
        assert await welfare.record_answer(conn, data)


async def inquiry(system: CrisisCenter, crisis_id: str, sought_id: str, state: InquiryState, minutes: int = 0) -> None:
    """An inquiry's state as the welfare desk records it from `families.inquiries`."""
    data = InquiryUpdated(sought_id=sought_id, crisis_id=crisis_id, state=state,
                          at=datetime.now(UTC) + timedelta(minutes=minutes))
    async with system.pool.acquire() as conn:
        await inquiries.record_inquiries([data], conn)


async def counts_are(page: Any, **expected: int) -> None:
    for status, value in expected.items():
        await expect(page.locator(f"#w-{status}")).to_have_text(str(value), timeout=WAIT_MS)


async def test_welfare_counts_round_lists_and_map(page: Any, system: CrisisCenter) -> None:
    # Signed in; registrations cross the threshold in the worker, which alerts them and keeps them as contacts.
    await open_dashboard(page, system.url, USER, PASSWORD)
    await expect(page.locator("#live")).to_have_attribute("data-state", "on", timeout=WAIT_MS)
    await page.evaluate("window.__notReloaded = true")
    tag = unique("nz")
    crisis_id = crisis_id_for_incident(tag)
    await system.send(incident(tag))
    for n in range(len(SPREAD)):
        await system.send(traveller(n, tag))
    card = page.locator(f'.crisis-card[data-crisis-id="{crisis_id}"]')
    await expect(card.locator(".affected-count")).to_have_text(str(len(SPREAD)), timeout=WAIT_MS)
    contacts_sql = "SELECT count(*) FROM crisis_contacts WHERE crisis_id = $1"

    async def all_alerted() -> bool:
        return bool(await system.pool.fetchval(contacts_sql, crisis_id) == len(SPREAD))

    await eventually(all_alerted, timeout=WAIT_MS / 1000)
    extras = [Recipient(f"registration:{tag}-x{i:02d}", f"{tag}-x{i:02d}", phone(100 + i), None, "nl")
              for i in range(EXTRA)]
    async with system.pool.acquire() as conn:
        await welfare.record_contacts(conn, crisis_id, extras, at=datetime.now(UTC))
    contacts = len(SPREAD) + EXTRA
    assert await system.pool.fetchval(contacts_sql, crisis_id) == contacts

    # Selected: the welfare panel counts everyone, nobody asked yet; the dots have their default colours.
    await card.click()
    panel = page.locator("#welfare")
    await expect(panel).to_be_visible()
    await expect(page.locator("#welfare-counts")).to_have_attribute("aria-live", "polite")
    await counts_are(page, safe=0, needs_help=0, unclear=0, no_answer=contacts, unreachable=0, checked_in=0)
    sought_line = page.locator("#welfare-sought")
    await expect(sought_line).to_have_text("Sought by families: 0 · matched: 0 · answered safe: 0")
    # People sought by their families in the crisis (intake's inquiries): counted on their own line, live.
    for sought_id, state in (("f1", "safe"), ("f2", "matched"), ("f3", "sought"), ("f4", "closed")):
        await inquiry(system, crisis_id, sought_id, state, minutes=1)  # type: ignore[arg-type]
    await inquiry(system, crisis_id, "f2", "sought")  # older, arriving late: f2 stays matched
    await expect(sought_line).to_have_text("Sought by families: 3 · matched: 2 · answered safe: 1", timeout=WAIT_MS)
    dots = page.locator(f'#map g.people-of[data-crisis-id="{crisis_id}"] circle.person')

    def dots_of(status: str) -> Any:
        return page.locator(f'#map g.people-of[data-crisis-id="{crisis_id}"] circle.person.welfare-{status}')

    await expect(dots).to_have_count(len(SPREAD), timeout=WAIT_MS)
    await expect(page.locator("#map circle.person[data-welfare]")).to_have_count(0)
    await expect(page.locator("#welfare-legend")).to_be_hidden()
    await expect(page.locator("#wl-needs_help")).to_contain_text("Nobody at the moment.", timeout=WAIT_MS)

    # Starting a round asks first, with the number of people and the escalation delay; cancelling asks nobody.
    checks_sql = "SELECT count(*) FROM welfare_checks WHERE crisis_id = $1"
    start = page.get_by_role("button", name="Start a welfare check…")
    dialog = page.locator("#welfare-dialog")
    await start.click()
    await expect(dialog).to_be_visible()
    await expect(dialog).to_contain_text(f"{contacts} people ({len(SPREAD)} counted as affected)")
    minutes = dialog.get_by_label("Ask again after (minutes without an answer)")
    await expect(minutes).to_have_value("60")
    assert (await problems(page))["unlabelled_controls"] == []
    await dialog.get_by_role("button", name="Cancel").click()
    await expect(dialog).to_be_hidden()
    assert await system.pool.fetchval(checks_sql, crisis_id) == 0
    await start.click()
    await minutes.fill("0")  # refused in the page: nothing is sent
    await dialog.get_by_role("button", name="Ask them now").click()
    await expect(dialog).to_be_visible()
    await expect(minutes).to_have_attribute("aria-invalid", "true")
    assert await system.pool.fetchval(checks_sql, crisis_id) == 0
    await minutes.fill("60")
    await expect(minutes).not_to_have_attribute("aria-invalid", "true")
    await page.screenshot(path=screenshot_path("dashboard-welfare-confirm"))
    await dialog.get_by_role("button", name="Ask them now").click()
    await expect(dialog).to_be_hidden()
    await expect(page.locator("#welfare-result")).to_have_text(f"Welfare check started: {contacts} people asked.",
                                                               timeout=WAIT_MS)
    round_row = await system.pool.fetchrow(
        "SELECT recipients, escalate_after_minutes, started_by FROM welfare_checks WHERE crisis_id = $1", crisis_id)
    assert dict(round_row) == {"recipients": contacts, "escalate_after_minutes": 60, "started_by": USER}
    await counts_are(page, no_answer=contacts, safe=0)
    await expect(page.locator('#audit li[data-event="welfare_check"]')).to_contain_text(USER, timeout=WAIT_MS)
    # The round's people are now waiting for an answer: every dot turns "no answer", and the legend appears.
    await expect(dots_of("no_answer")).to_have_count(len(SPREAD), timeout=WAIT_MS)
    await expect(page.locator("#welfare-legend")).to_be_visible()

    # The desk asks them; an answer comes in: the counts move without a reload.
    clock = Clock()  # the welfare desk's, moved forward so that reminders and escalations fall due at once
    asked_at = clock.at
    desk = WelfareDesk(system.settings, clock=clock, pool=system.pool)
    try:
        assert await desk.step_once() == contacts
        await answer(system, crisis_id, f"{tag}-0", "safe")
        await counts_are(page, safe=1, no_answer=contacts - 1)
        assert await page.evaluate("window.__notReloaded === true")

        # Nobody else answers the question or the reminder (nor the call): they are listed to be phoned.
        for minutes_later in (61, 125, 190, 300):
            clock.at = asked_at + timedelta(minutes=minutes_later)
            await desk.step_once()
    finally:
        await desk.stop()
    await answer(system, crisis_id, f"{tag}-1", "needs_help", text="2", case_reference=CASE_REFERENCE)
    await answer(system, crisis_id, f"{tag}-2", "unclear", text=UNCLEAR_TEXT)
    unreachable = contacts - 3
    await counts_are(page, safe=1, needs_help=1, unclear=1, no_answer=0, unreachable=unreachable, checked_in=0)

    # The people to act on: the case of who needs help, the phone of who is to be phoned, the unclear text.
    needs_help = page.locator("#wl-needs_help li[data-person-id]")
    await expect(needs_help).to_have_count(1, timeout=WAIT_MS)
    await expect(needs_help).to_have_attribute("data-person-id", f"{tag}-1")
    await expect(needs_help.locator(".case-reference")).to_have_text(f"Case {CASE_REFERENCE}")
    await expect(needs_help.locator("a.phone")).to_have_attribute("href", f"tel:{phone(1)}")
    unclear = page.locator("#wl-unclear li[data-person-id]")
    await expect(unclear).to_have_count(1, timeout=WAIT_MS)
    await expect(unclear.locator(".answer-text")).to_have_text(UNCLEAR_TEXT)
    to_phone = page.locator("#wl-unreachable li[data-person-id]")
    await expect(to_phone).to_have_count(PAGE, timeout=WAIT_MS)
    await expect(page.locator("#wl-unreachable-title")).to_have_text(f"People to phone ({unreachable})")
    for n in (3, 4):  # person ids sort before the extras': on the first page
        person = page.locator(f'#wl-unreachable li[data-person-id="{tag}-{n}"]')
        await expect(person.locator("a.phone")).to_have_text(phone(n))
        await expect(person).to_contain_text(("English", "French")[n - 3])
    assert await page.locator(f'#wl-unreachable li[data-person-id="{tag}-0"]').count() == 0  # answered: safe
    more = page.get_by_role("button", name="Show more people to phone")
    await more.click()
    await expect(to_phone).to_have_count(unreachable)
    await expect(more).to_be_hidden()
    ids = await to_phone.evaluate_all("items => items.map((li) => li.dataset.personId)")
    assert ids == sorted(ids) and len(set(ids)) == unreachable
    await expect(page.locator(f'#wl-unreachable li[data-person-id="{tag}-x{EXTRA - 1:02d}"] a.phone')).to_have_text(
        phone(100 + EXTRA - 1))

    # The map: each dot in the colour of its person's welfare.
    for status, count in (("safe", 1), ("needs_help", 1), ("unclear", 1), ("unreachable", 2), ("no_answer", 0)):
        await expect(dots_of(status)).to_have_count(count, timeout=WAIT_MS)
    welfare_of_dots = await dots.evaluate_all("cs => cs.map((c) => c.dataset.welfare)")
    assert sorted(welfare_of_dots) == ["needs_help", "safe", "unclear", "unreachable", "unreachable"]
    for status in ("safe", "needs_help", "unclear", "unreachable"):
        # Retried: a live update may redraw the dots between finding one and reading its style.
        await expect(dots_of(status).first).to_have_css("fill", FILLS[status], timeout=WAIT_MS)
    await expect(page.locator("#welfare-legend")).to_contain_text("Need help")
    await page.screenshot(path=screenshot_path("dashboard-welfare"))

    # Readable, labelled and fitting with the panel filled, in every language.
    assert await problems(page) == NONE
    for language in ("fr", "nl", "de"):
        await page.get_by_label(LANGUAGE_LABEL).select_option(language)
        await expect(page.locator("#welfare-title")).not_to_have_text("Welfare of the people")
        assert await problems(page) == NONE, language
    await page.get_by_label("Sprache", exact=True).select_option("en")
    await expect(page.locator("#wl-needs_help .case-reference")).to_have_text(f"Case {CASE_REFERENCE}")


async def test_a_refused_round_shows_the_services_message(page: Any, system: CrisisCenter) -> None:
    """The service's refusal (a crisis closed meanwhile: 409) is shown in the panel, and nothing claims success."""
    if not await page.locator("#app").is_visible():
        await open_dashboard(page, system.url, USER, PASSWORD)
    card = page.locator(".crisis-card").first
    await expect(card).to_be_visible(timeout=WAIT_MS)
    if await card.get_attribute("aria-pressed") != "true":
        await card.click()
    detail = "crisis x is closed: no welfare check"

    async def refuse(route: Any) -> None:
        await route.fulfill(status=409, content_type="application/json", body=json.dumps({"detail": detail}))

    await page.route(re.compile(r"/v1/crises/[^/]+/welfare-checks$"), refuse)
    try:
        await page.get_by_role("button", name="Start a welfare check…").click()
        await page.locator("#welfare-dialog").get_by_role("button", name="Ask them now").click()
        error = page.locator("#welfare-error")
        await expect(error).to_have_text(f"The request failed (409): {detail}", timeout=WAIT_MS)
        await expect(error).to_have_attribute("role", "alert")
        await expect(page.locator("#welfare-result")).to_be_hidden()
    finally:
        await page.unroute(re.compile(r"/v1/crises/[^/]+/welfare-checks$"), refuse)


def test_the_page_size_is_the_dashboards() -> None:
    built = ROOT / "services" / "crisis_center" / "dashboard" / "static" / "assets" / "welfare.js"
    assert re.search(rf"^const PAGE = {PAGE};", built.read_text(), re.MULTILINE), "PAGE here must follow welfare.js"
