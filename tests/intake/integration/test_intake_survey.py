"""The satisfaction survey: the email's link opens intake's own page (an unguessable token, the case's language),
the latest answer counts, and admins read satisfaction per month, kind and post."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import httpx

from services.intake.domain.clocks import BRUSSELS
from services.intake.settings import Settings
from tests.intake.conftest import PUBLIC_BASE
from tests.support import auth

DUTY, ADMIN = auth("duty_officer"), auth("admin")


async def closed_by_email(client: httpx.AsyncClient, pool: asyncpg.Pool, settings: Settings, *, language: str,
                          kind: str = "lost_document") -> tuple[str, str]:
    """A case by email, closed: (reference, survey link from the email command)."""
    case = (await client.post("/v1/reports", headers=DUTY, json={
        "kind": kind, "description": "x", "location": {"country": "MA"},
        "reporter": {"full_name": "Anna Avis", "language": language, "channel": "email",
                     "email": "anna@example.org"}})).json()
    closed = await client.post(f"/v1/reports/{case['reference']}/status", json={"status": "closed"}, headers=DUTY)
    assert closed.status_code == 200
    rows = await pool.fetch("SELECT payload FROM outbox WHERE topic = $1 AND convert_from(payload, 'UTF8') LIKE $2",
                            settings.topic("notifications.commands"), f"%{case['reference']}:survey%")
    link = json.loads(bytes(rows[0]["payload"]))["data"]["params"]["survey_url"]
    return case["reference"], link


async def test_the_email_link_opens_the_page_and_the_latest_answer_counts(
        client: httpx.AsyncClient, pool: asyncpg.Pool, settings: Settings) -> None:
    reference, link = await closed_by_email(client, pool, settings, language="nl")
    assert link.startswith(f"{PUBLIC_BASE}/public/survey/")
    path = link.removeprefix(PUBLIC_BASE)
    assert reference not in path and len(path.rsplit("/", 1)[1]) >= 30  # the token tells nothing, cannot be guessed

    page = await client.get(path)
    assert page.status_code == 200 and "Uw mening over dossier" in page.text and reference in page.text
    assert "default-src 'none'" in page.headers["content-security-policy"]
    refused = await client.post(path, data={"answer": "9", "comment": "<b>hm</b>"})
    assert refused.status_code == 422 and "Kies een score" in refused.text and "&lt;b&gt;hm&lt;/b&gt;" in refused.text
    first = await client.post(path, data={"answer": "2", "comment": "Traag"})
    assert first.status_code == 200 and "Bedankt" in first.text
    await client.post(path, data={"answer": "4", "comment": "Toch goed geholpen"})
    row = await pool.fetchrow("SELECT answer, comment FROM surveys WHERE reference = $1", reference)
    assert row["answer"] == 4 and row["comment"] == "Toch goed geholpen"
    again = await client.get(path)
    assert re.search(r'value="4"\s*checked', again.text)


async def test_a_forged_token_is_a_404(client: httpx.AsyncClient) -> None:
    assert (await client.get("/public/survey/" + "A" * 32)).status_code == 404
    assert (await client.post("/public/survey/" + "A" * 32, data={"answer": "5"})).status_code == 404
    assert (await client.get("/public/survey/short")).status_code == 422


async def test_satisfaction_per_month_kind_and_post(client: httpx.AsyncClient, pool: asyncpg.Pool,
                                                    settings: Settings) -> None:
    answers: list[tuple[str, int | None]] = [("complaint", 1), ("complaint", 5), ("complaint", None),
                                             ("detention", 3)]
    for kind, score in answers:
        _, link = await closed_by_email(client, pool, settings, language="fr", kind=kind)
        if score is not None:
            await client.post(link.removeprefix(PUBLIC_BASE), data={"answer": str(score)})
    today = datetime.now(BRUSSELS).date()  # a window of days around it: a Brussels midnight may pass meanwhile
    query = (f"/v1/admin/satisfaction?from={(today - timedelta(days=1)).isoformat()}"
             f"&to={(today + timedelta(days=2)).isoformat()}")
    assert (await client.get(query, headers=DUTY)).status_code == 403
    report = (await client.get(query, headers=ADMIN)).json()
    rows: dict[str, list[dict[str, Any]]] = {}
    for row in report["rows"]:
        rows.setdefault(row["kind"], []).append(row)
    complaints = rows["complaint"]
    assert {r["month"] for r in complaints} <= {(today + timedelta(days=d)).strftime("%Y-%m") for d in (0, 1)}
    assert all(r["post_id"] is None for r in complaints)
    assert sum(r["sent"] for r in complaints) == 3 and sum(r["answered"] for r in complaints) == 2
    assert [sum(r["scores"][i] for r in complaints) for i in range(5)] == [1, 0, 0, 0, 1]
    if len(complaints) == 1:
        assert complaints[0]["mean"] == 3.0
    assert [sum(r["scores"][i] for r in rows["detention"]) for i in range(5)] == [0, 0, 1, 0, 0]
