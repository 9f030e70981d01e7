"""The duty officers' console in headless Chromium against the real intake service (API and worker): a report is
entered, a bad phone number is refused inline from the 422 body, a good one gives the reference, the officer card
and the reply-due date, and the responsible post appears once the directory's routing arrives."""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaProducer

from services.crisis_center.dashboard.demo import DemoSettings, send_sms
from shared.events.directory import CaseRouted
from shared.kafka.producer import publish
from shared.passwords import hash_password
from tests.support import auth, database_url, token
from tests.ui.a11y import NONE, problems
from tests.ui.conftest import VIEWPORT, screenshot_path, watched_page
from tests.ui.support import expect, fill_sign_in, intake_service, use_token

USER, PASSWORD = "officer-omar", "night-shift-42"
REFERENCE = re.compile(r"^BE-\d{4}-\d{6}$")
WAIT_MS = 60_000


class Clock:
    """Intake's clock for the charter board (None: the real time), so that cases fall due without waiting days."""

    def __init__(self) -> None:
        self.at: datetime | None = None

    def __call__(self) -> datetime:
        return self.at or datetime.now(UTC)


@dataclass
class Intake:
    url: str
    prefix: str
    producer: AIOKafkaProducer
    clock: Clock


@pytest.fixture(scope="module")
async def intake() -> AsyncIterator[Intake]:
    clock = Clock()
    async with intake_service("console", clock=clock) as service:
        # The console's sign-in is an officer's own: the user is Duty Officer B of the seed.
        conn = await asyncpg.connect(database_url())
        try:
            await conn.execute(f"UPDATE {service.settings.database_schema}.officers SET login = $1, password_hash = $2"
                               " WHERE officer_id = 2", USER, hash_password(PASSWORD, iterations=10_000))
        finally:
            await conn.close()
        yield Intake(service.url, service.settings.kafka_topic_prefix, service.producer, clock)


@pytest.fixture(scope="module")
async def page(browser: Any, intake: Intake) -> AsyncIterator[Any]:
    async with watched_page(browser) as page:
        yield page


async def signed_in(page: Any, intake: Intake) -> None:
    """The console, signed in (a test run on its own does not follow the first test's sign-in)."""
    if not await page.locator("#app").is_visible():
        await page.goto(f"{intake.url}/console")
        await fill_sign_in(page, USER, PASSWORD)
    await expect(page.locator("#app")).to_be_visible()


async def new_case(intake: Intake, headers: dict[str, str], report: dict[str, Any]) -> dict[str, Any]:
    """The case of a report entered through intake's API (with `headers`: a duty officer's token)."""
    async with httpx.AsyncClient(base_url=intake.url, headers=headers) as client:
        response = await client.post("/v1/reports", json=report)
    assert response.status_code == 201, response.text
    case: dict[str, Any] = response.json()
    return case


async def fill_report(page: Any, *, phone: str) -> None:
    await page.get_by_label("Kind of report").select_option("lost_document")
    await page.get_by_label("Received by").select_option("phone")
    await page.get_by_label("Full name").first.fill("Lies Janssens")
    await page.get_by_label("Reporter's language").select_option("nl")
    await page.get_by_label("Phone", exact=True).fill(phone)
    await page.get_by_label("Country", exact=True).select_option("TH")
    await page.get_by_label("City").fill("Bangkok")
    await page.get_by_label("What happened").fill("Passport stolen at the hotel; flight home in three days.")


