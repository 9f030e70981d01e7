"""The dashboard's messages panel (issue 23) in headless Chromium against the real crisis_center API, broker and
database, with two coordinators in two browser contexts (tokens of subjects anne and bert): anne writes a follow-up
from the templates, sees the send planner's figures before she may submit it, submits it and cannot approve it (no
button; the API's refusal shown when the page is made to offer one); bert reviews its texts and plan and approves it
(sent), rejects another with a reason; a pending one expires when the app's clock passes its window; the all-clear
goes through the same approval and closes the crisis."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from tests.support import token
from tests.ui.a11y import LANGUAGE_LABEL, NONE, problems
from tests.ui.conftest import screenshot_path, watched_page
from tests.ui.support import Clock, coordinator_on_crisis, expect, with_manual_crisis

WAIT_MS = 30_000
TITLE = "Earthquake in Kathmandu"
FR_TEXT = "Arrêt des vols: " + "x" * 60  # ê: UCS-2, 76 units -> 2 segments (67 + 9)
EN_TEXT = "Belgian Foreign Affairs - the airport reopens tomorrow."
NL_TEXT = "Buitenlandse Zaken - de luchthaven gaat morgen open."
APPROVAL_MINUTES = 30  # the default BROADCAST_APPROVAL_MINUTES


@dataclass
class System:
    url: str
    pool: asyncpg.Pool
    clock: Clock  # the API's: the test moves it past a broadcast's approval window
    crisis_id: str


def bearer(subject: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token('coordinator', subject=subject)}"}


@pytest.fixture(scope="module")
async def system(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[System]:
    """The crisis_center API (with the dashboard) on its own clock, fresh topics and a fresh schema; one active
    manual crisis with four contacts (fr: SMS and email, nl: SMS, de: email, en: SMS)."""
    clock = Clock()
    async with with_manual_crisis("broadcasts", tmp_path_factory.mktemp("ui-broadcasts"), TITLE, clock) as (
            center, crisis_id):
        yield System(center.url, center.pool, clock, crisis_id)


@dataclass
class Coordinators:
    anne: Any
    bert: Any


@pytest.fixture(scope="module")
async def pages(browser: Any, system: System) -> AsyncIterator[Coordinators]:
    """Two coordinators, each signed in with a token of their own in a browser context of their own, the crisis
    selected."""
    async with watched_page(browser) as anne, watched_page(browser) as bert:
        for page, subject in ((anne, "anne"), (bert, "bert")):
            await coordinator_on_crisis(page, system.url, subject, system.crisis_id, timeout=WAIT_MS)
        yield Coordinators(anne, bert)


def item(page: Any, broadcast_id: str) -> Any:
    return page.locator(f'#bc-list li[data-broadcast-id="{broadcast_id}"]')


async def newest(system: System) -> asyncpg.Record:
    """The broadcast written last (the API's clock stands still between two: the audit log's order tells)."""
    row = await system.pool.fetchrow(
        "SELECT b.* FROM broadcasts b JOIN audit_log a ON a.detail->>'broadcast_id' = b.broadcast_id"
        " AND a.action = 'broadcast.created' ORDER BY a.id DESC LIMIT 1")
    assert row is not None
    return row


async def confirm(page: Any, contains: str) -> None:
    dialog = page.locator("#confirm")
    await expect(dialog).to_be_visible()
    await expect(page.locator("#confirm-text")).to_contain_text(contains)
    await page.locator("#confirm-ok").click()
    await expect(dialog).to_be_hidden()


async def audit_actions(system: System, broadcast_id: str) -> list[tuple[str, str]]:
    rows = await system.pool.fetch(
        "SELECT actor, action FROM audit_log WHERE detail->>'broadcast_id' = $1 ORDER BY id", broadcast_id)
    return [(r["actor"], r["action"]) for r in rows]


async def test_compose_plan_submit_and_the_author_cannot_approve(pages: Coordinators, system: System) -> None:
    anne = pages.anne
    await expect(anne.locator("#bc-list")).to_contain_text("No message yet.", timeout=WAIT_MS)
    await anne.get_by_role("button", name="Write a follow-up…").click()
    dialog = anne.locator("#bc-dialog")
    await expect(dialog).to_be_visible()
    # Pre-filled from the templates in every language, each written in its own language to start with.
    for label, start in (("English", "Belgian Foreign Affairs"), ("French", "Affaires étrangères"),
                         ("Dutch", "Buitenlandse Zaken"), ("German", "Auswärtige Angelegenheiten")):
        await expect(anne.get_by_label(f"{label} text", exact=True)).to_have_value(re.compile(f"^{start} - {TITLE}"))
    assert await anne.locator("#bc-audience option").evaluate_all("os => os.map((o) => o.value)") == [
        "everyone", "not_answered", "needs_help", "area"]  # the drawn area: test_dashboard_drawn_area_browser.py
    submit = dialog.get_by_role("button", name="Submit for approval")
    await expect(submit).to_be_disabled()  # the plan first

    await anne.get_by_label("English text", exact=True).fill(EN_TEXT)
    await anne.get_by_label("French text", exact=True).fill(FR_TEXT)
    await anne.get_by_label("Dutch text", exact=True).fill(NL_TEXT)
    await dialog.locator('fieldset[data-lang="de"]').get_by_label("Send the English text").check()
    await expect(anne.get_by_label("German text", exact=True)).to_be_hidden()
    await dialog.get_by_role("button", name="Show the plan").click()
    plan = anne.locator("#bc-plan")
    await expect(plan).to_contain_text("Reaches 4 people.", timeout=WAIT_MS)
    sms, email = plan.locator('tr[data-channel="sms"] td'), plan.locator('tr[data-channel="email"] td')
    await expect(sms).to_have_text(["1", "1", "0", "1", "3"])
    await expect(email).to_have_text(["1", "0", "1", "0", "2"])
    fr = plan.locator('.bc-sms li[data-lang="fr"]')
    await expect(fr).to_have_attribute("data-encoding", "UCS-2")
    await expect(fr).to_have_text("French: UCS-2, 76 units, 2 segment(s)")
    await expect(plan.locator('.bc-sms li[data-lang="de"]')).to_have_text("German: GSM-7, 55 units, 1 segment(s)")
    await expect(plan).to_contain_text("SMS segments billed: 4")  # fr 2, nl 1, en 1 (de: nobody with a phone)
    # 3 SMS at the default one sender of 50/s: 0.06 s; with one and two more senders at the mean rate (the
    # dashboard formats numbers as en-BE: a decimal comma).
    await expect(plan.locator(".bc-time")).to_have_attribute("data-seconds", "0.06")
    await expect(plan.locator(".bc-time")).to_contain_text("Last recipient after 0,1 s. 1 sender(s), 50 SMS/s")
    await expect(plan.locator(".bc-more li")).to_have_text(["2 senders (100 SMS/s): < 0,1 s",
                                                            "3 senders (150 SMS/s): < 0,1 s"])
    await expect(submit).to_be_enabled()
    assert await system.pool.fetchval("SELECT count(*) FROM broadcasts") == 0, "planning writes nothing"
    assert (await problems(anne))["unlabelled_controls"] == []
    await plan.scroll_into_view_if_needed()
    await anne.screenshot(path=screenshot_path("dashboard-broadcast-plan"))

    # A change makes the plan stale: it is shown again before the message can go.
    await anne.get_by_label("Dutch text", exact=True).fill(NL_TEXT + " ")
    await expect(submit).to_be_disabled()
    await expect(plan).to_contain_text("The message changed: show the plan again")
    await anne.get_by_label("Dutch text", exact=True).fill(NL_TEXT)
    await dialog.get_by_role("button", name="Show the plan").click()
    await expect(submit).to_be_enabled(timeout=WAIT_MS)
    await submit.click()
    await expect(dialog).to_be_hidden()
    await expect(anne.locator("#bc-result")).to_contain_text("Submitted: it waits for another coordinator's approval")
    row = await newest(system)
    assert (row["author"], row["status"], row["audience"], row["version"]) == ("anne", "pending", "everyone", 1)
    texts = row["texts"] if isinstance(row["texts"], dict) else json.loads(row["texts"])
    assert texts == {"fr": FR_TEXT, "nl": NL_TEXT, "en": EN_TEXT} and list(row["fallback"]) == ["de"]
    broadcast_id = row["broadcast_id"]

    # Her own: the note, Edit, and no Approve button.
    own = item(anne, broadcast_id)
    await expect(own).to_have_attribute("data-status", "pending", timeout=WAIT_MS)
    await expect(own).to_have_attribute("data-mine", "true")
    await expect(own.locator(".bc-note")).to_have_text(
        "Your message: another coordinator must approve it before it is sent.")
    await expect(own.get_by_role("button", name="Edit…")).to_be_visible()
    await expect(own.locator(".bc-approve")).to_have_count(0)
    await expect(own.locator('dd[data-lang="de"]')).to_have_text("(the English text)")

    # Forced: the page made to believe someone else wrote it offers Approve; the API refuses, and the page says so.
    list_path = re.compile(rf"/v1/crises/{system.crisis_id}/broadcasts$")

    async def someone_else(route: Any) -> None:
        response = await route.fetch()
        body = [{**b, "author": "someone-else"} for b in await response.json()]
        await route.fulfill(response=response, body=json.dumps(body))

    await anne.route(list_path, someone_else)
    try:
        forced = own.locator(".bc-approve")
        await expect(forced).to_be_enabled(timeout=WAIT_MS)
        await forced.click()
        await confirm(anne, "version 1")
        await expect(anne.locator("#bc-error")).to_have_text(
            "The request failed (403): the author cannot approve their own broadcast: a second coordinator must",
            timeout=WAIT_MS)
    finally:
        await anne.unroute_all(behavior="wait")  # a read in flight finishes first
    await expect(own.locator(".bc-approve")).to_have_count(0, timeout=WAIT_MS)
    assert ("anne", "broadcast.refused") in await audit_actions(system, broadcast_id)
    assert await system.pool.fetchval("SELECT status FROM broadcasts WHERE broadcast_id = $1", broadcast_id) \
        == "pending"

    # Bert sees its texts and plan, and approves it: sent.
    bert = pages.bert
    theirs = item(bert, broadcast_id)
    await expect(theirs).to_have_attribute("data-mine", "false", timeout=WAIT_MS)
    await expect(theirs.locator('dd[data-lang="fr"]')).to_have_text(FR_TEXT)
    await expect(theirs.locator('dd[data-lang="de"]')).to_have_text("(the English text)")
    await expect(theirs.locator(".bc-plan")).to_contain_text("Reaches 4 people.")
    await expect(theirs.locator(".bc-note")).to_have_count(0)
    await expect(theirs.get_by_role("button", name="Edit…")).to_have_count(0)
    assert await problems(bert) == NONE
    await theirs.scroll_into_view_if_needed()
    await bert.screenshot(path=screenshot_path("dashboard-broadcast-review"))
    await theirs.get_by_role("button", name="Approve and send…").click()
    await confirm(bert, "Send this message by anne (version 1) now to 4 people?")
    await expect(bert.locator("#bc-result")).to_have_text("Approved: 4 people, 5 messages being sent.", timeout=WAIT_MS)
    await expect(theirs).to_have_attribute("data-status", "approved", timeout=WAIT_MS)
    await expect(theirs.locator(".bc-status")).to_have_text("Approved, sent")
    await expect(theirs.locator(".bc-decision")).to_contain_text("Approved by bert")
    await expect(theirs.locator("button")).to_have_count(0)
    await expect(own).to_have_attribute("data-status", "approved", timeout=WAIT_MS)  # anne's page follows
    row = await system.pool.fetchrow("SELECT status, decided_by, sent_messages FROM broadcasts WHERE broadcast_id = $1",
                                     broadcast_id)
    assert dict(row) == {"status": "approved", "decided_by": "bert", "sent_messages": 5}


async def test_the_author_edits_and_the_second_rejects_with_a_reason(pages: Coordinators, system: System) -> None:
    anne, bert = pages.anne, pages.bert
    await anne.get_by_role("button", name="Write a follow-up…").click()
    dialog = anne.locator("#bc-dialog")
    await anne.get_by_label("English text", exact=True).fill(EN_TEXT)
    for language in ("fr", "nl", "de"):
        await dialog.locator(f'fieldset[data-lang="{language}"]').get_by_label("Send the English text").check()
    await anne.get_by_label("Who gets it").select_option("not_answered")
    await dialog.get_by_role("button", name="Show the plan").click()
    await expect(anne.locator("#bc-plan")).to_contain_text("Reaches 4 people.", timeout=WAIT_MS)
    await dialog.get_by_role("button", name="Submit for approval").click()
    await expect(dialog).to_be_hidden()
    broadcast_id = (await newest(system))["broadcast_id"]

    # Anne edits her message: the dialog holds what she wrote; saved, it is version 2.
    own = item(anne, broadcast_id)
    await own.get_by_role("button", name="Edit…").click(timeout=WAIT_MS)
    await expect(dialog).to_be_visible()
    await expect(anne.locator("#bc-dialog-title")).to_have_text("Edit your message")
    await expect(anne.get_by_label("English text", exact=True)).to_have_value(EN_TEXT)
    await expect(anne.get_by_label("Who gets it")).to_have_value("not_answered")
    await expect(dialog.locator('fieldset[data-lang="nl"]').get_by_label("Send the English text")).to_be_checked()
    await anne.get_by_label("English text", exact=True).fill("Belgian Foreign Affairs - the airport reopens on Monday.")
    await dialog.get_by_role("button", name="Show the plan").click()
    await dialog.get_by_role("button", name="Save as a new version").click(timeout=WAIT_MS)
    await expect(dialog).to_be_hidden()
    await expect(anne.locator("#bc-result")).to_contain_text("Saved as version 2")
    await expect(own.locator(".bc-meta")).to_contain_text("version 2", timeout=WAIT_MS)

    # Bert rejects it, with a reason (too short a reason is refused in the page).
    theirs = item(bert, broadcast_id)
    await expect(theirs.locator('dd[data-lang="en"]')).to_have_text(
        "Belgian Foreign Affairs - the airport reopens on Monday.", timeout=WAIT_MS)
    await theirs.get_by_role("button", name="Reject…").click()
    reject = bert.locator("#bc-reject-dialog")
    await expect(reject).to_be_visible()
    await expect(reject).to_contain_text("Follow-up by anne: it will not be sent.")
    reason = reject.get_by_label("Reason (kept in the audit trail)")
    await reason.fill("no")
    await reject.get_by_role("button", name="Reject", exact=True).click()
    await expect(reason).to_have_attribute("aria-invalid", "true")
    await expect(reject).to_be_visible()
    await reason.fill("the airport is not open on Monday")
    await reject.get_by_role("button", name="Reject", exact=True).click()
    await expect(reject).to_be_hidden()
    await expect(bert.locator("#bc-result")).to_have_text("Rejected: the message will not be sent.", timeout=WAIT_MS)
    await expect(theirs).to_have_attribute("data-status", "rejected", timeout=WAIT_MS)
    await expect(theirs.locator(".bc-reason")).to_have_text("the airport is not open on Monday")
    await expect(own).to_have_attribute("data-status", "rejected", timeout=WAIT_MS)
    await expect(own.get_by_role("button", name="Edit…")).to_have_count(0)
    row = await system.pool.fetchrow(
        "SELECT status, decided_by, reason, version FROM broadcasts WHERE broadcast_id = $1", broadcast_id)
    assert dict(row) == {"status": "rejected", "decided_by": "bert", "reason": "the airport is not open on Monday",
                         "version": 2}
    assert [a for _, a in await audit_actions(system, broadcast_id)] == [
        "broadcast.created", "broadcast.edited", "broadcast.rejected"]


async def test_a_pending_message_expires_when_the_clock_passes_its_window(
        pages: Coordinators, system: System) -> None:
    async with httpx.AsyncClient(base_url=system.url) as client:
        created = await client.post(f"/v1/crises/{system.crisis_id}/broadcasts", headers=bearer("anne"), json={
            "texts": {"fr": None, "nl": None, "de": None, "en": EN_TEXT}, "audience": "needs_help"})
        assert created.status_code == 201, created.text
    broadcast_id = created.json()["broadcast_id"]
    theirs = item(pages.bert, broadcast_id)
    await expect(theirs).to_have_attribute("data-status", "pending", timeout=WAIT_MS)
    await expect(theirs.locator(".bc-plan")).to_contain_text("Reaches 0 people.")  # nobody answered 'needs help'
    await expect(theirs.get_by_role("button", name="Approve and send…")).to_be_visible()
    system.clock.at += timedelta(minutes=APPROVAL_MINUTES, seconds=1)
    await expect(theirs).to_have_attribute("data-status", "expired", timeout=WAIT_MS)
    await expect(theirs.locator(".bc-status")).to_have_text("Expired")
    await expect(theirs.locator(".bc-decision")).to_contain_text("Expired unsent at")
    await expect(theirs.locator("button")).to_have_count(0)
    await expect(item(pages.anne, broadcast_id)).to_have_attribute("data-status", "expired", timeout=WAIT_MS)
    assert ("system", "broadcast.expired") in await audit_actions(system, broadcast_id)


async def test_the_all_clear_goes_through_the_same_approval_and_closes_the_crisis(
        pages: Coordinators, system: System) -> None:
    anne, bert = pages.anne, pages.bert
    await anne.get_by_role("button", name="Send the all-clear…").click()
    await confirm(anne, "Another coordinator must approve it")
    await expect(anne.locator("#bc-result")).to_contain_text("Submitted", timeout=WAIT_MS)
    row = await newest(system)
    assert (row["kind"], row["author"], row["status"]) == ("all_clear", "anne", "pending")
    own = item(anne, row["broadcast_id"])
    await expect(own).to_have_attribute("data-kind", "all_clear", timeout=WAIT_MS)
    await expect(own.locator(".bc-kind")).to_have_text("All-clear")
    await expect(own.locator(".bc-note")).to_be_visible()
    await expect(own.locator("button")).to_have_count(0)  # neither Approve nor Edit (it has no text of its own)
    assert await system.pool.fetchval("SELECT status FROM crises WHERE crisis_id = $1", system.crisis_id) == "active"

    theirs = item(bert, row["broadcast_id"])
    await expect(theirs.locator('dd[data-lang="en"]')).to_contain_text(f'the crisis "{TITLE}" is over',
                                                                       timeout=WAIT_MS)
    await expect(theirs.locator(".bc-plan")).to_contain_text("Reaches 4 people.")
    await theirs.get_by_role("button", name="Approve and send…").click()
    await confirm(bert, f"Send the all-clear by anne to 4 people and close “{TITLE}”?")
    await expect(theirs).to_have_attribute("data-status", "approved", timeout=WAIT_MS)
    assert await system.pool.fetchval("SELECT status FROM crises WHERE crisis_id = $1", system.crisis_id) == "closed"
    # Closed: nothing more to write; the messages stay listed.
    for page in (anne, bert):
        await expect(page.locator("#d-status")).to_have_text("Closed", timeout=WAIT_MS)
        await expect(page.locator("#bc-tools")).to_be_hidden()
        await expect(page.locator("#bc-list li[data-broadcast-id]")).to_have_count(4)
    # Readable, labelled and fitting in every language with the list filled.
    for language in ("fr", "nl", "de"):
        await bert.get_by_label(LANGUAGE_LABEL).select_option(language)
        await expect(theirs.locator(".bc-status")).not_to_have_text("Approved, sent")
        assert await problems(bert) == NONE, language
