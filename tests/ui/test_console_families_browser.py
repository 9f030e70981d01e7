"""A family's inquiry in the duty officers' console, in headless Chromium against the real intake service (API and
worker), broker and database: a missing-person report finds the registered traveller of the same name, the case
shows the match with its score and the officer rejects it; a second traveller answers safe, the case comes first on
the charter board, the officer opens it and tells the family, and the notice appears among the case's messages with
the match confirmed."""

from __future__ import annotations

import math
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaProducer

from services.intake.settings import Settings as IntakeSettings
from tests.intake.integration.test_intake_families import answer, family_report, register
from tests.intake.integration.test_intake_welfare import active_crisis
from tests.support import eventually, new_pool, token
from tests.ui.a11y import NONE, problems
from tests.ui.conftest import screenshot_path, watched_page
from tests.ui.support import expect, intake_service, use_token

OFFICER = "officer-lea"
WAIT_MS = 60_000


@dataclass
class Intake:
    url: str
    settings: IntakeSettings
    pool: asyncpg.Pool
    producer: AIOKafkaProducer


@pytest.fixture(scope="module")
async def intake() -> AsyncIterator[Intake]:
    async with intake_service("console-families") as service:
        pool = await new_pool(service.settings.database_schema)
        try:
            yield Intake(service.url, service.settings, pool, service.producer)
        finally:
            await pool.close()


@pytest.fixture(scope="module")
async def page(browser: Any, intake: Intake) -> AsyncIterator[Any]:
    """The console signed in with a duty officer's token; a Content Security Policy violation fails the test."""
    async with watched_page(browser) as page:
        refused: list[str] = []
        page.on("console", lambda m: refused.append(m.text)
                if m.type == "error" and "Content Security Policy" in m.text else None)
        await page.goto(f"{intake.url}/console")
        await use_token(page, token("duty_officer", subject=OFFICER))
        await expect(page.locator("#app")).to_be_visible()
        yield page
        assert not refused, f"the page broke its Content Security Policy: {refused}"


async def open_case(page: Any, reference: str) -> Any:
    await page.get_by_label("Reference (BE-YYYY-NNNNNN)").fill(reference)
    await page.get_by_role("button", name="Find", exact=True).click()
    result = page.locator("#lookup-result")
    await expect(result.locator(".cases li").first).to_contain_text(reference, timeout=WAIT_MS)
    return result


def shown_percent(score: float) -> str:
    return f"{math.floor(score * 100 + 0.5)}%"  # Intl rounds half away from zero; en-GB writes "93%"


async def test_a_match_is_shown_with_its_score_and_rejected(page: Any, intake: Intake) -> None:
    tag = uuid.uuid4().hex[:5]
    name = f"Marie Dubois{tag}"
    traveller = await register(intake.producer, intake.settings, intake.pool, name=name)
    async with httpx.AsyncClient(base_url=intake.url) as client:
        reference = await family_report(client, name)
        nobody = await family_report(client, f"Anneke Verhulst{tag}", country="TH")
        view = (await client.get(f"/v1/reports/{reference}",
                                 headers={"Authorization": f"Bearer {token('duty_officer')}"})).json()
    [match] = view["matches"]
    assert match["person_id"] == traveller

    # A report for someone nobody has seen: the section says so.
    result = await open_case(page, nobody)
    await expect(result.locator("#case-matches-none")).to_have_text(
        "No one found yet among registered travellers, check-ins and welfare answers.")

    result = await open_case(page, reference)
    row = result.locator(f'#case-matches li[data-person-id="{traveller}"]')
    await expect(row).to_contain_text(name)
    await expect(row.locator(".match-score")).to_have_text(f"{shown_percent(match['score'])} match")
    await expect(row).to_have_attribute("data-state", "proposed")
    await expect(row.locator(".match-state")).to_have_text("Proposed")
    await expect(row).to_contain_text("No answer yet")
    await expect(row).to_contain_text("Last known place: Pokhara, NP")
    await expect(row.get_by_role("button", name="Tell the family")).to_have_count(0)  # no safe answer yet
    await page.screenshot(path=screenshot_path("console-match-proposed"))
    assert await problems(page) == NONE

    await row.get_by_role("button", name=f"Reject the match with {name}").click()
    await expect(page.locator("#match-status")).to_have_text("Done: match rejected.", timeout=WAIT_MS)
    row = result.locator(f'#case-matches li[data-person-id="{traveller}"]')
    await expect(row).to_have_attribute("data-state", "rejected")
    await expect(row.locator(".match-state")).to_have_text("Rejected")
    await expect(row).to_contain_text(OFFICER)  # who decided
    await expect(row.get_by_role("button")).to_have_count(0)
    await expect(page.locator("#case-history")).to_contain_text("match rejected")
    await expect(page.locator("#matches-title")).to_be_focused()
    assert await problems(page) == NONE


