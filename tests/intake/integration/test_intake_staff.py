"""Officers and the on-call roster through the admin API, on the real database: roles, validation, the overlap
rule, audit, who is on call now and next, and the voice line following the roster."""

from __future__ import annotations

import os
import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from twilio.request_validator import RequestValidator

from tests.intake.conftest import PUBLIC_BASE, Clock
from tests.support import auth

ADMIN = {"Authorization": auth("admin")["Authorization"]}
DUTY = auth("duty_officer")
# Every test works in a month of its own, far from the others' entries (the schema lives for the module); the
# clock is set by each test, so nothing depends on today's date. 03:00 UTC on a Sunday is outside office hours.
BASE = datetime(2031, 1, 5, 3, 0, tzinfo=UTC)


def month(n: int) -> datetime:
    return BASE + timedelta(days=35 * n)


async def new_officer(client: httpx.AsyncClient, **overrides: Any) -> dict[str, Any]:
    body = {"name": "Officer " + uuid.uuid4().hex[:6], "role": "Consul", "phone": "+212537268060",
            "email": f"o{uuid.uuid4().hex[:8]}@diplomatie.example", "post_id": f"post-{uuid.uuid4().hex[:8]}",
            "kinds": ["lost_document"], **overrides}
    response = await client.post("/v1/admin/officers", json=body, headers=ADMIN)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def add_entry(client: httpx.AsyncClient, starts: datetime, ends: datetime, officer_id: int,
                    **extra: Any) -> httpx.Response:
    return await client.post("/v1/admin/roster", headers=ADMIN, json={
        "starts_at": starts.isoformat(), "ends_at": ends.isoformat(), "officer_id": officer_id, **extra})


async def test_only_admins_manage_officers_and_the_roster(client: httpx.AsyncClient) -> None:
    for method, path in (("GET", "/v1/admin/officers"), ("POST", "/v1/admin/officers"),
                         ("PATCH", "/v1/admin/officers/1"), ("POST", "/v1/admin/officers/1/end"),
                         ("GET", "/v1/admin/roster"), ("POST", "/v1/admin/roster"),
                         ("PATCH", "/v1/admin/roster/1"), ("POST", "/v1/admin/roster/1/end"),
                         ("GET", "/v1/admin/audit")):
        assert (await client.request(method, path, json={}, headers=DUTY)).status_code == 403, path
        assert (await client.request(method, path, json={})).status_code == 401, path
    assert (await client.get("/v1/on-call")).status_code == 401
    assert (await client.get("/v1/on-call", headers=auth("external_system"))).status_code == 403


async def test_add_change_and_audit_an_officer(client: httpx.AsyncClient) -> None:
    officer = await new_officer(client)
    assert officer["active"] and officer["kinds"] == ["lost_document"] and officer["team"] == "consular"
    listed = (await client.get("/v1/admin/officers", headers=ADMIN)).json()
    assert officer["officer_id"] in [o["officer_id"] for o in listed]

    bad = await client.patch(f"/v1/admin/officers/{officer['officer_id']}", json={"phone": "0470 12 34 56"},
                             headers=ADMIN)
    assert bad.status_code == 422 and bad.json()["detail"][0]["field"] == "phone"
    assert (await client.patch(f"/v1/admin/officers/{officer['officer_id']}", json={"name": None},
                               headers=ADMIN)).status_code == 422
    assert (await client.patch(f"/v1/admin/officers/{officer['officer_id']}", json={"grade": "A"},
                               headers=ADMIN)).status_code == 422
    changed = await client.patch(f"/v1/admin/officers/{officer['officer_id']}",
                                 json={"phone": "+212537268061", "role": "Vice-consul"}, headers=ADMIN)
    assert changed.status_code == 200
    assert changed.json()["phone"] == "+212537268061" and changed.json()["name"] == officer["name"]
    assert (await client.patch("/v1/admin/officers/999999", json={"role": "x"}, headers=ADMIN)).status_code == 404

    trail = (await client.get(f"/v1/admin/audit?target=officer:{officer['officer_id']}", headers=ADMIN)).json()
    actions = [e["action"] for e in trail["entries"]]
    assert actions == ["officer.change", "officer.add"]
    assert trail["entries"][0]["actor"] == "tester"
    assert trail["entries"][0]["detail"]["before"] == {"phone": "+212537268060", "role": "Consul"}


