"""Requests from a person through the four services as real processes (their workers' own wiring, the crisis
center's responder beside its Faust app), on the real broker and database."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import date, timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from shared.events.travellers import TravellerRegistered
from shared.kafka.producer import make_producer, publish
from tests.e2e.stack import Stack, start_stack, stop_stack
from tests.support import auth, bootstrap, database_url, eventually

pytestmark = pytest.mark.e2e
ADMIN = auth("admin")


@pytest.fixture(scope="module")
async def stack() -> AsyncIterator[Stack]:
    stack = await start_stack()
    yield stack
    await stop_stack(stack)


async def ask(client: httpx.AsyncClient, stack: Stack, **body: str) -> dict[str, Any]:
    response = await client.post(stack.url("intake") + "/v1/privacy/requests", json=body, headers=ADMIN)
    assert response.status_code == 202, response.text
    url = stack.url("intake") + response.headers["Location"]

    async def done() -> dict[str, Any] | None:
        view: dict[str, Any] = (await client.get(url, headers=ADMIN)).json()
        return view if view["status"] == "complete" else None
    result: dict[str, Any] = await eventually(done, timeout=180, interval=1)
    return result


def outcomes(view: dict[str, Any]) -> dict[tuple[str, str], list[str]]:
    found: dict[tuple[str, str], list[str]] = {}
    for service, part in view["services"].items():
        for item in part["items"]:
            found.setdefault((service, item["category"]), []).append(item["outcome"])
    return found


async def test_access_then_erasure_through_the_running_services(stack: Stack) -> None:
    n = str(uuid.uuid4().int)
    traveller_id, phone, email = f"trav-{n[:8]}", "+32470" + n[8:14], f"p{n[:6]}@example.org"
    producer = make_producer(bootstrap(), client_id="e2e-privacy")
    await producer.start()
    try:
        await publish(producer, TravellerRegistered(
            traveller_id=traveller_id, full_name="Privacy Person", phone=phone, email=email, language="fr",
            country="NP", city="Pokhara", arrival=date.today(), departure=date.today() + timedelta(days=7)),
            source="/tests/e2e/travellers", topic_prefix=stack.prefix)
    finally:
        await producer.stop()
    intake = await asyncpg.connect(database_url())
    notifier = await asyncpg.connect(database_url())
    try:
        await intake.execute(f"SET search_path TO {stack.schemas['intake']}")
        await notifier.execute(f"SET search_path TO {stack.schemas['notifier']}")
        await eventually(lambda: intake.fetchval("SELECT count(*) = 1 FROM registered_travellers"
                                                 " WHERE traveller_id = $1", traveller_id), timeout=120)
        async with httpx.AsyncClient(timeout=30) as client:
            report = {"kind": "lost_document", "description": "Passport lost in Pokhara",
                      "location": {"country": "NP", "city": "Pokhara"},
                      "reporter": {"full_name": "Privacy Person", "language": "fr", "channel": "sms",
                                   "phone": phone}}
            response = await client.post(stack.url("intake") + "/v1/reports", json=report,
                                         headers=auth("duty_officer"))
            assert response.status_code == 201, response.text
            # the acknowledgement reaches the notifier's table
            await eventually(lambda: notifier.fetchval("SELECT count(*) >= 1 FROM notifications WHERE recipient = $1",
                                                       phone), timeout=120)

            access = await ask(client, stack, kind="access", traveller_id=traveller_id)
            assert sorted(access["services"]) == ["crisis_center", "directory", "intake", "notifier"]
            found = outcomes(access)
            assert found[("intake", "registration")] == ["found"]
            assert found[("intake", "case")] == ["found"]
            assert found[("notifier", "message")] and set(found[("notifier", "message")]) == {"found"}
            crisis = [i for i in access["services"]["crisis_center"]["items"] if i["category"] == "registration"]
            assert [(i["item_id"], i["data"]["full_name"]) for i in crisis] == [(traveller_id, "Privacy Person")]
            assert access["services"]["directory"]["items"] == []

            erasure = await ask(client, stack, kind="erasure", traveller_id=traveller_id)
            done = outcomes(erasure)
            assert done[("intake", "registration")] == ["deleted"]
            assert done[("intake", "case")] == ["anonymised"]
            assert set(done[("notifier", "message")]) == {"anonymised"}
            assert done[("crisis_center", "registration")] == ["tombstoned"]
            assert await intake.fetchval("SELECT count(*) FROM reports WHERE reporter_phone = $1", phone) == 0
            assert await notifier.fetchval("SELECT count(*) FROM notifications WHERE recipient = $1", phone) == 0

            again = await ask(client, stack, kind="access", traveller_id=traveller_id, phone=phone)
            assert all(part["items"] == [] for part in again["services"].values())
    finally:
        await intake.close()
        await notifier.close()
