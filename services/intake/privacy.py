"""Requests from a person, in intake: the coordinator (admin API side) and intake's own answer.

The coordinator stores the request, links the identifiers it knows from its own registrations, publishes one
`PrivacyRequested` through the outbox, and collects every service's `PrivacyAnswered` (its own included) until
the four have answered. Intake's answer covers its registrations and the cases where the person is the reporter:
an access request exports them; an erasure deletes the registration and anonymises each case (personal columns
replaced, kind, status, dates, country and officer kept for statistics), except a case under legal hold, which
is reported and kept.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from functools import partial
from typing import Any

import asyncpg
from aiokafka import AIOKafkaProducer

from services.intake.domain.sensitive import open_row
from shared import privacy_requests
from shared.crypto import FieldCipher
from shared.events.privacy import ANSWERING_SERVICES, PrivacyAnswered, PrivacyItem, PrivacyRequested, RequestKind
from shared.kafka.consumer import EventConsumer, PermanentError
from shared.kafka.outbox import enqueue
from shared.kafka.security import Security
from shared.logging import get_logger
from shared.privacy_requests import plain

log = get_logger(__name__)

SERVICE = "intake"
ERASED = "(erased)"


# --- the coordinator ------------------------------------------------------------------------------------------


async def link_identifiers(conn: asyncpg.Connection, *, traveller_id: str | None, phone: str | None,
                           email: str | None) -> tuple[list[str], list[str], list[str]]:
    """What the admin gave, plus what our registrations and cases link to it (ids, phones, emails)."""
    ids = {traveller_id} if traveller_id else set()
    phones = {phone} if phone else set()
    emails = {email.lower()} if email else set()
    rows = await conn.fetch("SELECT traveller_id, phone FROM registered_travellers"
                            " WHERE traveller_id = ANY($1::text[]) OR phone = ANY($2::text[])",
                            list(ids), list(phones))
    ids |= {r["traveller_id"] for r in rows}
    phones |= {r["phone"] for r in rows if r["phone"]}
    # A reporter gives a phone and an email together: each leads to the other.
    contacts = await conn.fetch(
        "SELECT reporter_phone, lower(reporter->>'email') AS email FROM reports"
        " WHERE reporter_phone = ANY($1::text[]) OR lower(reporter->>'email') = ANY($2::text[])",
        list(phones), list(emails))
    phones |= {r["reporter_phone"] for r in contacts if r["reporter_phone"]}
    emails |= {r["email"] for r in contacts if r["email"]}
    return sorted(ids), sorted(phones), sorted(emails)


async def create_request(pool: asyncpg.Pool, *, kind: RequestKind, traveller_id: str | None, phone: str | None,
                         email: str | None, requested_by: str, source: str, topic_prefix: str) -> str:
    """Store the request and publish it (same transaction); returns its id."""
    request_id = str(uuid.uuid4())
    now = datetime.now(UTC)
    async with pool.acquire() as conn, conn.transaction():
        ids, phones, emails = await link_identifiers(conn, traveller_id=traveller_id, phone=phone, email=email)
        await conn.execute(
            "INSERT INTO privacy_requests (request_id, kind, traveller_ids, phones, emails, requested_by,"
            " requested_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            request_id, kind, ids, phones, emails, requested_by, now)
        await enqueue(conn, PrivacyRequested(request_id=request_id, kind=kind, traveller_ids=ids, phones=phones,
                                             emails=emails, requested_by=requested_by, requested_at=now),
                      source=source, topic_prefix=topic_prefix, event_id=f"privacy-request:{request_id}")
    log.info("privacy_request_created", request_id=request_id, kind=kind, requested_by=requested_by)
    return request_id


async def record_answer(conn: asyncpg.Connection, data: PrivacyAnswered) -> None:
    """Keep a service's answer (the first one counts) and mark the request complete when all have answered."""
    known = await conn.fetchval("SELECT true FROM privacy_requests WHERE request_id = $1 FOR UPDATE",
                                data.request_id)
    if not known:
        raise PermanentError(f"an answer to an unknown privacy request {data.request_id}")
    items = [item.model_dump(mode="json", exclude_none=True) for item in data.items]
    await conn.execute(
        "INSERT INTO privacy_responses (request_id, service, answered_at, items) VALUES ($1, $2, $3, $4::jsonb)"
        " ON CONFLICT (request_id, service) DO NOTHING",
        data.request_id, data.service, data.answered_at, json.dumps(items))
    answered = {r["service"] for r in await conn.fetch(
        "SELECT service FROM privacy_responses WHERE request_id = $1", data.request_id)}
    if answered >= set(ANSWERING_SERVICES):
        await conn.execute("UPDATE privacy_requests SET completed_at = now()"
                           " WHERE request_id = $1 AND completed_at IS NULL", data.request_id)
    log.info("privacy_answer_recorded", request_id=data.request_id, service=data.service, items=len(items))