async def test_report_with_inline_error_then_reference_and_post(page: Any, intake: Intake) -> None:
    await page.goto(f"{intake.url}/console")
    await fill_sign_in(page, USER, PASSWORD)
    await expect(page.locator("#app")).to_be_visible()
    await expect(page.locator("#who")).to_contain_text(USER)

    # A bad phone number: the 422 names reporter.phone, the error shows beside the field.
    await fill_report(page, phone="12")
    await page.get_by_role("button", name="Register the report").click()
    phone_error = page.locator('[data-error-for="reporter.phone"]')
    await expect(phone_error).to_be_visible(timeout=WAIT_MS)
    await expect(phone_error).to_have_text("Not a valid phone number.")
    await expect(page.get_by_label("Phone", exact=True)).to_have_attribute("aria-invalid", "true")
    await expect(page.locator("#error-summary")).to_be_visible()
    await expect(page.locator("#error-summary")).to_be_focused()
    await expect(page.locator("#result")).to_be_hidden()
    await page.screenshot(path=screenshot_path("console-phone-error"))
    assert await problems(page) == NONE

    # A good one: reference, officer card and reply-due date; the post is still being determined.
    await page.get_by_label("Phone", exact=True).fill("+32 470 12 34 56")
    await page.get_by_role("button", name="Register the report").click()
    reference_box = page.locator("#r-reference")
    await expect(reference_box).to_have_text(REFERENCE, timeout=WAIT_MS)
    await expect(phone_error).to_be_hidden()
    reference = await reference_box.inner_text()
    await expect(page.locator("#r-officer strong")).not_to_be_empty()
    async with httpx.AsyncClient(base_url=intake.url) as api:  # the year the case's own due date falls in
        case = (await api.get(f"/v1/reports/{reference}",
                              headers={"Authorization": f"Bearer {token('duty_officer')}"})).json()
    await expect(page.locator("#r-reply-due")).to_contain_text(str(datetime.fromisoformat(case["reply_due_by"]).year))
    await expect(page.locator("#r-post")).to_have_text("Being determined…")

    # The directory routes the case: the post appears without any action.
    await publish(intake.producer, CaseRouted(
        reference=reference, service="emergency_travel_document", basis="consular_jurisdiction",
        post={"post_id": "th-bangkok", "name": "Embassy of Belgium in Bangkok", "type": "embassy",
              "city": "Bangkok", "country": "TH", "phone": "+6621080910", "email": "bangkok@diplomatie.example"},
        resolved_at=datetime.now(UTC)), source="/tests/ui", topic_prefix=intake.prefix)
    await expect(page.locator("#r-post .post-name")).to_have_text("Embassy of Belgium in Bangkok", timeout=WAIT_MS)
    await page.screenshot(path=screenshot_path("console-registered"))
    assert await problems(page) == NONE

    # Look the case up by its reference.
    await page.get_by_label("Reference (BE-YYYY-NNNNNN)").fill(reference)
    await page.get_by_role("button", name="Find", exact=True).click()
    await expect(page.locator("#lookup-result")).to_contain_text(reference)
    await expect(page.locator("#lookup-result")).to_contain_text("Embassy of Belgium in Bangkok")


async def test_console_speaks_the_chosen_language_and_explains_missing_endpoints(page: Any, intake: Intake) -> None:
    await page.goto(f"{intake.url}/console")
    await expect(page.locator("#app")).to_be_visible()
    await page.get_by_label("Language", exact=True).select_option("de")
    await expect(page.locator("#report-title")).to_have_text("Neue Meldung")
    await page.reload()
    await expect(page.locator("#submit")).to_have_text("Meldung erfassen")
    await page.get_by_role("button", name="Meldung erfassen").click()  # empty form: every required field is named
    await expect(page.locator('[data-error-for="kind"]')).to_have_text("Dieses Feld ist erforderlich.", timeout=WAIT_MS)
    await expect(page.locator('[data-error-for="description"]')).to_be_visible()
    # The search finds the case of the first test (Lies Janssens); nothing falls due within three days yet.
    await page.get_by_label("Name, Telefonnummer oder Aktenzeichen").fill("janssens")
    await page.get_by_role("button", name="Suchen", exact=True).last.click()
    await expect(page.locator("#search-result .case-open").first).to_have_text(REFERENCE)
    await expect(page.locator("#board")).to_contain_text("Nichts fällig.")
    await page.screenshot(path=screenshot_path("console-de"))
    assert await problems(page) == NONE
    await page.get_by_label("Sprache", exact=True).select_option("en")


async def test_the_accessibility_checks_catch_what_they_look_for(page: Any, intake: Intake) -> None:
    await page.goto(f"{intake.url}/console")
    await expect(page.locator("#app")).to_be_visible()
    assert await problems(page) == NONE
    await page.evaluate("""() => {
      const faint = document.createElement("p"); faint.id = "faint"; faint.textContent = "grey on white";
      faint.style.color = "#b0b0b0"; document.querySelector("#report-form").prepend(faint);
      const bare = document.createElement("input"); bare.id = "bare";
      document.querySelector("#report-form").prepend(bare);
      const wide = document.createElement("div"); wide.style.width = "1600px"; wide.style.height = "2px";
      document.body.append(wide);
    }""")
    found = await problems(page)
    assert any(item.startswith("p#faint") for item in found["low_contrast"])
    assert found["unlabelled_controls"] == ["bare"]
    assert found["horizontal_overflow"] is True


