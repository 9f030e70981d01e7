"""The feeds worker against the local feed server, the real broker and database: what reaches crisis.incidents
for new, enriched, raised, gone and aged events, and that broken feeds, restarts and a second poller change
nothing."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import pytest

from services.feeds import handlers
from services.feeds.domain.rules import earthquake_radius_km
from services.feeds.probes import FeedsHealthServer
from tests.feeds.conftest import Env, metric, types_of
from tests.support import eventually, unique


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def area(data: dict[str, object]) -> dict[str, object]:
    """The event's area without the null members the envelope keeps (`"polygon": null` beside a circle)."""
    raw = data["area"]
    assert isinstance(raw, dict)
    return {k: v for k, v in raw.items() if v is not None}


def event_id() -> str:
    return str(int(unique("")[:7], 16))  # a GDACS-like numeric id of its own


async def test_a_new_gdacs_event_is_reported(env: Env) -> None:
    worker = await env.worker()
    eid = event_id()
    await env.feeds.gdacs("EQ", eid, alertlevel="Orange", lat=27.7, lon=85.3, severity=6.8, country="Nepal",
                          iso3="NPL")
    assert await worker.pollers["gdacs"].poll_once() == "ok"
    events = await env.published()
    assert types_of(events) == ["reported"]
    data = events[0].data
    assert data["incident_id"] == f"gdacs:EQ:{eid}"
    assert (data["kind"], data["severity"]) == ("earthquake", "severe")
    assert area(data) == {"country": "NP", "circle": {"lat": 27.7, "lon": 85.3,
                                                      "radius_km": earthquake_radius_km(6.8)}}
    assert data["title"] == "Earthquake in Nepal (M 6.8)"
    assert data["link"] == f"https://www.gdacs.org/report.aspx?eventtype=EQ&eventid={eid}", "the event's page"
    assert events[0].source == "/services/feeds"

    assert await worker.pollers["gdacs"].poll_once() == "ok"  # read again: nothing new
    assert types_of(await env.published()) == ["reported"]


async def test_a_new_usgs_quake_is_reported(env: Env) -> None:
    worker = await env.worker()
    quake = f"us7{unique('')[:7]}"
    await env.feeds.usgs(quake, mag=6.6, lat=36.2, lon=70.8, depth=190, place="27 km SW of Jurm, Afghanistan")
    assert await worker.pollers["usgs"].poll_once() == "ok"
    [event] = await env.published()
    assert event.data["incident_id"] == f"usgs:{quake}"
    assert (event.data["kind"], event.data["severity"], event.data["area"]["country"]) == (
        "earthquake", "moderate", "AF")
    assert event.data["area"]["circle"]["radius_km"] == earthquake_radius_km(6.6)
    assert event.data["link"] == f"https://earthquake.usgs.gov/earthquakes/eventpage/{quake}"


async def test_the_same_quake_in_both_feeds_is_one_incident(env: Env) -> None:
    worker = await env.worker()
    now = env.clock()
    quake, eid = f"us7{unique('')[:7]}", event_id()
    await env.feeds.usgs(quake, mag=7.1, lat=27.71, lon=85.32, time=iso(now - timedelta(minutes=14)),
                         place="12 km NNE of Kathmandu, Nepal")
    await env.feeds.gdacs("EQ", eid, alertlevel="Orange", lat=27.95, lon=85.61, severity=7.0,
                          fromdate=iso(now - timedelta(minutes=2)))  # 12 minutes and 39 km from USGS's
    assert await worker.pollers["usgs"].poll_once() == "ok"
    assert await worker.pollers["gdacs"].poll_once() == "ok"
    events = await env.published()
    assert {e.data["incident_id"] for e in events} == {f"usgs:{quake}"}, "the first source names it"
    assert types_of(events) == ["reported"], "GDACS adds nothing USGS had not said (same severity, USGS's area)"
    linked = await env.source(f"gdacs:EQ:{eid}")
    assert linked is not None and linked["incident_id"] == f"usgs:{quake}"

    await env.feeds.put(f"gdacs/events/EQ/{eid}/alert", {"alertlevel": "Red"})
    assert await worker.pollers["gdacs"].poll_once() == "ok"
    events = await env.published()
    assert types_of(events) == ["reported", "updated"]
    assert events[1].data["incident_id"] == f"usgs:{quake}"
    assert events[1].data["severity"] == "extreme", "the second source enriches it"
    for _ in range(2):  # neither feed, read again, reports it a second time
        assert await worker.pollers["usgs"].poll_once() == "ok"
        assert await worker.pollers["gdacs"].poll_once() == "ok"
    assert len(await env.published()) == 2


