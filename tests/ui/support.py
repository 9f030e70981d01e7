"""Steps the browser tests share: Playwright's `expect`, signing in to the dashboard and the console, the crisis
center run for a module (its settings, the notifier's empty stand-in, the worker), a manual crisis with contacts,
the notifier's settings, the incidents and travellers the worker is fed, and intake run for the console's
modules."""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
from aiohttp import web
from aiokafka import AIOKafkaProducer

from services.crisis_center import handlers, welfare
from services.crisis_center.api import create_app as crisis_app
from services.crisis_center.domain.engine import Recipient
from services.crisis_center.settings import Settings as CrisisSettings
from services.crisis_center.worker import CrisisWorker
from services.intake.api import create_app as intake_app
from services.intake.bootstrap import open_resources as intake_resources
from services.intake.settings import Settings as IntakeSettings
from services.intake.worker import Worker as IntakeWorker
from services.notifier.settings import NotifierSettings
from shared.db import create_pool
from shared.events.envelope import EventData
from shared.events.incidents import IncidentReported
from shared.events.travellers import TravellerRegistered
from shared.geo import Area
from shared.kafka.producer import make_producer, publish
from shared.passwords import hash_password
from tests.intake.conftest import make_settings as intake_settings
from tests.support import (
    bootstrap,
    database_url,
    drop_schema,
    free_port,
    new_schema,
    new_topic_prefix,
    serve_stand_in,
    started_worker,
    token,
    unique,
)
from tests.ui.conftest import serve

#: The crisis worker's pace in the modules that run it: updates each second, ticks every two, three partitions.
LIVE_WORKER: dict[str, Any] = {"crisis_update_interval_seconds": 1.0, "crisis_tick_seconds": 2.0,
                               "faust_partitions": 3}
#: The hotlines of the manual crisis of the messages panel's modules, and its four contacts (fr: SMS and e-mail,
#: nl: SMS, de: e-mail, en: SMS).
KATHMANDU_HOTLINES = "+3225013000,+3225013001"
KATHMANDU_CONTACTS = (Recipient("registration:p1", "p1", "+32470000001", "p1@example.org", "fr"),
                      Recipient("registration:p2", "p2", "+32470000002", None, "nl"),
                      Recipient("registration:p3", "p3", None, "p3@example.org", "de"),
                      Recipient("registration:p4", "p4", "+32470000004", None, "en"))


class Clock:
    """A clock the test sets and moves (`at`): the API's, the welfare desk's."""

    def __init__(self, at: datetime | None = None) -> None:
        self.at = at or datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.at


def expect(actual: Any, message: str | None = None) -> Any:
    """Playwright's `expect` (its module imported on first use, as the browser fixture does)."""
    from playwright.async_api import expect as playwright_expect

    return playwright_expect(actual, message)


# Signing in ---------------------------------------------------------------------------------------------------------

async def fill_sign_in(page: Any, user: str, password: str) -> None:
    """The sign-in form (the dashboard's or the console's) filled with a user's name and password, and sent."""
    await page.get_by_label("User name").fill(user)
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Sign in").click()


async def use_token(page: Any, value: str) -> None:
    """A token pasted into the sign-in panel (the dashboard's or the console's), and used."""
    await page.get_by_label("Or paste an access token").fill(value)
    await page.get_by_role("button", name="Use this token").click()


async def open_dashboard(page: Any, url: str, user: str, password: str) -> None:
    """The dashboard, signed in: through the form, unless the tab keeps the token of an earlier test."""
    await page.goto(f"{url}/dashboard")
    await expect(page.locator("#signin:visible, #app:visible").first).to_be_visible()  # the page has decided
    if await page.locator("#signin").is_visible():
        await fill_sign_in(page, user, password)
    await expect(page.locator("#app")).to_be_visible()


async def sign_in_coordinator(page: Any, url: str, subject: str) -> None:
    """The dashboard, signed in with a coordinator's token of `subject`."""
    await page.goto(f"{url}/dashboard")
    await use_token(page, token("coordinator", subject=subject))
    await expect(page.locator("#who")).to_have_text(re.compile(subject))