async def test_a_pasted_token_needs_the_duty_officer_role(browser: Any, intake: Intake) -> None:
    context = await browser.new_context(viewport=VIEWPORT, locale="en-GB")
    try:
        page = await context.new_page()
        await page.goto(f"{intake.url}/console")
        await use_token(page, token("coordinator", subject="coord"))
        await expect(page.locator("#signin-error")).to_have_text("This token does not carry the duty_officer role.")
        await expect(page.locator("#app")).to_be_hidden()
        await use_token(page, token("duty_officer", subject="officer-lea"))
        await expect(page.locator("#who")).to_have_text("Signed in as officer-lea")
        await page.get_by_role("button", name="Sign out").click()
        await expect(page.locator("#signin")).to_be_visible()
        await page.reload()  # signed out for good
        await expect(page.locator("#signin")).to_be_visible()
    finally:
        await context.close()


async def test_the_demo_sms_reaches_intake_as_a_signed_webhook(intake: Intake) -> None:
    narration: list[str] = []
    settings = DemoSettings(intake_url=intake.url, twilio_auth_token=os.environ["TWILIO_AUTH_TOKEN"])  # type: ignore[arg-type]
    await send_sms(settings, "+9779801000009", "Earthquake, we are safe but our passports are lost", narration.append)
    assert narration == ["  SMS from +977980…: intake answered 200"]
    forged = DemoSettings(intake_url=intake.url, twilio_auth_token="not-the-token")  # type: ignore[arg-type]
    await send_sms(forged, "+9779801000009", "forged", narration.append)
    assert narration[-1].endswith("answered 403")


async def test_search_and_charter_board_by_keyboard(page: Any, intake: Intake) -> None:
    duty = {"Authorization": f"Bearer {token('duty_officer', subject='setup')}"}

    async def submit(name: str, phone: str) -> dict[str, Any]:
        return await new_case(intake, duty, {
            "kind": "lost_document", "complex": False, "description": "Passeport perdu",
            "reporter": {"full_name": name, "language": "fr", "channel": "phone", "phone": phone},
            "location": {"country": "NP", "city": "Kathmandu"}})

    emilie = await submit("Émilie Dubœuf", "+32470555111")
    other = await submit("Pieter Claes", "+32470555222")
    async with httpx.AsyncClient(base_url=intake.url) as client:  # emilie's is Duty Officer A's, other's B's
        for case, officer_id in ((emilie, 1), (other, 2)):
            moved = await client.post(f"/v1/reports/{case['reference']}/assignee", json={"officer_id": officer_id},
                                      headers=duty)
            assert moved.status_code in (200, 409), moved.text  # 409: already theirs
    await page.goto(f"{intake.url}/console")
    await expect(page.locator("#app")).to_be_visible()

    # Typed without accents or capitals, then by the national form of the phone number; Enter submits.
    search_box = page.get_by_label("Name, phone number or reference")
    await search_box.fill("EMILIE DUBOEUF")
    await search_box.press("Enter")
    results = page.locator("#search-result .case-open")
    await expect(results).to_have_count(1)
    await expect(results).to_have_text(emilie["reference"])
    await search_box.fill("0470 55 52 22")
    await search_box.press("Enter")
    await expect(results).to_have_text(other["reference"])
    await search_box.fill("nobody by this name")
    await search_box.press("Enter")
    await expect(page.locator("#search-result")).to_have_text("No case found.")
    await search_box.fill("dubœuf")
    await page.get_by_label("Status", exact=True).select_option("closed")
    await search_box.press("Enter")
    await expect(page.locator("#search-result")).to_have_text("No case found.")
    await page.get_by_label("Status", exact=True).select_option("")
    await search_box.press("Enter")
    await expect(results).to_have_text(emilie["reference"])

    # Tab from the status to the button, then to the result: Enter opens the case in the look-up panel.
    await page.get_by_label("Status", exact=True).focus()
    await page.keyboard.press("Tab")
    await page.keyboard.press("Tab")
    await expect(page.get_by_role("button", name=f"Open case {emilie['reference']}")).to_be_focused()
    await page.keyboard.press("Enter")
    await expect(page.locator("#lookup-result")).to_contain_text(emilie["reference"])
    await expect(page.get_by_label("Reference (BE-YYYY-NNNNNN)")).to_have_value(emilie["reference"])
    await page.screenshot(path=screenshot_path("console-search"))
    assert await problems(page) == NONE

    # The charter board when intake's clock says the reply is due in a day, then two days late.
    due = datetime.fromisoformat(emilie["reply_due_by"])
    board = page.locator("#board")
    try:
        intake.clock.at = due - timedelta(days=1)
        await page.get_by_role("button", name="Refresh the charter board").click()
        await expect(board.locator(".board-due_soon")).to_contain_text(emilie["reference"])
        await expect(board.locator("h3").nth(1)).to_contain_text("Reply due within 3 days")
        intake.clock.at = due + timedelta(days=2)
        await page.get_by_role("button", name="Refresh the charter board").click()
        await expect(board.locator(".board-overdue")).to_contain_text(emilie["reference"])
        await expect(board.locator(".board-overdue")).to_contain_text(other["reference"])
        await page.get_by_label("Only my cases").check()  # signed in as Duty Officer B: only other's case
        await expect(board.locator(".board-overdue")).to_contain_text(other["reference"])
        await expect(board.locator(".board-overdue")).not_to_contain_text(emilie["reference"])
        await page.get_by_label("Only my cases").uncheck()
        await expect(board.locator(".board-overdue")).to_contain_text(emilie["reference"])
        await board.get_by_role("button", name=f"Open case {other['reference']}").click()
        await expect(page.locator("#lookup-result")).to_contain_text(other["reference"])
        await board.scroll_into_view_if_needed()
        await page.screenshot(path=screenshot_path("console-board"))
        assert await problems(page) == NONE
    finally:
        intake.clock.at = None


