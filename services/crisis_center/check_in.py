"""Check-in on the public page during a crisis, by someone who never registered: the form, a one-time code sent
by SMS (or by email when no phone is given), and the confirmation that counts them.

A confirmed check-in inside the crisis area is counted like any registration (a `traveller.registered` with the
source `/services/crisis_center/check-in`; the worker merges people by phone and email, so nobody is counted
twice), becomes a contact of the crisis (asked in the next rounds), and its answer goes to intake as a reply
(which opens the case for needs_help). Codes are kept as HMACs, expire, are single-use and allow five tries;
check-ins are limited per phone number, email address and client address per hour.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

import asyncpg
import phonenumbers

from services.crisis_center.adapters import check_in_repository
from services.crisis_center.domain import exercise, texts
from services.crisis_center.records import Publishing
from shared.events.notifications import Recipient as WireRecipient
from shared.events.notifications import SendNotification, notification_id_for
from shared.events.reports import ReportLocation
from shared.events.travellers import TravellerRegistered
from shared.events.welfare import CHECK_IN_PREFIX, WelfareReplied
from shared.geo import Point
from shared.kafka.outbox import enqueue
from shared.logging import get_logger

log = get_logger(__name__)

MAX_TRIES = 5
_PERSON_NAMESPACE = uuid.UUID("7d0c5e3b-2a19-4f68-b4e1-9c3a6d5f8e02")


@dataclass(frozen=True)
class CheckInRules:
    code_key: bytes
    code_valid_for: timedelta
    per_hour: int
    stay_days: int


def code_key(secret: str) -> bytes:
    return hmac.new(secret.encode(), b"check-in-code/v1", hashlib.sha256).digest()


def code_digest(key: bytes, check_in_id: str, code: str) -> bytes:
    return hmac.new(key, f"{check_in_id}|{code}".encode(), hashlib.sha256).digest()


def normalised_phone(raw: str, region: str | None) -> str | None:
    """E.164 for a number written as people write them (`0470 12 34 56` in the crisis country or Belgium)."""
    for where in ((None,) if raw.strip().startswith("+") else (region, "BE")):
        try:
            number = phonenumbers.parse(raw, where)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(number):
            return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return None


@dataclass(frozen=True)
class Form:
    full_name: str
    phone: str | None
    email: str | None
    language: Literal["fr", "nl", "de", "en"]
    place: str | None
    point: Point
    country: str
    companions: int
    answer: Literal["safe", "needs_help"]
    client_ip: str | None


class Limited(Exception):
    """Too many check-ins from this phone, address or client in the last hour."""


async def start(*, pool: asyncpg.Pool, crisis_id: str, crisis_title: str, form: Form, now: datetime,
                rules: CheckInRules, publishing: Publishing) -> str:
    """Store the form and send its one-time code; the check-in id."""
    check_in_id = uuid.uuid4().hex
    code = f"{secrets.randbelow(1_000_000):06d}"
    async with pool.acquire() as conn, conn.transaction():
        recent = await check_in_repository.started_since(conn, since=now - timedelta(hours=1), phone=form.phone,
                                                         email=form.email, client_ip=form.client_ip)
        if recent >= rules.per_hour:
            raise Limited()
        await check_in_repository.insert(
            conn, check_in_id=check_in_id, crisis_id=crisis_id, created_at=now, expires_at=now + rules.code_valid_for,
            code_hmac=code_digest(rules.code_key, check_in_id, code), full_name=form.full_name, phone=form.phone,
            email=form.email, language=form.language, place=form.place, lat=form.point.lat, lon=form.point.lon,
            country=form.country, companions=form.companions, answer=form.answer, client_ip=form.client_ip)
        channel, address = ("sms", form.phone) if form.phone else ("email", form.email)
        assert address is not None
        drill = await check_in_repository.crisis_is_exercise(conn, crisis_id=crisis_id)
        if drill and not await _on_test_list(conn, crisis_id, form):
            log.info("check_in_code_not_sent", crisis_id=crisis_id, check_in_id=check_in_id, reason="exercise")
            return check_in_id  # an exercise's code goes to its test list only (issue 23)
        purpose = f"crisis:{crisis_id}:check-in:{check_in_id}:code"
        notification_id = notification_id_for(purpose, channel, address)
        await enqueue(conn, SendNotification(
            notification_id=notification_id, purpose=purpose, channel=channel,  # type: ignore[arg-type]
            recipient=WireRecipient(phone=form.phone if channel == "sms" else None,
                                    email=form.email if channel == "email" else None),
            language=form.language, template="check_in_code", priority="crisis", crisis_id=crisis_id,
            params=exercise.mark({"code": code, "crisis_title": crisis_title,
                                  "minutes": int(rules.code_valid_for.total_seconds() // 60)}, drill)),
            source=publishing.source, topic_prefix=publishing.topic_prefix, event_id=f"send:{notification_id}")
    log.info("check_in_started", crisis_id=crisis_id, check_in_id=check_in_id, channel=channel)
    return check_in_id


async def _on_test_list(conn: asyncpg.Connection, crisis_id: str, form: Form) -> bool:
    """The address the code would go to is one of the exercise's test people's."""
    return await check_in_repository.is_test_address(conn, crisis_id=crisis_id,
                                                     phone=form.phone if form.phone else None,
                                                     email=None if form.phone else form.email)


Outcome = Literal["confirmed", "already", "wrong", "expired", "too_many", "unknown", "closed"]


@dataclass(frozen=True)
class Verified:
    outcome: Outcome
    language: str = "en"
    answer: str | None = None


async def verify(*, pool: asyncpg.Pool, crisis_id: str, check_in_id: str, code: str, now: datetime,
                 rules: CheckInRules, publishing: Publishing, source: str) -> Verified:
    """Confirm a check-in with its code: counted, a contact of the crisis, and its answer sent on."""
    async with pool.acquire() as conn, conn.transaction():
        row = await check_in_repository.check_in_for_update(conn, check_in_id=check_in_id, crisis_id=crisis_id)
        if row is None:
            return Verified("unknown")
        language = str(row["language"])
        if row["confirmed_at"] is not None:
            return Verified("already", language, row["answer"])
        if row["crisis_status"] != "active":
            return Verified("closed", language)
        if now > row["expires_at"]:
            return Verified("expired", language)
        if row["attempts"] >= MAX_TRIES:
            return Verified("too_many", language)
        if not hmac.compare_digest(bytes(row["code_hmac"]), code_digest(rules.code_key, check_in_id, code.strip())):
            await check_in_repository.count_attempt(conn, check_in_id=check_in_id)
            return Verified("too_many" if row["attempts"] + 1 >= MAX_TRIES else "wrong", language)
        person_id = await _person(conn, row, rules=rules, now=now, source=source, publishing=publishing)
        await check_in_repository.confirm(conn, check_in_id=check_in_id, at=now, person_id=person_id)
        await enqueue(conn, WelfareReplied(
            check_id=None, crisis_id=crisis_id, person_id=person_id, answer=row["answer"], channel="web",
            language=language, phone=row["phone"], email=row["email"], at=now,  # type: ignore[arg-type]
            full_name=row["full_name"], location=ReportLocation(country=row["country"], city=row["place"],
                                                                lat=row["lat"], lon=row["lon"])),
            source=publishing.source, topic_prefix=publishing.topic_prefix, event_id=f"check-in:{check_in_id}")
    log.info("check_in_confirmed", crisis_id=crisis_id, check_in_id=check_in_id, answer=row["answer"])
    return Verified("confirmed", language, row["answer"])


async def _person(conn: asyncpg.Connection, row: asyncpg.Record, *, rules: CheckInRules, now: datetime,
                  source: str, publishing: Publishing) -> str:
    """The person already known in the crisis by this phone or email, else a new one, counted by a registration."""
    known = await check_in_repository.contact_by_address(conn, crisis_id=row["crisis_id"], phone=row["phone"],
                                                         email=row["email"])
    if known is not None:
        await check_in_repository.set_companions(conn, crisis_id=row["crisis_id"], person_id=known,
                                                 companions=row["companions"])
        return str(known)
    person_id = CHECK_IN_PREFIX + str(uuid.uuid5(_PERSON_NAMESPACE, row["phone"] or str(row["email"]).lower()))
    await check_in_repository.upsert_contact(
        conn, crisis_id=row["crisis_id"], person_id=person_id, phone=row["phone"], email=row["email"],
        language=row["language"], added_at=now, full_name=row["full_name"], companions=row["companions"])
    await enqueue(conn, TravellerRegistered(
        traveller_id=person_id, full_name=row["full_name"], phone=row["phone"], email=row["email"],
        language=row["language"], country=row["country"], city=row["place"],
        location={"lat": row["lat"], "lon": row["lon"]},  # type: ignore[arg-type]
        arrival=now.date(), departure=now.date() + timedelta(days=rules.stay_days)),
        source=source, topic_prefix=publishing.topic_prefix, event_id=f"registered:{row['check_in_id']}")
    return person_id


def language_of(raw: str | None) -> Literal["fr", "nl", "de", "en"]:
    return texts.as_language(raw or "en")  # type: ignore[return-value]
