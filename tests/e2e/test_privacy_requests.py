"""Requests from a person through events, on the real broker and database: intake coordinates (admin API) and
intake, directory, crisis_center and notifier each answer from their own schema."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.structs import TopicPartition

from services.crisis_center.privacy import PrivacyResponder
from services.crisis_center.settings import Settings as CrisisSettings
from services.directory import privacy as directory_privacy
from services.intake.api import create_app
from services.intake.bootstrap import open_resources
from services.intake.worker import Worker as IntakeWorker
from services.notifier import privacy as notifier_privacy
from shared.events.envelope import encode, new_event
from shared.events.privacy import REQUESTS_TOPIC
from shared.events.travellers import TravellerRegistered
from shared.kafka.consumer import header
from shared.kafka.outbox import OutboxRelay
from shared.kafka.producer import make_producer
from tests.intake.conftest import make_settings as intake_settings
from tests.support import (
    auth,
    bootstrap,
    consume,
    database_url,
    drop_schema,
    eventually,
    new_pool,
    new_schema,
    new_topic_prefix,
)

ADMIN = auth("admin")
DUTY = auth("duty_officer")
BASE = "https://intake.test"


@dataclass
class Person:
    traveller_id: str
    phone: str
    email: str
    name: str


def person(tag: str) -> Person:
    n = str(uuid.uuid4().int)
    return Person(f"trav-{tag}-{n[:8]}", "+32470" + n[8:14], f"{tag.lower()}.{n[:6]}@example.org",
                  f"{tag} Person {n[14:18]}")


@dataclass
class Platform:
    prefix: str
    pools: dict[str, asyncpg.Pool]
    client: httpx.AsyncClient
    producer: AIOKafkaProducer
    a: Person
    b: Person
    cases: dict[str, list[str]]


async def register(producer: AIOKafkaProducer, prefix: str, p: Person) -> None:
    data = TravellerRegistered(traveller_id=p.traveller_id, full_name=p.name, phone=p.phone, email=p.email,
                               language="nl", country="MA", city="Marrakech", arrival=date.today(),
                               departure=date.today() + timedelta(days=10))
    event = new_event(data, source="/tests/travellers")
    await producer.send_and_wait(prefix + data.TOPIC, encode(event), key=data.key().encode())


async def open_case(client: httpx.AsyncClient, p: Person, description: str, kind: str = "lost_document") -> str:
    body: dict[str, Any] = {
        "kind": kind, "description": description, "location": {"country": "MA", "city": "Fes"},
        "reporter": {"full_name": p.name, "language": "nl", "channel": "web", "phone": p.phone, "email": p.email}}
    if kind == "detention":  # its description and the subject's birth date are encrypted at rest
        body["subject"] = {"full_name": f"{p.name} Junior", "date_of_birth": "2001-02-03", "nationality": "BE"}
    response = await client.post("/v1/reports", json=body, headers=DUTY)
    assert response.status_code == 201, response.text
    return str(response.json()["reference"])


async def seed_message(pool: asyncpg.Pool, address: str, channel: str, body: str) -> None:
    notification_id = str(uuid.uuid4())
    await pool.execute(
        "INSERT INTO notifications (notification_id, dedup_key, purpose, channel, recipient, language, template,"
        " priority, crisis_id, subject, body, status, send_state) VALUES ($1, $2, $3, $4, $5, 'nl', 'crisis_alert',"
        " 1, 'crisis-x', 'Alert', $6, 'delivered', 'done')",
        notification_id, f"p|{channel}|{address}", f"crisis:x:{notification_id}", channel, address, body)
    await pool.execute("INSERT INTO status_history (notification_id, status, source) VALUES ($1, 'delivered', 't')",
                       notification_id)


@pytest.fixture(scope="module")
async def platform(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Platform]:
    prefix = await new_topic_prefix()
    schemas = {s: await new_schema(s) for s in ("intake", "directory", "crisis_center", "notifier")}
    pools = {s: await new_pool(schema) for s, schema in schemas.items()}
    producer = make_producer(bootstrap(), client_id="privacy-test")
    await producer.start()
    settings = intake_settings(schemas["intake"], prefix)
    resources = await open_resources(settings)
    intake_worker = IntakeWorker(settings, resources, producer)  # the real wiring: its privacy consumer included
    await intake_worker.start()
    consumers = [
        directory_privacy.make_consumer(bootstrap_servers=bootstrap(), topic_prefix=prefix,
                                        source="/services/directory", pool=pools["directory"], producer=producer),
        notifier_privacy.make_consumer(bootstrap_servers=bootstrap(), topic_prefix=prefix, pool=pools["notifier"],
                                       producer=producer),
    ]
    relays = [OutboxRelay(pool=pools[s], producer=producer, schema=schemas[s], poll_interval=0.3)
              for s in ("directory", "notifier")]
    crisis = PrivacyResponder(CrisisSettings(kafka_bootstrap_servers=bootstrap(), kafka_topic_prefix=prefix,
                                             database_url=database_url(), database_schema=schemas["crisis_center"]),
                              pool=pools["crisis_center"], producer=producer)
    await crisis.start()
    tasks = [asyncio.create_task(c.run()) for c in consumers] + [asyncio.create_task(r.run()) for r in relays]
    app = create_app(settings)
    async with app.router.lifespan_context(app), httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                                                   base_url=BASE) as client:
        a, b = person("A"), person("B")
        for p in (a, b):
            await register(producer, prefix, p)
        await eventually(lambda: pools["intake"].fetchval(
            "SELECT count(*) = 2 FROM registered_travellers WHERE traveller_id = ANY($1::text[])",
            [a.traveller_id, b.traveller_id]), timeout=90)
        cases = {"A": [await open_case(client, a, "Passport lost in the souk"),
                       await open_case(client, a, "Son held at the Fes police station", kind="detention")],
                 "B": [await open_case(client, b, "B lost an identity card")]}
        for p in (a, b):
            await seed_message(pools["notifier"], p.phone, "sms", f"Crisis alert for {p.name}")
            await seed_message(pools["notifier"], p.email, "email", f"Dear {p.name}, stay indoors")
        yield Platform(prefix, pools, client, producer, a, b, cases)
    for relay in relays:
        relay.stop()
    for consumer in consumers:
        await consumer.stop()
    await asyncio.gather(*tasks, return_exceptions=True)
    await crisis.stop()
    await intake_worker.stop()
    await resources.pool.close()
    await producer.stop()
    for s, pool in pools.items():
        await pool.close()
        await drop_schema(schemas[s])


async def complete(client: httpx.AsyncClient, request_id: str) -> dict[str, Any]:
    async def done() -> dict[str, Any] | None:
        view = (await client.get(f"/v1/privacy/requests/{request_id}", headers=ADMIN)).json()
        return view if view["status"] == "complete" else None
    result: dict[str, Any] = await eventually(done, timeout=120, interval=0.5)
    return result


async def ask(client: httpx.AsyncClient, **body: str) -> dict[str, Any]:
    response = await client.post("/v1/privacy/requests", json=body, headers=ADMIN)
    assert response.status_code == 202, response.text
    assert response.headers["Location"].endswith(response.json()["request_id"])
    return await complete(client, response.json()["request_id"])


def items(view: dict[str, Any], service: str, category: str | None = None) -> list[dict[str, Any]]:
    return [i for i in view["services"][service]["items"] if category is None or i["category"] == category]


async def test_the_api_is_for_admins_and_refuses_a_request_naming_nobody(platform: Platform) -> None:
    client = platform.client
    body = {"kind": "access", "phone": platform.a.phone}
    assert (await client.post("/v1/privacy/requests", json=body)).status_code == 401
    assert (await client.post("/v1/privacy/requests", json=body, headers=DUTY)).status_code == 403
    assert (await client.get(f"/v1/privacy/requests/{uuid.uuid4()}", headers=DUTY)).status_code == 403
    assert (await client.get(f"/v1/privacy/requests/{uuid.uuid4()}", headers=ADMIN)).status_code == 404
    response = await client.post("/v1/privacy/requests", json={"kind": "access"}, headers=ADMIN)
    assert response.status_code == 422
    response = await client.post("/v1/privacy/requests", json={"kind": "access", "phone": "0470"}, headers=ADMIN)
    assert response.status_code == 422


async def test_an_access_export_holds_the_persons_registration_cases_and_messages_and_nobody_else(
        platform: Platform) -> None:
    a, b = platform.a, platform.b
    view = await ask(platform.client, kind="access", traveller_id=a.traveller_id, email=a.email)
    assert view["answered"] == ["crisis_center", "directory", "intake", "notifier"]
    assert a.phone in view["identifiers"]["phones"]  # linked through intake's registration
    registration = items(view, "intake", "registration")
    assert [r["item_id"] for r in registration] == [a.traveller_id]
    assert registration[0]["data"]["phone"] == a.phone
    cases = {c["item_id"]: c["data"] for c in items(view, "intake", "case")}
    assert sorted(cases) == sorted(platform.cases["A"])
    assert {c["description"] for c in cases.values()} == {"Passport lost in the souk",
                                                         "Son held at the Fes police station"}  # in clear
    assert [c["subject"]["date_of_birth"] for c in cases.values() if c["subject"]] == ["2001-02-03"]
    assert all(c["reporter"]["full_name"] == a.name for c in cases.values())
    assert all(c["messages"] for c in cases.values())  # the acknowledgements of each case
    messages = items(view, "notifier", "message")
    assert sorted(m["data"]["recipient"] for m in messages) == sorted([a.phone, a.email.lower()])
    assert {m["data"]["history"][0]["status"] for m in messages} == {"delivered"}
    crisis = items(view, "crisis_center", "registration")
    assert [(r["item_id"], r["data"]["full_name"]) for r in crisis] == [(a.traveller_id, a.name)]
    assert view["services"]["directory"] == {**view["services"]["directory"], "held_nothing": True, "items": []}
    export = json.dumps(view)
    for trace in (b.traveller_id, b.phone, b.email, b.name, "B lost an identity card", *platform.cases["B"]):
        assert trace not in export


async def test_an_erasure_removes_the_person_everywhere_but_keeps_a_case_under_legal_hold(
        platform: Platform) -> None:
    a, b, pools = platform.a, platform.b, platform.pools
    held, erased = platform.cases["A"][1], platform.cases["A"][0]
    response = await platform.client.put(f"/v1/reports/{held}/legal-hold", json={"legal_hold": True}, headers=ADMIN)
    assert response.status_code == 200
    view = await ask(platform.client, kind="erasure", phone=a.phone)
    assert view["status"] == "complete"
    outcomes = {(s, i["category"], i["item_id"]): i["outcome"]
                for s in view["services"] for i in view["services"][s]["items"]}
    assert outcomes[("intake", "registration", a.traveller_id)] == "deleted"
    assert outcomes[("intake", "case", erased)] == "anonymised"
    assert outcomes[("intake", "case", held)] == "legal_hold"
    assert outcomes[("crisis_center", "registration", a.traveller_id)] == "tombstoned"
    erased_messages = [r["notification_id"] for r in await pools["notifier"].fetch(
        "SELECT notification_id FROM notifications WHERE recipient = '(erased)'")]
    assert len(erased_messages) == 2
    assert sorted(k[2] for k, v in outcomes.items() if k[0] == "notifier" and v == "anonymised") == sorted(
        erased_messages)
    assert view["services"]["directory"]["held_nothing"] is True
    # intake's tables
    intake = pools["intake"]
    assert await intake.fetchval("SELECT count(*) FROM registered_travellers WHERE traveller_id = $1",
                                 a.traveller_id) == 0
    row = await intake.fetchrow("SELECT * FROM reports WHERE reference = $1", erased)
    assert row["reporter_phone"] is None and row["subject"] is None and row["description"] == "(erased)"
    assert a.name not in json.dumps(row["reporter"]) and row["kind"] == "lost_document"
    assert await intake.fetchval("SELECT count(*) FROM messages WHERE reference = $1 AND body IS NOT NULL",
                                 erased) == 0
    kept = await intake.fetchrow("SELECT * FROM reports WHERE reference = $1", held)
    assert kept["reporter_phone"] == a.phone and kept["subject"] is not None
    assert kept["description"].startswith("v1.")  # still the encrypted original, not "(erased)"
    # notifier's tables
    notifier = pools["notifier"]
    assert await notifier.fetchval("SELECT count(*) FROM notifications WHERE recipient = ANY($1::text[])"
                                   " OR body LIKE $2", [a.phone, a.email.lower()], f"%{a.name}%") == 0
    assert await notifier.fetchval("SELECT count(*) FROM notifications WHERE recipient = '(erased)'"
                                   " AND status = 'delivered'") == 2  # the delivery records stay
    # the crisis worker's tables: a tombstone on the compacted topic for the traveller id
    tombstones = await consume(platform.prefix + "travellers.registrations", count=1, timeout=60,
                               predicate=lambda r: r.value is None and r.key == a.traveller_id.encode())
    assert tombstones
    # the other person is untouched everywhere
    assert await intake.fetchval("SELECT count(*) FROM registered_travellers WHERE traveller_id = $1",
                                 b.traveller_id) == 1
    assert await intake.fetchval("SELECT description FROM reports WHERE reference = $1",
                                 platform.cases["B"][0]) == "B lost an identity card"
    assert await notifier.fetchval("SELECT count(*) FROM notifications WHERE recipient = ANY($1::text[])",
                                   [b.phone, b.email.lower()]) == 2
    # asked again, the platform holds only the case under legal hold
    again = await ask(platform.client, kind="access", phone=a.phone, email=a.email)
    found = {(s, i["category"], i["item_id"]) for s in again["services"] for i in again["services"][s]["items"]}
    assert found == {("intake", "case", held)}


async def committed(group: str, tp: TopicPartition) -> int:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap())
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group, partitions=[tp])
    finally:
        await admin.close()
    meta = offsets.get(tp)
    return meta.offset if meta is not None else -1


async def test_a_redelivered_request_changes_nothing(platform: Platform) -> None:
    records = await consume(platform.prefix + REQUESTS_TOPIC, count=1, timeout=30,
                            predicate=lambda r: json.loads(r.value)["data"]["kind"] == "erasure")
    original = records[0]
    request_id = json.loads(original.value)["data"]["request_id"]
    before = await platform.pools["intake"].fetch(
        "SELECT service, answered_at, items FROM privacy_responses WHERE request_id = $1 ORDER BY service",
        request_id)
    held = platform.cases["A"][1]
    await platform.pools["intake"].execute("UPDATE reports SET legal_hold = false WHERE reference = $1", held)
    metadata = await platform.producer.send_and_wait(original.topic, original.value, key=original.key,
                                                     partition=original.partition)
    tp = TopicPartition(original.topic, original.partition)
    for group in ("intake", "directory", "notifier", "crisis_center"):
        await eventually(lambda g=group: _past(f"{platform.prefix}{g}-privacy", tp, metadata.offset), timeout=120)
    # released from legal hold meanwhile: a second effect would have anonymised it now
    assert await platform.pools["intake"].fetchval("SELECT reporter_phone FROM reports WHERE reference = $1",
                                                   held) == platform.a.phone
    after = await platform.pools["intake"].fetch(
        "SELECT service, answered_at, items FROM privacy_responses WHERE request_id = $1 ORDER BY service",
        request_id)
    assert [dict(r) for r in after] == [dict(r) for r in before]


async def _past(group: str, tp: TopicPartition, offset: int) -> bool:
    return await committed(group, tp) > offset


async def test_a_malformed_request_goes_to_the_dead_letter_topic(platform: Platform) -> None:
    request_id = str(uuid.uuid4())
    data = {"request_id": request_id, "kind": "erasure", "requested_by": "someone",
            "requested_at": datetime.now(UTC).isoformat()}  # names nobody
    body = {"specversion": "1.0", "id": str(uuid.uuid4()), "source": "/tests",
            "type": "be.diplomatie.privacy.requested", "time": datetime.now(UTC).isoformat(), "data": data}
    await platform.producer.send_and_wait(platform.prefix + REQUESTS_TOPIC, json.dumps(body).encode(),
                                          key=request_id.encode())
    dead = await consume(platform.prefix + REQUESTS_TOPIC + ".dlq", count=4, timeout=90,
                         predicate=lambda r: r.key == request_id.encode())
    assert {header(r, "dlq.consumer") for r in dead} == {"intake-privacy", "directory-privacy", "notifier-privacy",
                                                         "crisis_center-privacy"}
    assert all("at least one traveller id, phone or email" in (header(r, "dlq.reason") or "") for r in dead)


async def test_a_tombstone_on_the_registrations_removes_intakes_copy_instead_of_dead_lettering(
        platform: Platform) -> None:
    c = person("C")
    await register(platform.producer, platform.prefix, c)
    intake = platform.pools["intake"]
    await eventually(lambda: intake.fetchval("SELECT count(*) = 1 FROM registered_travellers"
                                             " WHERE traveller_id = $1", c.traveller_id), timeout=90)
    await platform.producer.send_and_wait(platform.prefix + "travellers.registrations", None,
                                          key=c.traveller_id.encode())
    await eventually(lambda: intake.fetchval("SELECT count(*) = 0 FROM registered_travellers"
                                             " WHERE traveller_id = $1", c.traveller_id), timeout=90)
