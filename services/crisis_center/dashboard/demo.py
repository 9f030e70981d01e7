"""A scenario for `make demo`: an earthquake near Kathmandu, a few hundred registered Belgian travellers, reports
arriving by SMS, the threshold crossed, a hotline published, messages sent and delivered by the local Twilio server;
then a welfare round: some answer safe (by SMS, by an email's link), some need help, a few check in who never
registered, and the silent are reminded, called (some press 1 on the call) and listed for officers to phone.

Everything goes through the real inputs: `crisis.incidents` and `travellers.registrations` on Kafka (as the external
systems would publish them) and intake's signed Twilio SMS webhook. Run it against a running system (`make run`):
`python -m services.crisis_center.dashboard demo` and watch http://127.0.0.1:8003/dashboard.
"""

from __future__ import annotations

import asyncio
import math
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict
from twilio.request_validator import RequestValidator

from services.crisis_center.domain.welfare import LinkClaim, link_key, make_token
from services.crisis_center.handlers import crisis_id_for_incident
from shared.auth import JwtConfig, mint_token
from shared.events.incidents import IncidentReported
from shared.events.travellers import TravellerRegistered
from shared.kafka.producer import make_producer, publish

SOURCE = "/demo/scenario"
KATHMANDU = (27.7172, 85.3240)
POKHARA = (28.2096, 83.9856)  # about 140 km away: outside the area, in the same country
RADIUS_KM = 60.0
# Texted by registered travellers inside the area: intake places each report where the sender's registration
# says they are, so the crisis counts it (as a report, and the person once).
SMS = [
    "Help! Building collapsed in Thamel, two Belgians injured, need assistance",
    "Aardbeving Kathmandu, we zijn veilig maar ons paspoort is kwijt",
    "Séisme à Katmandou, mon fils est introuvable depuis ce matin",
]


class DemoSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore")

    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    kafka_topic_prefix: str = ""
    intake_url: str = "http://127.0.0.1:8001"
    intake_public_base_url: str = ""  # what intake signs against (its PUBLIC_BASE_URL); default: intake_url
    crisis_center_url: str = "http://127.0.0.1:8003"
    twilio_auth_token: SecretStr = SecretStr("")
    jwt_secret: SecretStr = SecretStr("")  # to close the crises of earlier runs as a coordinator; empty: they stay
    jwt_issuer: str = "be.diplomatie.consular"
    jwt_audience: str = "consular-platform"
    twilio_api_base: str = "http://127.0.0.1:8090"  # the local Twilio server: who picks up the welfare call


@dataclass(frozen=True)
class Plan:
    travellers: int = 300
    inside_share: float = 0.85
    per_second: float = 25.0
    sms: bool = True
    seed: int | None = None
    close_previous: bool = True
    welfare: bool = False
    """Run a welfare round after the crisis is active (`make demo` does; a round's steps take minutes)."""
    welfare_minutes: int = 1


def _offset(origin: tuple[float, float], km: float, bearing: float) -> tuple[float, float]:
    lat, lon = origin
    d_lat = km * math.cos(bearing) / 111.32
    d_lon = km * math.sin(bearing) / (111.32 * math.cos(math.radians(lat)))
    return round(lat + d_lat, 5), round(lon + d_lon, 5)


def incident(run: str, now: datetime) -> IncidentReported:
    return IncidentReported(
        incident_id=f"demo-{run}", title="Earthquake near Kathmandu (M 7.1)", kind="earthquake", severity="severe",
        area={"country": "NP", "circle": {"lat": KATHMANDU[0], "lon": KATHMANDU[1], "radius_km": RADIUS_KM}},
        occurred_at=now - timedelta(minutes=12))


def travellers(run: str, plan: Plan, now: datetime) -> list[TravellerRegistered]:
    """Made-up travellers (names like "Demo traveller 17"): most within the area, the rest in Pokhara."""
    rng = random.Random(plan.seed)
    inside = round(plan.travellers * plan.inside_share)
    out = []
    for n in range(plan.travellers):
        origin, spread = (KATHMANDU, RADIUS_KM * 0.8) if n < inside else (POKHARA, 15.0)
        lat, lon = _offset(origin, rng.uniform(0, spread), rng.uniform(0, 2 * math.pi))
        out.append(TravellerRegistered(
            traveller_id=f"demo-{run}-{n}", full_name=f"Demo traveller {n}",
            phone=f"+3247{rng.randrange(10**7):07d}", email=f"demo.{run}.{n}@example.org",
            language=("nl", "fr", "de", "en")[n % 4], country="NP", city="Kathmandu" if n < inside else "Pokhara",
            location={"lat": lat, "lon": lon}, arrival=(now - timedelta(days=rng.randint(1, 10))).date(),
            departure=(now + timedelta(days=rng.randint(3, 20))).date()))
    rng.shuffle(out)
    return out