async def request_view(pool: asyncpg.Pool, request_id: str) -> dict[str, Any] | None:
    """The request, its status and, once every service answered, the merged export or erasure report."""
    async with pool.acquire() as conn:
        request = await conn.fetchrow("SELECT * FROM privacy_requests WHERE request_id = $1", request_id)
        if request is None:
            return None
        answers = await conn.fetch("SELECT service, answered_at, items FROM privacy_responses"
                                   " WHERE request_id = $1 ORDER BY service", request_id)
    services: dict[str, dict[str, Any]] = {}
    for a in answers:
        answered_items = a["items"] if isinstance(a["items"], list) else json.loads(a["items"])
        services[a["service"]] = {"answered_at": a["answered_at"].isoformat(), "held_nothing": not answered_items,
                                  "items": answered_items}
    waiting = [s for s in ANSWERING_SERVICES if s not in services]
    view: dict[str, Any] = {
        "request_id": request_id, "kind": request["kind"],
        "status": "complete" if request["completed_at"] is not None else "pending",
        "requested_by": request["requested_by"], "requested_at": request["requested_at"].isoformat(),
        "completed_at": request["completed_at"].isoformat() if request["completed_at"] else None,
        "identifiers": {"traveller_ids": request["traveller_ids"], "phones": request["phones"],
                        "emails": request["emails"]},
        "answered": sorted(services), "waiting_for": waiting,
    }
    if not waiting:
        view["services"] = services
    return view


async def set_legal_hold(pool: asyncpg.Pool, reference: str, *, hold: bool, actor: str) -> bool:
    """Put a case under legal hold or release it; False when there is no such case."""
    async with pool.acquire() as conn, conn.transaction():
        updated = await conn.fetchval("UPDATE reports SET legal_hold = $2 WHERE reference = $1 RETURNING true",
                                      reference, hold)
        if updated:
            await conn.execute("INSERT INTO status_history (reference, status, note, actor)"
                               " SELECT reference, status, $2, $3 FROM reports WHERE reference = $1",
                               reference, "legal hold set" if hold else "legal hold released", actor)
    return bool(updated)


# --- intake's own answer ------------------------------------------------------------------------------------


async def _registrations(conn: asyncpg.Connection, data: PrivacyRequested) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT * FROM registered_travellers WHERE traveller_id = ANY($1::text[]) OR phone = ANY($2::text[])"
        " ORDER BY traveller_id", data.traveller_ids, data.phones)


async def _cases(conn: asyncpg.Connection, data: PrivacyRequested) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT * FROM reports WHERE reporter_phone = ANY($1::text[]) OR reporter->>'phone' = ANY($1::text[])"
        " OR lower(reporter->>'email') = ANY($2::text[]) ORDER BY reference FOR UPDATE",
        data.phones, [e.lower() for e in data.emails])


async def _case_export(conn: asyncpg.Connection, case: asyncpg.Record, cipher: FieldCipher | None) -> dict[str, Any]:
    messages = await conn.fetch("SELECT direction, channel, purpose, body, status, at FROM messages"
                                " WHERE reference = $1 ORDER BY id", case["reference"])
    survey = await conn.fetchrow("SELECT channel, phone, sent_at, answer, comment, answered_at FROM surveys"
                                 " WHERE reference = $1", case["reference"])
    fields = ("reference", "kind", "status", "channel", "language", "reporter", "subject", "location",
              "description", "occurred_at", "received_at", "closed_at", "legal_hold")
    opened = open_row(dict(case), cipher)  # the person gets their data in clear, not our ciphertexts
    export = {f: plain(opened[f]) for f in fields}
    export["messages"] = [plain(dict(m)) for m in messages]
    export["survey"] = plain(dict(survey)) if survey else None
    return export


