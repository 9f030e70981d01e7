"""Issue 23 on the coordinators' dashboard, in headless Chromium against the real crisis_center API (with the
dashboard, its event stream and outbox relay, on the real broker and database) and the real notifier API (its own
schema): an exercise crisis opened through the API arrives live and carries the EXERCISE badge (EXERCICE,
OEFENING, ÜBUNG) on its card, in its detail header, in its messages panel and in the compose dialog, a real crisis
none; the "Activate a crisis…" dialog opens an exercise when its checkbox is ticked; the delivery progress
shows the notifier's throttled, expired, deduplicated and fallback counts, explained.

The notifier's rows are written into its database (its worker's limits and fallbacks are tested in
tests/notifier/test_notifier_fallback_limits.py): what is checked here is the notifier's `GET /v1/notifications`,
the dashboard's pass-through and the page, end to end."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
import pytest

from services.notifier.api import create_app as notifier_app
from shared.db import create_pool
from tests.support import database_url, drop_schema, free_port, new_schema, token, unique
from tests.ui.a11y import LANGUAGE_LABEL, NONE, problems
from tests.ui.conftest import screenshot_path, serve, watched_page
from tests.ui.support import crisis_center, expect, notifier_settings, sign_in_coordinator

HOTLINES = "+3225015000,+3225015001"
WAIT_MS = 30_000
TEST_LIST = "+32470000091:fr, drill-desk@example.org"
BADGES = {"en": "EXERCISE", "fr": "EXERCICE", "nl": "OEFENING", "de": "ÜBUNG"}
# The notifier's rows of the exercise crisis: (status, channel, recipient, fallback of the n-th row or None).
ROWS: list[tuple[str, str, str, int | None]] = [
    ("delivered", "sms", "+32470000101", None),
    ("delivered", "sms", "+32470000102", None),
    ("throttled", "sms", "+32470000103", None),
    ("expired", "sms", "+32470000104", None),
    ("expired", "sms", "+32470000105", None),
    ("expired", "sms", "+32470000106", None),
    ("deduplicated", "sms", "+32470000102", None),  # the same text to a phone two people share
    ("failed", "sms", "+32470000107", None),
    ("sent", "email", "p107@example.org", 7),  # the failed SMS's fallback by e-mail
]


@dataclass
class System:
    url: str
    notifier_url: str
    notifier_pool: asyncpg.Pool


@pytest.fixture(scope="module")
async def system(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[System]:
    """crisis_center (API + dashboard) with a test list for exercises, and the notifier's API, on fresh topics and
    schemas."""
    notifier_schema, notifier_port = await new_schema("notifier"), free_port()
    notifier_url = f"http://127.0.0.1:{notifier_port}"
    pool = await create_pool(database_url(), notifier_schema, min_size=1, max_size=2)
    try:
        async with crisis_center("exercise", tmp_path_factory.mktemp("ui-exercise"), hotline_numbers=HOTLINES,
                                 exercise_recipients=TEST_LIST, notifier_url=notifier_url) as center:
            notifier = notifier_settings(schema=notifier_schema, prefix=center.prefix, port=notifier_port,
                                         database_pool_max=4)
            async with serve(notifier_app(notifier), notifier_port):
                yield System(center.url, notifier_url, pool)
    finally:
        await pool.close()
        await drop_schema(notifier_schema)


@pytest.fixture(scope="module")
async def page(browser: Any, system: System) -> AsyncIterator[Any]:
    """A coordinator signed in with a token of the local configuration, the event stream on."""
    async with watched_page(browser) as page:
        await sign_in_coordinator(page, system.url, "cora")
        await expect(page.locator("#live")).to_have_attribute("data-state", "on", timeout=WAIT_MS)
        yield page


@dataclass
class Crises:
    drill: str
    real: str


@pytest.fixture(scope="module")
async def crises(page: Any, system: System) -> Crises:
    """An exercise and a real crisis, opened through the API once the page is open: they arrive on the stream."""
    tag = unique("")
    ids = []
    async with httpx.AsyncClient(base_url=system.url, headers={"Authorization": f"Bearer {token('coordinator')}"}) \
            as client:
        for title, exercise in ((f"Drill: flood in Ghent {tag}", True), (f"Storm in Lisbon {tag}", False)):
            created = await client.post("/v1/crises", json={
                "title": title, "kind": "flood" if exercise else "storm", "exercise": exercise,
                "area": {"country": "BE" if exercise else "PT"}})
            assert created.status_code == 201, created.text
            assert created.json()["exercise"] is exercise
            ids.append(created.json()["crisis_id"])
        assert (await client.get(f"/v1/crises/{ids[0]}")).json()["exercise"] is True
    return Crises(drill=ids[0], real=ids[1])


def card(page: Any, crisis_id: str) -> Any:
    return page.locator(f'.crisis-card[data-crisis-id="{crisis_id}"]')


async def select(page: Any, crisis_id: str) -> None:
    """Selects the crisis (a click on the selected card would unselect it)."""
    target = card(page, crisis_id)
    await expect(target).to_be_visible(timeout=WAIT_MS)
    if await target.get_attribute("aria-pressed") != "true":
        await target.click()
    await expect(target).to_have_attribute("aria-pressed", "true")


async def test_an_exercise_crisis_is_marked_in_the_list_the_detail_and_the_messages_panel(
        page: Any, system: System, crises: Crises) -> None:
    drill, real = card(page, crises.drill), card(page, crises.real)
    await expect(drill).to_be_visible(timeout=WAIT_MS)  # live, through the event stream
    await expect(real).to_be_visible(timeout=WAIT_MS)
    await expect(drill.locator(".badge-exercise")).to_have_text("EXERCISE")
    await expect(drill).to_have_attribute("data-exercise", "true")
    await expect(real.locator(".badge-exercise")).to_have_count(0)
    await expect(real).to_have_attribute("data-exercise", "false")

    # The detail header, the messages panel and the compose dialog say EXERCISE too.
    await select(page, crises.drill)
    header = page.locator("#d-exercise")
    await expect(header).to_be_visible()
    await expect(header.locator(".badge-exercise")).to_have_text("EXERCISE")
    await expect(header).to_contain_text("not a real crisis")
    await expect(page.locator("#broadcasts")).to_be_visible()
    await expect(page.locator("#bc-exercise")).to_be_visible()
    await expect(page.locator("#bc-exercise")).to_contain_text("test list")
    assert await problems(page) == NONE
    await page.screenshot(path=screenshot_path("dashboard-exercise"))
    await page.get_by_role("button", name="Write a follow-up…").click()
    await expect(page.locator("#bc-dialog")).to_be_visible()
    await expect(page.locator("#bc-dialog-exercise .badge-exercise")).to_have_text("EXERCISE")
    await page.keyboard.press("Escape")
    await expect(page.locator("#bc-dialog")).to_be_hidden()

    # In every language of the dashboard.
    for language in ("fr", "nl", "de"):
        await page.get_by_label(LANGUAGE_LABEL).select_option(language)
        await expect(drill.locator(".badge-exercise")).to_have_text(BADGES[language])
        await expect(header.locator(".badge-exercise")).to_have_text(BADGES[language])
        await expect(page.locator("#bc-exercise .badge-exercise")).to_have_text(BADGES[language])
        assert await problems(page) == NONE, language
    await page.get_by_label(LANGUAGE_LABEL).select_option("en")

    # A real crisis: no mark anywhere.
    await select(page, crises.real)
    await expect(page.locator("#detail-title")).to_have_text(re.compile("^Storm in Lisbon"))
    await expect(header).to_be_hidden()
    await expect(page.locator("#bc-exercise")).to_be_hidden()
    await expect(page.locator(".badge-exercise:visible")).to_have_count(1)  # the drill's card only


async def test_an_exercise_is_opened_through_the_activation_dialog(page: Any, system: System) -> None:
    """The "Activate a crisis…" dialog opens an exercise when its checkbox is ticked: the button and the confirmation
    say so, the API gets `exercise: true`, the new card carries the EXERCISE badge; unticked, it says Activate again."""
    await page.get_by_label(LANGUAGE_LABEL).select_option("en")
    await page.locator("#open-activate").click()
    dialog = page.locator("#activate-dialog")
    await expect(dialog).to_be_visible()
    submit = dialog.locator("#activate-submit")
    await expect(submit).to_have_text("Activate…")
    title = f"Drill: earthquake in Liège {unique('')}"
    await dialog.get_by_label("Title").fill(title)
    await dialog.get_by_label("Kind of incident").select_option("earthquake")
    await dialog.get_by_label("Country (ISO code, e.g. NP)").fill("BE")
    checkbox = dialog.get_by_label("Exercise (messages go to the test list only)")
    await checkbox.check()
    await expect(submit).to_have_text("Open the exercise…")
    # The button follows the language (the language select is behind the modal dialog: changed by script).
    for language, text in (("fr", "Ouvrir l'exercice…"), ("de", "Übung eröffnen…"), ("en", "Open the exercise…")):
        await page.evaluate("""(language) => { const select = document.getElementById("language");
          select.value = language; select.dispatchEvent(new Event("change")); }""", language)
        await expect(submit).to_have_text(text)
    assert await problems(page) == NONE
    await page.screenshot(path=screenshot_path("dashboard-activate-exercise"))

    async with page.expect_request(lambda r: r.method == "POST" and r.url.endswith("/v1/crises")) as posted:
        await submit.click()
        confirm = page.locator("#confirm")
        await expect(confirm).to_contain_text(title)
        await expect(confirm).to_contain_text("Open the exercise")
        await expect(confirm).to_contain_text("test list")
        await confirm.get_by_role("button", name="Confirm").click()
    assert (await posted.value).post_data_json["exercise"] is True

    created = page.locator(".crisis-card", has_text=title)
    await expect(created).to_be_visible(timeout=WAIT_MS)
    await expect(created).to_have_attribute("data-exercise", "true")
    await expect(created.locator(".badge-exercise")).to_have_text("EXERCISE")
    await expect(page.locator("#flash")).to_have_text(f"The exercise “{title}” is open.")
    await expect(page.locator("#d-exercise")).to_be_visible()  # selected: its detail header says EXERCISE
    crisis_id = await created.get_attribute("data-crisis-id")
    async with httpx.AsyncClient(base_url=system.url,
                                 headers={"Authorization": f"Bearer {token('coordinator')}"}) as client:
        shown = await client.get(f"/v1/crises/{crisis_id}")
    assert shown.status_code == 200 and shown.json()["exercise"] is True, shown.text

    # The form is reset: the next activation is a real one unless ticked again.
    await page.locator("#open-activate").click()
    await expect(dialog).to_be_visible()
    await expect(checkbox).not_to_be_checked()
    await expect(submit).to_have_text("Activate…")
    await page.keyboard.press("Escape")
    await expect(dialog).to_be_hidden()


async def insert_rows(pool: asyncpg.Pool, crisis_id: str) -> None:
    ids = [f"n-{crisis_id}-{n}" for n in range(len(ROWS))]
    for n, (status, channel, recipient, fallback_of) in enumerate(ROWS):
        await pool.execute(
            "INSERT INTO notifications (notification_id, dedup_key, purpose, channel, recipient, language, template,"
            " priority, crisis_id, body, status, reason, send_state, fallback_of)"
            " VALUES ($1, $1, $2, $3, $4, 'en', 'crisis_alert', 1, $5, '', $6, $7, 'done', $8)",
            ids[n], f"crisis:{crisis_id}:alert", channel, recipient, crisis_id, status,
            {"throttled": "per_number_hourly_limit", "expired": "validity_passed",
             "deduplicated": "same_text_within_hour"}.get(status),
            ids[fallback_of] if fallback_of is not None else None)


async def test_delivery_counts_show_throttled_expired_deduplicated_and_fallbacks(
        page: Any, system: System, crises: Crises) -> None:
    await insert_rows(system.notifier_pool, crises.drill)
    headers = {"Authorization": f"Bearer {token('coordinator')}"}
    async with httpx.AsyncClient(headers=headers) as client:
        direct = await client.get(f"{system.notifier_url}/v1/notifications",
                                  params={"crisis_id": crises.drill, "limit": 0})
        passed = await client.get(f"{system.url}/dashboard/api/notifications", params={"crisis_id": crises.drill})
    assert direct.status_code == passed.status_code == 200, (direct.text, passed.text)
    assert passed.json() == direct.json()
    progress = direct.json()
    assert (progress["throttled"], progress["expired"], progress["deduplicated"], progress["fallbacks"]) == (1, 3, 1, 1)
    assert progress["total"] == len(ROWS) and progress["notifications"] == []

    await page.reload()  # the delivery progress of the crisis is read when it is selected
    await expect(page.locator("#app")).to_be_visible()
    await select(page, crises.drill)
    box = page.locator("#delivery")
    expected = {"delivered": "2", "sent": "1", "failed": "1", "throttled": "1", "expired": "3", "deduplicated": "1",
                "fallbacks": "1", "queued": "0"}
    for status, count in expected.items():
        await expect(box.locator(f'li[data-status="{status}"] strong')).to_have_text(count, timeout=WAIT_MS)
    await expect(box.locator(".total")).to_have_text(f"{len(ROWS)} messages")
    await expect(box.locator('li[data-status="throttled"]')).to_contain_text("Held (hourly limit)")
    await expect(box.locator('li[data-status="throttled"]')).to_have_attribute("title", re.compile("in an hour"))
    await expect(box.locator('li[data-status="expired"]')).to_have_attribute("title", re.compile("not sent late"))
    await expect(box.locator('li[data-status="fallbacks"]')).to_contain_text("Sent by another channel")
    assert await box.locator(".bar .seg-throttled, .bar .seg-expired, .bar .seg-deduplicated").count() == 3

    # The explanations, in a line each once asked for, in the dashboard's languages.
    help_box = page.locator("#delivery-help")
    await help_box.locator("summary").click()
    await expect(help_box).to_contain_text("same text already went to the same number")
    await expect(help_box).to_contain_text("by email or a voice call")
    await page.screenshot(path=screenshot_path("dashboard-delivery-limits"))
    assert await problems(page) == NONE
    await page.get_by_label(LANGUAGE_LABEL).select_option("fr")
    await expect(box.locator('li[data-status="throttled"]')).to_contain_text("Retenus (limite horaire)")
    await expect(box.locator('li[data-status="expired"] strong')).to_have_text("3")
    await expect(help_box.locator("summary")).to_have_text("Que signifient ces chiffres")
    await page.get_by_label(LANGUAGE_LABEL).select_option("de")
    await expect(box.locator('li[data-status="deduplicated"]')).to_contain_text("Doppelte nicht gesendet")
    await page.get_by_label(LANGUAGE_LABEL).select_option("en")
