"""People sought by their families (issue 18), through intake's API and worker on the real broker and database: a
family's report finds the registered traveller, the traveller's safe answer puts the case at the top of the board,
the officer tells the family; rejected matches stay rejected; news re-runs the match; PFIF 1.4 both ways."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from services.intake.api import create_app
from services.intake.domain.pfif import PfifPerson, parse, render
from services.intake.settings import Settings
from services.intake.worker import Worker
from shared.events.travellers import TravellerRegistered
from shared.events.welfare import WelfareReplied
from shared.kafka.producer import make_producer, publish
from shared.notifications.rendering import format_date
from tests.intake.conftest import PUBLIC_BASE, make_settings
from tests.intake.integration.test_intake_welfare import active_crisis
from tests.support import auth, bootstrap, consume, drop_schema, eventually, new_pool, new_schema

OFFICER = auth("duty_officer")
COORDINATOR = auth("coordinator")
XML = {"Content-Type": "application/xml"}


@pytest.fixture(scope="module")
async def producer() -> Any:
    producer = make_producer(bootstrap(), client_id="intake-families-tests")
    await producer.start()
    yield producer
    await producer.stop()


def mobile() -> str:
    return "+32471" + str(uuid.uuid4().int)[:6]


async def register(producer: Any, settings: Settings, pool: asyncpg.Pool, *, name: str, country: str = "NP",
                   phone: str | None = None) -> str:
    traveller_id = f"t-{uuid.uuid4().hex[:10]}"
    today = date.today()
    await publish(producer, TravellerRegistered(
        traveller_id=traveller_id, full_name=name, phone=phone or mobile(), language="nl", country=country,
        city="Pokhara", arrival=today - timedelta(days=3), departure=today + timedelta(days=20)),
        source="/tests", topic_prefix=settings.kafka_topic_prefix)
    await eventually(lambda: pool.fetchval("SELECT 1 FROM known_people WHERE person_id = $1", traveller_id))
    return traveller_id


async def answer(producer: Any, settings: Settings, pool: asyncpg.Pool, *, crisis_id: str, person_id: str,
                 said: str = "safe") -> None:
    await publish(producer, WelfareReplied(
        check_id="round-1", crisis_id=crisis_id, person_id=person_id, answer=said,  # type: ignore[arg-type]
        channel="web", language="nl", email="someone@example.org", at=datetime.now(UTC)),
        source="/tests", topic_prefix=settings.kafka_topic_prefix)
    await eventually(lambda: pool.fetchval("SELECT 1 FROM known_people WHERE person_id = $1 AND last_answer = $2",
                                           person_id, said))


async def family_report(client: httpx.AsyncClient, name: str, *, country: str = "NP", **subject: Any) -> str:
    body = {"kind": "missing_person", "description": "We have had no news since the earthquake.",
            "reporter": {"full_name": "Family Member", "language": "fr", "channel": "email",
                         "email": "family@example.org"},
            "subject": {"full_name": name, **subject}, "location": {"country": country, "city": "Kathmandu"}}
    response = await client.post("/v1/reports", json=body, headers=OFFICER)
    assert response.status_code == 201, response.text
    return str(response.json()["reference"])


async def case(client: httpx.AsyncClient, reference: str) -> dict[str, Any]:
    response = await client.get(f"/v1/reports/{reference}", headers=OFFICER)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def test_a_family_finds_the_traveller_who_answered_safe(
        client: httpx.AsyncClient, worker: Worker, settings: Settings, pool: asyncpg.Pool, producer: Any) -> None:
    crisis_id = await active_crisis(producer, settings, pool)
    tag = uuid.uuid4().hex[:5]
    traveller = await register(producer, settings, pool, name=f"Zoë Van den Broeck{tag}")
    reference = await family_report(client, f"ZOE VANDENBROECK{tag}")

    matches = (await case(client, reference))["matches"]
    assert [m["person_id"] for m in matches] == [traveller]
    assert matches[0]["score"] >= 0.8 and matches[0]["state"] == "proposed" and matches[0]["last_answer"] is None
    assert matches[0]["last_known_location"] == "Pokhara, NP"

    await answer(producer, settings, pool, crisis_id=crisis_id, person_id=traveller)
    match = (await case(client, reference))["matches"][0]
    assert (match["last_answer"], match["crisis_id"]) == ("safe", crisis_id)
    board = (await client.get("/v1/charter-board", headers=OFFICER)).json()
    flagged = [c for c in board["attention"] if c["reference"] == reference]
    assert flagged and flagged[0]["attention"] == "sought person answered safe"
    assert reference not in [c["reference"] for c in board["overdue"] + board["due_soon"]]

    sought_id = await pool.fetchval("SELECT sought_id FROM sought_people WHERE reference = $1", reference)
    records = await consume(settings.topic("families.inquiries"), count=2, timeout=20,
                            predicate=lambda r: r.key == str(sought_id).encode())
    assert [json.loads(r.value)["data"]["state"] for r in records] == ["matched", "safe"]
    assert all(json.loads(r.value)["data"]["crisis_id"] == crisis_id for r in records)
    assert "Zo" not in b"".join(r.value for r in records).decode()  # no name on the dashboard's topic

    told = await client.post(f"/v1/reports/{reference}/family-notice", json={"person_id": traveller},
                             headers=OFFICER)
    assert told.status_code == 200, told.text
    view = told.json()
    notice = [m for m in view["messages"] if m["purpose"] == "family_notice-1"]
    assert notice and notice[0]["channel"] == "email" and notice[0]["officer"]["name"]
    assert f"ZOE VANDENBROECK{tag}" in notice[0]["body"] and reference in notice[0]["body"]
    answered_on = format_date(view["matches"][0]["last_answer_at"], "fr")  # the day in Brussels, written long
    assert f"Bonne nouvelle au sujet de ZOE VANDENBROECK{tag}: le {answered_on}, " in notice[0]["body"]
    assert "Pokhara" not in notice[0]["body"]  # where the person is stays theirs to tell
    assert view["matches"][0]["state"] == "confirmed" and view["attention"] is None
    assert view["charter"]["met"] is True
    assert any(h.get("action") == "family_notice" or "family was told" in (h.get("note") or "")
               for h in view["history"])
    board = (await client.get("/v1/charter-board", headers=OFFICER)).json()
    assert reference not in [c["reference"] for c in board["attention"]]


async def test_telling_the_family_needs_a_safe_answer_and_a_duty_officer(
        client: httpx.AsyncClient, worker: Worker, settings: Settings, pool: asyncpg.Pool, producer: Any) -> None:
    tag = uuid.uuid4().hex[:5]
    traveller = await register(producer, settings, pool, name=f"Pieter Claessens{tag}")
    reference = await family_report(client, f"Pieter Claessens{tag}")
    refused = await client.post(f"/v1/reports/{reference}/family-notice", json={"person_id": traveller},
                                headers=OFFICER)
    assert refused.status_code == 409 and "not answered safe" in refused.text
    unknown = await client.post(f"/v1/reports/{reference}/family-notice", json={"person_id": "t-nobody"},
                                headers=OFFICER)
    assert unknown.status_code == 409
    forbidden = await client.post(f"/v1/reports/{reference}/family-notice", json={"person_id": traveller},
                                  headers=COORDINATOR)
    assert forbidden.status_code == 403


async def test_a_rejected_match_is_not_proposed_again(
        client: httpx.AsyncClient, worker: Worker, settings: Settings, pool: asyncpg.Pool, producer: Any) -> None:
    tag = uuid.uuid4().hex[:5]
    phone = mobile()
    traveller = await register(producer, settings, pool, name=f"Marie Dubois{tag}", phone=phone)
    reference = await family_report(client, f"Marie Dubois{tag}")
    assert [m["person_id"] for m in (await case(client, reference))["matches"]] == [traveller]

    rejected = await client.post(f"/v1/reports/{reference}/matches/{traveller}", json={"decision": "rejected"},
                                 headers=OFFICER)
    assert rejected.status_code == 200, rejected.text
    assert [(m["person_id"], m["state"]) for m in rejected.json()["matches"]] == [(traveller, "rejected")]

    # news of the same person (a new registration) does not bring the pair back
    await publish(producer, TravellerRegistered(
        traveller_id=traveller, full_name=f"Marie Dubois{tag}", phone=phone, language="fr", country="NP",
        city="Bhaktapur", arrival=date.today(), departure=date.today() + timedelta(days=9)),
        source="/tests", topic_prefix=settings.kafka_topic_prefix)
    await eventually(lambda: pool.fetchval("SELECT 1 FROM known_people WHERE person_id = $1 AND place LIKE 'Bhak%'",
                                           traveller))
    assert [(m["person_id"], m["state"]) for m in (await case(client, reference))["matches"]] == [
        (traveller, "rejected")]
    missing = await client.post(f"/v1/reports/{reference}/matches/t-nobody", json={"decision": "confirmed"},
                                headers=OFFICER)
    assert missing.status_code == 409


async def test_news_after_the_report_runs_the_match_again(
        client: httpx.AsyncClient, worker: Worker, settings: Settings, pool: asyncpg.Pool, producer: Any) -> None:
    tag = uuid.uuid4().hex[:5]
    reference = await family_report(client, f"Aleksandr Pushkin{tag}", country="TR")
    assert (await case(client, reference))["matches"] == []
    traveller = await register(producer, settings, pool, name=f"Александр Пушкин{tag}", country="TR")
    matches = (await case(client, reference))["matches"]
    assert [m["person_id"] for m in matches] == [traveller]
    # a namesake registered in another country is proposed too, below the one in the country of the report
    namesake = await register(producer, settings, pool, name=f"Aleksandr Pushkin{tag}", country="TH")
    matches = (await case(client, reference))["matches"]
    assert [m["person_id"] for m in matches] == [traveller, namesake]
    assert matches[0]["score"] > matches[1]["score"]


async def test_other_reports_seek_nobody(client: httpx.AsyncClient, worker: Worker, pool: asyncpg.Pool) -> None:
    response = await client.post("/v1/reports", headers=OFFICER, json={
        "kind": "detention", "description": "Arrested", "subject": {"full_name": "Someone Else"},
        "reporter": {"full_name": "A Friend", "language": "en", "channel": "phone", "phone": mobile()},
        "location": {"country": "TH"}})
    reference = response.json()["reference"]
    assert (await case(client, reference))["matches"] == []
    assert await pool.fetchval("SELECT count(*) FROM sought_people WHERE reference = $1", reference) == 0


# --- PFIF 1.4 -----------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
async def elsewhere() -> AsyncIterator[tuple[httpx.AsyncClient, asyncpg.Pool]]:
    """Another repository: a fresh schema, another PFIF domain."""
    schema = await new_schema("intake")
    settings = make_settings(schema, pfif_domain="pf.redcross.example")
    app = create_app(settings)
    pool = await new_pool(schema)
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url=PUBLIC_BASE) as client:
        yield client, pool
    await pool.close()
    await drop_schema(schema)


def records(document: bytes) -> tuple[set[tuple[Any, ...]], set[tuple[Any, ...]]]:
    parsed = parse(document)
    persons = {(p.person_record_id, p.full_name, p.entry_date, p.source_name) for p in parsed.persons}
    notes = {(n.note_record_id, n.person_record_id, n.status, n.author_made_contact, n.text, n.entry_date)
             for p in parsed.persons for n in p.notes} | {
        (n.note_record_id, n.person_record_id, n.status, n.author_made_contact, n.text, n.entry_date)
        for n in parsed.notes}
    return persons, notes


async def test_pfif_export_then_import_elsewhere_gives_the_same_persons_and_notes(
        client: httpx.AsyncClient, worker: Worker, settings: Settings, pool: asyncpg.Pool, producer: Any,
        elsewhere: tuple[httpx.AsyncClient, asyncpg.Pool]) -> None:
    crisis_id = await active_crisis(producer, settings, pool)
    tag = uuid.uuid4().hex[:5]
    reference = await family_report(client, f"Hélène Dupont{tag}")
    answerers = {}
    for name, said in ((f"Koen Maes{tag}", "safe"), (f"Lotte Wouters{tag}", "needs_help")):
        person_id = await register(producer, settings, pool, name=name)
        await answer(producer, settings, pool, crisis_id=crisis_id, person_id=person_id, said=said)
        answerers[name] = person_id
    await eventually(lambda: pool.fetchval("SELECT count(*) = 2 FROM reports WHERE crisis_id = $1 OR reference = $2",
                                           crisis_id, reference))

    exported = await client.get("/v1/pfif", params={"crisis_id": crisis_id}, headers=auth("external_system"))
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("application/xml")
    document = parse(exported.content)
    by_name = {p.full_name: p for p in document.persons}
    assert set(by_name) == {f"Hélène Dupont{tag}", f"Koen Maes{tag}", f"Lotte Wouters{tag}"}
    sought = by_name[f"Hélène Dupont{tag}"]
    assert sought.person_record_id == f"diplomatie.belgium.be/sought.{reference}"
    assert [(n.status, n.author_made_contact) for n in sought.notes] == [("information_sought", False)]
    safe = by_name[f"Koen Maes{tag}"].notes[0]
    assert (safe.status, safe.author_made_contact, safe.text) == ("believed_alive", True, None)
    helped = by_name[f"Lotte Wouters{tag}"].notes[0]
    assert (helped.status, helped.text) == ("believed_alive", "asked for help")
    assert b"earthquake" not in exported.content and b"example.org" not in exported.content  # no description
    assert all(answerers[name] not in exported.text for name in answerers)  # our ids stay ours
    audited = await pool.fetch("SELECT actor FROM case_reads WHERE reference = $1", reference)
    assert audited and audited[-1]["actor"]

    other, other_pool = elsewhere
    imported = await other.post("/v1/pfif", params={"crisis_id": crisis_id}, content=exported.content,
                                headers={**XML, **COORDINATOR})
    assert imported.status_code == 200, imported.text
    assert imported.json()["persons"] == {"written": 3, "skipped": 0}
    assert imported.json()["notes"] == {"written": 3, "skipped": 0}
    again = await other.get("/v1/pfif", params={"crisis_id": crisis_id}, headers=COORDINATOR)
    assert records(again.content) == records(exported.content)

    repeated = await other.post("/v1/pfif", params={"crisis_id": crisis_id}, content=exported.content,
                                headers={**XML, **COORDINATOR})
    assert repeated.json()["persons"] == {"written": 0, "skipped": 3}
    assert repeated.json()["notes"] == {"written": 0, "skipped": 3}
    assert await other_pool.fetchval("SELECT count(*) FROM sought_people") == 3
    # our own records coming back are not taken in twice
    ours = await client.post("/v1/pfif", content=exported.content, headers={**XML, **COORDINATOR})
    assert ours.json()["persons"] == {"written": 0, "skipped": 3}


async def test_an_imported_person_is_matched(client: httpx.AsyncClient, worker: Worker, settings: Settings,
                                             pool: asyncpg.Pool, producer: Any) -> None:
    tag = uuid.uuid4().hex[:5]
    traveller = await register(producer, settings, pool, name=f"Sofie Janssens{tag}")
    document = render([PfifPerson(person_record_id=f"pf.redcross.example/p.{tag}", full_name=f"JANSSENS{tag} Sofie",
                                  entry_date=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC))])
    imported = await client.post("/v1/pfif", content=document, headers={**XML, **auth("external_system")})
    assert imported.json() == {"persons": {"written": 1, "skipped": 0}, "notes": {"written": 0, "skipped": 0}}
    row = await eventually(lambda: pool.fetchrow(  # the worker matches imports in the background
        "SELECT m.person_id, m.state FROM matches m JOIN sought_people s USING (sought_id)"
        " WHERE s.pfif_record_id = $1", f"pf.redcross.example/p.{tag}"))
    assert (row["person_id"], row["state"]) == (traveller, "proposed")


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE pfif [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;">]>
<pfif:pfif xmlns:pfif="http://zesty.ca/pfif/1.4"><pfif:person><pfif:person_record_id>x.org/1</pfif:person_record_id>
<pfif:full_name>&c;</pfif:full_name></pfif:person></pfif:pfif>"""
XXE = b"""<?xml version="1.0"?><!DOCTYPE pfif [<!ENTITY e SYSTEM "file:///etc/passwd">]>
<pfif:pfif xmlns:pfif="http://zesty.ca/pfif/1.4"><pfif:person><pfif:person_record_id>x.org/1</pfif:person_record_id>
<pfif:full_name>&e;</pfif:full_name></pfif:person></pfif:pfif>"""
OLD_NAMESPACE = b"""<pfif:pfif xmlns:pfif="http://zesty.ca/pfif/1.3"><pfif:person>
<pfif:person_record_id>x.org/1</pfif:person_record_id><pfif:full_name>A B</pfif:full_name></pfif:person></pfif:pfif>"""
HALF_BAD = b"""<pfif:pfif xmlns:pfif="http://zesty.ca/pfif/1.4">
<pfif:person><pfif:person_record_id>x.org/good</pfif:person_record_id><pfif:full_name>A B</pfif:full_name></pfif:person>
<pfif:person><pfif:person_record_id>x.org/bad</pfif:person_record_id><pfif:full_name>C D</pfif:full_name>
<pfif:entry_date>yesterday</pfif:entry_date></pfif:person></pfif:pfif>"""