async def test_gdacs_first_then_usgs_enriches_the_gdacs_incident(env: Env) -> None:
    worker = await env.worker()
    now = env.clock()
    quake, eid = f"us7{unique('')[:7]}", event_id()
    await env.feeds.gdacs("EQ", eid, alertlevel="Orange", lat=-6.58, lon=132.31, severity=6.4, country="Indonesia",
                          iso3="IDN", fromdate=iso(now - timedelta(minutes=20)))
    await env.feeds.usgs(quake, mag=6.2, lat=-6.55, lon=132.35, depth=120,
                         time=iso(now - timedelta(minutes=20, seconds=3)), place="112 km SSW of Tual, Indonesia")
    assert await worker.pollers["gdacs"].poll_once() == "ok"
    assert await worker.pollers["usgs"].poll_once() == "ok"
    events = await env.published()
    assert {e.data["incident_id"] for e in events} == {f"gdacs:EQ:{eid}"}
    assert types_of(events) == ["reported", "updated"]
    assert events[1].data["area"]["circle"]["radius_km"] == earthquake_radius_km(6.2), "USGS's magnitude and place"
    assert events[1].data["title"] == "Earthquake in Indonesia (M 6.2)"


async def test_a_raised_alert_level_is_an_update_and_the_polygon_is_fetched_once_per_episode(env: Env) -> None:
    worker = await env.worker()
    eid = event_id()
    ring = [[125.0, 12.0], [127.5, 12.0], [127.5, 15.0], [125.0, 15.0]]
    await env.feeds.gdacs("TC", eid, alertlevel="Orange", lat=13.8, lon=126.2, country="Philippines", iso3="PHL",
                          eventname="MAWAR-26", fromdate=iso(env.clock() - timedelta(days=2)), polygon=ring)
    geometry_reads = env.feeds.server.requests["geometry"]
    for _ in range(3):
        assert await worker.pollers["gdacs"].poll_once() == "ok"
    assert env.feeds.server.requests["geometry"] == geometry_reads + 1
    await env.feeds.put(f"gdacs/events/TC/{eid}/alert", {"alertlevel": "Red"})
    for _ in range(2):
        assert await worker.pollers["gdacs"].poll_once() == "ok"
    assert env.feeds.server.requests["geometry"] == geometry_reads + 2, "the new episode's geometry, once"
    events = await env.published()
    assert types_of(events) == ["reported", "updated"]
    reported, updated = (e.data for e in events)
    assert (reported["kind"], reported["severity"], updated["severity"]) == ("storm", "severe", "extreme")
    assert {tuple(p) for p in reported["area"]["polygon"]} == {tuple(p) for p in ring}
    assert "circle" not in area(reported)
    assert reported["title"] == "Tropical cyclone MAWAR-26 in Philippines"


async def test_an_event_that_leaves_the_feed_is_closed(env: Env) -> None:
    worker = await env.worker(feed_absent_polls=2)
    eid = event_id()
    await env.feeds.gdacs("FL", eid, alertlevel="Orange", lat=-1.5, lon=40.0, country="Kenya", iso3="KEN")
    assert await worker.pollers["gdacs"].poll_once() == "ok"
    await env.feeds.put(f"gdacs/events/FL/{eid}/remove")
    assert await worker.pollers["gdacs"].poll_once() == "ok"
    assert types_of(await env.published()) == ["reported"], "one read without it is not enough"
    assert await worker.pollers["gdacs"].poll_once() == "ok"
    events = await env.published()
    assert types_of(events) == ["reported", "closed"]
    assert events[1].data == {"incident_id": f"gdacs:FL:{eid}"}