async def coordinator_on_crisis(page: Any, url: str, subject: str, crisis_id: str, *, timeout: float) -> None:
    """The dashboard signed in with a coordinator's token of `subject`, the crisis selected: its messages panel
    shows."""
    await sign_in_coordinator(page, url, subject)
    await page.locator(f'.crisis-card[data-crisis-id="{crisis_id}"]').click(timeout=timeout)
    await expect(page.locator("#broadcasts")).to_be_visible()


# The crisis center --------------------------------------------------------------------------------------------------

def crisis_settings(name: str, *, prefix: str, schema: str, port: int, tmp: Path, **overrides: Any) -> CrisisSettings:
    """The crisis center's settings for the browser tests of `name`: the broker, the topics under `prefix`, its
    schema, Faust in memory, its public URL on `port` of 127.0.0.1; `overrides` besides."""
    return CrisisSettings(
        kafka_bootstrap_servers=bootstrap(), kafka_topic_prefix=prefix, database_schema=schema,
        faust_app_id=unique(f"crisis-ui-{name}-"), faust_store="memory://", faust_data_dir=str(tmp / "faust"),
        public_base_url=f"http://127.0.0.1:{port}", **overrides)  # type: ignore[call-arg]


@contextlib.asynccontextmanager
async def empty_notifier() -> AsyncIterator[str]:
    """A stand-in for the notifier whose delivery progress is empty: the dashboard's pass-through answers without a
    notifier running. Its URL."""
    async def notifications(_: web.Request) -> web.Response:
        return web.json_response({"total": 0, "counts": {}, "items": []})

    app = web.Application()
    app.router.add_get("/v1/notifications", notifications)
    async with serve_stand_in(app) as (url, _):
        yield url


@dataclass
class CrisisCenter:
    """The crisis center a module runs: its URL, settings and a pool on its schema; with its worker, the producer
    that feeds it."""

    url: str
    settings: CrisisSettings
    pool: asyncpg.Pool
    producer: AIOKafkaProducer | None = None
    worker: CrisisWorker | None = None

    @property
    def prefix(self) -> str:
        return self.settings.kafka_topic_prefix

    async def send(self, data: EventData, source: str = "/tests/ui") -> None:
        assert self.producer is not None, "no worker runs: nothing reads the topics"
        await publish(self.producer, data, source=source, topic_prefix=self.prefix)


@contextlib.asynccontextmanager
async def crisis_center(name: str, tmp: Path, *, worker: bool = False, clock: Callable[[], datetime] | None = None,
                        user: tuple[str, str] | None = None, **overrides: Any) -> AsyncIterator[CrisisCenter]:
    """crisis_center's API with the dashboard (on `clock`), and its worker at LIVE_WORKER's pace if `worker`, on fresh
    topics and a fresh schema; `user`: the name and password of the dashboard's one user. The notifier is the empty
    stand-in unless `notifier_url` is among the settings' `overrides`."""
    if worker:
        overrides = {**LIVE_WORKER, **overrides}
    if user is not None:
        overrides["dashboard_users"] = f"{user[0]}:{hash_password(user[1], iterations=10_000)}"
    prefix = await new_topic_prefix()
    schema = await new_schema("crisis_center")
    port = free_port()
    async with contextlib.AsyncExitStack() as stack:
        stack.push_async_callback(drop_schema, schema)
        if "notifier_url" not in overrides:
            overrides["notifier_url"] = await stack.enter_async_context(empty_notifier())
        settings = crisis_settings(name, prefix=prefix, schema=schema, port=port, tmp=tmp, **overrides)
        center = CrisisCenter("", settings, await create_pool(database_url(), schema, min_size=1, max_size=4))
        stack.push_async_callback(center.pool.close)
        if worker:
            center.producer = make_producer(bootstrap(), client_id=f"ui-{name}-tests", linger_ms=0)
            await center.producer.start()
            stack.push_async_callback(center.producer.stop)
        center.url = await stack.enter_async_context(serve(crisis_app(settings, clock=clock), port))
        if worker:
            center.worker = CrisisWorker(settings)
            await center.worker.start()
            stack.push_async_callback(center.worker.stop)
        yield center