async def test_a_safe_answer_tops_the_board_and_the_family_is_told(page: Any, intake: Intake) -> None:
    crisis_id = await active_crisis(intake.producer, intake.settings, intake.pool)
    tag = uuid.uuid4().hex[:5]
    name = f"Zoë Van den Broeck{tag}"
    traveller = await register(intake.producer, intake.settings, intake.pool, name=name)
    officer = {"Authorization": f"Bearer {token('duty_officer')}"}
    async with httpx.AsyncClient(base_url=intake.url, headers=officer) as client:
        reference = await family_report(client, f"ZOE VANDENBROECK{tag}")
        await answer(intake.producer, intake.settings, intake.pool, crisis_id=crisis_id, person_id=traveller)

        async def flagged() -> bool:
            board = (await client.get("/v1/charter-board")).json()
            return reference in [c["reference"] for c in board["attention"]]

        await eventually(flagged)

    board = page.locator("#board")
    await page.get_by_role("button", name="Refresh the charter board").click()
    await expect(board.locator("h3").first).to_contain_text("Sought person answered safe (", timeout=WAIT_MS)
    await expect(board.locator(".board-attention")).to_contain_text(reference)
    await expect(board.locator(".board-attention")).to_contain_text("Sought person answered safe")  # the badge
    await expect(board.locator(".board-overdue li, .board-due_soon li", has_text=reference)).to_have_count(0)
    await board.scroll_into_view_if_needed()
    await page.screenshot(path=screenshot_path("console-board-attention"))
    assert await problems(page) == NONE

    await board.locator(".board-attention").get_by_role("button", name=f"Open case {reference}").click()
    result = page.locator("#lookup-result")
    await expect(result.locator('[data-attention="sought person answered safe"]')).to_be_visible(timeout=WAIT_MS)
    row = result.locator(f'#case-matches li[data-person-id="{traveller}"]')
    await expect(row).to_have_attribute("data-state", "proposed")
    await expect(row.locator(".match-answer")).to_contain_text("Answered safe")
    await expect(row.locator(".match-answer time")).not_to_be_empty()
    await row.scroll_into_view_if_needed()
    await page.screenshot(path=screenshot_path("console-match-safe"))
    assert await problems(page) == NONE

    await row.get_by_role("button", name="Tell the family").click()
    await expect(page.locator("#match-status")).to_have_text("Done: family told.", timeout=WAIT_MS)
    notice = result.locator('#case-messages li[data-purpose="family_notice-1"]')
    await expect(notice).to_contain_text(reference)
    await expect(notice).to_contain_text(f"ZOE VANDENBROECK{tag}")
    await expect(notice).not_to_contain_text("Pokhara")
    row = result.locator(f'#case-matches li[data-person-id="{traveller}"]')
    await expect(row).to_have_attribute("data-state", "confirmed")
    await expect(row.locator(".match-state")).to_have_text("Confirmed")
    await expect(result.locator("[data-attention]")).to_have_count(0)
    await expect(result.locator('[data-charter="met"]')).to_be_visible()
    await expect(board.locator(".board-attention")).to_have_count(0)  # the board followed
    await page.screenshot(path=screenshot_path("console-family-told"))
    assert await problems(page) == NONE