async def test_an_incident_with_no_change_for_the_ttl_is_closed_and_not_reported_again(env: Env) -> None:
    worker = await env.worker()
    quake = f"us7{unique('')[:7]}"
    await env.feeds.usgs(quake, mag=6.4, lat=38.3, lon=142.4, place="90 km E of Ishinomaki, Japan")
    assert await worker.pollers["usgs"].poll_once() == "ok"
    env.clock.advance(timedelta(hours=71, minutes=59))
    assert await worker.pollers["usgs"].poll_once() == "ok"
    assert types_of(await env.published()) == ["reported"]
    env.clock.advance(timedelta(minutes=2))
    assert await worker.pollers["usgs"].poll_once() == "ok"
    assert types_of(await env.published()) == ["reported", "closed"]
    row = await env.pool.fetchrow("SELECT status, close_reason FROM incidents")
    assert (row["status"], row["close_reason"]) == ("closed", "ttl")
    await env.feeds.put(f"usgs/events/{quake}/magnitude", {"mag": 6.9})  # still in the feed, even changing
    assert await worker.pollers["usgs"].poll_once() == "ok"
    assert types_of(await env.published()) == ["reported", "closed"], "closed is final"


async def test_events_below_the_thresholds_are_ignored(env: Env) -> None:
    worker = await env.worker()
    await env.feeds.gdacs("EQ", event_id(), alertlevel="Green", severity=5.9)
    await env.feeds.gdacs("VO", event_id(), alertlevel="Green", lat=37.75, lon=15.0, country="Italy", iso3="ITA")
    await env.feeds.usgs(f"us7{unique('')[:7]}", mag=5.9, place="10 km S of Pokhara, Nepal", lat=28.1, lon=84.0)
    await env.feeds.usgs(f"us7{unique('')[:7]}", mag=6.5, type="quarry blast", lat=28.1, lon=84.0)
    await env.feeds.usgs(f"us7{unique('')[:7]}", mag=6.3, place="northern Mid-Atlantic Ridge", lat=30.45, lon=-42.05)
    await env.feeds.usgs(f"us7{unique('')[:7]}", mag=6.8, lat=28.1, lon=84.0,
                         time=iso(env.clock() - timedelta(hours=80)))
    before = {reason: metric("feed_items_ignored_total", feed="usgs", reason=reason)
              for reason in ("below_threshold", "not_an_earthquake", "no_country", "stale")}
    assert await worker.pollers["gdacs"].poll_once() == "ok"
    assert await worker.pollers["usgs"].poll_once() == "ok"
    assert await env.published() == []
    assert await env.pool.fetchval("SELECT count(*) FROM incidents") == 0
    assert worker.status()["gdacs"]["ignored_at_last_read"] == {"below_threshold": 2}
    for reason in before:
        assert metric("feed_items_ignored_total", feed="usgs", reason=reason) == before[reason] + 1, reason


