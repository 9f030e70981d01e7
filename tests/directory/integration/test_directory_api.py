"""The directory's HTTP API against the real database (and Kafka for what changes publish)."""

from __future__ import annotations

from datetime import UTC, datetime

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from services.directory.bootstrap import open_resources
from services.directory.settings import Settings
from shared.events.envelope import decode
from shared.kafka.outbox import OutboxRelay
from shared.kafka.producer import make_producer
from tests.support import auth, bootstrap, consume, eventually

ETD = "emergency_travel_document"


async def test_resolve_canada_goes_to_montreal(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/resolve", params={"service": ETD, "country": "CA", "city": "Ottawa"})
    assert response.status_code == 200
    body = response.json()
    assert body["post"]["post_id"] == "be-consulate-general-montreal"
    assert body["basis"] == "resident" and body["eu_member_state"] is None
    assert body["distance_km"] > 100  # from Ottawa to Montreal
    assert body["open_now"] is None and any("opening hours unknown" in n for n in body["notes"])


async def test_resolve_eu_fallback_and_no_fallback_for_passports(client: httpx.AsyncClient) -> None:
    emergency = (await client.get("/v1/resolve", params={"service": ETD, "country": "AF"})).json()
    assert emergency["basis"] == "eu_member_state"
    assert emergency["eu_member_state"] == emergency["post"]["member_state"] != "BE"
    assert emergency["alternatives"][0]["post"]["post_id"] == "be-embassy-islamabad"
    passport = (await client.get("/v1/resolve", params={"service": "passport", "country": "AF"})).json()
    assert (passport["post"]["post_id"], passport["basis"]) == ("be-embassy-islamabad", "side_accreditation")


async def test_resolve_from_coordinates_alone(client: httpx.AsyncClient) -> None:
    body = (await client.get("/v1/resolve", params={"service": ETD, "lat": -10.7167, "lon": 25.4667})).json()
    assert body["place"]["country"] == "CD"
    assert body["post"]["post_id"] == "be-consulate-general-lubumbashi"


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"country": "CA"}, "service"),
        ({"service": "tea", "country": "CA"}, "service"),
        ({"service": ETD, "country": "Canada"}, "country"),
        ({"service": ETD, "country": "QQ"}, "country"),
        ({"service": ETD}, "country"),
        ({"service": ETD, "lat": "10"}, "lon"),
        ({"service": ETD, "lat": "100", "lon": "0"}, "lat"),
        ({"service": ETD, "lat": "north", "lon": "0"}, "lat"),
        ({"service": ETD, "country": "BE"}, "country"),
    ],
)
async def test_resolve_bad_input_is_422_naming_the_field(
    client: httpx.AsyncClient, params: dict[str, str], field: str
) -> None:
    response = await client.get("/v1/resolve", params=params)
    assert response.status_code == 422
    assert field in [d["field"] for d in response.json()["detail"]]


async def test_posts_list_filters(client: httpx.AsyncClient) -> None:
    canada = (await client.get("/v1/posts", params={"country": "CA"})).json()
    assert {p["post_id"] for p in canada["posts"]} == {"be-embassy-ottawa", "be-consulate-general-montreal"}
    visas = (await client.get("/v1/posts", params={"country": "BR", "service": "visa"})).json()
    assert [p["post_id"] for p in visas["posts"]] == ["be-consulate-general-sao-paulo"]
    reps = (await client.get("/v1/posts", params={"type": "permanent_representation"})).json()
    assert reps["count"] == 9 and all(p["services"] == [] for p in reps["posts"])
    assert all(p["open_now"] is None for p in reps["posts"])  # hours unknown: placeholders
    assert (await client.get("/v1/posts", params={"type": "castle"})).status_code == 422


async def test_post_detail(client: httpx.AsyncClient) -> None:
    body = (await client.get("/v1/posts/be-embassy-ottawa")).json()
    assert body["consular_competence"] is False and body["services"] == []
    assert body["opening_hours"]["placeholder"] is True and body["open_now"] is None
    assert body["source"] and body["contact"]["placeholder"] is True
    assert (await client.get("/v1/posts/be-embassy-atlantis")).status_code == 404


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("PUT", "/v1/posts/be-embassy-tokyo/closure", {"note": "unrest"}),
        ("DELETE", "/v1/posts/be-embassy-tokyo/closure", None),
        ("POST", "/v1/posts/be-embassy-tokyo/suspensions", {"services": ["visa"]}),
        ("POST", "/v1/posts/be-embassy-tokyo/resumptions", {"services": ["visa"]}),
        ("PUT", "/v1/posts/be-embassy-tokyo/hours", {"weekly": {"mon": [["09:00", "12:00"]]}}),
        ("GET", "/v1/posts/be-embassy-tokyo/changes", None),
    ],
)
async def test_changes_need_admin_or_coordinator(
    client: httpx.AsyncClient, method: str, path: str, body: dict | None
) -> None:
    assert (await client.request(method, path, json=body)).status_code == 401
    bad = {"Authorization": "Bearer not-a-token"}
    assert (await client.request(method, path, json=body, headers=bad)).status_code == 401
    assert (await client.request(method, path, json=body, headers=auth("duty_officer"))).status_code == 403


