"""Acceptance of issue 22's second demo scenario (services/feeds/dev/demo.py, `make demo-feeds`): with only the
feeds changing, an incident and then a crisis appear. The crisis center's worker and API run as processes
(tests/e2e/stack.py) on a fresh schema and topic prefix; the feeds worker polls the local feed server from this
process, as its leader; the demo itself (`play`) registers the travellers, changes the feeds and waits. Nobody
publishes an incident."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest

from services.feeds.bootstrap import open_resources
from services.feeds.dev.demo import FeedsDemoSettings, play
from services.feeds.dev.feed_server import FeedServer
from services.feeds.worker import Worker
from shared.kafka.producer import make_producer
from tests.e2e.stack import Stack
from tests.feeds.conftest import PLACES, Feeds, make_settings, read_all, types_of
from tests.support import (
    ROOT,
    bootstrap,
    drop_schema,
    eventually,
    free_port,
    new_schema,
    new_topic_prefix,
    serve_stand_in,
    unique,
)

pytestmark = pytest.mark.e2e
THRESHOLD = 20
TRAVELLERS = 40
CRISIS = ("crisis_center-worker", "crisis_center-api")


@asynccontextmanager
async def crisis_center(**env: str) -> AsyncIterator[Stack]:
    """The crisis center alone (worker and API)."""
    log_dir = ROOT / "artifacts" / "e2e-logs" / unique("feeds-")
    log_dir.mkdir(parents=True, exist_ok=True)
    stack = Stack(prefix=await new_topic_prefix(), schemas={"crisis_center": await new_schema("crisis_center")},
                  ports={n: free_port() for n in ("crisis_center", "intake", "twilio", "smtp", "smtp_http")},
                  log_dir=log_dir, extra_env={"CRISIS_THRESHOLD": str(THRESHOLD),
                                              "CRISIS_UPDATE_INTERVAL_SECONDS": "1", **env})
    try:
        for name in CRISIS:
            stack.start(name)
        for name in CRISIS:
            await stack.wait_process_ready(name)
        yield stack
    finally:
        stack.stop_all()
        await drop_schema(stack.schemas["crisis_center"])


@asynccontextmanager
async def feeds_worker(prefix: str) -> AsyncIterator[tuple[Feeds, Worker]]:
    """The local feed server, and the feeds worker polling it (as leader) on a fresh schema under `prefix`."""
    server = FeedServer(samples=False)
    schema = await new_schema("feeds")
    async with serve_stand_in(server.build_app()) as (url, http):
        feeds = Feeds(url, server, http)
        settings = make_settings(schema=schema, prefix=prefix, feeds=feeds, feed_poll_seconds=0.5)
        producer = make_producer(bootstrap(), client_id="e2e-feeds-worker")
        await producer.start()
        worker = Worker(settings, await open_resources(settings, places=PLACES), producer, lead=True)
        await worker.start()
        try:
            yield feeds, worker
        finally:
            await worker.stop()
            await producer.stop()
            await worker.resources.pool.close()
            await drop_schema(schema)


async def active_crises(stack: Stack) -> list[dict[str, object]]:
    async with httpx.AsyncClient(timeout=5) as client:
        body = (await client.get(stack.url("crisis_center") + "/public/crises")).json()
    return list(body) if isinstance(body, list) else []


def demo_settings(stack: Stack, feeds: Feeds) -> FeedsDemoSettings:
    return FeedsDemoSettings(kafka_bootstrap_servers=bootstrap(), kafka_topic_prefix=stack.prefix,
                             feeds_dev_url=feeds.url, crisis_center_url=stack.url("crisis_center"))


async def test_an_orange_quake_in_both_feeds_opens_the_crisis_by_itself() -> None:
    """Feed incidents activated automatically (CRISIS_ACTIVATION_RULES=feeds:*=automatic): the demo's crisis."""
    async with crisis_center(CRISIS_ACTIVATION_RULES="feeds:*=automatic") as stack, \
            feeds_worker(stack.prefix) as (feeds, worker):
        said: list[str] = []
        event = await play(demo_settings(stack, feeds), count=TRAVELLERS, say=said.append, incident_timeout=60,
                           crisis_timeout=90)
        assert event is not None, said
        assert event.type == "be.diplomatie.incident.reported" and event.source == "/services/feeds"
        assert (event.data["kind"], event.data["severity"], event.data["area"]["country"]) == (
            "earthquake", "severe", "ID")
        assert any("crisis active" in line for line in said), said

        async def all_counted() -> dict[str, object] | None:
            listed = [c for c in await active_crises(stack) if c["title"] == event.data["title"]]
            return listed[0] if len(listed) == 1 and listed[0]["affected_count"] == TRAVELLERS else None

        crisis = await eventually(all_counted, timeout=60)
        assert crisis["kind"] == "earthquake"

        reads = {feed: poller.status.reads for feed, poller in worker.pollers.items()}
        await eventually(lambda: all(p.status.reads >= reads[f] + 3 for f, p in worker.pollers.items()), timeout=30)
        await eventually(lambda: worker.resources.pool.fetchval("SELECT count(*) = 0 FROM outbox"), timeout=30)
        events = await read_all(worker.settings.topic("crisis.incidents"))  # three more reads of each feed: no more
        assert {e.data["incident_id"] for e in events} == {event.data["incident_id"]}, "one incident for the quake"
        assert types_of(events)[0] == "reported" and "reported" not in types_of(events)[1:]
        assert [c["title"] for c in await active_crises(stack)].count(event.data["title"]) == 1


async def test_under_the_default_rules_the_orange_quake_is_proposed_and_confirm_opens_it() -> None:
    """The crisis center's default: a feed incident below GDACS Red is proposed to a coordinator. The demo shows
    the proposal; with `--confirm` it confirms it as a coordinator and the crisis opens."""
    async with crisis_center() as stack, feeds_worker(stack.prefix) as (feeds, _worker):
        said: list[str] = []
        event = await play(demo_settings(stack, feeds), count=TRAVELLERS, say=said.append, incident_timeout=60,
                           crisis_timeout=20, confirm=True)
        assert event is not None, said
        assert any("proposal confirmed" in line for line in said), said
        assert any("crisis active" in line for line in said), said
        crises = [c for c in await active_crises(stack) if c["title"] == event.data["title"]]
        assert len(crises) == 1