async def test_the_console_shows_who_is_on_call_now_and_next(page: Any, intake: Intake) -> None:
    """Entries written through the admin API; intake's clock set outside office hours (a Sunday night)."""
    at = datetime(2031, 2, 2, 3, 0, tzinfo=UTC)
    admin = {"Authorization": f"Bearer {token('admin')}"}
    async with httpx.AsyncClient(base_url=intake.url, headers=admin) as client:
        for body in ({"starts_at": at - timedelta(hours=1), "ends_at": at + timedelta(hours=2), "officer_id": 1,
                      "backup_officer_id": 2},
                     {"starts_at": at + timedelta(hours=2), "ends_at": at + timedelta(days=1), "officer_id": 3}):
            response = await client.post("/v1/admin/roster", json={k: v.isoformat() if isinstance(v, datetime)
                                                                   else v for k, v in body.items()})
            assert response.status_code == 201, response.text
    box = page.locator("#oncall")
    await signed_in(page, intake)
    try:
        intake.clock.at = at
        await page.get_by_role("button", name="Refresh who is on call").click()
        await expect(box.locator('[data-oncall="now"]')).to_contain_text("Duty Officer A", timeout=WAIT_MS)
        await expect(box.locator('[data-oncall="now"]')).to_contain_text("Duty Officer B")  # the backup
        await expect(box.locator('[data-oncall="next"]')).to_contain_text("Detention Desk")
        await expect(box.locator('[data-oncall="office_hours"]')).to_contain_text("Outside office hours")
        intake.clock.at = at + timedelta(days=2)  # after every entry: nobody
        await page.get_by_role("button", name="Refresh who is on call").click()
        await expect(box.locator('[data-oncall="now"]')).to_contain_text("nobody")
        await expect(box.locator('[data-oncall="next"]')).to_contain_text("No change planned")
        assert await problems(page) == NONE
    finally:
        intake.clock.at = None


