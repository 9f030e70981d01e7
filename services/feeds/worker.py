"""The feeds worker: one poller per feed (GDACS, USGS) while this replica leads, and the outbox relay.

Leadership is a session-level PostgreSQL advisory lock on a connection of its own: the replica holding it polls,
the others wait and take over when its connection goes (a crash, a partition). Leadership only saves the feeds a
second reader: correctness comes from the apply lock (handlers.py), under which every read is planned against the
state the previous one wrote, so that even two pollers at once publish each event once.

A read that fails (HTTP error, slow, unreachable, too large, not the feed's format, truncated, or the database
failing while it is applied) changes nothing, is counted (`feed_fetches_total{feed,outcome}`) and shown in
`/readyz` (`feeds`), and is retried after FEED_RETRY_BASE_SECONDS, doubling up to FEED_RETRY_MAX_SECONDS.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import asyncpg
from aiokafka import AIOKafkaProducer
from prometheus_client import Counter, Gauge

from services.feeds.adapters.fetch import Fetched, Outcome, fetch
from services.feeds.adapters.gdacs import InvalidDocument, parse_gdacs
from services.feeds.adapters.geometry import InvalidGeometry, polygon_from_geojson
from services.feeds.adapters.places import Places
from services.feeds.adapters.repository import cached_geometries, forget_old, store_geometry
from services.feeds.adapters.usgs import parse_usgs
from services.feeds.bootstrap import Resources
from services.feeds.domain.model import Feed, FeedDocument, LonLat
from services.feeds.domain.rules import qualifies
from services.feeds.handlers import apply_document, lock_key
from services.feeds.settings import FeedsSettings
from shared.db import DATABASE_ERRORS
from shared.kafka.outbox import OutboxRelay
from shared.logging import get_logger
from shared.periodic import PeriodicJob

log = get_logger(__name__)

FETCHES = Counter("feed_fetches_total", "Reads of a public alert feed, by outcome (ok, http_error, timeout, "
                  "unreachable, too_large, invalid, error)", ["feed", "outcome"])
PUBLISHED = Counter("feed_incident_events_total", "Incident events written to the outbox, by type",
                    ["feed", "type"])
IGNORED = Counter("feed_items_ignored_total", "Feed items not reported at a read, by reason", ["feed", "reason"])
FAILURES_IN_ROW = Gauge("feed_failures_in_row", "Failed reads of a feed since its last good one", ["feed"])
LAST_SUCCESS = Gauge("feed_last_success_timestamp_seconds", "When a feed was last read and applied", ["feed"])
GEOMETRIES = Counter("feed_geometry_fetches_total", "GDACS event geometries fetched, by outcome", ["outcome"])
LEADER = Gauge("feed_poller_leader", "1 while this replica polls the feeds")

#: Fetched at most this many new GDACS geometries per read (the rest on the next reads).
GEOMETRIES_PER_READ = 20
PARSERS: dict[Feed, Callable[[bytes, Places], FeedDocument]] = {"gdacs": parse_gdacs, "usgs": parse_usgs}
ACCEPT: dict[Feed, str] = {"gdacs": "application/rss+xml, application/xml;q=0.9, */*;q=0.1",
                           "usgs": "application/geo+json, application/json;q=0.9, */*;q=0.1"}


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class FeedStatus:
    """What /readyz says of a feed."""

    feed: Feed
    url: str
    outcome: str | None = None
    detail: str = ""
    failures_in_row: int = 0
    reads: int = 0
    last_attempt_at: datetime | None = None
    last_success_at: datetime | None = None
    next_read_in_seconds: float | None = None
    incidents_published: int = 0
    last_ignored: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"url": self.url, "outcome": self.outcome, "detail": self.detail,
                "failures_in_row": self.failures_in_row, "reads": self.reads,
                "last_attempt_at": _iso(self.last_attempt_at), "last_success_at": _iso(self.last_success_at),
                "next_read_in_seconds": self.next_read_in_seconds, "events_published": self.incidents_published,
                "ignored_at_last_read": self.last_ignored}


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


class Leadership:
    """Holds `pg_try_advisory_lock` on a connection of its own while it can; `is_leader` says whether it does."""

    def __init__(self, database_url: str, key: int, *, check_seconds: float) -> None:
        self._url, self._key, self._check = database_url, key, check_seconds
        self._conn: asyncpg.Connection | None = None
        self.is_leader = False
        self._stopping = asyncio.Event()

    def stop(self) -> None:
        self._stopping.set()

    async def run(self) -> None:
        try:
            while not self._stopping.is_set():
                await self._check_once()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), timeout=self._check)
        finally:
            await self._release()

    async def _check_once(self) -> None:
        try:
            if self._conn is None or self._conn.is_closed():
                self._set(False)
                self._conn = await asyncpg.connect(self._url, timeout=10)
            if self.is_leader:
                await self._conn.fetchval("SELECT 1", timeout=10)
            else:
                self._set(bool(await self._conn.fetchval("SELECT pg_try_advisory_lock($1)", self._key, timeout=10)))
        except DATABASE_ERRORS as exc:
            log.warning("feeds_leadership_lost" if self.is_leader else "feeds_leadership_check_failed",
                        error=type(exc).__name__)
            self._set(False)
            await self._release()

    def _set(self, leader: bool) -> None:
        if leader != self.is_leader:
            log.info("feeds_leadership", leader=leader)
        self.is_leader = leader
        LEADER.set(1 if leader else 0)

    async def _release(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None and not conn.is_closed():
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.close(), timeout=5)  # the session lock goes with the session
        self._set(False)


class FeedPoller:
    """Reads one feed every FEED_POLL_SECONDS while `leading()`, backing off after failures."""

    def __init__(self, feed: Feed, url: str, *, settings: FeedsSettings, resources: Resources,
                 session: Callable[[], aiohttp.ClientSession], clock: Callable[[], datetime],
                 leading: Callable[[], bool]) -> None:
        self.feed, self.url = feed, url
        self.settings, self.resources = settings, resources
        self._session, self._clock, self._leading = session, clock, leading
        self.status = FeedStatus(feed, url)
        self._stopping = asyncio.Event()
        origin = urlsplit(url)
        self._origin = (origin.scheme, origin.netloc)

    def stop(self) -> None:
        self._stopping.set()

    async def run(self) -> None:
        while not self._stopping.is_set():
            if self._leading():
                try:
                    outcome = await self.poll_once()
                except Exception as exc:  # a poller must outlive anything: logged with its traceback, retried
                    log.error("feed_read_unexpected_error", feed=self.feed, error=type(exc).__name__, exc_info=True)
                    outcome = self._failed("error", type(exc).__name__)
                delay = self.settings.feed_poll_seconds if outcome == "ok" else self.backoff_seconds()
            else:
                delay = min(self.settings.feed_poll_seconds, 5.0)
            self.status.next_read_in_seconds = round(delay, 3)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=delay)

    def backoff_seconds(self) -> float:
        s = self.settings
        step = s.feed_retry_base_seconds * 2 ** max(self.status.failures_in_row - 1, 0)
        return min(step, s.feed_retry_max_seconds) * random.uniform(0.8, 1.2)

    async def poll_once(self) -> Outcome | str:
        """Read, parse and apply the feed once; the outcome ("ok" or why not)."""
        s = self.settings
        self.status.last_attempt_at = self._clock()
        self.status.reads += 1
        fetched = await fetch(self._session(), self.url, timeout_seconds=s.feed_fetch_timeout_seconds,
                              max_bytes=s.feed_max_bytes, accept=ACCEPT[self.feed])
        if fetched.outcome != "ok" or fetched.body is None:
            return self._failed(fetched.outcome, fetched.detail)
        try:
            document = await asyncio.to_thread(PARSERS[self.feed], fetched.body, self.resources.places)
        except InvalidDocument as exc:
            return self._failed("invalid", str(exc))
        try:
            polygons = await self._polygons(document) if self.feed == "gdacs" else {}
            plan = await apply_document(self.resources.pool, document, schema=s.schema_name, now=self._clock(),
                                        policy=self.resources.policy, polygons=polygons,
                                        topic_prefix=s.kafka_topic_prefix)
        except DATABASE_ERRORS as exc:
            return self._failed("error", f"database: {type(exc).__name__}")
        ignored: dict[str, int] = {}
        for item in plan.ignored:
            ignored[item.reason] = ignored.get(item.reason, 0) + 1
            IGNORED.labels(self.feed, item.reason).inc()
        for publication in plan.publications:
            PUBLISHED.labels(self.feed, publication.kind).inc()
            log.info("feed_incident_event", feed=self.feed, type=publication.kind,
                     incident_id=publication.incident_id, revision=publication.revision, reason=publication.reason)
        FETCHES.labels(self.feed, "ok").inc()
        FAILURES_IN_ROW.labels(self.feed).set(0)
        now = self._clock()
        LAST_SUCCESS.labels(self.feed).set(now.timestamp())
        self.status.outcome, self.status.detail, self.status.failures_in_row = "ok", "", 0
        self.status.last_success_at, self.status.last_ignored = now, ignored
        self.status.incidents_published += len(plan.publications)
        return "ok"

    def _failed(self, outcome: str, detail: str) -> str:
        FETCHES.labels(self.feed, outcome).inc()
        self.status.failures_in_row += 1
        FAILURES_IN_ROW.labels(self.feed).set(self.status.failures_in_row)
        self.status.outcome, self.status.detail = outcome, detail
        log.warning("feed_read_failed", feed=self.feed, outcome=outcome, detail=detail,
                    failures_in_row=self.status.failures_in_row)
        return outcome

    async def _polygons(self, document: FeedDocument) -> dict[str, list[LonLat] | None]:
        """The polygon of each GDACS item's current episode that links one, fetched once per episode (a failed
        fetch is tried again at the next read; meanwhile the incident has its circle)."""
        pool = self.resources.pool
        tracked = {r["source_id"] for r in await pool.fetch("SELECT source_id FROM sources WHERE feed = 'gdacs'")}
        wanted = {(e.source_id, e.episode or ""): e.polygon_url for e in document.events
                  if e.polygon_url and (e.source_id in tracked or qualifies(e, self.resources.policy))}
        known = await cached_geometries(pool, list(wanted))
        fetches = 0
        for (source_id, episode), url in wanted.items():
            if (source_id, episode) in known or url is None:
                continue
            if fetches >= GEOMETRIES_PER_READ:
                break
            fetches += 1
            if (urlsplit(url).scheme, urlsplit(url).netloc) != self._origin:  # only from the feed's own server
                GEOMETRIES.labels("foreign_host").inc()
                known[(source_id, episode)] = None
                continue
            polygon, keep = await self._geometry(url)
            if keep:
                await store_geometry(pool, source_id, episode, polygon, self._clock())
                known[(source_id, episode)] = polygon
        return {source_id: polygon for (source_id, episode), polygon in known.items()
                if (source_id, episode) in wanted}

    async def _geometry(self, url: str) -> tuple[list[LonLat] | None, bool]:
        """(polygon or None, whether that is the episode's final answer)."""
        s = self.settings
        fetched: Fetched = await fetch(self._session(), url, timeout_seconds=s.feed_fetch_timeout_seconds,
                                       max_bytes=s.feed_max_bytes, accept="application/geo+json, application/json")
        if fetched.outcome == "http_error" and fetched.status in (404, 410):
            GEOMETRIES.labels("none").inc()
            return None, True
        if fetched.outcome != "ok" or fetched.body is None:
            GEOMETRIES.labels(fetched.outcome).inc()
            return None, False
        try:
            polygon = await asyncio.to_thread(polygon_from_geojson, fetched.body)
        except InvalidGeometry:
            GEOMETRIES.labels("invalid").inc()
            return None, False
        GEOMETRIES.labels("ok" if polygon else "none").inc()
        return polygon, True


class Worker:
    def __init__(self, settings: FeedsSettings, resources: Resources, producer: AIOKafkaProducer, *,
                 clock: Callable[[], datetime] = utc_now, lead: bool = True) -> None:
        """`lead=False`: never take the leader lock (tests drive `poll_once` themselves)."""
        self.settings = settings
        self.resources = resources
        self.producer = producer
        self.clock = clock
        self._lead = lead
        self._session: aiohttp.ClientSession | None = None
        self.leadership = Leadership(settings.database_url, lock_key("leader", settings.schema_name),
                                     check_seconds=min(5.0, settings.feed_poll_seconds))
        urls: dict[Feed, str] = {"gdacs": settings.gdacs_feed_url, "usgs": settings.usgs_feed_url}
        self.pollers = {feed: FeedPoller(feed, url, settings=settings, resources=resources, session=self.session,
                                         clock=lambda: self.clock(), leading=lambda: self.leadership.is_leader)
                        for feed, url in urls.items()}
        self.relay: OutboxRelay | None = None
        self.retention: PeriodicJob | None = None
        self._tasks: list[asyncio.Task[Any]] = []

    def session(self) -> aiohttp.ClientSession:
        if self._session is None:  # inside the running loop
            self._session = aiohttp.ClientSession(headers={"User-Agent": "consular-platform-feeds/1"})
        return self._session

    async def start(self, *, relay: bool = True) -> None:
        self.session()
        if relay:
            self.relay = OutboxRelay(pool=self.resources.pool, producer=self.producer,
                                     schema=self.settings.schema_name)
            self._tasks.append(asyncio.create_task(self.relay.run(), name="outbox-relay"))
        if self._lead:
            self._tasks.append(asyncio.create_task(self.leadership.run(), name="feeds-leadership"))
            for feed, poller in self.pollers.items():
                self._tasks.append(asyncio.create_task(poller.run(), name=f"poll-{feed}"))
        self.retention = PeriodicJob("feeds-forget", lambda: forget_old(self.resources.pool, self.clock()),
                                     interval_seconds=3600)
        self._tasks.append(asyncio.create_task(self.retention.run(), name="feeds-forget"))
        log.info("feeds_worker_started", gdacs=_host(self.settings.gdacs_feed_url),
                 usgs=_host(self.settings.usgs_feed_url), poll_seconds=self.settings.feed_poll_seconds)

    def tasks(self) -> list[asyncio.Task[Any]]:
        return list(self._tasks)

    def status(self) -> dict[str, Any]:
        """The /readyz detail: whether this replica polls, and each feed's last read."""
        return {"leader": self.leadership.is_leader,
                **{feed: poller.status.as_dict() for feed, poller in self.pollers.items()}}

    async def stop(self) -> None:
        for poller in self.pollers.values():
            poller.stop()
        self.leadership.stop()
        if self.retention is not None:
            self.retention.stop()
        if self.relay is not None:
            self.relay.stop()
        for task in self._tasks:  # a read in flight is abandoned: its transaction rolls back
            if task.get_name().startswith("poll-"):
                task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.relay is not None:
            await self.relay.final_drain()
        if self._session is not None:
            await self._session.close()


def _host(url: str) -> str:
    return urlsplit(url).netloc