async def _anonymise_case(conn: asyncpg.Connection, reference: str) -> None:
    """Personal columns replaced; kind, status, dates, country, officer and post kept for statistics."""
    await conn.execute(
        "UPDATE reports SET reporter = jsonb_build_object('full_name', $2::text, 'language', reporter->'language',"
        " 'channel', reporter->'channel'), reporter_phone = NULL, subject = NULL, description = $2,"
        " location = jsonb_build_object('country', location->'country') WHERE reference = $1", reference, ERASED)
    await conn.execute("UPDATE messages SET body = NULL WHERE reference = $1", reference)
    await conn.execute("UPDATE status_history SET note = NULL WHERE reference = $1", reference)
    await conn.execute("UPDATE print_queue SET address = $2, subject = $2, body = $2 WHERE reference = $1",
                       reference, ERASED)
    await conn.execute("UPDATE surveys SET phone = NULL, comment = NULL WHERE reference = $1", reference)
    await conn.execute("DELETE FROM sought_people WHERE reference = $1", reference)


async def intake_part(conn: asyncpg.Connection, data: PrivacyRequested, *,
                      cipher: FieldCipher | None = None) -> list[PrivacyItem]:
    items: list[PrivacyItem] = []
    for row in await _registrations(conn, data):
        if data.kind == "access":
            items.append(PrivacyItem(category="registration", item_id=row["traveller_id"], outcome="found",
                                     data=plain({k: v for k, v in dict(row).items() if v is not None})))
        else:
            await conn.execute("DELETE FROM registered_travellers WHERE traveller_id = $1", row["traveller_id"])
            items.append(PrivacyItem(category="registration", item_id=row["traveller_id"], outcome="deleted"))
    questions = await conn.fetch(
        "SELECT * FROM welfare_questions WHERE person_id = ANY($1::text[]) OR phone = ANY($2::text[])"
        " OR lower(email) = ANY($3::text[]) ORDER BY crisis_id, phone", data.traveller_ids, data.phones,
        [e.lower() for e in data.emails])
    for row in questions:
        item_id = f"{row['crisis_id']}:{row['person_id']}"
        if data.kind == "access":
            items.append(PrivacyItem(category="welfare_question", item_id=item_id, outcome="found",
                                     data=plain({k: v for k, v in dict(row).items() if v is not None})))
        else:
            await conn.execute("DELETE FROM welfare_questions WHERE phone = $1 AND crisis_id = $2", row["phone"],
                               row["crisis_id"])
            items.append(PrivacyItem(category="welfare_question", item_id=item_id, outcome="deleted"))
    known = await conn.fetch("SELECT * FROM known_people WHERE person_id = ANY($1::text[]) OR phone = ANY($2::text[])"
                             " ORDER BY person_id", data.traveller_ids, data.phones)
    for row in known:
        if data.kind == "access":
            items.append(PrivacyItem(category="known_person", item_id=row["person_id"], outcome="found",
                                     data=plain({k: v for k, v in dict(row).items() if v is not None})))
        else:
            await conn.execute("DELETE FROM known_people WHERE person_id = $1", row["person_id"])
            await conn.execute("DELETE FROM matches WHERE person_id = $1", row["person_id"])
            items.append(PrivacyItem(category="known_person", item_id=row["person_id"], outcome="deleted"))
    for case in await _cases(conn, data):
        reference = case["reference"]
        if data.kind == "access":
            items.append(PrivacyItem(category="case", item_id=reference, outcome="found",
                                     data=await _case_export(conn, case, cipher)))
        elif case["legal_hold"]:
            items.append(PrivacyItem(category="case", item_id=reference, outcome="legal_hold",
                                     note="under legal hold: reported, not erased"))
        else:
            await _anonymise_case(conn, reference)
            items.append(PrivacyItem(category="case", item_id=reference, outcome="anonymised",
                                     note="reporter, subject, description, place and message bodies erased; "
                                          "kind, status, dates and country kept"))
    return items


def make_consumer(*, bootstrap_servers: str, topic_prefix: str, source: str, pool: asyncpg.Pool,
                  producer: AIOKafkaProducer, cipher: FieldCipher | None = None,
                  security: Security | None = None) -> EventConsumer:
    """Intake answers `privacy.requests` and, as the coordinator, collects `privacy.responses`."""
    return privacy_requests.make_consumer(
        service=SERVICE, part=partial(intake_part, cipher=cipher), bootstrap_servers=bootstrap_servers,
        topic_prefix=topic_prefix, source=source, pool=pool, producer=producer, on_answer=record_answer,
        security=security)
