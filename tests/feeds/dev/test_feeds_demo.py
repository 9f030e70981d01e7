"""The second demo scenario (services/feeds/dev/demo.py) through the real feeds worker, broker and database: its
quake, added to both local feeds, becomes one incident on crisis.incidents whose area holds every traveller the
scenario registers, and the scenario's own watch of the topic sees it."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from services.feeds.dev.demo import (
    USGS_EPICENTRE,
    FeedsDemoSettings,
    IncidentWatch,
    Quake,
    add_quake,
    travellers,
)
from services.feeds.domain.rules import earthquake_radius_km
from shared.geo import Point, great_circle_km
from tests.feeds.conftest import Env, types_of
from tests.support import bootstrap, unique


def scenario_quake() -> Quake:
    return Quake(unique("")[:6])


async def test_the_scenarios_quake_becomes_one_incident_that_covers_its_travellers(env: Env) -> None:
    worker = await env.worker()
    quake = scenario_quake()
    await add_quake(env.feeds.url, quake)
    state = env.feeds.server.state()
    assert [e["eventid"] for e in state["gdacs"]] == [quake.gdacs_id]
    assert [e["id"] for e in state["usgs"]] == [quake.usgs_id]

    for feed in ("gdacs", "usgs", "gdacs", "usgs"):  # either order, read twice: one incident
        assert await worker.pollers[feed].poll_once() == "ok"
    events = await env.published()
    assert types_of(events) == ["reported", "updated"], "USGS, read second, moves the circle to its epicentre"
    data = events[0].data
    assert data["incident_id"] == f"gdacs:EQ:{quake.gdacs_id}"
    assert (data["kind"], data["severity"], data["area"]["country"]) == ("earthquake", "severe", "ID")
    assert data["link"] == f"https://www.gdacs.org/report.aspx?eventtype=EQ&eventid={quake.gdacs_id}"
    linked = await env.source(f"usgs:{quake.usgs_id}")
    assert linked is not None and linked["incident_id"] == data["incident_id"], "the same quake in both feeds"

    assert events[1].data["incident_id"] == data["incident_id"]
    assert (events[1].data["area"]["circle"]["lat"], events[1].data["area"]["circle"]["lon"]) == USGS_EPICENTRE
    people = travellers(quake.run, 60, datetime.now(UTC), seed=1)
    assert {p.country for p in people} == {"ID"}
    for event in events:  # inside the area as first reported, and as enriched
        circle = event.data["area"]["circle"]
        assert circle["radius_km"] == earthquake_radius_km(quake.magnitude)
        centre = Point(circle["lat"], circle["lon"])
        assert max(great_circle_km(centre, Point(p.location.lat, p.location.lon))  # type: ignore[union-attr]
                   for p in people) < circle["radius_km"], "every registered traveller is inside the area"


async def test_the_scenarios_watch_sees_the_incident_the_worker_publishes(env: Env) -> None:
    """USGS read first this time: the incident is named by USGS, and the demo's watch of the topic finds it."""
    worker = await env.worker()
    quake = scenario_quake()
    settings = FeedsDemoSettings(kafka_bootstrap_servers=bootstrap(),
                                 kafka_topic_prefix=env.settings.kafka_topic_prefix, feeds_dev_url=env.feeds.url)
    async with IncidentWatch(settings) as watch:
        await add_quake(settings.feeds_dev_url, quake)
        assert await worker.pollers["usgs"].poll_once() == "ok"
        assert await worker.pollers["gdacs"].poll_once() == "ok"
        event = await asyncio.wait_for(watch.first(quake.incident_ids, within=60), timeout=90)
    assert event is not None
    assert event.type == "be.diplomatie.incident.reported"
    assert event.data["incident_id"] == f"usgs:{quake.usgs_id}"
    assert event.data["severity"] == "severe", "USGS's PAGER orange"
    assert event.data["link"] == f"https://earthquake.usgs.gov/earthquakes/eventpage/{quake.usgs_id}"
    assert types_of(await env.published()) == ["reported"], "GDACS, read second, adds nothing USGS had not said"