@pytest.mark.parametrize(("document", "says"), [
    (BILLION_LAUGHS, "entity"), (XXE, "external"), (OLD_NAMESPACE, "http://zesty.ca/pfif/1.3"),
    (HALF_BAD, "entry_date"), (b"<pfif:pfif", "malformed"),
])
async def test_bad_pfif_is_refused_and_writes_nothing(client: httpx.AsyncClient, pool: asyncpg.Pool,
                                                      document: bytes, says: str) -> None:
    before = await pool.fetchval("SELECT count(*) FROM sought_people")
    response = await client.post("/v1/pfif", content=document, headers={**XML, **COORDINATOR})
    assert response.status_code == 400, response.text
    assert says in response.json()["detail"][0]["message"]
    assert await pool.fetchval("SELECT count(*) FROM sought_people") == before


async def test_pfif_needs_xml_a_size_and_a_role(client: httpx.AsyncClient, settings: Settings) -> None:
    assert (await client.post("/v1/pfif", json={"a": 1}, headers=COORDINATOR)).status_code == 415
    too_big = b"<" + b"x" * settings.pfif_max_bytes + b"/>"
    assert (await client.post("/v1/pfif", content=too_big, headers={**XML, **COORDINATOR})).status_code == 413
    assert (await client.get("/v1/pfif", params={"crisis_id": "c"}, headers=OFFICER)).status_code == 403
    assert (await client.get("/v1/pfif", params={"crisis_id": "c"})).status_code == 401
