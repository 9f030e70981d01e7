"""Issue 22 on the real broker and database: where an incident came from, the watch list of open incidents, and the
`proposed` activation mode (a coordinator confirms or dismisses; escalation to the on-call coordinator by SMS)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import httpx
import pytest

from services.crisis_center import handlers
from services.crisis_center.api import create_app
from services.crisis_center.handlers import crisis_id_for_incident
from services.crisis_center.records import Publishing
from services.crisis_center.settings import Settings
from services.crisis_center.worker import CrisisWorker
from shared.events.envelope import EventData, decode
from shared.events.incidents import IncidentClosed, IncidentReported
from shared.kafka.producer import publish
from tests.crisis_center.conftest import THRESHOLD, Clock, Env, db_crisis, quake, registration
from tests.support import auth, consume, eventually

FEEDS = "/services/feeds"
ONCALL = "+32470999999"
COORDINATOR = auth("coordinator")
GDACS_PAGE = "https://www.gdacs.org/report.aspx?eventtype=EQ&eventid=1500001"


@pytest.fixture
def settings(env: Env) -> Settings:
    return env.settings.model_copy(update={"oncall_coordinator_phone": ONCALL, "proposal_escalate_minutes": 10.0,
                                           "proposal_poll_seconds": 0.3})


@pytest.fixture
async def api(settings: Settings, clock: Clock) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, clock=clock)
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://test") as c:
        yield c


@asynccontextmanager
async def running(settings: Settings, clock: Clock) -> AsyncIterator[CrisisWorker]:
    worker = CrisisWorker(settings, clock=clock)
    await worker.start()
    await worker.recovered()
    try:
        yield worker
    finally:
        await worker.stop()


async def send(env: Env, data: EventData, *, source: str = "/tests/crisis_center") -> None:
    await publish(env.producer, data, source=source, topic_prefix=env.settings.kafka_topic_prefix)


def feed_quake(incident_id: str = "gdacs:EQ:1500001", *, severity: str = "severe", link: str | None = GDACS_PAGE,
               **kwargs: Any) -> IncidentReported:
    return quake(incident_id, severity=severity, **kwargs).model_copy(update={"link": link})


async def proposal(env: Env, incident_id: str, status: str = "pending") -> dict[str, Any] | None:
    row = await env.pool.fetchrow("SELECT * FROM proposals WHERE incident_id = $1 AND status = $2", incident_id,
                                  status)
    return dict(row) if row else None


async def watched(api: httpx.AsyncClient, incident_id: str) -> dict[str, Any] | None:
    response = await api.get("/v1/watch", headers=COORDINATOR)
    assert response.status_code == 200, response.text
    return next((w for w in response.json() if w["incident_id"] == incident_id), None)


async def nothing_sent_for(env: Env, worker: CrisisWorker, incident_id: str) -> None:
    """No crisis, nobody listed as alerted (written with the alerts), nobody marked messaged in the worker."""
    assert await db_crisis(env, incident_id) is None
    assert await env.pool.fetchval("SELECT count(*) FROM crisis_contacts") == 0
    members = [m for k, m in worker.engine.members.items() if k.startswith(f"{incident_id}|")]
    assert len(members) >= THRESHOLD and not any(m["notified"] for m in members)


async def test_roles_are_required(api: httpx.AsyncClient) -> None:
    calls = [("GET", "/v1/watch", None), ("GET", "/v1/proposals", None),
             ("POST", "/v1/proposals/gdacs:EQ:1/confirm", {}),
             ("POST", "/v1/proposals/gdacs:EQ:1/dismiss", {"reason": "not a crisis"})]
    for method, path, body in calls:
        assert (await api.request(method, path, json=body)).status_code == 401, path
        assert (await api.request(method, path, json=body, headers=auth("duty_officer"))).status_code == 403, path
        assert (await api.request(method, path, json=body, headers=auth("external_system"))).status_code == 403
    assert (await api.get("/v1/watch", headers=COORDINATOR)).json() == []
    assert (await api.post("/v1/proposals/gdacs:EQ:1/confirm", headers=COORDINATOR)).status_code == 404
    # The statuses are documented for the OpenAPI contract checks.
    spec = (await api.get("/openapi.json")).json()
    for path, method in [("/v1/watch", "get"), ("/v1/proposals/{incident_id}/confirm", "post"),
                         ("/v1/proposals/{incident_id}/dismiss", "post")]:
        documented = set(spec["paths"][path][method]["responses"])
        assert {"200", "401", "403"} <= documented, (path, documented)
    assert {"404", "409", "422"} <= set(spec["paths"]["/v1/proposals/{incident_id}/dismiss"]["post"]["responses"])


async def test_a_feed_incident_below_red_is_proposed_and_opens_once_confirmed(
        env: Env, settings: Settings, api: httpx.AsyncClient, clock: Clock) -> None:
    incident_id = "gdacs:EQ:1500001"
    crisis_id = crisis_id_for_incident(incident_id)
    async with running(settings, clock) as worker:
        await send(env, feed_quake(incident_id), source=FEEDS)
        for n in range(THRESHOLD + 1):
            await send(env, registration(n))
        raised = await eventually(lambda: proposal(env, incident_id))
        assert raised["round"] == 1 and raised["origin"] == "gdacs" and raised["threshold"] == THRESHOLD
        await eventually(lambda: worker.engine.affected(incident_id).count == THRESHOLD + 1)
        await nothing_sent_for(env, worker, incident_id)
        row = await eventually(lambda: _watched_with(api, incident_id, count=THRESHOLD + 1))
        assert (row["status"], row["mode"], row["source"], row["link"]) == ("proposed", "proposed", "gdacs",
                                                                             GDACS_PAGE)
        assert row["proposal"]["status"] == "pending" and row["crisis_id"] is None

        confirmed = await api.post(f"/v1/proposals/{incident_id}/confirm", json={"reason": "many Belgians"},
                                   headers=COORDINATOR)
        assert confirmed.status_code == 200, confirmed.text
        assert confirmed.json()["status"] == "confirmed" and confirmed.json()["decided_by"] == "tester"
        again = await api.post(f"/v1/proposals/{incident_id}/confirm", headers=COORDINATOR)
        assert again.status_code == 200 and again.json()["decided_at"] == confirmed.json()["decided_at"]
        assert (await api.post(f"/v1/proposals/{incident_id}/dismiss", json={"reason": "changed my mind"},
                               headers=COORDINATOR)).status_code == 409

        crisis = await eventually(lambda: db_crisis(env, incident_id))
        assert crisis["crisis_id"] == crisis_id and crisis["status"] == "active"
        assert crisis["activated_by"] == "tester" and crisis["affected_count"] == THRESHOLD + 1
        await eventually(lambda: _applied(env, incident_id))
        listed = (await api.get(f"/v1/crises/{crisis_id}", headers=COORDINATOR)).json()
        assert (listed["source"], listed["link"]) == ("gdacs", GDACS_PAGE)
        assert listed["timeline"][0]["actor"] == "tester"
        assert (await watched(api, incident_id) or {}).get("status") == "crisis"
        await send(env, registration(90))  # a joiner after the activation is alerted as today
        await eventually(lambda: worker.engine.affected(incident_id).count == THRESHOLD + 2)
    audit = (await api.get("/v1/audit", params={"target": crisis_id}, headers=COORDINATOR)).json()
    assert [(a["action"], a["actor"]) for a in audit][:2] == [("proposal.raise", "system:threshold"),
                                                             ("proposal.confirm", "tester")]
    assert audit[1]["detail"]["reason"] == "many Belgians"
    status = await consume(env.topic("crisis.status"), count=1, timeout=60)
    assert [decode(r.value).type for r in status] == ["be.diplomatie.crisis.activated"]
    alerts = await consume(env.topic("notifications.commands"), count=2 * (THRESHOLD + 2), timeout=60)
    commands = [json.loads(r.value)["data"] for r in alerts]
    assert {c["recipient"]["traveller_id"] for c in commands} == {f"t{n}" for n in [*range(THRESHOLD + 1), 90]}
    assert {c["template"] for c in commands} == {"crisis_alert"} and len({c["notification_id"] for c in commands}) \
        == 2 * (THRESHOLD + 2)
    assert await env.pool.fetchval("SELECT count(*) FROM crises") == 1


async def _watched_with(api: httpx.AsyncClient, incident_id: str, *, count: int) -> dict[str, Any] | None:
    row = await watched(api, incident_id)
    return row if row is not None and row["affected_count"] == count and row["status"] != "watching" else None


async def _applied(env: Env, incident_id: str) -> bool:
    return bool(await env.pool.fetchval("SELECT applied_at IS NOT NULL FROM proposals WHERE incident_id = $1",
                                        incident_id))


async def test_a_dismissal_is_audited_and_sends_nothing(
        env: Env, settings: Settings, api: httpx.AsyncClient, clock: Clock) -> None:
    incident_id = "usgs:us7000abcd"
    async with running(settings, clock) as worker:
        await send(env, feed_quake(incident_id, severity="moderate", link=None), source=FEEDS)
        for n in range(THRESHOLD):
            await send(env, registration(n))
        await eventually(lambda: proposal(env, incident_id))
        short = await api.post(f"/v1/proposals/{incident_id}/dismiss", json={"reason": ""}, headers=COORDINATOR)
        assert short.status_code == 422  # a reason is required
        dismissed = await api.post(f"/v1/proposals/{incident_id}/dismiss", json={"reason": "aftershock zone only"},
                                   headers=auth("coordinator"))
        assert dismissed.status_code == 200, dismissed.text
        assert dismissed.json()["status"] == "dismissed" and dismissed.json()["source"] == "usgs"
        await eventually(lambda: _applied(env, incident_id))
        assert worker.engine.incidents[incident_id]["phase"] == "dismissed"
        for n in range(THRESHOLD, THRESHOLD + 3):  # more people: no new proposal, no crisis
            await send(env, registration(n))
        await eventually(lambda: worker.engine.affected(incident_id).count == THRESHOLD + 3)
        await nothing_sent_for(env, worker, incident_id)
        assert (await api.post(f"/v1/proposals/{incident_id}/confirm", headers=COORDINATOR)).status_code == 409
        row = await watched(api, incident_id)
        assert row is not None and row["status"] == "dismissed" and row["source"] == "usgs"
    audit = (await api.get("/v1/audit", params={"target": crisis_id_for_incident(incident_id)},
                           headers=COORDINATOR)).json()
    dismissal = [a for a in audit if a["action"] == "proposal.dismiss"]
    assert len(dismissal) == 1 and dismissal[0]["actor"] == "tester"
    assert dismissal[0]["detail"]["reason"] == "aftershock zone only"
    assert await env.pool.fetchval("SELECT count(*) FROM crises") == 0


async def test_an_unhandled_proposal_escalates_to_the_on_call_coordinator_once(
        env: Env, settings: Settings, clock: Clock) -> None:
    incident_id = "gdacs:TC:1000999"
    publishing = Publishing(settings.source, settings.kafka_topic_prefix)

    async def escalate(at: timedelta) -> int:
        raised_at = (await proposal(env, incident_id) or {})["proposed_at"]
        return await handlers.escalate_due_proposals(
            pool=env.pool, now=raised_at + at, after_minutes=10, phone=ONCALL, language="nl",
            dashboard_url="http://test/dashboard", publishing=publishing)

    async with running(settings, clock):
        await send(env, feed_quake(incident_id, severity="severe"), source=FEEDS)
        for n in range(THRESHOLD):
            await send(env, registration(n))
        await eventually(lambda: proposal(env, incident_id))
        assert await escalate(timedelta(minutes=9, seconds=59)) == 0  # not yet
        clock.at += timedelta(minutes=10, seconds=1)  # the worker's clock: its poller escalates
        escalated = await eventually(lambda: env.pool.fetchval(
            "SELECT escalated_at FROM proposals WHERE incident_id = $1", incident_id))
    clock.at += timedelta(hours=1)
    async with running(settings, clock):  # a restart: the poller runs again, nothing is sent twice
        await eventually(lambda: _polled_since_start(env))
    assert await escalate(timedelta(hours=2)) == 0
    assert await env.pool.fetchval("SELECT escalated_at FROM proposals WHERE incident_id = $1",
                                   incident_id) == escalated
    records = await consume(env.topic("notifications.commands"), count=2, timeout=8,
                            predicate=lambda r: json.loads(r.value)["data"]["template"] == "crisis_proposal")
    assert len(records) == 1
    command = json.loads(records[0].value)["data"]
    assert command["recipient"]["phone"] == ONCALL and command["channel"] == "sms"
    assert command["purpose"] == f"proposal:{incident_id}:1:escalation"
    assert command["params"]["affected_count"] == THRESHOLD and command["params"]["minutes"] == 10
    assert command["crisis_id"] == crisis_id_for_incident(incident_id)
    assert await env.pool.fetchval("SELECT count(*) FROM crises") == 0
    actions = await env.pool.fetch("SELECT action FROM audit_log WHERE action = 'proposal.escalate'")
    assert len(actions) == 1


async def _polled_since_start(env: Env) -> bool:
    """The restarted worker's poller has run (it wrote the watch list row again at its first tick or change)."""
    return bool(await env.pool.fetchval("SELECT count(*) FROM watched_incidents"))