async def test_a_change_shows_on_the_next_case_at_once(client: httpx.AsyncClient) -> None:
    """The API's cache of officers is dropped on every change: the next case carries the new card."""
    for officer_id in (1, 2):  # the seeded headquarters officers who take lost-document cases
        response = await client.patch(f"/v1/admin/officers/{officer_id}", json={"role": "Night duty officer"},
                                      headers=ADMIN)
        assert response.status_code == 200
    report = {"kind": "lost_document", "description": "Paspoort kwijt", "location": {"country": "MA"},
              "reporter": {"full_name": "R T", "language": "nl", "channel": "web", "email": "r@example.org"}}
    case = await client.post("/v1/reports", json=report, headers=DUTY)
    assert case.status_code == 201 and case.json()["officer"]["role"] == "Night duty officer"


async def test_overlapping_entries_must_say_which_wins(client: httpx.AsyncClient, clock: Clock) -> None:
    first, second = await new_officer(client), await new_officer(client)
    start = month(1)
    standing = await add_entry(client, start, start + timedelta(days=20), first["officer_id"])
    assert standing.status_code == 201, standing.text
    standing_id = standing.json()["entry_id"]

    clash = await add_entry(client, start + timedelta(days=5), start + timedelta(days=7), second["officer_id"])
    assert clash.status_code == 409
    assert clash.json()["detail"][0]["entry_id"] == standing_id
    assert "precedence" in clash.json()["detail"][0]["message"]

    replacement = await add_entry(client, start + timedelta(days=5), start + timedelta(days=7),
                                  second["officer_id"], precedence=1, note="covers a leave")
    assert replacement.status_code == 201
    replacement_id = replacement.json()["entry_id"]
    # Touching is no overlap.
    after = await add_entry(client, start + timedelta(days=20), start + timedelta(days=21), second["officer_id"])
    assert after.status_code == 201

    clock.at = start + timedelta(days=6)
    on_call = (await client.get("/v1/on-call", headers=DUTY)).json()
    assert on_call["now"]["entry_id"] == replacement_id
    assert on_call["now"]["officer"]["officer_id"] == second["officer_id"] and not on_call["office_hours"]
    assert on_call["next"]["entry"]["entry_id"] == standing_id
    assert datetime.fromisoformat(on_call["next"]["at"]) == start + timedelta(days=7)

    clock.at = start + timedelta(days=20, hours=12)
    on_call = (await client.get("/v1/on-call", headers=auth("coordinator"))).json()
    assert on_call["next"]["entry"] is None  # a gap in the roster after the last entry
    assert datetime.fromisoformat(on_call["next"]["at"]) == start + timedelta(days=21)

    clock.at = start + timedelta(days=1)
    moved = await client.patch(f"/v1/admin/roster/{replacement_id}", json={"precedence": 0}, headers=ADMIN)
    assert moved.status_code == 409 and moved.json()["detail"][0]["entry_id"] == standing_id
    backwards = await client.patch(f"/v1/admin/roster/{replacement_id}",
                                   json={"ends_at": (start + timedelta(days=4)).isoformat()}, headers=ADMIN)
    assert backwards.status_code == 422


async def test_roster_validation(client: httpx.AsyncClient) -> None:
    officer = await new_officer(client)
    start = month(2)
    naive = await client.post("/v1/admin/roster", headers=ADMIN, json={
        "starts_at": "2031-03-01T00:00:00", "ends_at": "2031-03-02T00:00:00", "officer_id": officer["officer_id"]})
    assert naive.status_code == 422 and naive.json()["detail"][0]["field"] == "starts_at"
    reversed_ = await add_entry(client, start, start - timedelta(hours=1), officer["officer_id"])
    assert reversed_.status_code == 422
    same = await add_entry(client, start, start + timedelta(days=1), officer["officer_id"],
                           backup_officer_id=officer["officer_id"])
    assert same.status_code == 422
    unknown = await add_entry(client, start, start + timedelta(days=1), 999999)
    assert unknown.status_code == 422 and unknown.json()["detail"][0]["field"] == "officer_id"