@pytest.mark.parametrize("feed", ["gdacs", "usgs"])
async def test_a_broken_feed_changes_nothing_and_is_counted(env: Env, feed: str) -> None:
    worker = await env.worker(feed_fetch_timeout_seconds=0.5)
    if feed == "gdacs":
        eid = event_id()
        await env.feeds.gdacs("EQ", eid, alertlevel="Red", lat=39.9, lon=32.9, country="Turkey", iso3="TUR",
                              severity=7.2)
        incident_id, remove = f"gdacs:EQ:{eid}", f"gdacs/events/EQ/{eid}/remove"
    else:
        quake = f"us7{unique('')[:7]}"
        await env.feeds.usgs(quake, mag=7.2, lat=39.9, lon=32.9, place="15 km N of Ankara, Turkey")
        for small in range(3):  # what a partial document leaves out must not be all there is
            await env.feeds.usgs(f"us7{unique('')[:7]}", mag=4.6 + small / 10, lat=-30.5, lon=-71.2,
                                 place="15 km NNW of Ovalle, Chile")
        incident_id, remove = f"usgs:{quake}", f"usgs/events/{quake}/remove"
    poller = worker.pollers[feed]  # type: ignore[index]
    assert await poller.poll_once() == "ok"
    await env.feeds.put(remove)  # gone: a good read would close it; a broken one must not

    breaks = [("500", "http_error"), ("503", "http_error"), ("garbage", "invalid"), ("truncated", "invalid"),
              ("empty", "invalid")]
    if feed == "usgs":
        breaks.append(("partial", "invalid"))  # well-formed, but fewer features than its metadata.count
    breaks.append(("slow", "timeout"))
    for mode, outcome in breaks:
        before = metric("feed_fetches_total", feed=feed, outcome=outcome)
        await env.feeds.break_feed(feed, mode, seconds=2, times=1)
        assert await poller.poll_once() == outcome, mode
        assert metric("feed_fetches_total", feed=feed, outcome=outcome) == before + 1, mode
        source = await env.source(incident_id)
        assert source is not None and (source["absent_polls"], source["gone"]) == (0, False), mode
    assert worker.status()[feed]["failures_in_row"] == len(breaks)
    assert worker.status()[feed]["outcome"] == "timeout"
    assert types_of(await env.published()) == ["reported"], "nothing published, nothing closed"

    assert await poller.poll_once() == "ok"
    assert worker.status()[feed]["failures_in_row"] == 0
    assert types_of(await env.published()) == ["reported", "closed"]


async def test_an_unreachable_feed_is_counted_and_retried_with_backoff(env: Env) -> None:
    worker = await env.worker(gdacs_feed_url="http://127.0.0.1:9/gdacs/rss.xml", feed_retry_base_seconds=10,
                              feed_retry_max_seconds=25)
    poller = worker.pollers["gdacs"]
    before = metric("feed_fetches_total", feed="gdacs", outcome="unreachable")
    waits = []
    for _ in range(3):
        assert await poller.poll_once() == "unreachable"
        waits.append(poller.backoff_seconds())
    assert metric("feed_fetches_total", feed="gdacs", outcome="unreachable") == before + 3
    assert metric("feed_failures_in_row", feed="gdacs") == 3
    assert 8 <= waits[0] <= 12 and 16 <= waits[1] <= 24 and 20 <= waits[2] <= 30, waits