async def test_closing_a_post_reroutes_is_audited_and_published(
    client: httpx.AsyncClient, pool: asyncpg.Pool, settings: Settings, prefix: str
) -> None:
    params = {"service": ETD, "country": "CD", "city": "Kolwezi"}
    before = (await client.get("/v1/resolve", params=params)).json()
    assert before["post"]["post_id"] == "be-consulate-general-lubumbashi"

    closed = await client.put(
        "/v1/posts/be-consulate-general-lubumbashi/closure", json={"note": "unrest"}, headers=auth("coordinator")
    )
    assert closed.status_code == 200 and closed.json()["temporarily_closed"] is True
    during = (await client.get("/v1/resolve", params=params)).json()
    assert (during["post"]["post_id"], during["basis"]) == ("be-embassy-kinshasa", "resident")
    assert "be-consulate-general-lubumbashi" not in [a["post"]["post_id"] for a in during["alternatives"]]

    # Another process (a replica, the worker) picks the change up from the database.
    other = await open_resources(settings)
    try:
        routed = other.snapshot.current.resolve_at(ETD, datetime.now(UTC), country="CD", city="Kolwezi")
        assert routed.match is not None and routed.match.post is not None
        assert routed.match.post.post_id == "be-embassy-kinshasa"
    finally:
        await other.pool.close()

    reopened = await client.delete("/v1/posts/be-consulate-general-lubumbashi/closure", headers=auth("admin"))
    assert reopened.status_code == 200 and reopened.json()["temporarily_closed"] is False
    after = (await client.get("/v1/resolve", params=params)).json()
    assert after["post"]["post_id"] == "be-consulate-general-lubumbashi"

    audit = (await client.get("/v1/posts/be-consulate-general-lubumbashi/changes", headers=auth("coordinator"))).json()[
        "changes"
    ]
    assert [c["change"] for c in audit] == ["reopen", "close_temporarily"]
    assert audit[1]["after"]["temporarily_closed"] is True and audit[1]["before"]["temporarily_closed"] is False
    assert audit[1]["changed_by"] == "tester" and "coordinator" in audit[1]["roles"]

    producer = make_producer(bootstrap(), client_id="directory-tests")
    await producer.start()
    try:
        await OutboxRelay(pool=pool, producer=producer, schema=settings.db_schema).drain()
    finally:
        await producer.stop()
    records = await consume(
        prefix + "directory.posts",
        count=2,
        predicate=lambda r: r.key == b"be-consulate-general-lubumbashi",
    )
    events = [decode(r.value) for r in records]
    assert [e.type for e in events] == ["be.diplomatie.post.changed"] * 2
    assert [e.data["change"] for e in events] == ["close_temporarily", "reopen"]
    assert events[0].data["post"]["temporarily_closed"] is True
    assert events[0].source == "/services/directory"


async def test_suspending_a_service_and_setting_hours(client: httpx.AsyncClient) -> None:
    headers = auth("coordinator")
    suspended = await client.post(
        "/v1/posts/be-consulate-general-sao-paulo/suspensions", json={"services": ["visa"]}, headers=headers
    )
    assert suspended.status_code == 200 and suspended.json()["suspended_services"] == ["visa"]
    visa = (await client.get("/v1/resolve", params={"service": "visa", "country": "BR"})).json()
    assert visa["post"]["country"] != "BR" and visa["basis"] == "nearest_post"
    await client.post(
        "/v1/posts/be-consulate-general-sao-paulo/resumptions", json={"services": ["visa"]}, headers=headers
    )
    visa = (await client.get("/v1/resolve", params={"service": "visa", "country": "BR"})).json()
    assert visa["post"]["post_id"] == "be-consulate-general-sao-paulo"

    every_hour = {"weekly": {d: [["00:00", "24:00"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}}
    hours = await client.put("/v1/posts/be-embassy-tokyo/hours", json=every_hour, headers=headers)
    assert hours.status_code == 200 and hours.json()["opening_hours"]["placeholder"] is False
    tokyo = (await client.get("/v1/resolve", params={"service": ETD, "country": "JP"})).json()
    assert tokyo["open_now"] is True
    bad = await client.put(
        "/v1/posts/be-embassy-tokyo/hours", json={"weekly": {"mon": [["17:00", "09:00"]]}}, headers=headers
    )
    assert bad.status_code == 422 and bad.json()["detail"][0]["field"] == "weekly.mon"
    unknown = await client.put("/v1/posts/be-embassy-atlantis/hours", json=every_hour, headers=headers)
    assert unknown.status_code == 404


async def test_health_and_readiness(client: httpx.AsyncClient, app: FastAPI) -> None:
    assert (await client.get("/healthz")).json()["status"] == "ok"
    ready = await eventually(lambda: _ready(client))
    assert ready["checks"] == {"database": True, "kafka": True}
    assert "/v1/resolve" in (await client.get("/openapi.json")).json()["paths"]


async def _ready(client: httpx.AsyncClient) -> dict | None:
    response = await client.get("/readyz")
    return response.json() if response.status_code == 200 else None
