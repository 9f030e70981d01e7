"""Issue 23: a manual crisis with an area counts, maps and messages its people like an automatic one.

The API opens the crisis and publishes the incident `manual:<crisis_id>` through its outbox; the worker counts it
and activates it at once (a coordinator decided, whatever the count), which messages the people inside, and
messages those who arrive later; closing the crisis closes the incident. The real API, worker, broker and
database; a token as a coordinator's.
"""

from __future__ import annotations

from typing import Any

import httpx

from services.crisis_center.domain.crisis import MANUAL_PREFIX
from shared.events.envelope import decode
from shared.events.incidents import IncidentReported
from tests.crisis_center.conftest import NOW, Env, registration, running
from tests.support import consume, eventually, token

COORDINATOR = {"Authorization": f"Bearer {token('coordinator', subject='anna')}"}
ISTANBUL_CIRCLE = {"country": "TR", "circle": {"lat": 41.01, "lon": 28.98, "radius_km": 20}}


async def crisis_of(client: httpx.AsyncClient, crisis_id: str) -> dict[str, Any]:
    response = await client.get(f"/v1/crises/{crisis_id}", headers=COORDINATOR)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def alerts_to(env: Env, count: int) -> dict[str, str]:
    """The crisis alerts on notifications.commands: traveller id -> crisis id (one SMS per traveller)."""
    records = await consume(env.topic("notifications.commands"), count=count, timeout=60)
    sms = [decode(r.value).data for r in records]
    return {c["recipient"]["traveller_id"]: c["crisis_id"] for c in sms
            if c["template"] == "crisis_alert" and c["channel"] == "sms"}


async def test_a_manual_crisis_counts_maps_and_messages_its_people(env: Env, client: httpx.AsyncClient) -> None:
    async with running(env) as worker:
        for n in range(3):  # inside the circle (below the threshold of 5: a manual crisis needs none)
            await env.send(registration(n))
        await env.send(registration(9, lat=39.93, lon=32.86))  # Ankara: outside
        await eventually(lambda: worker.registries.applied() == 4)  # the registries hold all four
        response = await client.post("/v1/crises", headers=COORDINATOR, json={
            "title": "Unrest in Istanbul", "kind": "unrest", "severity": "moderate", "area": ISTANBUL_CIRCLE})
        assert response.status_code == 201, response.text
        crisis = response.json()
        crisis_id = crisis["crisis_id"]
        assert crisis["incident_id"] is None and crisis["source"] == "manual"  # the contract: null for manual
        await eventually(lambda: worker.engine.affected(MANUAL_PREFIX + crisis_id).count == 3)
        await eventually(lambda: _count_is(client, crisis_id, 3))
        # the map shows them (it was empty for every manual crisis before)
        people = await client.get(f"/v1/crises/{crisis_id}/people/map", headers=COORDINATOR)
        assert people.status_code == 200 and people.json()["total"] == 3
        # someone who arrives later is counted and alerted too
        await env.send(registration(3, lat=41.02))
        await eventually(lambda: _count_is(client, crisis_id, 4))
        alerted = await alerts_to(env, count=8)  # an SMS and an e-mail for each of the four
        assert alerted == {f"t{n}": crisis_id for n in range(4)}
        # a follow-up to an area drawn around them reaches them: a manual crisis's people have positions now
        east = [[28.99, 40.95], [29.1, 40.95], [29.1, 41.1], [28.99, 41.1]]  # t0-t3 stand at 28.98: outside
        west = [[28.9, 40.95], [28.99, 40.95], [28.99, 41.1], [28.9, 41.1]]
        for polygon, reached in ((west, 4), (east, 0)):
            plan = await client.post(f"/v1/crises/{crisis_id}/broadcasts/plan", headers=COORDINATOR, json={
                "texts": {"fr": "x", "nl": "x", "de": None, "en": "x"}, "audience": "area", "polygon": polygon})
            assert plan.status_code == 200 and plan.json()["people"] == reached, plan.text
        # closing it ends the count: the incident is closed for the worker, the map forgotten
        closed = await client.post(f"/v1/crises/{crisis_id}/close", headers=COORDINATOR)
        assert closed.status_code == 200 and closed.json()["status"] == "closed"
        await eventually(lambda: not worker.engine.incidents.get(MANUAL_PREFIX + crisis_id, {}).get("open", True))
        assert await env.pool.fetchval("SELECT count(*) FROM affected_people") == 0
    assert await env.pool.fetchval("SELECT count(*) FROM crises") == 1  # the worker opened no second one


async def _count_is(client: httpx.AsyncClient, crisis_id: str, expected: int) -> bool:
    return (await crisis_of(client, crisis_id))["affected_count"] == expected


async def test_an_incident_named_like_a_manual_crisis_opens_nothing(env: Env) -> None:
    """Only the crisis center's own source marks an incident manual, and only a crisis the API opened is
    activated: an external `manual:...` incident is an ordinary one, under the threshold here."""
    async with running(env) as worker:
        await env.send(IncidentReported(incident_id=f"{MANUAL_PREFIX}made-up", title="x", kind="flood",
                                        severity="severe", area=ISTANBUL_CIRCLE, occurred_at=NOW))  # type: ignore[arg-type]
        await env.send(registration(1))
        await eventually(lambda: worker.engine.affected(f"{MANUAL_PREFIX}made-up").count == 1)
        assert worker.engine.incidents[f"{MANUAL_PREFIX}made-up"]["origin"] == "external"
    assert await env.pool.fetchval("SELECT count(*) FROM crises") == 0
