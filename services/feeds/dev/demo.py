"""The second demo scenario (`make demo-feeds`): a crisis that nobody types in. Belgian travellers are registered
around Denpasar (Bali); then an Orange M 7.1 earthquake appears in both local feeds, GDACS and USGS (the same
quake: 4 minutes and about 20 km apart), and the rest happens by itself: the feeds worker reports one incident
on `crisis.incidents` (named by the feed it reads first, enriched by the other), and the crisis worker, counting
the travellers inside its area, opens the crisis.

Development only: it talks to the local feed server (`services/feeds/dev/feed_server.py`, `PUT /_dev/...`), which
`make run` starts on 8091, and publishes the registrations on `travellers.registrations` as the registration
system would. Watch http://127.0.0.1:8003/dashboard while it runs:
`python -m services.feeds.dev.demo [--travellers N] [--alert Orange|Red] [--confirm]`.

The crisis center's activation mode decides the last step: by default (CRISIS_ACTIVATION_RULES) a feed incident
below GDACS Red is *proposed* to a coordinator rather than opened. The demo then says so and shows the proposal;
`--confirm` confirms it as a coordinator (JWT_SECRET), `--alert Red` (extreme) opens by itself under the default,
and so does an Orange quake with `CRISIS_ACTIVATION_RULES=feeds:*=automatic` in the crisis worker's environment.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import random
import sys
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition
from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.auth import JwtConfig, mint_token
from shared.events.envelope import CloudEvent, decode
from shared.events.incidents import TOPIC as INCIDENTS
from shared.events.travellers import TravellerRegistered
from shared.kafka.producer import make_producer, publish

SOURCE = "/demo/feeds-scenario"
#: The quake as each feed places it: USGS's epicentre, and GDACS's a little off, four minutes later (both
#: within the same-quake window of docs/feeds.md: 30 minutes, 100 km).
USGS_EPICENTRE = (-8.78, 115.30)
GDACS_EPICENTRE = (-8.62, 115.38)
DENPASAR = (-8.65, 115.22)
#: Travellers within this distance of Denpasar: inside the circle of an M 7.1 (76 km) from either epicentre.
SPREAD_KM = 25.0


class FeedsDemoSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore")

    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    kafka_topic_prefix: str = ""
    feeds_dev_url: str = "http://127.0.0.1:8091"  # the local feed server (config/processes: feeds-dev)
    crisis_center_url: str = "http://127.0.0.1:8003"
    jwt_secret: SecretStr = SecretStr("")  # to read (and with --confirm, confirm) a proposal as a coordinator
    jwt_issuer: str = "be.diplomatie.consular"
    jwt_audience: str = "consular-platform"


@dataclass(frozen=True)
class Quake:
    """One earthquake as the two feeds will carry it; ids unique per run so that a replay is a new quake."""

    run: str
    magnitude: float = 7.1
    alert: str = "Orange"

    @property
    def gdacs_id(self) -> str:
        return str(1_900_000 + int(self.run, 16) % 100_000)  # GDACS event ids are numbers

    @property
    def usgs_id(self) -> str:
        return f"us7demo{self.run}"

    @property
    def incident_ids(self) -> frozenset[str]:
        """The incident is named by whichever feed the worker reads first."""
        return frozenset({f"gdacs:EQ:{self.gdacs_id}", f"usgs:{self.usgs_id}"})

    def gdacs_fields(self, now: datetime) -> dict[str, Any]:
        return {"alertlevel": self.alert, "lat": GDACS_EPICENTRE[0], "lon": GDACS_EPICENTRE[1],
                "severity": self.magnitude, "country": "Indonesia", "iso3": "IDN",
                "fromdate": (now - timedelta(minutes=8)).isoformat()}

    def usgs_fields(self, now: datetime) -> dict[str, Any]:
        return {"mag": self.magnitude, "lat": USGS_EPICENTRE[0], "lon": USGS_EPICENTRE[1], "depth": 35.0,
                "place": "14 km S of Denpasar, Indonesia", "alert": self.alert.lower(),
                "time": (now - timedelta(minutes=12)).isoformat()}


async def add_quake(feeds_url: str, quake: Quake, *, now: datetime | None = None) -> None:
    """The same quake into both local feeds (`PUT /_dev/gdacs/events/EQ/<id>`, `PUT /_dev/usgs/events/<id>`)."""
    now = now or datetime.now(UTC)
    base = feeds_url.rstrip("/")
    async with httpx.AsyncClient(timeout=10) as client:
        for path, body in ((f"/_dev/usgs/events/{quake.usgs_id}", quake.usgs_fields(now)),
                           (f"/_dev/gdacs/events/EQ/{quake.gdacs_id}", quake.gdacs_fields(now))):
            response = await client.put(base + path, json=body)
            response.raise_for_status()


def _offset(origin: tuple[float, float], km: float, bearing: float) -> tuple[float, float]:
    lat, lon = origin
    d_lat = km * math.cos(bearing) / 111.32
    d_lon = km * math.sin(bearing) / (111.32 * math.cos(math.radians(lat)))
    return round(lat + d_lat, 5), round(lon + d_lon, 5)


def travellers(run: str, count: int, now: datetime, *, seed: int | None = None) -> list[TravellerRegistered]:
    """Made-up travellers ("Demo traveller 17", example.org addresses) within SPREAD_KM of Denpasar."""
    rng = random.Random(seed)
    out = []
    for n in range(count):
        lat, lon = _offset(DENPASAR, rng.uniform(0, SPREAD_KM), rng.uniform(0, 2 * math.pi))
        out.append(TravellerRegistered(
            traveller_id=f"demo-feeds-{run}-{n}", full_name=f"Demo traveller {n}",
            phone=f"+3247{rng.randrange(10**7):07d}", email=f"demo.feeds.{run}.{n}@example.org",
            language=("nl", "fr", "de", "en")[n % 4], country="ID", city="Denpasar", location={"lat": lat, "lon": lon},
            arrival=(now - timedelta(days=rng.randint(1, 10))).date(),
            departure=(now + timedelta(days=rng.randint(3, 20))).date()))
    return out


async def partitions_of(consumer: AIOKafkaConsumer, topic: str, *, within: float = 15) -> set[int]:
    """The topic's partitions, once the client's metadata knows them (a topic just made takes a moment)."""
    deadline = asyncio.get_running_loop().time() + within
    while not (partitions := consumer.partitions_for_topic(topic)):
        if asyncio.get_running_loop().time() > deadline:
            raise RuntimeError(f"topic {topic} not found: is Kafka running, and the topics made (make topics)?")
        await consumer._client.force_metadata_update()
        await asyncio.sleep(0.2)
    return set(partitions)


class IncidentWatch:
    """Reads `crisis.incidents` from its end as it was before the quake, for the incident of the quake."""

    def __init__(self, settings: FeedsDemoSettings) -> None:
        self.topic = f"{settings.kafka_topic_prefix}{INCIDENTS}"
        self.consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap_servers, group_id=None,
                                         enable_auto_commit=False, isolation_level="read_committed")

    async def __aenter__(self) -> IncidentWatch:
        await self.consumer.start()
        try:
            assigned = [TopicPartition(self.topic, p) for p in sorted(await partitions_of(self.consumer, self.topic))]
            self.consumer.assign(assigned)
            await self.consumer.seek_to_end(*assigned)
            for tp in assigned:  # resolve the end now, before the quake is added
                await self.consumer.position(tp)
        except BaseException:
            await self.consumer.stop()
            raise
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.consumer.stop()

    async def first(self, incident_ids: frozenset[str], *, within: float) -> CloudEvent | None:
        deadline = asyncio.get_running_loop().time() + within
        while (left := deadline - asyncio.get_running_loop().time()) > 0:
            batches = await self.consumer.getmany(timeout_ms=int(min(left, 1.0) * 1000))
            for records in batches.values():
                for record in records:
                    event = decode(record.value)
                    if event.data.get("incident_id") in incident_ids:
                        return event
        return None


async def wait_for_crisis(settings: FeedsDemoSettings, title: str, since: datetime, *,
                          within: float) -> dict[str, Any] | None:
    """Polls the public list of active crises (no token needed) for the crisis of the incident."""
    deadline = asyncio.get_running_loop().time() + within
    async with httpx.AsyncClient(timeout=5) as client:
        while asyncio.get_running_loop().time() < deadline:
            crises: Any = []
            with contextlib.suppress(httpx.HTTPError, ValueError):
                crises = (await client.get(settings.crisis_center_url.rstrip("/") + "/public/crises")).json()
            for crisis in crises if isinstance(crises, list) else []:
                activated = _when(crisis.get("activated_at"))
                if crisis.get("title") == title and activated is not None and activated >= since:
                    return dict(crisis)
            await asyncio.sleep(1)
    return None


async def proposal_of(settings: FeedsDemoSettings, incident_id: str, *, confirm: bool,
                      say: Callable[[str], None]) -> dict[str, Any] | None:
    """The incident's proposal (activation mode `proposed`), confirmed as a coordinator with `confirm`."""
    secret = settings.jwt_secret.get_secret_value()
    if not secret:
        say("      no JWT_SECRET: cannot look for a proposal as a coordinator")
        return None
    token = mint_token(JwtConfig(secret, settings.jwt_issuer, settings.jwt_audience), subject="demo-feeds-scenario",
                       roles=["coordinator"], ttl_seconds=300)
    base = settings.crisis_center_url.rstrip("/")
    try:
        async with httpx.AsyncClient(timeout=10, headers={"Authorization": f"Bearer {token}"}) as client:
            listed = (await client.get(f"{base}/v1/proposals")).json()
            found = next((p for p in listed if isinstance(p, dict) and p.get("incident_id") == incident_id), None)
            if found is not None and confirm and found.get("status") == "pending":
                response = await client.post(f"{base}/v1/proposals/{incident_id}/confirm")
                found = response.json() if response.status_code == 200 else found
    except (httpx.HTTPError, ValueError, TypeError) as exc:
        say(f"      proposals not readable ({type(exc).__name__})")
        return None
    return dict(found) if isinstance(found, dict) else None


