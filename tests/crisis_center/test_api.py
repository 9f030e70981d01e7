"""The HTTP API on the real database and broker: coordinators' actions, audit, public outputs, live stream."""

from __future__ import annotations

import asyncio
import json
import xml.etree.ElementTree as ET
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import xmlschema
from fastapi import FastAPI

from services.crisis_center.domain.cap import CAP_NS
from tests.crisis_center.conftest import POOL, Env
from tests.support import auth, consume_events, eventually, token

SCHEMA = xmlschema.XMLSchema(Path(__file__).parents[2] / "services/crisis_center/schemas/CAP-v1.2-schema.xsd")
COORDINATOR = auth("coordinator")
NEW_CRISIS = {"title": "Floods in Valencia", "kind": "flood", "severity": "severe",
              "area": {"country": "ES", "circle": {"lat": 39.47, "lon": -0.38, "radius_km": 40}}}


@pytest.fixture
def clock() -> Callable[[], datetime]:
    """This module's API (conftest's `app`, `client`) runs on the real clock."""
    return lambda: datetime.now(UTC)


async def test_roles_are_required(client: httpx.AsyncClient) -> None:
    assert (await client.get("/v1/crises")).status_code == 401
    assert (await client.get("/v1/crises", headers={"Authorization": "Bearer nonsense"})).status_code == 401
    assert (await client.get("/v1/crises", headers=auth("duty_officer"))).status_code == 403
    assert (await client.post("/v1/crises", json=NEW_CRISIS, headers=auth("external_system"))).status_code == 403
    assert (await client.get("/v1/crises/events", headers=auth("duty_officer"))).status_code == 403
    assert (await client.get("/v1/crises", headers=COORDINATOR)).status_code == 200
    assert (await client.get("/public/crises")).status_code == 200  # public needs no token


async def test_manual_activation_close_and_audit(client: httpx.AsyncClient, env: Env) -> None:
    created = await client.post("/v1/crises", json=NEW_CRISIS, headers=COORDINATOR)
    assert created.status_code == 201, created.text
    crisis = created.json()
    assert crisis["incident_id"] is None and crisis["status"] == "active"
    assert crisis["hotline_number"] in POOL.split(",") and crisis["activated_by"] == "tester"
    second = (await client.post("/v1/crises", json={**NEW_CRISIS, "title": "Second one"}, headers=COORDINATOR)).json()
    assert second["hotline_number"] != crisis["hotline_number"]

    listed = (await client.get("/v1/crises", params={"status": "active"}, headers=COORDINATOR)).json()
    assert {c["crisis_id"] for c in listed} == {crisis["crisis_id"], second["crisis_id"]}

    closed = await client.post(f"/v1/crises/{crisis['crisis_id']}/close", headers=COORDINATOR)
    assert closed.status_code == 200 and closed.json()["status"] == "closed" and closed.json()["closed_by"] == "tester"
    again = await client.post(f"/v1/crises/{crisis['crisis_id']}/close", headers=COORDINATOR)
    assert again.status_code == 200 and again.json()["closed_at"] == closed.json()["closed_at"]
    assert (await client.post("/v1/crises/nope/close", headers=COORDINATOR)).status_code == 404

    detail = (await client.get(f"/v1/crises/{crisis['crisis_id']}", headers=COORDINATOR)).json()
    assert [e["event"] for e in detail["timeline"]] == ["activated", "closed"]
    assert detail["counts"] == {"total": 0, "registrations": 0, "reports": 0}
    assert detail["area"]["circle"]["radius_km"] == 40

    audit = (await client.get("/v1/audit", params={"target": crisis["crisis_id"]}, headers=COORDINATOR)).json()
    assert [(a["action"], a["actor"]) for a in audit] == [("crisis.activate", "tester"), ("crisis.close", "tester")]

    # The freed number is given to the next crisis; the events went out through the outbox.
    third = (await client.post("/v1/crises", json={**NEW_CRISIS, "title": "Third"}, headers=COORDINATOR)).json()
    assert third["hotline_number"] == crisis["hotline_number"]
    events = await consume_events(env.topic("crisis.status"), count=4)
    assert [e.type.rsplit(".", 1)[-1] for e in events if e.data["crisis_id"] == crisis["crisis_id"]] == [
        "activated", "closed"]


async def test_empty_pool_falls_back_to_the_general_number_and_alerts(client: httpx.AsyncClient, env: Env) -> None:
    numbers = [(await client.post("/v1/crises", json={**NEW_CRISIS, "title": f"Crisis {i}"},
                                  headers=COORDINATOR)).json()["hotline_number"] for i in range(4)]
    assert len(set(numbers[:3])) == 3 and numbers[3] == env.settings.crisis_general_number
    assert await env.pool.fetchval("SELECT count(*) FROM alerts WHERE kind = 'hotline_pool_exhausted'") == 1


async def test_bad_input_is_a_4xx_naming_the_field(client: httpx.AsyncClient) -> None:
    bad_polygon = {**NEW_CRISIS, "area": {"country": "ES", "polygon": [[0, 0], [1, 1], [2, 2]]}}
    response = await client.post("/v1/crises", json=bad_polygon, headers=COORDINATOR)
    assert response.status_code == 422 and "polygon" in response.text
    response = await client.post("/v1/crises", json={**NEW_CRISIS, "kind": "meteor"}, headers=COORDINATOR)
    assert response.status_code == 422 and response.json()["detail"][0]["field"] == "kind"
    response = await client.put("/v1/thresholds", json={"by_severity": {"apocalyptic": 3}}, headers=COORDINATOR)
    assert response.status_code == 422
    assert (await client.get("/v1/crises/unknown", headers=COORDINATOR)).status_code == 404
    assert (await client.get("/public/crises/unknown.cap")).status_code == 404


