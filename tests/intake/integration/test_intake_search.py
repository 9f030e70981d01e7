"""GET /v1/reports?q= (search of cases) and GET /v1/charter-board on the real database, through the HTTP app."""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from services.intake.domain.search import FOLD_FROM, FOLD_TO, fold, read_query
from tests.intake.conftest import Clock
from tests.support import auth, token

DUTY = auth("duty_officer")
COORDINATOR = auth("coordinator")


def report(name: str, *, phone: str | None = None, subject: str | None = None, complex_case: bool = False,
           channel: str = "phone") -> dict[str, Any]:
    reporter: dict[str, Any] = {"full_name": name, "language": "fr", "channel": channel,
                                "phone": phone or "+32470" + str(uuid.uuid4().int)[:6]}
    body: dict[str, Any] = {"kind": "lost_document", "reporter": reporter, "complex": complex_case,
                            "location": {"country": "MA", "city": "Rabat"}, "description": "Passeport perdu"}
    if subject:
        body["subject"] = {"full_name": subject}
    return body


async def submit(client: httpx.AsyncClient, body: dict[str, Any]) -> str:
    response = await client.post("/v1/reports", json=body, headers=DUTY)
    assert response.status_code == 201, response.text
    reference: str = response.json()["reference"]
    return reference


async def search(client: httpx.AsyncClient, q: str, **params: Any) -> list[dict[str, Any]]:
    response = await client.get("/v1/reports", params={"q": q, **params}, headers=DUTY)
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()
    return found


def references(cases: list[dict[str, Any]]) -> list[str]:
    return [c["reference"] for c in cases]


# --- pure: the reading of the search text ------------------------------------------------------------------

def test_fold_table_is_the_migrations() -> None:
    from pathlib import Path

    import services.intake

    sql = (Path(services.intake.__file__).parent / "migrations" / "0005_case_search.sql").read_text()
    assert f"'{FOLD_FROM}'" in sql and f"'{FOLD_TO}'" in sql
    assert len(FOLD_FROM) == len(FOLD_TO)


def test_read_query() -> None:
    assert read_query("be-2026-0001").reference_prefix == "BE-2026-0001"
    assert read_query("0470 12 34 56").phone == "+32470123456"
    assert read_query("+33 6 12 34 56 78").phone == "+33612345678"
    assert read_query("Müller-Lüdenscheidt").name == "muller-ludenscheidt"
    assert read_query("Bengt").name == "bengt" and read_query("Bengt").reference_prefix is None
    assert fold("ŁÓDŹ Straße") == "lodz strasse"


# --- search --------------------------------------------------------------------------------------------------

async def test_search_by_name_accent_and_case_insensitive(client: httpx.AsyncClient, pool: asyncpg.Pool) -> None:
    tag = uuid.uuid4().hex[:6]
    first = await submit(client, report(f"Hélène Dubœuf{tag}"))
    second = await submit(client, report(f"Marc Janssens{tag}", subject=f"Léa DUBOEUF{tag}"))
    other = await submit(client, report(f"Pieter Claes{tag}"))
    found = await search(client, f"duboeuf{tag}")
    assert references(found) == [second, first]  # newest first; the subject's name counts too
    assert other not in references(await search(client, f"duboeuf{tag}"))
    assert references(await search(client, f"HELENE DUBOEUF{tag.upper()}")) == [first]
    assert await search(client, f"nobody-called-this-{tag}") == []
    case = found[0]
    assert set(case) == {"reference", "status", "kind", "received_at", "reply_due_by", "provisional_reply_due_by",
                         "officer", "post", "crisis_id", "attention"}


async def test_search_like_wildcards_are_literal(client: httpx.AsyncClient) -> None:
    tag = uuid.uuid4().hex[:6]
    await submit(client, report(f"Anna Percent{tag}"))
    assert await search(client, f"%{tag}") == []
    assert await search(client, f"Anna_Percent{tag}") == []
    assert len(await search(client, f"anna percent{tag}")) == 1


async def test_search_by_phone_normalised(client: httpx.AsyncClient) -> None:
    digits = str(uuid.uuid4().int)[:6]
    reference = await submit(client, report("Jan Peeters", phone=f"+32471{digits}"))
    await submit(client, report("Jan Peeters", phone=f"+32472{digits}"))
    national = f"0471 {digits[:2]} {digits[2:4]} {digits[4:]}"
    assert references(await search(client, national)) == [reference]
    assert references(await search(client, f"+32 471 {digits}")) == [reference]
    assert await search(client, f"0473 {digits}") == []


async def test_search_by_reference_prefix_status_and_limit(client: httpx.AsyncClient) -> None:
    tag = uuid.uuid4().hex[:6]
    made = [await submit(client, report(f"Limit Case{tag}")) for _ in range(3)]
    assert references(await search(client, made[1])) == [made[1]]
    assert references(await search(client, made[1].lower())) == [made[1]]
    year_prefix = made[0][:8]  # BE-YYYY-: the three may straddle New Year, so only those of the first one's year
    in_year = references(await search(client, year_prefix, limit=100))
    assert {m for m in made if m.startswith(year_prefix)} <= set(in_year) and made[0] in in_year
    assert references(await search(client, f"limit case{tag}", limit=2)) == [made[2], made[1]]
    closed = await client.post(f"/v1/reports/{made[0]}/close", json={}, headers=DUTY)
    assert closed.status_code == 200, closed.text
    assert references(await search(client, f"limit case{tag}", status="closed")) == [made[0]]
    assert references(await search(client, f"limit case{tag}", status="received")) == [made[2], made[1]]