def _when(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None


async def play(settings: FeedsDemoSettings, *, count: int = 120, alert: str = "Orange", confirm: bool = False,
               say: Callable[[str], None] = print, incident_timeout: float = 180,
               crisis_timeout: float = 30) -> CloudEvent | None:
    """Plays the scenario against the running system; returns the incident's first event (None if none came)."""
    run = uuid.uuid4().hex[:6]
    now = datetime.now(UTC)
    started = now - timedelta(seconds=5)
    quake = Quake(run, alert=alert.capitalize())
    people = travellers(run, count, now)
    producer = make_producer(settings.kafka_bootstrap_servers, client_id="demo-feeds-scenario")
    await producer.start()
    try:
        for person in people:
            await publish(producer, person, source=SOURCE, topic_prefix=settings.kafka_topic_prefix)
    finally:
        await producer.stop()
    say(f"t+0s  {len(people)} registered travellers within {SPREAD_KM:.0f} km of Denpasar, Bali")
    await asyncio.sleep(3)  # the crisis worker places them in its country table
    async with IncidentWatch(settings) as watch:
        await add_quake(settings.feeds_dev_url, quake, now=now)
        say(f"      {quake.alert} M {quake.magnitude} earthquake south of Denpasar added to both local feeds: GDACS "
            f"EQ {quake.gdacs_id}, USGS {quake.usgs_id} ({settings.feeds_dev_url}/_dev/state)")
        say("      nobody publishes an incident: the feeds worker reads the feeds (FEED_POLL_SECONDS)...")
        event = await watch.first(quake.incident_ids, within=incident_timeout)
    if event is None:
        say(f"      no incident within {incident_timeout:.0f} s: are the feeds worker and the feed server running "
            "(make run; curl -s localhost:9105/readyz)?")
        return None
    elapsed = (datetime.now(UTC) - now).total_seconds()
    data = event.data
    say(f"t+{elapsed:.0f}s {event.type.rsplit('.', 1)[-1]} by {event.source}: {data['title']} ({data['incident_id']}, "
        f"{data['severity']}); event page {data.get('link')}")
    crisis = await wait_for_crisis(settings, str(data["title"]), started, within=crisis_timeout)
    if crisis is None:
        proposal = await proposal_of(settings, str(data["incident_id"]), confirm=confirm, say=say)
        if proposal is None:
            say("      no active crisis and no proposal yet: is the crisis center running?")
        elif proposal.get("status") == "pending":
            say(f"      proposed, not opened (activation mode for {data['severity']} feed incidents): "
                f"{proposal.get('affected_count')} affected, threshold {proposal.get('threshold')}; confirm or "
                "dismiss it on the dashboard (or replay with --confirm, or --alert Red)")
        else:
            say(f"      proposal {proposal.get('status')}")
            crisis = await wait_for_crisis(settings, str(data["title"]), started, within=crisis_timeout)
    if crisis is not None:
        say(f"      crisis active: hotline {crisis['hotline_number']}, {crisis['affected_count']} affected")
    say(f"Open {settings.crisis_center_url.rstrip('/')}/dashboard to follow it.")
    return event


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.feeds.dev.demo", description=__doc__.split("\n\n")[0])
    parser.add_argument("--travellers", type=int, default=120, help="registered travellers inside the area")
    parser.add_argument("--alert", default="Orange", choices=["Green", "Orange", "Red"],
                        help="the GDACS alert level (and USGS PAGER level) of the quake")
    parser.add_argument("--confirm", action="store_true",
                        help="confirm the crisis as a coordinator when it is proposed rather than opened")
    args = parser.parse_args(argv)
    event = asyncio.run(play(FeedsDemoSettings(), count=args.travellers, alert=args.alert, confirm=args.confirm))
    return 0 if event is not None else 1


if __name__ == "__main__":
    sys.exit(main())