async def test_external_and_red_incidents_stay_automatic_and_the_watch_list_shows_counts_below_threshold(
        env: Env, settings: Settings, api: httpx.AsyncClient, clock: Clock) -> None:
    athens = {"country": "GR", "circle": {"lat": 37.98, "lon": 23.73, "radius_km": 30}}
    cyprus = {"country": "CY"}
    async with running(settings, clock) as worker:
        await send(env, quake("ext-1", severity="moderate"))  # an external system: automatic, whatever the severity
        await send(env, feed_quake("gdacs:EQ:77", severity="extreme", area=athens), source=FEEDS)  # Red: automatic
        await send(env, feed_quake("usgs:below", severity="severe", area=cyprus, link="https://earthquake.usgs.gov/x"),
                   source=FEEDS)
        for n in range(THRESHOLD):
            await send(env, registration(n))
            await send(env, registration(n, lat=37.98, lon=23.73, country="GR", prefix="g"))
        for n in range(THRESHOLD - 2):
            await send(env, registration(n, lat=35.1, lon=33.4, country="CY", prefix="c"))
        external = await eventually(lambda: db_crisis(env, "ext-1"))
        red = await eventually(lambda: db_crisis(env, "gdacs:EQ:77"))
        assert (external["source"], external["activated_by"]) == ("external", "system:threshold")
        assert (red["source"], red["link"], red["activated_by"]) == ("gdacs", GDACS_PAGE, "system:threshold")
        below = await eventually(lambda: watched_count(api, "usgs:below", THRESHOLD - 2))
        assert (below["status"], below["mode"], below["source"], below["threshold"]) == (
            "watching", "proposed", "usgs", THRESHOLD)
        assert below["counts"] == {"total": THRESHOLD - 2, "registrations": THRESHOLD - 2, "reports": 0}
        assert below["proposal"] is None and below["link"] == "https://earthquake.usgs.gov/x"
        ext = await watched(api, "ext-1")
        assert ext is not None and (ext["mode"], ext["source"], ext["status"]) == ("automatic", "external", "crisis")
        await send(env, IncidentClosed(incident_id="usgs:below"))
        await eventually(lambda: _gone(api, "usgs:below"))
        assert count_of(worker, "ext-1") == THRESHOLD
    assert await env.pool.fetchval("SELECT count(*) FROM proposals") == 0
    crises = (await api.get("/v1/crises", headers=COORDINATOR)).json()
    assert {c["source"] for c in crises} == {"external", "gdacs"}


def count_of(worker: CrisisWorker, incident_id: str) -> int:
    return worker.engine.affected(incident_id).count


async def watched_count(api: httpx.AsyncClient, incident_id: str, count: int) -> dict[str, Any] | None:
    row = await watched(api, incident_id)
    return row if row is not None and row["affected_count"] == count else None


async def _gone(api: httpx.AsyncClient, incident_id: str) -> bool:
    return await watched(api, incident_id) is None