@contextlib.asynccontextmanager
async def with_manual_crisis(name: str, tmp: Path, title: str, clock: Clock) -> AsyncIterator[tuple[CrisisCenter, str]]:
    """crisis_center's API with the dashboard on `clock` (crisis_center), holding one active manual crisis
    (open_manual_crisis): the crisis center and the crisis's id."""
    async with crisis_center(name, tmp, clock=clock, hotline_numbers=KATHMANDU_HOTLINES) as center:
        yield center, await open_manual_crisis(center, title, at=clock())


async def open_manual_crisis(center: CrisisCenter, title: str, *, at: datetime) -> str:
    """A coordinator's manual crisis (an earthquake, a 50 km circle around Kathmandu) with KATHMANDU_CONTACTS as
    its contacts: its id."""
    crisis = await handlers.activate_manually(
        pool=center.pool, title=title, kind="earthquake", severity="severe",
        area=Area.from_dict({"country": "NP", "circle": {"lat": 27.7, "lon": 85.3, "radius_km": 50}}),
        actor="tester", pool_numbers=center.settings.hotline_pool, general_number="+3225014000", threshold=5,
        now=at, publishing=handlers.Publishing(center.settings.source, center.prefix))
    async with center.pool.acquire() as conn:
        await welfare.record_contacts(conn, crisis.crisis_id, KATHMANDU_CONTACTS, at=at)
    return crisis.crisis_id


def notifier_settings(*, schema: str, prefix: str, port: int, **overrides: Any) -> NotifierSettings:
    """The notifier's settings beside a crisis center: its schema, the topics under `prefix`, its API on `port` of
    127.0.0.1; `overrides` besides."""
    return NotifierSettings(
        database_url=database_url(), database_schema=schema, kafka_bootstrap_servers=bootstrap(),
        kafka_topic_prefix=prefix, public_base_url=f"http://127.0.0.1:{port}", http_port=port, database_pool_min=1,
        **overrides)  # type: ignore[call-arg]


# What the worker is fed ---------------------------------------------------------------------------------------------

def earthquake(incident_id: str, title: str, country: str, centre: dict[str, float], **extra: Any) -> IncidentReported:
    """A severe earthquake 20 minutes ago, its area a 60 km circle around `centre`."""
    return IncidentReported(
        incident_id=incident_id, title=title, kind="earthquake", severity="severe",
        area={"country": country, "circle": {**centre, "radius_km": 60}},
        occurred_at=datetime.now(UTC) - timedelta(minutes=20), **extra)


def staying(traveller_id: str, n: int, country: str, lat: float, lon: float, **contact: Any) -> TravellerRegistered:
    """Traveller `n`, at (lat, lon) in `country` since two days and for ten more; `contact`: phone, e-mail,
    language."""
    today = datetime.now(UTC).date()
    return TravellerRegistered(
        traveller_id=traveller_id, full_name=f"Traveller {n}", country=country, location={"lat": lat, "lon": lon},
        arrival=today - timedelta(days=2), departure=today + timedelta(days=10), **contact)


# Intake, for the console --------------------------------------------------------------------------------------------

@dataclass
class IntakeService:
    """Intake run for a console module: its URL, settings, and the producer of its worker."""

    url: str
    settings: IntakeSettings
    producer: AIOKafkaProducer


@contextlib.asynccontextmanager
async def intake_service(name: str, *, clock: Callable[[], datetime] | None = None) -> AsyncIterator[IntakeService]:
    """intake's API with the console (on `clock`) and its worker, on fresh topics and a fresh schema (seeded with its
    placeholder officers); charter deadlines are polled every second."""
    prefix = await new_topic_prefix()
    schema = await new_schema("intake")
    port = free_port()
    settings = intake_settings(schema, prefix, public_base_url=f"http://127.0.0.1:{port}", deadline_poll_seconds=1.0)
    try:
        async with started_worker(IntakeWorker, intake_resources, settings, client_id=f"ui-{name}-tests",
                                  linger_ms=0) as (_, producer), serve(intake_app(settings, clock=clock), port) as url:
            yield IntakeService(url, settings, producer)
    finally:
        await drop_schema(schema)
