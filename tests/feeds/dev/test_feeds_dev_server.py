"""The local feed server: the recorded documents in the feeds' shape and moved to now, and its /_dev switches."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from xml.etree import ElementTree as ET

import aiohttp
import pytest
from aiohttp import web

from services.feeds.dev.feed_server import FeedServer

GDACS = "{http://www.gdacs.org}"


@pytest.fixture
async def served() -> AsyncIterator[tuple[str, FeedServer, aiohttp.ClientSession]]:
    server = FeedServer()
    runner = web.AppRunner(server.build_app())
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    http = aiohttp.ClientSession()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}", server, http
    finally:
        await http.close()
        await runner.cleanup()


async def test_the_recorded_feeds_are_served_moved_to_now(served: tuple[str, FeedServer, aiohttp.ClientSession]
                                                          ) -> None:
    url, _server, http = served
    now = datetime.now(UTC)
    async with http.get(f"{url}/gdacs/rss.xml") as resp:
        assert resp.status == 200 and resp.content_type == "application/rss+xml"
        rss = ET.fromstring(await resp.read())  # noqa: S314
    items = rss.findall("channel/item")
    assert len(items) == 9
    newest = max(parsedate_to_datetime(i.findtext(f"{GDACS}datemodified") or "") for i in items)
    assert now - timedelta(minutes=11) <= newest <= now, "the newest item ten minutes old"
    assert all(i.findtext(f"{GDACS}episodeid") and i.findtext(f"{GDACS}eventtype") for i in items)
    resource = rss.find(f"channel/item/{GDACS}resources/{GDACS}resource")
    assert resource is not None and resource.get("url", "").startswith(f"{url}/gdacs/gdacsapi/"), "served here"
    async with http.get(resource.get("url", "")) as resp:
        assert resp.status == 200 and (await resp.json(content_type=None))["type"] == "FeatureCollection"

    async with http.get(f"{url}/usgs/4.5_week.geojson") as resp:
        usgs = json.loads(await resp.read())
    assert usgs["metadata"]["count"] == len(usgs["features"]) == 8
    feature = usgs["features"][0]
    assert set(feature["properties"]) >= {"mag", "place", "time", "updated", "url", "title", "type", "alert"}
    assert len(feature["geometry"]["coordinates"]) == 3
    newest_quake = datetime.fromtimestamp(max(f["properties"]["updated"] for f in usgs["features"]) / 1000, UTC)
    assert now - timedelta(days=1) <= newest_quake <= now


async def test_events_are_added_raised_and_removed(served: tuple[str, FeedServer, aiohttp.ClientSession]) -> None:
    url, server, http = served
    async with http.put(f"{url}/_dev/gdacs/events/EQ/77", json={"alertlevel": "Green", "severity": 6.1}) as resp:
        assert (await resp.json())["episodeid"] == "1"
    async with http.put(f"{url}/_dev/gdacs/events/EQ/77/alert", json={"alertlevel": "Orange"}) as resp:
        assert await resp.json() == {"episodeid": "2", "alertlevel": "Orange"}
    async with http.put(f"{url}/_dev/usgs/events/us7000zz", json={"mag": 6.9}) as resp:
        assert resp.status == 200
    async with http.put(f"{url}/_dev/usgs/events/us7000zz/magnitude", json={"mag": 7.2}) as resp:
        assert (await resp.json())["properties"]["title"].startswith("M 7.2 - ")
    state = server.state()
    assert {"eventtype": "EQ", "eventid": "77"}.items() <= state["gdacs"][-1].items()
    assert state["usgs"][-1]["mag"] == 7.2
    async with http.put(f"{url}/_dev/gdacs/events/EQ/77/remove") as resp:
        assert resp.status == 200
    async with http.delete(f"{url}/_dev/usgs/events/us7000zz") as resp:
        assert resp.status == 200
    async with http.delete(f"{url}/_dev/usgs/events/us7000zz") as resp:
        assert resp.status == 404
    async with http.put(f"{url}/_dev/reset", json={"samples": False}) as resp:
        assert (await resp.json())["gdacs"] == []


async def test_a_broken_feed_answers_as_asked_then_recovers(served: tuple[str, FeedServer, aiohttp.ClientSession]
                                                            ) -> None:
    url, _server, http = served
    feed = f"{url}/usgs/4.5_week.geojson"
    async with http.put(f"{url}/_dev/usgs/break", json={"mode": "503", "times": 2}) as resp:
        assert resp.status == 200
    for _ in range(2):
        async with http.get(feed) as resp:
            assert resp.status == 503
    async with http.get(feed) as resp:
        assert resp.status == 200
    for mode in ("garbage", "truncated", "partial", "empty"):
        async with http.put(f"{url}/_dev/usgs/break", json={"mode": mode, "times": 1}):
            pass
        async with http.get(feed) as resp:
            body = await resp.read()
        assert resp.status == 200
        if mode == "partial":
            document = json.loads(body)
            assert document["metadata"]["count"] > len(document["features"])
        else:
            with pytest.raises(ValueError):
                json.loads(body)
    async with http.put(f"{url}/_dev/gdacs/break", json={"mode": "slow", "seconds": 5}):
        pass
    with pytest.raises(asyncio.TimeoutError):
        async with http.get(f"{url}/gdacs/rss.xml", timeout=aiohttp.ClientTimeout(total=0.3)):
            pass
    async with http.put(f"{url}/_dev/gdacs/break", json={"mode": "ok"}):
        pass
    async with http.get(f"{url}/gdacs/rss.xml") as resp:
        assert resp.status == 200
    async with http.put(f"{url}/_dev/gdacs/break", json={"mode": "on fire"}) as resp:
        assert resp.status == 400