async def send_sms(settings: DemoSettings, sender: str, body: str, say: Callable[[str], None]) -> None:
    """A signed Twilio webhook call, as Twilio would make it when a traveller texts the consular number."""
    public = (settings.intake_public_base_url or settings.intake_url).rstrip("/") + "/twilio/sms"
    params = {"From": sender, "To": "+3225018111", "Body": body, "MessageSid": f"SM{uuid.uuid4().hex}",
              "FromCountry": "NP", "AccountSid": "AC" + "0" * 32}
    signature = RequestValidator(settings.twilio_auth_token.get_secret_value()).compute_signature(public, params)
    try:
        async with httpx.AsyncClient(timeout=10) as client:
            response = await client.post(settings.intake_url.rstrip("/") + "/twilio/sms", data=params,
                                         headers={"X-Twilio-Signature": signature})
        say(f"  SMS from {sender[:7]}…: intake answered {response.status_code}")
    except httpx.HTTPError as exc:
        say(f"  SMS not delivered to intake ({type(exc).__name__}): is it running at {settings.intake_url}?")


async def watch_public_feed(settings: DemoSettings, incident_id: str, say: Callable[[str], None],
                            wait_seconds: float = 60) -> dict[str, object] | None:
    """Polls the public feed (no token needed) until the crisis of the incident is listed."""
    crisis_id = crisis_id_for_incident(incident_id)
    deadline = asyncio.get_running_loop().time() + wait_seconds
    async with httpx.AsyncClient(timeout=5) as client:
        while asyncio.get_running_loop().time() < deadline:
            try:
                crises = (await client.get(settings.crisis_center_url.rstrip("/") + "/public/crises")).json()
            except (httpx.HTTPError, ValueError):
                crises = []
            for crisis in crises if isinstance(crises, list) else []:
                if crisis.get("crisis_id") == crisis_id:
                    return dict(crisis)
            await asyncio.sleep(1)
    say(f"  no crisis for {incident_id} in the public feed yet: is the crisis center running?")
    return None


async def close_previous_runs(settings: DemoSettings, say: Callable[[str], None]) -> int:
    """Closes the still active crises of earlier runs (same title, from the public feed) as a coordinator, so that
    a replay starts from an empty list and gets the first hotline again. Needs JWT_SECRET; returns how many."""
    secret = settings.jwt_secret.get_secret_value()
    if not secret:
        return 0
    title = incident("", datetime.now(UTC)).title
    base = settings.crisis_center_url.rstrip("/")
    token = mint_token(JwtConfig(secret, settings.jwt_issuer, settings.jwt_audience), subject="demo-scenario",
                       roles=["coordinator"], ttl_seconds=120)
    closed = 0
    try:
        async with httpx.AsyncClient(timeout=10, headers={"Authorization": f"Bearer {token}"}) as client:
            crises = (await client.get(f"{base}/public/crises")).json()
            for crisis in crises if isinstance(crises, list) else []:
                if crisis.get("title") == title and crisis.get("status", "active") == "active":
                    response = await client.post(f"{base}/v1/crises/{crisis['crisis_id']}/close")
                    closed += response.status_code == 200
    except (httpx.HTTPError, ValueError) as exc:
        say(f"      earlier runs not closed ({type(exc).__name__})")
    if closed:
        say(f"      closed {closed} crisis(es) of earlier runs, releasing their hotlines")
    return closed