async def test_a_case_from_received_to_closed_in_the_console(page: Any, intake: Intake) -> None:
    """Template, reply, note, waiting for the citizen, close, reopen: each through the page's own forms."""
    intake.clock.at = None
    case = await new_case(intake, auth("duty_officer"), {
        "kind": "lost_document", "description": "Paspoort gestolen in Gent", "location": {"country": "BE"},
        "reporter": {"full_name": "Lies Janssens", "language": "nl", "channel": "email", "email": "lies@example.org"}})
    reference = case["reference"]
    await signed_in(page, intake)
    await page.get_by_label("Reference (BE-YYYY-NNNNNN)").fill(reference)
    await page.get_by_role("button", name="Find").click()
    result = page.locator("#lookup-result")
    await expect(result.locator('[data-charter="pending"]')).to_be_visible(timeout=WAIT_MS)

    reply_form = result.locator('form[data-action="reply"]')
    await reply_form.get_by_role("button", name="Start from the template").click()
    await expect(reply_form.get_by_label("Reply to the citizen")).to_have_value(re.compile("Om uw document"))
    await reply_form.get_by_label("Reply to the citizen").fill("Uw noodpaspoort ligt klaar in Gent.")
    await reply_form.get_by_role("button", name="Send the reply").click()
    await expect(page.locator("#action-status")).to_have_text("Done: reply sent.", timeout=WAIT_MS)
    await expect(result.locator('[data-charter="met"]')).to_contain_text("met by a reply")
    sent = result.locator('#case-messages li[data-purpose="reply-1"]')
    await expect(sent).to_contain_text("Uw noodpaspoort ligt klaar in Gent.")
    await expect(sent).to_contain_text(reference)

    note_form = result.locator('form[data-action="note"]')
    await note_form.get_by_label("Internal note (never sent)").fill("Gebeld, komt morgen.")
    await note_form.get_by_role("button", name="Add the note").click()
    await expect(page.locator("#case-history")).to_contain_text("Gebeld, komt morgen.", timeout=WAIT_MS)

    status_form = result.locator('form[data-action="status"]')
    await status_form.get_by_label("Change the status").select_option("waiting_for_citizen")
    await status_form.get_by_role("button", name="Apply").click()
    await expect(page.locator("#action-status")).to_have_text("Done: status changed.", timeout=WAIT_MS)
    await expect(result.locator(".cases li").first).to_contain_text("Waiting for the citizen")

    status_form = result.locator('form[data-action="status"]')
    await status_form.get_by_label("Change the status").select_option("closed")
    await status_form.get_by_label("Reason (optional)").fill("Paspoort afgehaald")
    await status_form.get_by_role("button", name="Apply").click()
    await expect(result.locator(".cases li").first).to_contain_text("Closed", timeout=WAIT_MS)
    await expect(result.locator('form[data-action="reply"]')).to_have_count(0)  # a closed case takes no reply
    await page.screenshot(path=screenshot_path("console-case-actions"))
    assert await problems(page) == NONE

    # A refused action says why, on the page.
    status_form = result.locator('form[data-action="status"]')
    await status_form.get_by_label("Change the status").select_option("in_progress")
    await status_form.get_by_role("button", name="Apply").click()
    await expect(page.locator("#action-status")).to_contain_text("reopen it first", timeout=WAIT_MS)
    await status_form.get_by_label("Change the status").select_option("reopened")
    await status_form.get_by_role("button", name="Apply").click()
    await expect(result.locator(".cases li").first).to_contain_text("Reopened", timeout=WAIT_MS)
    await expect(result.locator('[data-charter="pending"]')).to_be_visible()


async def test_letters_to_print_download_and_posted(page: Any, intake: Intake) -> None:
    intake.clock.at = None
    case = await new_case(intake, auth("duty_officer"), {
        "kind": "information_request", "description": "Attestation de nationalité", "location": {"country": "BE"},
        "reporter": {"full_name": "Jean Lettre", "language": "fr", "channel": "post",
                     "address": "Rue du Courrier 3, 1000 Bruxelles"}})
    await signed_in(page, intake)
    await page.get_by_role("button", name="Refresh the letters to print").click()
    item = page.locator("#letters li", has_text=case["reference"])
    await expect(item).to_contain_text("acknowledgement", timeout=WAIT_MS)
    async with page.expect_download() as download_info:
        await item.get_by_role("button", name="PDF").click()
    download = await download_info.value
    path = await download.path()
    content = Path(path).read_bytes()  # noqa: ASYNC240  (a small local file, once)
    assert content.startswith(b"%PDF") and case["reference"].encode() in content
    await item.get_by_role("button", name=f"Printed and posted: {case['reference']}, acknowledgement").click()
    await expect(page.locator("#letters li", has_text=case["reference"])).to_have_count(0, timeout=WAIT_MS)
    assert await problems(page) == NONE
