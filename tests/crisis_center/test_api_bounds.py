"""A crisis's timeline and the coordinators' audit are bounded (issue 19, finding 12): the latest entries, a limit
with a default and a maximum, and `before` to page back, so that a long crisis's answer cannot grow without end."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx

from tests.crisis_center.conftest import Env
from tests.crisis_center.test_api import COORDINATOR, NEW_CRISIS


async def test_a_crisis_shows_its_latest_timeline_entries_and_pages_back(client: httpx.AsyncClient, env: Env) -> None:
    crisis = (await client.post("/v1/crises", json=NEW_CRISIS, headers=COORDINATOR)).json()
    crisis_id = crisis["crisis_id"]
    for i in range(6):  # what the worker writes every few seconds while a crisis grows
        await env.pool.execute(
            "INSERT INTO crisis_timeline(crisis_id, at, event, actor, affected_count, detail)"
            " SELECT $1, activated_at + $2, 'updated', 'worker', $3, $4 FROM crises WHERE crisis_id = $1",
            crisis_id, timedelta(minutes=i + 1), 10 * (i + 1), {"growth": i})
    whole = (await client.get(f"/v1/crises/{crisis_id}", headers=COORDINATOR)).json()
    assert [e["event"] for e in whole["timeline"]] == ["activated"] + ["updated"] * 6
    assert whole["timeline_next_before"] is None

    seen: list[int] = []
    params: dict[str, Any] = {"timeline_limit": 3}
    while True:
        page = (await client.get(f"/v1/crises/{crisis_id}", params=params, headers=COORDINATOR)).json()
        assert 1 <= len(page["timeline"]) <= 3
        seen = [e["id"] for e in page["timeline"]] + seen
        if page["timeline_next_before"] is None:
            break
        assert page["timeline_next_before"] == page["timeline"][0]["id"]
        params = {"timeline_limit": 3, "timeline_before": page["timeline_next_before"]}
    assert seen == [e["id"] for e in whole["timeline"]]  # each once, oldest first

    for bad in ({"timeline_limit": 0}, {"timeline_limit": 1001}, {"timeline_before": -1}):
        response = await client.get(f"/v1/crises/{crisis_id}", params=bad, headers=COORDINATOR)
        assert response.status_code == 422 and response.json()["detail"][0]["field"] in bad
    assert (await client.get(f"/v1/crises/{'x' * 201}", headers=COORDINATOR)).status_code == 422


async def test_the_audit_has_a_limit_and_pages_back(client: httpx.AsyncClient) -> None:
    crises = [(await client.post("/v1/crises", json={**NEW_CRISIS, "title": f"Crisis {i}"},
                                 headers=COORDINATOR)).json() for i in range(3)]
    newest = (await client.get("/v1/audit", params={"limit": 3}, headers=COORDINATOR)).json()
    assert [e["target"] for e in newest] == [c["crisis_id"] for c in reversed(crises)]
    back = (await client.get("/v1/audit", params={"limit": 2, "before": newest[0]["id"]},
                             headers=COORDINATOR)).json()
    assert back == newest[1:]

    target = crises[0]["crisis_id"]
    await client.post(f"/v1/crises/{target}/close", headers=COORDINATOR)
    one = (await client.get("/v1/audit", params={"target": target, "limit": 1}, headers=COORDINATOR)).json()
    assert [e["action"] for e in one] == ["crisis.close"]  # the latest, for one target too
    earlier = (await client.get("/v1/audit", params={"target": target, "before": one[0]["id"]},
                                headers=COORDINATOR)).json()
    assert [e["action"] for e in earlier] == ["crisis.activate"]

    for bad in ({"limit": 0}, {"limit": 1001}, {"target": "t" * 201}):
        response = await client.get("/v1/audit", params=bad, headers=COORDINATOR)
        assert response.status_code == 422 and response.json()["detail"][0]["field"] in bad
