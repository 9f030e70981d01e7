"""A case's texts, history and messages and the audits are bounded (issue 19, finding 12): too long a note is a 422
with the project's error body; a case shows the latest entries of its history and messages and pages back; the
staff and read audits page back with `before`."""

from __future__ import annotations

from typing import Any

import httpx

from tests.intake.integration.test_intake_case_actions import DUTY, act, open_case
from tests.intake.integration.test_intake_privacy import sensitive_report
from tests.intake.integration.test_intake_staff import new_officer
from tests.support import auth, token

ADMIN = auth("admin")


def too_long(response: httpx.Response, field: str) -> bool:
    detail = response.json()["detail"]
    return response.status_code == 422 and [(d["field"], d["rule"]) for d in detail] == [(field, "max_length")]


async def test_a_note_reason_or_closing_note_over_its_limit_is_a_422_naming_the_field(
        client: httpx.AsyncClient) -> None:
    reference = (await open_case(client))["reference"]
    assert too_long(await client.post(f"/v1/reports/{reference}/notes", json={"body": "n" * 5001}, headers=DUTY),
                    "(body)")  # the field named `body` (the error body's convention)
    assert too_long(await client.post(f"/v1/reports/{reference}/status",
                                      json={"status": "in_progress", "reason": "r" * 1001}, headers=DUTY), "reason")
    assert too_long(await client.post(f"/v1/reports/{reference}/close", json={"note": "c" * 1001}, headers=DUTY),
                    "note")
    history = (await client.get(f"/v1/reports/{reference}", headers=DUTY)).json()["history"]
    assert [h["action"] for h in history] == ["status"]  # nothing of the refused ones was written
    await act(client, reference, "notes", {"body": "n" * 5000})
    closed = await client.post(f"/v1/reports/{reference}/close", json={"note": "c" * 1000}, headers=DUTY)
    assert closed.status_code == 200, closed.text


async def test_a_case_shows_its_latest_history_and_messages_and_pages_back(client: httpx.AsyncClient) -> None:
    reference = (await open_case(client, channel="sms"))["reference"]
    for i in range(5):
        await act(client, reference, "notes", {"body": f"note {i}"})
    for i in range(2):
        await act(client, reference, "messages", {"body": f"reply {i}"})
    everything = (await client.get(f"/v1/reports/{reference}", headers=DUTY)).json()
    assert everything["history_next_before"] is None and everything["messages_next_before"] is None
    all_notes = [h["note"] for h in everything["history"]]
    all_messages = [m["body"] for m in everything["messages"]]
    assert len(all_notes) >= 8 and len(all_messages) >= 2

    seen: list[str] = []
    params: dict[str, Any] = {"limit": 3}
    while True:
        page = (await client.get(f"/v1/reports/{reference}", params=params, headers=DUTY)).json()
        assert len(page["history"]) <= 3 and len(page["messages"]) <= 3
        seen = [h["note"] for h in page["history"]] + seen
        if page["history_next_before"] is None:
            break
        assert page["history_next_before"] == page["history"][0]["id"]
        params = {"limit": 3, "history_before": page["history_next_before"]}
    assert seen == all_notes  # every entry once, in order

    latest = (await client.get(f"/v1/reports/{reference}", params={"limit": 1}, headers=DUTY)).json()
    assert [m["body"] for m in latest["messages"]] == all_messages[-1:]
    older = (await client.get(f"/v1/reports/{reference}", headers=DUTY,
                              params={"limit": 1, "messages_before": latest["messages_next_before"]})).json()
    assert [m["body"] for m in older["messages"]] == all_messages[-2:-1]

    for bad in ({"limit": 0}, {"limit": 1001}, {"history_before": 0}, {"messages_before": "x"}):
        response = await client.get(f"/v1/reports/{reference}", params=bad, headers=DUTY)
        assert response.status_code == 422 and response.json()["detail"][0]["field"] in bad


async def test_the_staff_audit_pages_back(client: httpx.AsyncClient) -> None:
    for _ in range(3):
        await new_officer(client)
    newest = (await client.get("/v1/admin/audit", params={"limit": 3}, headers=ADMIN)).json()
    first = (await client.get("/v1/admin/audit", params={"limit": 2}, headers=ADMIN)).json()
    assert first["entries"] == newest["entries"][:2] and first["next_before"] == newest["entries"][1]["id"]
    second = (await client.get("/v1/admin/audit", params={"limit": 1, "before": first["next_before"]},
                               headers=ADMIN)).json()
    assert second["entries"] == newest["entries"][2:3]
    assert (await client.get("/v1/admin/audit", params={"limit": 1001}, headers=ADMIN)).status_code == 422


async def test_the_read_audit_pages_back(client: httpx.AsyncClient) -> None:
    detention = (await client.post("/v1/reports", json=sensitive_report(), headers=DUTY)).json()["reference"]
    reader = {"Authorization": f"Bearer {token('coordinator', subject='coordinator-8')}"}
    for _ in range(3):
        assert (await client.get(f"/v1/reports/{detention}", headers=reader)).status_code == 200
    params: dict[str, Any] = {"reference": detention, "limit": 2}
    first = (await client.get("/v1/audit/reads", params=params, headers=ADMIN)).json()
    assert len(first["reads"]) == 2 and first["next_before"] == first["reads"][-1]["id"]
    rest = (await client.get("/v1/audit/reads", params={**params, "before": first["next_before"]},
                             headers=ADMIN)).json()
    assert len(rest["reads"]) == 1 and rest["next_before"] is None
    assert rest["reads"][0]["id"] < first["reads"][-1]["id"]
