"""Coordinators' broadcasts over PostgreSQL: follow-up messages and the all-clear under the two-person rule.

A broadcast is written `pending`; a second coordinator approves it (its messages are enqueued through the outbox in
the approving transaction, one `SendNotification` per person and channel, ids derived from the broadcast and the
person: enqueued once whatever is retried) or rejects it; its author may edit it while pending (a new version,
which is the one to approve). A pending broadcast past its window is marked `expired` by the next request that
reads or decides it (`expire_due`; the clock is the caller's). Every step is written to `audit_log`
(`broadcast.created`, `.edited`, `.approved`, `.rejected`, `.expired`, `.refused`) with the broadcast id.

Who is reached is read when it is planned and again when it is approved (people answer meanwhile): the crisis's
contacts (everyone alerted), those with no welfare answer, those whose latest answer is `needs_help`, or those
whose known position (the map's, ~1 km) lies in a drawn polygon inside the crisis area.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

import asyncpg

from services.crisis_center.adapters import broadcasts_repository, repository
from services.crisis_center.domain import broadcasts as rules
from services.crisis_center.domain import exercise, texts
from services.crisis_center.domain.crisis import counting_key
from services.crisis_center.records import Publishing, audit
from shared.events.notifications import Recipient as WireRecipient
from shared.events.notifications import SendNotification, notification_id_for
from shared.geo import Area
from shared.kafka.outbox import OutboxRow, enqueue_many, prepare
from shared.logging import get_logger

log = get_logger(__name__)

_Checked = TypeVar("_Checked")


@dataclass(frozen=True)
class Draft:
    """What a coordinator writes: texts per language (the all-clear has none: its template's), the languages sent
    the English text, and the audience."""

    kind: str
    audience: str
    texts: dict[str, str]
    fallback: tuple[str, ...] = ()
    polygon: tuple[tuple[float, float], ...] | None = None


class NoCrisis(Exception):
    pass


class CrisisNotActive(Exception):
    pass


class BadDraft(ValueError):
    """The draft cannot be sent as written (a polygon outside the crisis area...): 422."""


class Conflict(Exception):
    """Another all-clear is pending or approved for this crisis: 409."""


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


async def _crisis(conn: asyncpg.Connection, crisis_id: str, *, lock: bool = False) -> asyncpg.Record:
    row = await broadcasts_repository.crisis(conn, crisis_id=crisis_id, lock=lock)
    if row is None:
        raise NoCrisis(crisis_id)
    return row


def _check_draft(crisis: asyncpg.Record, draft: Draft) -> Draft:
    if draft.kind == "followup":
        try:
            rules.resolve_texts(draft.texts, draft.fallback)
        except rules.BadTexts as exc:
            raise BadDraft(str(exc)) from exc
    if (draft.audience == "area") != (draft.polygon is not None):
        raise BadDraft("a polygon is given with the audience 'area', and only then")
    if draft.polygon is not None:
        try:
            polygon = rules.check_polygon(draft.polygon, Area.from_dict(_json(crisis["area"])))
        except rules.BadPolygon as exc:
            raise BadDraft(f"polygon: {exc}") from exc
        return Draft(draft.kind, draft.audience, draft.texts, draft.fallback, polygon)
    return draft


async def audience(conn: asyncpg.Connection, crisis: asyncpg.Record, draft: Draft) -> list[asyncpg.Record]:
    """The people a draft reaches now, by person id (of an exercise, only its test list's)."""
    return exercise.only_test_people(crisis["exercise"], await _audience(conn, crisis, draft), lambda r: r["person_id"])


async def _audience(conn: asyncpg.Connection, crisis: asyncpg.Record, draft: Draft) -> list[asyncpg.Record]:
    if draft.audience == "area":
        if draft.polygon is None:
            return []
        rows = await broadcasts_repository.contacts_placed(
            conn, crisis_id=crisis["crisis_id"], incident_key=counting_key(crisis["crisis_id"], crisis["incident_id"]))
        return [r for r in rows if rules.inside(draft.polygon, r["lat"], r["lon"])]
    return await broadcasts_repository.contacts(conn, audience=draft.audience, crisis_id=crisis["crisis_id"])


def _sms_texts(crisis: asyncpg.Record, draft: Draft) -> dict[str, str]:
    """What each language's SMS will say, as the notifier renders it (an exercise's with its EXERCISE line)."""
    if draft.kind == "all_clear":
        return exercise.sms_texts(rules.all_clear_sms(crisis["title"]), crisis["exercise"])
    return exercise.sms_texts(rules.resolve_texts(draft.texts, draft.fallback), crisis["exercise"])


@dataclass(frozen=True)
class Planning:
    senders: tuple[rules.Sender, ...]
    email_rate_per_second: float


async def plan(*, pool: asyncpg.Pool, crisis_id: str, draft: Draft, planning: Planning) -> rules.Plan:
    """The plan of a draft (nothing written). NoCrisis, BadDraft."""
    async with pool.acquire() as conn:
        crisis = await _crisis(conn, crisis_id)
        draft = _check_draft(crisis, draft)
        return await _plan(conn, crisis, draft, planning)


async def _plan(conn: asyncpg.Connection, crisis: asyncpg.Record, draft: Draft, planning: Planning) -> rules.Plan:
    people = await audience(conn, crisis, draft)
    contacts = [rules.Contact(texts.as_language(r["language"]), r["phone"] is not None, r["email"] is not None)
                for r in people]
    return rules.plan(contacts, _sms_texts(crisis, draft), senders=planning.senders,
                      email_rate_per_second=planning.email_rate_per_second)


# writing and deciding ---------------------------------------------------------------------------------------------
async def create(*, pool: asyncpg.Pool, crisis_id: str, draft: Draft, actor: str, now: datetime,
                 approval_minutes: int) -> str:
    """A new pending broadcast; its id. NoCrisis, CrisisNotActive (the crisis is closed), BadDraft, Conflict (a
    second all-clear)."""
    broadcast_id = uuid.uuid4().hex
    async with pool.acquire() as conn, conn.transaction():
        crisis = await _crisis(conn, crisis_id, lock=True)
        if crisis["status"] != "active":  # closing forgets the contacts: nobody is left to reach
            raise CrisisNotActive(crisis_id)
        draft = _check_draft(crisis, draft)
        if draft.kind == "all_clear":
            await _expire(conn, now, crisis_id=crisis_id)
            taken = await broadcasts_repository.all_clear_taken(conn, crisis_id=crisis_id)
            if taken is not None:
                raise Conflict(f"the all-clear of this crisis is {taken} already")
        await broadcasts_repository.insert(
            conn, broadcast_id=broadcast_id, crisis_id=crisis_id, kind=draft.kind, audience=draft.audience,
            polygon=draft.polygon, texts=draft.texts, fallback=draft.fallback, author=actor, created_at=now,
            expires_at=rules.expiry(now, approval_minutes))
        await audit(conn, actor=actor, action="broadcast.created", target=crisis_id, at=now,
                    detail={"broadcast_id": broadcast_id, "kind": draft.kind, "audience": draft.audience,
                            "version": 1, "texts": draft.texts, "fallback": list(draft.fallback)})
    log.info("broadcast_created", crisis_id=crisis_id, broadcast_id=broadcast_id, kind=draft.kind)
    return broadcast_id


async def _expire(conn: asyncpg.Connection, now: datetime, *, crisis_id: str | None = None,
                  broadcast_id: str | None = None) -> int:
    rows = await broadcasts_repository.expire(conn, now=now, crisis_id=crisis_id, broadcast_id=broadcast_id)
    for row in rows:
        await audit(conn, actor="system", action="broadcast.expired", target=row["crisis_id"], at=now,
                    detail={"broadcast_id": row["broadcast_id"], "version": row["version"],
                            "expired_at": row["expires_at"].isoformat()})
        log.info("broadcast_expired", crisis_id=row["crisis_id"], broadcast_id=row["broadcast_id"])
    return len(rows)


async def expire_due(*, pool: asyncpg.Pool, now: datetime) -> int:
    """Mark every pending broadcast past its window expired (audited); how many."""
    async with pool.acquire() as conn, conn.transaction():
        return await _expire(conn, now)


def _state(row: asyncpg.Record) -> rules.State:
    return rules.State(row["status"], row["author"], row["version"], row["expires_at"], row["decided_by"])


async def _locked(conn: asyncpg.Connection, broadcast_id: str, now: datetime) -> asyncpg.Record | None:
    await _expire(conn, now, broadcast_id=broadcast_id)
    return await broadcasts_repository.broadcast_for_update(conn, broadcast_id=broadcast_id)


async def _refused(conn: asyncpg.Connection, row: asyncpg.Record, actor: str, action: str, exc: rules.Refused,
                   now: datetime) -> None:
    await audit(conn, actor=actor, action="broadcast.refused", target=row["crisis_id"], at=now,
                detail={"broadcast_id": row["broadcast_id"], "attempted": action, "reason": str(exc)})


async def _decide(pool: asyncpg.Pool, broadcast_id: str, *, actor: str, action: str, now: datetime,
                  check: Callable[[asyncpg.Connection, asyncpg.Record], Awaitable[_Checked]],
                  carry_out: Callable[[asyncpg.Connection, asyncpg.Record, _Checked], Awaitable[None]],
                  ) -> tuple[asyncpg.Record, _Checked] | None:
    """A coordinator's step on a broadcast (`action`: edit, reject, approve), in one transaction over the broadcast
    locked (expired first when due): `check` refuses it (rules.Refused: the refusal is audited, committed, then
    raised) or gives what `carry_out` needs. None: no such broadcast."""
    async with pool.acquire() as conn, conn.transaction():
        row = await _locked(conn, broadcast_id, now)
        if row is None:
            return None
        try:
            checked = await check(conn, row)
        except rules.Refused as exc:
            refused = exc
            await _refused(conn, row, actor, action, exc, now)
        else:
            await carry_out(conn, row, checked)
            return row, checked
    raise refused  # once the refusal's audit row is committed


async def edit(*, pool: asyncpg.Pool, broadcast_id: str, draft: Draft, actor: str, now: datetime,
               approval_minutes: int) -> bool:
    """The author replaces the texts or audience of a pending broadcast: a new version, a new approval window.
    False: no such broadcast. Refused (403 not the author, 409 not pending), BadDraft."""

    async def check(conn: asyncpg.Connection, row: asyncpg.Record) -> None:
        rules.check_edit(_state(row), editor=actor, now=now)
        if row["kind"] == "all_clear":
            raise rules.Refused("the all-clear has no text of its own to edit", status=409)

    async def carry_out(conn: asyncpg.Connection, row: asyncpg.Record, _: None) -> None:
        crisis = await _crisis(conn, row["crisis_id"])
        edited = _check_draft(crisis, Draft(row["kind"], draft.audience, draft.texts, draft.fallback, draft.polygon))
        version = row["version"] + 1
        await broadcasts_repository.update_draft(
            conn, broadcast_id=broadcast_id, audience=edited.audience, polygon=edited.polygon, texts=edited.texts,
            fallback=edited.fallback, version=version, edited_at=now, expires_at=rules.expiry(now, approval_minutes))
        await audit(conn, actor=actor, action="broadcast.edited", target=row["crisis_id"], at=now,
                    detail={"broadcast_id": broadcast_id, "version": version, "audience": edited.audience,
                            "texts": edited.texts, "fallback": list(edited.fallback)})

    return await _decide(pool, broadcast_id, actor=actor, action="edit", now=now, check=check,
                         carry_out=carry_out) is not None


async def reject(*, pool: asyncpg.Pool, broadcast_id: str, actor: str, reason: str, now: datetime) -> bool:
    """Any coordinator rejects a pending broadcast (its author: withdraws it). False: no such broadcast.
    Refused (409: not pending)."""

    async def check(conn: asyncpg.Connection, row: asyncpg.Record) -> None:
        rules.check_rejection(_state(row), now=now)

    async def carry_out(conn: asyncpg.Connection, row: asyncpg.Record, _: None) -> None:
        await broadcasts_repository.mark_rejected(conn, broadcast_id=broadcast_id, actor=actor, at=now, reason=reason)
        await audit(conn, actor=actor, action="broadcast.rejected", target=row["crisis_id"], at=now,
                    detail={"broadcast_id": broadcast_id, "version": row["version"], "reason": reason})

    return await _decide(pool, broadcast_id, actor=actor, action="reject", now=now, check=check,
                         carry_out=carry_out) is not None


@dataclass(frozen=True)
class Approval:
    crisis_id: str
    kind: str
    sent: bool
    """False: this approver had approved this version already (nothing enqueued again)."""


async def approve(*, pool: asyncpg.Pool, broadcast_id: str, actor: str, version: int, now: datetime,
                  publishing: Publishing) -> Approval | None:
    """A second coordinator approves `version`: the messages are enqueued in this transaction (once: an approval
    repeated by the same approver changes nothing). None: no such broadcast. Refused (403 the author, 409 other
    version, not pending, or a crisis closed meanwhile: its contacts are forgotten). The caller closes the crisis
    after an all-clear."""

    async def check(conn: asyncpg.Connection, row: asyncpg.Record) -> tuple[bool, asyncpg.Record]:
        sends = rules.check_approval(_state(row), approver=actor, version=version, now=now)
        crisis = await _crisis(conn, row["crisis_id"], lock=True)
        if sends and crisis["status"] != "active":
            raise rules.Refused("the crisis is closed: nobody is left to reach", status=409)
        return sends, crisis

    async def carry_out(conn: asyncpg.Connection, row: asyncpg.Record, checked: tuple[bool, asyncpg.Record]) -> None:
        sends, crisis = checked
        if sends:
            await _send(conn, row, crisis, actor=actor, now=now, publishing=publishing)

    decided = await _decide(pool, broadcast_id, actor=actor, action="approve", now=now, check=check,
                            carry_out=carry_out)
    if decided is None:
        return None
    row, (sends, _) = decided
    return Approval(row["crisis_id"], row["kind"], sends)


def _draft_of(row: asyncpg.Record) -> Draft:
    polygon = _json(row["polygon"])
    return Draft(row["kind"], row["audience"], dict(_json(row["texts"])), tuple(row["fallback"]),
                 tuple((float(c[0]), float(c[1])) for c in polygon) if polygon else None)


async def _send(conn: asyncpg.Connection, row: asyncpg.Record, crisis: asyncpg.Record, *, actor: str,
                now: datetime, publishing: Publishing) -> None:
    draft = _draft_of(row)
    people = await audience(conn, crisis, draft)
    outbox = _commands(row, crisis, draft, people, publishing)
    await enqueue_many(conn, outbox)
    await broadcasts_repository.mark_approved(conn, broadcast_id=row["broadcast_id"], actor=actor, at=now,
                                              people=len(people), messages=len(outbox))
    detail = {"broadcast_id": row["broadcast_id"], "kind": row["kind"], "version": row["version"],
              "people": len(people), "messages": len(outbox)}
    await audit(conn, actor=actor, action="broadcast.approved", target=row["crisis_id"], at=now, detail=detail)
    await repository.insert_timeline(conn, crisis_id=row["crisis_id"], at=now,
                                     event="all_clear" if row["kind"] == "all_clear" else "broadcast", actor=actor,
                                     affected_count=None, detail=detail)
    log.info("broadcast_approved", crisis_id=row["crisis_id"], broadcast_id=row["broadcast_id"],
             people=len(people), messages=len(outbox))


def purpose_of(crisis_id: str, broadcast_id: str, person_id: str) -> str:
    return f"crisis:{crisis_id}:broadcast:{broadcast_id}:{person_id}"


def _commands(row: asyncpg.Record, crisis: asyncpg.Record, draft: Draft, people: Sequence[asyncpg.Record],
              publishing: Publishing) -> list[OutboxRow]:
    """One SMS (with a phone) and one email (with an address) per person, in their language or English where the
    draft marked their language as falling back; ids from the broadcast and the person."""
    resolved = rules.resolve_texts(draft.texts, draft.fallback) if draft.kind == "followup" else {}
    rows: list[OutboxRow] = []
    for person in exercise.only_test_people(crisis["exercise"], people, lambda r: r["person_id"]):
        language = texts.as_language(person["language"])
        if draft.kind == "followup":
            if language in draft.fallback:
                language = "en"
            template, priority = "crisis_followup", "crisis"
            params: dict[str, Any] = {"crisis_title": crisis["title"], "hotline_number": crisis["hotline_number"],
                                      "message": resolved[language]}
        else:
            template, priority = "crisis_closed", "bulk"
            params = {"crisis_title": crisis["title"]}  # the hotline is closed: the all-clear gives none
        purpose = purpose_of(row["crisis_id"], row["broadcast_id"], person["person_id"])
        for channel, address in (("sms", person["phone"]), ("email", person["email"])):
            if not address:
                continue
            notification_id = notification_id_for(purpose, channel, address)
            command = SendNotification(
                notification_id=notification_id, purpose=purpose, channel=channel,  # type: ignore[arg-type]
                recipient=WireRecipient(phone=address if channel == "sms" else None,
                                        email=address if channel == "email" else None,
                                        traveller_id=person["person_id"]),
                language=language, template=template, priority=priority,  # type: ignore[arg-type]
                crisis_id=row["crisis_id"], params=exercise.mark(params, crisis["exercise"]))
            rows.append(prepare(command, source=publishing.source, topic_prefix=publishing.topic_prefix,
                                event_id=f"send:{notification_id}"))
    return rows


# reading ----------------------------------------------------------------------------------------------------------
async def get(*, pool: asyncpg.Pool, broadcast_id: str, now: datetime) -> asyncpg.Record | None:
    async with pool.acquire() as conn, conn.transaction():
        await _expire(conn, now, broadcast_id=broadcast_id)
        return await broadcasts_repository.broadcast(conn, broadcast_id=broadcast_id)


async def plan_of(*, pool: asyncpg.Pool, row: asyncpg.Record, planning: Planning) -> rules.Plan:
    async with pool.acquire() as conn:
        crisis = await _crisis(conn, row["crisis_id"])
        return await _plan(conn, crisis, _draft_of(row), planning)


async def history(*, pool: asyncpg.Pool, broadcast_id: str, crisis_id: str) -> list[asyncpg.Record]:
    return await broadcasts_repository.history(pool, crisis_id=crisis_id, broadcast_id=broadcast_id)


async def listing(*, pool: asyncpg.Pool, crisis_id: str, status: str | None, now: datetime
                  ) -> list[asyncpg.Record] | None:
    async with pool.acquire() as conn, conn.transaction():
        if not await repository.crisis_exists(conn, crisis_id=crisis_id):
            return None
        await _expire(conn, now, crisis_id=crisis_id)
        return await broadcasts_repository.list_broadcasts(conn, crisis_id=crisis_id, status=status)


async def templates(*, pool: asyncpg.Pool, crisis_id: str) -> tuple[dict[str, str], dict[str, str]] | None:
    """The follow-up's pre-filled texts and the all-clear's SMS, per language; None: no such crisis."""
    row = await broadcasts_repository.crisis_title_and_hotline(pool, crisis_id=crisis_id)
    if row is None:
        return None
    return rules.prefill(title=row["title"], hotline=row["hotline_number"]), rules.all_clear_sms(row["title"])