async def test_ending_entries_and_officers(client: httpx.AsyncClient, clock: Clock) -> None:
    officer, backup = await new_officer(client), await new_officer(client)
    start = month(3)
    running = (await add_entry(client, start, start + timedelta(days=10), officer["officer_id"],
                               backup_officer_id=backup["officer_id"])).json()["entry_id"]
    future = (await add_entry(client, start + timedelta(days=12), start + timedelta(days=14),
                              backup["officer_id"])).json()["entry_id"]
    clock.at = start + timedelta(days=2)

    refused = await client.post(f"/v1/admin/officers/{backup['officer_id']}/end", headers=ADMIN)
    assert refused.status_code == 409 and refused.json()["detail"][0]["entry_ids"] == [running, future]

    withdrawn = await client.post(f"/v1/admin/roster/{future}/end", json={"reason": "leave"}, headers=ADMIN)
    assert withdrawn.status_code == 200 and withdrawn.json()["withdrawn"] is True
    cut = await client.post(f"/v1/admin/roster/{running}/end", headers=ADMIN)
    assert cut.status_code == 200 and cut.json()["withdrawn"] is False
    assert datetime.fromisoformat(cut.json()["ended_at"]) == clock.at
    assert (await client.post(f"/v1/admin/roster/{running}/end", headers=ADMIN)).status_code == 409
    assert (await client.patch(f"/v1/admin/roster/{running}", json={"note": "x"}, headers=ADMIN)).status_code == 409
    entries = (await client.get(f"/v1/admin/roster?from={start.isoformat()}".replace("+", "%2B"),
                                headers=ADMIN)).json()
    ours = {e["entry_id"]: e for e in entries}
    assert future not in ours and datetime.fromisoformat(ours[running]["ends_at"]) == clock.at

    ended = await client.post(f"/v1/admin/officers/{backup['officer_id']}/end", json={"reason": "moved post"},
                              headers=ADMIN)
    assert ended.status_code == 200 and ended.json()["active"] is False and ended.json()["open_cases"] == 0
    assert (await client.post(f"/v1/admin/officers/{backup['officer_id']}/end", headers=ADMIN)).status_code == 409
    listed = (await client.get("/v1/admin/officers", headers=ADMIN)).json()
    assert backup["officer_id"] not in [o["officer_id"] for o in listed]
    with_ended = (await client.get("/v1/admin/officers?include_ended=true", headers=ADMIN)).json()
    assert backup["officer_id"] in [o["officer_id"] for o in with_ended]
    again = await add_entry(client, start + timedelta(days=30), start + timedelta(days=31), backup["officer_id"])
    assert again.status_code == 422 and again.json()["detail"][0]["rule"] == "active"

    trail = (await client.get(f"/v1/admin/audit?target=roster:{future}", headers=ADMIN)).json()["entries"]
    assert [e["action"] for e in trail] == ["roster.end", "roster.add"]
    assert trail[0]["detail"]["withdrawn"] is True and trail[0]["detail"]["reason"] == "leave"


async def test_the_voice_line_follows_the_winning_entry(client: httpx.AsyncClient, clock: Clock) -> None:
    standing = await new_officer(client, phone="+3225010091")
    replacement = await new_officer(client, phone="+3225010092")
    start = month(4)
    assert (await add_entry(client, start, start + timedelta(days=10), standing["officer_id"])).status_code == 201
    assert (await add_entry(client, start + timedelta(days=3), start + timedelta(days=4),
                            replacement["officer_id"], precedence=5)).status_code == 201
    validator = RequestValidator(os.environ["TWILIO_AUTH_TOKEN"])

    async def dialled() -> str | None:
        path, params = "/twilio/voice/menu?lang=en", {"From": "+212612345678", "Digits": "1",
                                                        "CallSid": "CA" + uuid.uuid4().hex}
        response = await client.post(path, data=params, headers={
            "X-Twilio-Signature": validator.compute_signature(PUBLIC_BASE + path, params)})
        match = re.search(r"<Dial[^>]*>([^<]+)</Dial>", response.text)
        return match.group(1) if match else None

    clock.at = start + timedelta(days=3, hours=1)   # a Wednesday at 04:00 in Brussels: outside office hours
    assert await dialled() == "+3225010092"
    clock.at = start + timedelta(days=4, hours=1)
    assert await dialled() == "+3225010091"