async def test_threshold_changes_are_audited(client: httpx.AsyncClient, env: Env) -> None:
    before = (await client.get("/v1/thresholds", headers=COORDINATOR)).json()
    assert before == {"default": env.settings.crisis_threshold, "by_severity": {}}
    after = await client.put("/v1/thresholds", json={"default": 80, "by_severity": {"extreme": 20}},
                             headers=COORDINATOR)
    assert after.json() == {"default": 80, "by_severity": {"extreme": 20}}
    audit = (await client.get("/v1/audit", headers=COORDINATOR)).json()
    assert audit[0]["action"] == "threshold.set" and audit[0]["actor"] == "tester"


async def test_public_json_atom_and_valid_cap(client: httpx.AsyncClient) -> None:
    crisis = (await client.post("/v1/crises", json=NEW_CRISIS, headers=COORDINATOR)).json()
    public = (await client.get("/public/crises")).json()
    assert [(p["crisis_id"], p["hotline_number"]) for p in public] == [(crisis["crisis_id"], crisis["hotline_number"])]
    assert "counts" not in public[0] and "activated_by" not in public[0]

    atom = await client.get("/public/crises.atom")
    assert atom.headers["content-type"].startswith("application/atom+xml")
    assert crisis["crisis_id"] in atom.text

    cap = await client.get(public[0]["cap_url"].replace(str(client.base_url), "").replace("http://127.0.0.1:8003", ""))
    assert cap.status_code == 200 and cap.headers["content-type"].startswith("application/cap+xml")
    SCHEMA.validate(cap.text)
    root = ET.fromstring(cap.content)  # noqa: S314 - our own output
    assert root.findtext(f"{{{CAP_NS}}}msgType") == "Alert"
    assert len(root.findall(f"{{{CAP_NS}}}info")) == 4

    await client.post(f"/v1/crises/{crisis['crisis_id']}/close", headers=COORDINATOR)
    cancel = await client.get(f"/public/crises/{crisis['crisis_id']}.cap")
    SCHEMA.validate(cancel.text)
    cancel_root = ET.fromstring(cancel.content)  # noqa: S314
    assert cancel_root.findtext(f"{{{CAP_NS}}}msgType") == "Cancel"
    assert root.findtext(f"{{{CAP_NS}}}identifier") in (cancel_root.findtext(f"{{{CAP_NS}}}references") or "")
    assert (await client.get("/public/crises")).json() == []


async def test_live_stream_sends_a_snapshot_then_changes(client: httpx.AsyncClient, app: FastAPI) -> None:
    feed = app.state.api.resources.feed
    await eventually(lambda: feed.ready.is_set())
    probe = feed.subscribe()
    existing = (await client.post("/v1/crises", json=NEW_CRISIS, headers=COORDINATOR)).json()
    assert (await asyncio.wait_for(probe.get(), 30))["type"] == "activated"  # through the outbox and Kafka
    feed.unsubscribe(probe)

    async def close_when_subscribed() -> None:
        await eventually(lambda: len(app.state.api.resources.feed._subscribers) == 1)
        await client.post(f"/v1/crises/{existing['crisis_id']}/close", headers=COORDINATOR)

    closer = asyncio.create_task(close_when_subscribed())
    ticket = (await client.post("/v1/crises/events/ticket", headers=COORDINATOR)).json()["ticket"]
    response = await client.get("/v1/crises/events", params={"ticket": ticket, "max_events": 1})
    assert response.status_code == 200, response.text
    await closer
    assert response.headers["content-type"].startswith("text/event-stream")
    blocks = [b for b in response.text.split("\n\n") if b.startswith("event:")]
    kinds = [b.split("\n")[0].removeprefix("event: ") for b in blocks]
    assert kinds == ["snapshot", "closed"]
    snapshot = json.loads(blocks[0].split("\n")[1].removeprefix("data: "))
    assert [c["crisis_id"] for c in snapshot] == [existing["crisis_id"]]
    change = json.loads(blocks[1].split("\n")[1].removeprefix("data: "))
    assert change["crisis_id"] == existing["crisis_id"] and change["status"] == "closed"
    assert change["kind"] == "flood" and change["counts"]["total"] == 0 and change["closed_by"] == "tester"


async def test_the_stream_takes_a_ticket_not_the_token_and_ends_with_the_token(client: httpx.AsyncClient) -> None:
    """Issue 19, finding 12: the bearer token no longer travels in the stream's URL, and a stream stops when its
    token expires (it used to run on for as long as the connection lasted)."""
    bearer = COORDINATOR["Authorization"].removeprefix("Bearer ")
    refused = await client.get("/v1/crises/events", params={"access_token": bearer, "max_events": 1})
    assert refused.status_code == 401
    assert (await client.get("/v1/crises/events", params={"ticket": bearer})).status_code == 401
    assert (await client.post("/v1/crises/events/ticket", headers=auth("duty_officer"))).status_code == 403
    issued = (await client.post("/v1/crises/events/ticket", headers=COORDINATOR)).json()
    assert issued["expires_in"] <= 30
    forged = issued["ticket"][:-2] + ("AA" if not issued["ticket"].endswith("AA") else "BB")
    assert (await client.get("/v1/crises/events", params={"ticket": forged})).status_code == 401

    short = {"Authorization": f"Bearer {token('coordinator', ttl=2)}"}
    ticket = (await client.post("/v1/crises/events/ticket", headers=short)).json()["ticket"]
    started = asyncio.get_running_loop().time()
    response = await asyncio.wait_for(client.get("/v1/crises/events", params={"ticket": ticket}), 20)
    assert response.status_code == 200 and response.text.startswith("event: snapshot")
    assert asyncio.get_running_loop().time() - started < 5  # ended at the token's expiry, not at the test's