async def play(settings: DemoSettings, plan: Plan = Plan(), say: Callable[[str], None] = print) -> str:
    """Plays the scenario; returns the incident id (the crisis id derives from it)."""
    if plan.close_previous:
        await close_previous_runs(settings, say)
    run = uuid.uuid4().hex[:6]
    now = datetime.now(UTC)
    producer = make_producer(settings.kafka_bootstrap_servers, client_id="demo-scenario")
    await producer.start()
    try:
        quake = incident(run, now)
        say(f"t+0s  incident.reported: {quake.title}, {RADIUS_KM:.0f} km around Kathmandu ({quake.incident_id})")
        await publish(producer, quake, source=SOURCE, topic_prefix=settings.kafka_topic_prefix)
        people = travellers(run, plan, now)
        say(f"      {len(people)} registered travellers arrive at {plan.per_second:.0f} per second "
            f"({round(plan.travellers * plan.inside_share)} inside the area)")
        sms = list(SMS) if plan.sms else []
        texted: set[str] = set()
        for index, person in enumerate(people):
            await publish(producer, person, source=SOURCE, topic_prefix=settings.kafka_topic_prefix)
            if sms and index % max(1, len(people) // (len(SMS) + 1)) == 0 and index:
                # someone inside, registered a few seconds ago (intake knows where they are by now)
                sender = next((p.phone for p in people[:max(0, index - 10)] if p.city == "Kathmandu" and p.phone
                               and p.phone not in texted), None)
                if sender is not None:
                    texted.add(sender)
                    await send_sms(settings, sender, sms.pop(0), say)
            await asyncio.sleep(1 / plan.per_second)
        say("      all travellers published")
    finally:
        await producer.stop()
    crisis = await watch_public_feed(settings, quake.incident_id, say)
    if crisis:
        say(f"      crisis active: hotline {crisis['hotline_number']}, {crisis['affected_count']} affected")
    say(f"Open {settings.crisis_center_url.rstrip('/')}/dashboard to follow it.")
    if crisis and plan.welfare:
        await welfare_round(settings, plan, str(crisis["crisis_id"]), people, say)
    return quake.incident_id


def _coordinator(settings: DemoSettings) -> dict[str, str]:
    token = mint_token(JwtConfig(settings.jwt_secret.get_secret_value(), settings.jwt_issuer, settings.jwt_audience),
                       subject="demo-scenario", roles=["coordinator"], ttl_seconds=3600)
    return {"Authorization": f"Bearer {token}"}


async def welfare_round(settings: DemoSettings, plan: Plan, crisis_id: str, people: list[TravellerRegistered],
                        say: Callable[[str], None]) -> None:
    """Ask everyone; answer for some of them as they would (SMS, the email's link, a key on the call); check in
    two people who never registered; then follow the counts until nobody is left without an answer."""
    if not settings.jwt_secret.get_secret_value():
        say("      no JWT_SECRET: the welfare round needs a coordinator's token")
        return
    rng = random.Random(plan.seed)
    inside = [p for p in people if p.city == "Kathmandu" and p.phone]
    rng.shuffle(inside)
    tenth = max(1, len(inside) // 10)
    by_sms, by_link, for_help, on_call = (inside[:4 * tenth], inside[4 * tenth:5 * tenth],
                                          inside[5 * tenth:5 * tenth + max(1, tenth // 2)],
                                          inside[6 * tenth:7 * tenth])
    base = settings.crisis_center_url.rstrip("/")
    async with httpx.AsyncClient(timeout=20, headers=_coordinator(settings)) as client:
        try:  # those who will press 1 when called (the local Twilio server plays them)
            await client.put(settings.twilio_api_base.rstrip("/") + "/_dev/config",
                             json={"numbers": {p.phone: {"keypad": "1"} for p in on_call}})
        except httpx.HTTPError:
            say("      the local Twilio server is not reachable: nobody will pick up the calls")
        started = (await client.post(f"{base}/v1/crises/{crisis_id}/welfare-checks",
                                     json={"escalate_after_minutes": plan.welfare_minutes})).json()
        say(f"      welfare check {started.get('check_id')}: {started.get('recipients')} people asked "
            f"(reminder after {plan.welfare_minutes} min, call after {2 * plan.welfare_minutes})")
        await asyncio.sleep(5)  # the questions go out; intake learns who was asked
        for person in by_sms:
            await send_sms(settings, str(person.phone), rng.choice(["1", "SAFE", "veilig", "sain et sauf"]), say)
        for person in for_help:
            await send_sms(settings, str(person.phone), "2", say)
        key = link_key(settings.jwt_secret.get_secret_value())
        for person in by_link:
            token = make_token(key, LinkClaim(str(started.get("check_id")), person.traveller_id, "safe"))
            await client.post(f"{base}/public/welfare/{token}")
        say(f"      answered: {len(by_sms)} safe by SMS, {len(by_link)} safe by the email's link, "
            f"{len(for_help)} need help; {len(on_call)} will press 1 when called")
        for n, place in enumerate(("SAFE Thamel Kathmandu", "HULP Patan")):
            await send_sms(settings, f"+3249{rng.randrange(10**7):07d}", place, say)
            say(f"      check-in by SMS {n + 1}: {place!r}")
        deadline = asyncio.get_running_loop().time() + (3 * plan.welfare_minutes + 2) * 60
        while asyncio.get_running_loop().time() < deadline:
            counts = (await client.get(f"{base}/v1/crises/{crisis_id}/welfare")).json()
            say("      welfare: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
            if counts.get("no_answer") == 0:
                break
            await asyncio.sleep(20)
    say("      the silent were reminded, called, and are listed to phone on the dashboard")