@pytest.fixture(autouse=True)
def _restore_clock(clock: Clock) -> Any:
    yield
    clock.at = datetime.now(UTC)


async def test_an_officer_signs_in_to_the_console_with_their_own_account(client: httpx.AsyncClient,
                                                                        clock: Clock) -> None:
    officer = await new_officer(client)
    path = f"/v1/admin/officers/{officer['officer_id']}/sign-in"
    weak = await client.put(path, json={"login": "nadia", "password": "short"}, headers=ADMIN)
    assert weak.status_code == 422 and weak.json()["detail"][0]["field"] == "password"
    assert (await client.put(path, json={"login": "Nadia Z", "password": "a long passphrase"},
                             headers=ADMIN)).status_code == 422
    assert (await client.put(path, json={"login": "nadia", "password": "a long passphrase"},
                             headers=DUTY)).status_code == 403
    done = await client.put(path, json={"login": "nadia", "password": "a long passphrase"}, headers=ADMIN)
    assert done.status_code == 200 and done.json()["login"] == "nadia"
    other = await new_officer(client)
    taken = await client.put(f"/v1/admin/officers/{other['officer_id']}/sign-in",
                             json={"login": "nadia", "password": "another passphrase"}, headers=ADMIN)
    assert taken.status_code == 409 and taken.json()["detail"][0]["rule"] == "unique"

    signed = await client.post("/console/login", json={"username": "nadia", "password": "a long passphrase"})
    assert signed.status_code == 200 and signed.json()["subject"] == "nadia"
    assert (await client.post("/console/login", json={"username": "nadia", "password": "wrong passphrase"})
            ).status_code == 401
    trail = (await client.get(f"/v1/admin/audit?target=officer:{officer['officer_id']}", headers=ADMIN)).json()
    assert trail["entries"][0]["action"] == "officer.sign_in"
    assert "passphrase" not in str(trail) and "pbkdf2" not in str(trail)

    # "Only my cases": the board of the signed-in officer (the token's subject is their sign-in name)
    mine = {"Authorization": f"Bearer {signed.json()['access_token']}"}
    report = {"kind": "lost_document", "description": "Paspoort kwijt", "location": {"country": "MA"},
              "reporter": {"full_name": "R T", "language": "nl", "channel": "web", "email": "r@example.org"}}
    case = (await client.post("/v1/reports", json=report, headers=DUTY)).json()
    assert (await client.post(f"/v1/reports/{case['reference']}/assignee", json={"officer_id": officer["officer_id"]},
                              headers=DUTY)).status_code == 200
    clock.at = datetime.fromisoformat(case["reply_due_by"]) + timedelta(days=1)
    board = (await client.get("/v1/charter-board?officer=me", headers=mine)).json()
    assert [c["reference"] for c in board["overdue"]] == [case["reference"]]
    someone_else = (await client.get("/v1/charter-board?officer=me", headers=DUTY)).json()
    assert case["reference"] not in [c["reference"] for c in someone_else["overdue"]]


async def test_an_ended_officer_can_no_longer_sign_in(client: httpx.AsyncClient) -> None:
    officer = await new_officer(client)
    await client.put(f"/v1/admin/officers/{officer['officer_id']}/sign-in",
                     json={"login": "leaving", "password": "a long passphrase"}, headers=ADMIN)
    assert (await client.post("/console/login", json={"username": "leaving", "password": "a long passphrase"})
            ).status_code == 200
    assert (await client.post(f"/v1/admin/officers/{officer['officer_id']}/end", headers=ADMIN)).status_code == 200
    assert (await client.post("/console/login", json={"username": "leaving", "password": "a long passphrase"})
            ).status_code == 401
