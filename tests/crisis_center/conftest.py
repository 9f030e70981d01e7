"""Fixtures for the crisis center against the real broker and database: fresh topics, schema and Faust app id."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaProducer
from fastapi import FastAPI

from services.crisis_center import handlers, welfare
from services.crisis_center.api import create_app
from services.crisis_center.domain.engine import Recipient
from services.crisis_center.settings import Settings
from services.crisis_center.worker import CrisisWorker
from shared.events.envelope import EventData
from shared.events.incidents import IncidentReported
from shared.events.travellers import TravellerRegistered
from shared.geo import Area
from shared.kafka.admin import delete_topics
from shared.kafka.producer import make_producer, publish
from tests.support import bootstrap, consume_events, drop_schema, new_pool, new_schema, new_topic_prefix, unique

POOL = "+3225011000,+3225011001,+3225011002"
THRESHOLD = 5  # CRISIS_THRESHOLD of every test worker
#: The contacts of a crisis opened by `new_crisis`: three languages, by phone and email, phone only, email only.
CONTACTS = (Recipient("registration:p1", "p1", "+32470000001", "p1@example.org", "fr"),
           Recipient("registration:p2", "p2", "+32470000002", None, "nl"),
           Recipient("registration:p3", "p3", None, "p3@example.org", "de"))


@dataclass
class Env:
    settings: Settings
    pool: asyncpg.Pool
    producer: AIOKafkaProducer

    async def send(self, data: EventData, *, event_id: str | None = None) -> None:
        await publish(self.producer, data, source="/tests/crisis_center", topic_prefix=self.settings.kafka_topic_prefix,
                      event_id=event_id)

    def topic(self, name: str) -> str:
        return self.settings.topic(name)

    def worker(self) -> CrisisWorker:
        return CrisisWorker(self.settings)


def make_settings(prefix: str, schema: str, tmp: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "kafka_bootstrap_servers": bootstrap(), "kafka_topic_prefix": prefix, "database_schema": schema,
        "faust_app_id": unique("crisis-test-"), "faust_store": "memory://", "faust_data_dir": str(tmp / "faust"),
        "crisis_threshold": THRESHOLD, "hotline_numbers": POOL, "crisis_update_interval_seconds": 1.0,
        "crisis_tick_seconds": 2.0, "faust_partitions": 3,
    }
    values.update(overrides)
    return Settings(**values)


class Clock:
    """The API's and the welfare desk's clock, set by the test (escalation steps, code and link expiry)."""

    def __init__(self) -> None:
        self.at = datetime.now(UTC).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.at


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def app(env: Env, clock: Callable[[], datetime]) -> AsyncIterator[FastAPI]:
    """The API in process on `env.settings` and the test's clock, started (a module whose API needs other settings
    overrides `env`, one on the real clock overrides `clock`)."""
    application = create_app(env.settings, clock=clock)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the API (modules that need another app define their own `client`)."""
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as c:
        yield c


@asynccontextmanager
async def running(env: Env) -> AsyncIterator[CrisisWorker]:
    worker = env.worker()
    await worker.start()
    await worker.recovered()  # before reading the tables: they may still be filling from their changelogs
    try:
        yield worker
    finally:
        await worker.stop()


async def db_crisis(env: Env, incident_id: str = "inc-1") -> dict[str, object] | None:
    row = await env.pool.fetchrow("SELECT * FROM crises WHERE incident_id = $1", incident_id)
    return dict(row) if row else None


async def drop_topics(*prefixes: str) -> None:
    """Delete this test's topics (its prefix, its Faust changelogs): the shared broker holds thousands already,
    and every client decodes them all on each metadata refresh."""
    await delete_topics(bootstrap(), *prefixes)


@asynccontextmanager
async def new_env(tmp: Path, client_id: str, **overrides: Any) -> AsyncIterator[Env]:
    """Fresh topics and schema, the settings on them (make_settings, with `overrides`), a pool and a started
    producer; closed, and the schema and topics dropped, after."""
    prefix = await new_topic_prefix()
    schema = await new_schema("crisis_center")
    pool = await new_pool(schema)
    producer = make_producer(bootstrap(), client_id=client_id, linger_ms=0)
    await producer.start()
    settings = make_settings(prefix, schema, tmp, **overrides)
    try:
        yield Env(settings, pool, producer)
    finally:
        await producer.stop()
        await pool.close()
        await drop_schema(schema)
        await drop_topics(prefix, settings.faust_app_id)


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[Env]:
    async with new_env(tmp_path, "crisis-tests") as env:
        yield env


async def new_crisis(env: Env, clock: Clock, people: Sequence[Recipient] = CONTACTS, *,
                     incident_id: str | None = None) -> str:
    """A crisis a coordinator opened by hand (an earthquake in Nepal) on the test's clock, `people` its contacts; with
    `incident_id`, that incident's crisis (positions, the map's, exist for an incident's crisis only)."""
    crisis = await handlers.activate_manually(
        pool=env.pool, title="Earthquake in Kathmandu", kind="earthquake", severity="severe",
        area=Area.from_dict({"country": "NP", "circle": {"lat": 27.7, "lon": 85.3, "radius_km": 50}}),
        actor="tester", pool_numbers=POOL.split(","), general_number="+3225014000", threshold=5, now=clock(),
        publishing=handlers.Publishing(env.settings.source, env.settings.kafka_topic_prefix))
    async with env.pool.acquire() as conn:
        if incident_id is not None:
            await conn.execute("UPDATE crises SET incident_id = $2 WHERE crisis_id = $1", crisis.crisis_id,
                               incident_id)
        await welfare.record_contacts(conn, crisis.crisis_id, people, at=clock())
    return crisis.crisis_id


async def commands(env: Env, count: int, timeout: float = 20.0) -> list[dict[str, Any]]:
    """Every notification command (`notification.send`) on the topic, read from its beginning."""
    events = await consume_events(env.topic("notifications.commands"), count=count, timeout=timeout)
    return [e.data for e in events if e.type == "be.diplomatie.notification.send"]


NOW = datetime.now(UTC)
ISTANBUL = {"lat": 41.0082, "lon": 28.9784}


def registration(n: int, *, lat: float = 41.01, lon: float = 28.98, country: str = "TR",
                 departure: date | None = None, phone: str | None = None, prefix: str = "t") -> TravellerRegistered:
    return TravellerRegistered(
        traveller_id=f"{prefix}{n}", full_name=f"Traveller {n}", phone=phone or f"+32470{n:06d}",
        email=f"traveller{n}@example.org", language="nl", country=country, location={"lat": lat, "lon": lon},
        arrival=NOW.date() - timedelta(days=3), departure=departure or NOW.date() + timedelta(days=7),
    )


def quake(incident_id: str = "inc-1", *, area: dict[str, Any] | None = None, severity: str = "severe",
          title: str = "Earthquake near Istanbul") -> IncidentReported:
    return IncidentReported(
        incident_id=incident_id, title=title, kind="earthquake", severity=severity,
        area=area or {"country": "TR", "circle": {**ISTANBUL, "radius_km": 30}},
        occurred_at=NOW - timedelta(hours=1),
    )