async def test_search_refusals_and_bad_input(client: httpx.AsyncClient) -> None:
    assert (await client.get("/v1/reports", params={"q": "Jan"})).status_code == 401
    for role in ("external_system", "admin"):
        assert (await client.get("/v1/reports", params={"q": "Jan"}, headers=auth(role))).status_code == 403
    assert (await client.get("/v1/reports", params={"q": "Jan"}, headers=COORDINATOR)).status_code == 200
    for params in ({"q": "J"}, {}, {"q": "Jan", "limit": 0}, {"q": "Jan", "limit": 101},
                   {"q": "Jan", "status": "lost"}, {"q": "x" * 101}):
        response = await client.get("/v1/reports", params=params, headers=DUTY)
        assert response.status_code == 422, (params, response.text)
        assert all({"field", "rule", "message"} <= set(e) for e in response.json()["detail"])


async def test_the_search_text_is_not_logged(client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    secret = f"Zoë Vandenbroucke{uuid.uuid4().hex[:6]}"
    await submit(client, report(secret))
    caplog.set_level(logging.DEBUG)
    capsys.readouterr()
    assert len(await search(client, secret)) == 1
    assert len(await search(client, "0470 99 88 77")) == 0
    captured = capsys.readouterr()
    logged = caplog.text + captured.out + captured.err
    assert secret not in logged and fold(secret) not in logged and "99 88 77" not in logged


# --- charter board ------------------------------------------------------------------------------------------

async def board(client: httpx.AsyncClient, headers: dict[str, str] = DUTY, **params: Any) -> dict[str, list[str]]:
    response = await client.get("/v1/charter-board", params=params, headers=headers)
    assert response.status_code == 200, response.text
    return {k: references(v) for k, v in response.json().items()}


async def test_charter_board(client: httpx.AsyncClient, pool: asyncpg.Pool, clock: Clock) -> None:
    tag = uuid.uuid4().hex[:6]
    phone_case = await submit(client, report(f"Board Phone{tag}"))             # reply due in 15 days
    post_case = await submit(client, report(f"Board Post{tag}", channel="post"))
    complex_case = await submit(client, report(f"Board Complex{tag}", complex_case=True))
    unsent = await submit(client, report(f"Board Unsent{tag}", complex_case=True))
    async with pool.acquire() as conn:
        # the provisional reply of `unsent` failed (as the notifier would report): it is still owed
        await conn.execute("UPDATE messages SET status = 'failed' WHERE reference = $1 AND purpose = "
                           "'provisional_reply'", unsent)
        due = {r["reference"]: r for r in await conn.fetch(
            "SELECT reference, reply_due_by, provisional_reply_due_by FROM reports WHERE reference = ANY($1)",
            [phone_case, post_case, complex_case, unsent])}
    mine = {phone_case, post_case, complex_case, unsent}
    try:
        clock.at = datetime.now(UTC)
        today = await board(client)
        assert not mine & set(today["overdue"] + today["due_soon"] + today["provisional"])

        # two days before the phone case's reply is due: due soon; the provisional replies due too
        clock.at = due[phone_case]["reply_due_by"] - timedelta(days=2)
        soon = await board(client)
        assert phone_case in soon["due_soon"] and phone_case not in soon["overdue"]
        assert post_case not in soon["due_soon"]  # a letter gets 30 days
        assert unsent in soon["provisional"] and complex_case not in soon["provisional"]

        # a day after: overdue, the longest overdue first; the post case due within three days of then
        clock.at = due[post_case]["reply_due_by"] - timedelta(days=1)
        late = await board(client)
        assert phone_case in late["overdue"] and post_case in late["due_soon"]
        raw = (await client.get("/v1/charter-board", headers=DUTY)).json()
        for section, key in (("overdue", "reply_due_by"), ("due_soon", "reply_due_by"),
                             ("provisional", "provisional_reply_due_by")):
            instants = [datetime.fromisoformat(c[key]) for c in raw[section]]
            assert instants == sorted(instants), section  # the most urgent (longest overdue) first
        assert all(datetime.fromisoformat(c["reply_due_by"]) < clock.at for c in raw["overdue"])

        # closed cases leave the board
        assert (await client.post(f"/v1/reports/{phone_case}/close", json={}, headers=DUTY)).status_code == 200
        assert phone_case not in (await board(client))["overdue"]
    finally:
        clock.at = datetime.now(UTC)


async def test_charter_board_filters_and_refusals(client: httpx.AsyncClient, pool: asyncpg.Pool,
                                                   clock: Clock) -> None:
    first = await submit(client, report("Filter One"))
    async with pool.acquire() as conn:
        row = await conn.fetchrow("SELECT o.email, r.reply_due_by FROM reports r JOIN officers o USING (officer_id)"
                                  " WHERE reference = $1", first)
        await conn.execute("UPDATE reports SET post_id = 'post-rabat' WHERE reference = $1", first)
    try:
        clock.at = row["reply_due_by"] - timedelta(days=1)
        me = {"Authorization": f"Bearer {token('duty_officer', subject=row['email'])}"}
        mine = await board(client, headers=me, officer="me")
        assert first in mine["due_soon"]
        everyone = await client.get("/v1/charter-board", params={"officer": "me"}, headers=DUTY)
        assert everyone.status_code == 200 and all(
            not v for v in everyone.json().values())  # the subject "tester" is no officer's address
        assert (await board(client, post_id="post-rabat"))["due_soon"] == [first]
        assert (await board(client, post_id="post-nowhere"))["due_soon"] == []
        assert (await board(client, headers=COORDINATOR))["due_soon"]
    finally:
        clock.at = datetime.now(UTC)
    assert (await client.get("/v1/charter-board")).status_code == 401
    assert (await client.get("/v1/charter-board", headers=auth("external_system"))).status_code == 403
    assert (await client.get("/v1/charter-board", params={"officer": "you"}, headers=DUTY)).status_code == 422