async def test_a_restart_in_the_middle_publishes_nothing_twice(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    quake = f"us7{unique('')[:7]}"
    await env.feeds.usgs(quake, mag=7.4, lat=-33.4, lon=-71.6, place="20 km W of Valparaiso, Chile")

    # 1. the database fails after the event was written to the outbox: the whole read rolls back
    real_enqueue = handlers.enqueue

    async def enqueue_then_fail(*args: object, **kwargs: object) -> object:
        await real_enqueue(*args, **kwargs)  # type: ignore[arg-type]
        raise asyncpg.exceptions.SerializationError("injected: the connection went during the read")

    first = await env.worker(relay=False)
    monkeypatch.setattr(handlers, "enqueue", enqueue_then_fail)
    assert await first.pollers["usgs"].poll_once() == "error"
    monkeypatch.setattr(handlers, "enqueue", real_enqueue)
    assert await env.pool.fetchval("SELECT count(*) FROM outbox") == 0
    assert await env.pool.fetchval("SELECT count(*) FROM incidents") == 0

    # 2. a read commits, then the process dies before its relay sent anything
    assert await first.pollers["usgs"].poll_once() == "ok"
    assert await env.pool.fetchval("SELECT count(*) FROM outbox") == 1
    await env.stop(first)

    # 3. the next process reads the same feed and relays what the first left
    second = await env.worker()
    for _ in range(2):
        assert await second.pollers["usgs"].poll_once() == "ok"
    events = await env.published()
    assert types_of(events) == ["reported"]
    assert events[0].data["incident_id"] == f"usgs:{quake}"


async def test_two_pollers_at_once_publish_each_event_once(env: Env) -> None:
    eid = event_id()
    await env.feeds.gdacs("WF", eid, alertlevel="Orange", lat=56.7, lon=-111.4, country="Canada", iso3="CAN")
    a, b = await env.worker(), await env.worker()
    for _ in range(3):  # both read and apply at the same moment: the apply lock orders them
        outcomes = await asyncio.gather(a.pollers["gdacs"].poll_once(), b.pollers["gdacs"].poll_once())
        assert outcomes == ["ok", "ok"]
    await env.feeds.put(f"gdacs/events/WF/{eid}/alert", {"alertlevel": "Red"})
    await asyncio.gather(a.pollers["gdacs"].poll_once(), b.pollers["gdacs"].poll_once())
    events = await env.published()
    assert types_of(events) == ["reported", "updated"]
    assert len({e.id for e in events}) == 2


async def test_only_the_leader_polls_and_another_takes_over_when_it_stops(env: Env) -> None:
    eid = event_id()
    await env.feeds.gdacs("TC", eid, alertlevel="Orange", lat=20.1, lon=-86.9, country="Mexico", iso3="MEX")
    a, b = await env.worker(lead=True), await env.worker(lead=True)
    leader = await eventually(lambda: next((w for w in (a, b) if w.leadership.is_leader), None), timeout=20)
    other = b if leader is a else a
    await eventually(lambda: leader.pollers["gdacs"].status.reads >= 3, timeout=20)
    assert other.pollers["gdacs"].status.reads == 0 and not other.leadership.is_leader
    assert types_of(await env.published()) == ["reported"]

    await env.stop(leader)  # its session ends, and the lock with it
    await eventually(lambda: other.leadership.is_leader, timeout=20)
    await eventually(lambda: other.pollers["gdacs"].status.reads >= 2, timeout=20)
    assert types_of(await env.published()) == ["reported"], "the new leader publishes nothing twice"


async def test_readyz_shows_each_feed_and_metrics_count_outcomes(env: Env) -> None:
    worker = await env.worker()
    await env.feeds.break_feed("usgs", "garbage")
    assert await worker.pollers["usgs"].poll_once() == "invalid"
    assert await worker.pollers["gdacs"].poll_once() == "ok"

    async def database_ok() -> bool:
        return True

    health = FeedsHealthServer(service="feeds-test", host="127.0.0.1", port=0, checks={"database": database_ok},
                               tasks=worker.tasks, details=worker.status)
    await health.start()
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{health.port}") as client:
            response = await eventually(lambda: _get(client, "/readyz"), timeout=10)
            body = response.json()
            assert response.status_code == 200 and body["ready"] is True, "a broken feed is not a reason to restart"
            assert body["feeds"]["usgs"]["outcome"] == "invalid"
            assert body["feeds"]["usgs"]["failures_in_row"] == 1
            assert "not JSON" in body["feeds"]["usgs"]["detail"]
            assert body["feeds"]["gdacs"]["outcome"] == "ok" and body["feeds"]["gdacs"]["last_success_at"]
            assert body["feeds"]["leader"] is False
            metrics = (await client.get("/metrics")).text
            assert 'feed_fetches_total{feed="usgs",outcome="invalid"}' in metrics
            assert 'feed_fetches_total{feed="gdacs",outcome="ok"}' in metrics
    finally:
        await health.stop()


async def _get(client: httpx.AsyncClient, path: str) -> httpx.Response | None:
    try:
        return await client.get(path)
    except httpx.TransportError:
        return None


async def test_closed_incidents_are_forgotten_two_weeks_after_their_sources_left(env: Env) -> None:
    from services.feeds.adapters.repository import forget_old

    worker = await env.worker()
    eid = event_id()
    await env.feeds.gdacs("FL", eid, alertlevel="Orange", lat=-1.5, lon=40.0, country="Kenya", iso3="KEN")
    assert await worker.pollers["gdacs"].poll_once() == "ok"
    await env.feeds.put(f"gdacs/events/FL/{eid}/remove")
    assert await worker.pollers["gdacs"].poll_once() == "ok"
    assert await forget_old(env.pool, env.clock() + timedelta(days=13)) == 0
    assert await forget_old(env.pool, env.clock() + timedelta(days=15)) == 1
    assert await env.pool.fetchval("SELECT count(*) FROM sources") == 0
