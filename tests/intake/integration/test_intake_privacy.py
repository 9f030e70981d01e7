"""Personal data in intake on the real database and broker: encrypted fields, key rotation, the read audit,
retention of closed cases and of registrations (with their tombstones on the compacted topic)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from services.intake import closing, opening
from services.intake.adapters.officer_cache import OfficerCache
from services.intake.api import create_app
from services.intake.bootstrap import intake_config
from services.intake.domain.model import ReportIn
from services.intake.retention import ANONYMISED_NAME, RetentionPolicy, run_retention
from services.intake.settings import Settings
from services.intake.worker import Worker
from shared.crypto import DecryptionError, FieldCipher, new_key_config
from shared.events.travellers import TravellerRegistered
from shared.kafka.producer import make_producer, publish
from tests.intake.conftest import PUBLIC_BASE, make_settings
from tests.intake.integration.test_intake_api import report
from tests.support import auth, bootstrap, consume, eventually, token

DUTY = auth("duty_officer")
ADMIN = auth("admin")
SECRET_TEXT = "Detained at the central police station after a protest; lawyer requested"


def sensitive_report(kind: str = "detention") -> dict[str, Any]:
    return report(kind=kind, description=SECRET_TEXT,
                  subject={"full_name": "Subject Test", "date_of_birth": "1990-04-17", "nationality": "BE"})


async def raw_case(pool: asyncpg.Pool, reference: str) -> asyncpg.Record:
    """The stored row read with plain asyncpg, as someone with database access but no key would."""
    row = await pool.fetchrow("SELECT description, subject ->> 'date_of_birth' AS birth FROM reports"
                              " WHERE reference = $1", reference)
    assert row is not None
    return row


async def test_detention_description_and_birth_date_are_unreadable_in_the_database(
        client: httpx.AsyncClient, pool: asyncpg.Pool, settings: Settings) -> None:
    case = (await client.post("/v1/reports", json=sensitive_report(), headers=DUTY)).json()
    row = await raw_case(pool, case["reference"])
    assert SECRET_TEXT not in row["description"] and "1990" not in row["birth"]
    kid = settings.field_cipher().current
    assert row["description"].startswith(f"v1.{kid}.") and row["birth"].startswith(f"v1.{kid}.")
    with pytest.raises(DecryptionError):  # another key does not open it
        FieldCipher.from_config(new_key_config("other")).decrypt(
            row["description"], context=f"intake.reports:{case['reference']}:description")

    read = (await client.get(f"/v1/reports/{case['reference']}", headers=DUTY)).json()
    assert read["description"] == SECRET_TEXT and read["subject"]["date_of_birth"] == "1990-04-17"


async def test_other_kinds_keep_the_description_in_clear_but_not_the_birth_date(
        client: httpx.AsyncClient, pool: asyncpg.Pool) -> None:
    case = (await client.post("/v1/reports", json=report(
        description="Passport lost", subject={"full_name": "Child Test", "date_of_birth": "2015-01-02"}),
        headers=DUTY)).json()
    row = await raw_case(pool, case["reference"])
    assert row["description"] == "Passport lost" and FieldCipher.is_encrypted(row["birth"])
    read = (await client.get(f"/v1/reports/{case['reference']}", headers=DUTY)).json()
    assert read["subject"]["date_of_birth"] == "2015-01-02"


async def test_rotating_the_active_key_keeps_old_records_readable(
        client: httpx.AsyncClient, pool: asyncpg.Pool, schema: str, prefix: str, settings: Settings) -> None:
    old = (await client.post("/v1/reports", json=sensitive_report("missing_person"), headers=DUTY)).json()
    old_kid = settings.field_cipher().current
    new_entry = new_key_config("rotated")
    keys = f"{new_entry},{settings.intake_field_keys.get_secret_value()}"
    rotated = make_settings(schema, prefix, intake_field_keys=keys, intake_field_key_active="rotated")
    app = create_app(rotated)
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url=PUBLIC_BASE) as rotated_client:
        new = (await rotated_client.post("/v1/reports", json=sensitive_report("missing_person"),
                                         headers=DUTY)).json()
        assert (await raw_case(pool, old["reference"]))["description"].startswith(f"v1.{old_kid}.")
        assert (await raw_case(pool, new["reference"]))["description"].startswith("v1.rotated.")
        for reference in (old["reference"], new["reference"]):
            read = (await rotated_client.get(f"/v1/reports/{reference}", headers=DUTY)).json()
            assert read["description"] == SECRET_TEXT


def test_placeholder_or_malformed_keys_are_refused(schema: str) -> None:
    for bad in ("changeme", "<set me>", "kid:c2hvcnQ=", "", "a:" + "A" * 44):
        with pytest.raises(ValueError, match="INTAKE_FIELD_KEYS|FIELD_KEYS"):
            make_settings(schema, intake_field_keys=bad)
    with pytest.raises(ValueError, match="INTAKE_FIELD_KEY_ACTIVE"):
        make_settings(schema, intake_field_key_active="nope")


async def test_reads_of_detention_cases_are_audited_for_admins(client: httpx.AsyncClient) -> None:
    detention = (await client.post("/v1/reports", json=sensitive_report(), headers=DUTY)).json()["reference"]
    plain = (await client.post("/v1/reports", json=report(), headers=DUTY)).json()["reference"]
    reader = {"Authorization": f"Bearer {token('coordinator', subject='coordinator-7')}"}
    for _ in range(2):
        assert (await client.get(f"/v1/reports/{detention}", headers=reader)).status_code == 200
    assert (await client.get(f"/v1/reports/{plain}", headers=reader)).status_code == 200

    response = await client.get("/v1/audit/reads", params={"reference": detention}, headers=ADMIN)
    assert response.status_code == 200, response.text
    reads = response.json()["reads"]
    assert len(reads) == 2
    assert {(r["reference"], r["kind"], r["actor"]) for r in reads} == {(detention, "detention", "coordinator-7")}
    assert reads[0]["roles"] == ["coordinator"] and datetime.fromisoformat(reads[0]["read_at"])
    plain_reads = await client.get("/v1/audit/reads", params={"reference": plain}, headers=ADMIN)
    assert plain_reads.json()["reads"] == []

    assert (await client.get("/v1/audit/reads", headers=DUTY)).status_code == 403
    assert (await client.get("/v1/audit/reads")).status_code == 401
    assert (await client.get("/v1/audit/reads", params={"reference": "nope"}, headers=ADMIN)).status_code == 422


# --- retention ----------------------------------------------------------------------------------------------

async def _closed_case(pool: asyncpg.Pool, settings: Settings, kind: str, closed_days_ago: int) -> str:
    body = sensitive_report(kind) if kind != "lost_document" else report()
    result = await opening.submit_report(ReportIn.model_validate(body), pool=pool,
                                         officers=OfficerCache(ttl_seconds=0), config=intake_config(settings),
                                         actor="tester")
    await closing.close_case(result.reference, pool=pool, officers=OfficerCache(ttl_seconds=0),
                             config=intake_config(settings), actor="tester", note="Closed after a call with Ms X")
    await pool.execute("UPDATE reports SET closed_at = now() - make_interval(days => $2) WHERE reference = $1",
                       result.reference, closed_days_ago)
    return result.reference


@pytest.fixture
async def producer() -> AsyncIterator[Any]:
    producer = make_producer(bootstrap(), client_id="intake-privacy-tests")
    await producer.start()
    yield producer
    await producer.stop()


async def test_closed_cases_past_their_retention_are_anonymised(
        pool: asyncpg.Pool, settings: Settings, producer: Any) -> None:
    policy = RetentionPolicy(case_days=100, days_by_kind=(("detention", 300),))
    old_plain = await _closed_case(pool, settings, "lost_document", 101)
    recent_plain = await _closed_case(pool, settings, "lost_document", 99)
    old_detention = await _closed_case(pool, settings, "detention", 200)  # past 100, not past 300
    older_detention = await _closed_case(pool, settings, "detention", 301)
    held = await _closed_case(pool, settings, "detention", 400)
    await pool.execute("UPDATE reports SET legal_hold = true WHERE reference = $1", held)

    counts = await run_retention(pool=pool, producer=producer, policy=policy, topic_prefix=settings.kafka_topic_prefix)
    assert counts["closed_cases"].get("lost_document", 0) >= 1 and counts["closed_cases"].get("detention", 0) >= 1

    async def state(reference: str) -> asyncpg.Record:
        row = await pool.fetchrow(
            "SELECT r.reporter, r.reporter_phone, r.subject, r.description, r.location, r.anonymised_at, r.kind,"
            " r.status, (SELECT count(*) FROM messages m WHERE m.reference = r.reference AND m.body IS NOT NULL)"
            " AS bodies, (SELECT count(*) FROM status_history h WHERE h.reference = r.reference"
            " AND h.note IS NOT NULL) AS notes FROM reports r WHERE reference = $1", reference)
        assert row is not None
        return row

    for reference in (old_plain, older_detention):
        row = await state(reference)
        assert row["anonymised_at"] is not None and row["reporter"]["full_name"] == ANONYMISED_NAME
        assert "phone" not in row["reporter"] and "email" not in row["reporter"] and row["reporter_phone"] is None
        assert row["subject"] is None and row["description"] == "" and set(row["location"]) == {"country"}
        assert row["bodies"] == 0 and row["notes"] == 0 and row["status"] == "closed"
    for reference in (recent_plain, old_detention, held):
        row = await state(reference)
        assert row["anonymised_at"] is None and row["reporter"]["full_name"] == "Reporter Test"
        assert row["bodies"] > 0 and row["notes"] > 0

    audit = await pool.fetchrow("SELECT counts, cutoff FROM retention_runs WHERE job = 'closed_cases'"
                                " ORDER BY id DESC LIMIT 1")
    assert audit is not None and "detention" in audit["cutoff"]
    assert audit["counts"] == {**counts["closed_cases"], "on_legal_hold": counts["legal_hold"]["on_legal_hold"]}
    assert counts["legal_hold"]["on_legal_hold"] >= 1
    assert "Reporter" not in str(audit["counts"]) + str(audit["cutoff"])


async def test_departed_travellers_are_removed_with_a_tombstone(
        pool: asyncpg.Pool, settings: Settings, worker: Worker, producer: Any) -> None:
    today = datetime.now(UTC).date()
    gone, staying = f"trav-{uuid.uuid4()}", f"trav-{uuid.uuid4()}"
    for traveller_id, departure in ((gone, today - timedelta(days=15)), (staying, today - timedelta(days=13))):
        await publish(producer, TravellerRegistered(
            traveller_id=traveller_id, full_name="Traveller Test", phone="+32470" + str(uuid.uuid4().int)[:6],
            language="fr", country="MA", arrival=date(2026, 1, 1), departure=departure),
            source="/tests/intake", topic_prefix=settings.kafka_topic_prefix)

    async def both_registered() -> bool:
        n = await pool.fetchval("SELECT count(*) FROM registered_travellers WHERE traveller_id = ANY($1::text[])",
                                [gone, staying])
        return bool(n == 2)

    await eventually(both_registered, timeout=60)
    counts = await run_retention(pool=pool, producer=producer, policy=RetentionPolicy(traveller_days=14),
                                 topic_prefix=settings.kafka_topic_prefix)
    assert counts["travellers"]["removed"] >= 1 and counts["travellers"]["tombstones_sent"] >= 1
    remaining = {r["traveller_id"] for r in await pool.fetch(
        "SELECT traveller_id FROM registered_travellers WHERE traveller_id = ANY($1::text[])", [gone, staying])}
    assert remaining == {staying}
    assert await pool.fetchval("SELECT count(*) FROM traveller_tombstones") == 0

    [tombstone] = await consume(settings.topic("travellers.registrations"), count=1,
                                predicate=lambda r: r.key == gone.encode() and r.value is None)
    assert tombstone.value is None
    assert not await consume(settings.topic("travellers.registrations"), count=1, timeout=3,
                             predicate=lambda r: r.key == staying.encode() and r.value is None)
    # intake's own consumer takes the tombstone without dead-lettering it
    assert not await consume(settings.topic("travellers.registrations.dlq"), count=1, timeout=3,
                             predicate=lambda r: r.key == gone.encode())
    audit = await pool.fetchrow("SELECT counts FROM retention_runs WHERE job = 'travellers' ORDER BY id DESC LIMIT 1")
    assert audit is not None and audit["counts"] == counts["travellers"]


async def test_a_case_whose_key_is_gone_answers_503_not_500(
        client: httpx.AsyncClient, schema: str, prefix: str) -> None:
    case = (await client.post("/v1/reports", json=sensitive_report(), headers=DUTY)).json()
    app = create_app(make_settings(schema, prefix, intake_field_keys=new_key_config("only-new"),
                                   intake_field_key_active=""))
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url=PUBLIC_BASE) as keyless:
        response = await keyless.get(f"/v1/reports/{case['reference']}", headers=DUTY)
    assert response.status_code == 503 and SECRET_TEXT not in response.text
    assert response.headers["retry-after"] == "3600"  # documented on every 503


async def test_a_blank_traveller_id_is_a_4xx_not_a_500(client: httpx.AsyncClient) -> None:
    """Found by the fuzzer: a traveller id of spaces passed the API's check and failed the event's (a 500)."""
    response = await client.post("/v1/privacy/requests", json={"kind": "access", "traveller_id": "   "},
                                 headers=auth("admin"))
    assert response.status_code == 422 and "traveller_id" in response.text


async def test_retention_forgets_old_idempotency_keys_answers_and_imports(
        client: httpx.AsyncClient, pool: asyncpg.Pool, settings: Settings, producer: Any) -> None:
    """Idempotency keys past a week, welfare answers and PFIF imports past FAMILIES_RETENTION_DAYS (issue 18 and
    issue 19, finding 12); recent ones and registered people stay."""
    old_key, new_key = f"old-{uuid.uuid4().hex}", f"new-{uuid.uuid4().hex}"
    for key in (old_key, new_key):
        response = await client.post("/v1/reports", json=report(), headers={**auth("duty_officer"),
                                                                          "Idempotency-Key": key})
        assert response.status_code == 201
    await pool.execute("UPDATE idempotency_keys SET created_at = now() - interval '8 days' WHERE key = $1", old_key)
    tag = uuid.uuid4().hex[:8]
    await pool.execute(
        "INSERT INTO known_people (person_id, full_name, last_answer, last_answer_at, updated_at) VALUES"
        " ($1, 'Only Answered', 'safe', now() - interval '100 days', now() - interval '100 days'),"
        " ($2, 'Registered Long Ago', 'safe', now() - interval '100 days', now() - interval '100 days'),"
        " ($3, 'Answered Lately', 'safe', now() - interval '3 days', now() - interval '3 days')",
        f"checkin-{tag}", f"t-{tag}", f"t2-{tag}")
    await pool.execute("INSERT INTO registered_travellers (traveller_id, language, country, departure)"
                       " VALUES ($1, 'nl', 'NP', current_date + 10)", f"t-{tag}")
    await pool.execute("INSERT INTO sought_people (pfif_record_id, full_name, created_at, matched_at) VALUES"
                       " ($1, 'Imported Long Ago', now() - interval '100 days', now())", f"x.org/{tag}")
    await pool.execute("INSERT INTO pfif_notes (note_record_id, person_record_id) VALUES ($1, $2)",
                       f"x.org/n{tag}", f"x.org/{tag}")

    counts = await run_retention(pool=pool, producer=producer, policy=RetentionPolicy(),
                                 topic_prefix=settings.kafka_topic_prefix)
    assert counts["families"]["idempotency_keys_forgotten"] >= 1
    assert await pool.fetchval("SELECT count(*) FROM idempotency_keys WHERE key = ANY($1::text[])",
                               [old_key, new_key]) == 1
    people = {r["person_id"]: r["last_answer"] for r in await pool.fetch(
        "SELECT person_id, last_answer FROM known_people WHERE person_id LIKE '%' || $1", tag)}
    assert people == {f"t-{tag}": None, f"t2-{tag}": "safe"}  # the registration stays, its old answer goes
    assert await pool.fetchval("SELECT count(*) FROM sought_people WHERE pfif_record_id = $1", f"x.org/{tag}") == 0
    assert await pool.fetchval("SELECT count(*) FROM pfif_notes WHERE person_record_id = $1", f"x.org/{tag}") == 0
