"""The notifier's use cases as plain async functions; they know nothing of Kafka, HTTP, Twilio or SMTP."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from pydantic_core import to_json

from services.notifier.adapters import repository as repo
from services.notifier.domain import limits
from services.notifier.domain.commands import is_own_case, status_event_id
from services.notifier.domain.delivery import DeliveryStatus, Observation
from services.notifier.domain.policy import (
    Channel,
    Route,
    dedup_key,
    fallback_order,
    next_fallback,
    normalise_recipient,
    priority_for,
    route,
    validity_seconds,
)
from shared.events.notifications import NotificationStatus, SendNotification, SmsPreference, notification_id_for
from shared.kafka.consumer import YIELD_EVERY
from shared.kafka.outbox import OutboxRow, enqueue, enqueue_many, prepare
from shared.logging import get_logger
from shared.notifications.rendering import Renderer, TemplateError
from shared.sms_keywords import Keyword, classify

log = get_logger(__name__)

SOURCE = "/services/notifier"


@dataclass(frozen=True)
class Publisher:
    """Where status events go: the outbox of the same transaction, under the configured topic prefix."""

    topic_prefix: str = ""

    async def status(self, conn: asyncpg.Connection, row: repo.Row, status: DeliveryStatus, reason: str | None,
                     at: datetime | None = None) -> None:
        data = NotificationStatus(
            notification_id=row.notification_id, channel=row.channel,  # type: ignore[arg-type]
            status=status.value, reason=reason, at=at or datetime.now(UTC),  # type: ignore[arg-type]
            case_reference=row.case_reference, crisis_id=row.crisis_id,
        )
        await enqueue(conn, data, source=SOURCE, topic_prefix=self.topic_prefix,
                      event_id=status_event_id(row.notification_id, status.value))

    def prepare(self, row: repo.Row | repo.NewNotification, status: DeliveryStatus, reason: str | None,
                at: datetime | None = None) -> OutboxRow:
        """The outbox row of a status event, for a statement that writes many (`enqueue_many`)."""
        data = NotificationStatus(
            notification_id=row.notification_id, channel=row.channel,  # type: ignore[arg-type]
            status=status.value, reason=reason, at=at or datetime.now(UTC),  # type: ignore[arg-type]
            case_reference=row.case_reference, crisis_id=row.crisis_id,
        )
        return prepare(data, source=SOURCE, topic_prefix=self.topic_prefix,
                       event_id=status_event_id(row.notification_id, status.value))


async def accept_command(
    conn: asyncpg.Connection, command: SendNotification, *, renderer: Renderer, publisher: Publisher,
    now: datetime | None = None,
) -> bool:
    """Store one command (see `accept_commands`); False for a duplicate."""
    return bool(await accept_commands(conn, [command], renderer=renderer, publisher=publisher, now=now))


async def accept_commands(
    conn: asyncpg.Connection, commands: Sequence[SendNotification], *, renderer: Renderer, publisher: Publisher,
    now: datetime | None = None,
) -> list[str]:
    """Store commands as messages to send (rendered now), once per purpose, channel and recipient, in three
    statements whatever their number: the opt-outs that matter, the rows with their first history line, the
    `queued` status events. Returns the ids of the notifications stored (duplicates are left out).

    The outcome is the one of storing them one by one, in order: a command whose id or key was taken by an earlier
    one (in the database or in `commands`) is a duplicate. A number that opted out gets `opted_out` at once, unless
    the message is about the person's own case and an e-mail address is known: then it goes by e-mail.
    Each message is worth sending until `now` plus its purpose's validity (`policy.VALIDITY_SECONDS`).
    """
    now = now or datetime.now(UTC)
    # Only a message that could go another way needs the opt-out list now; for the others (alerts, bulk) the
    # dispatcher checks it when it takes the message, which also catches an opt-out that comes in meanwhile.
    could_fall_back = {_address(c) for c in commands
                       if c.channel == Channel.SMS.value and is_own_case(c.template, c.case_reference)
                       and c.recipient.email}
    opted_out = await repo.opted_out_among(conn, sorted(could_fall_back)) if could_fall_back else set()
    rendered: dict[tuple[str, ...], _Texts] = {}  # a fan-out says the same words to thousands: render them once
    rows: list[repo.NewNotification] = []
    taken_ids: set[str] = set()
    taken_keys: set[str] = set()
    for index, command in enumerate(commands, 1):
        if index % YIELD_EVERY == 0:  # the paced senders share this event loop: let them keep their slots
            await asyncio.sleep(0)
        new = _new_notification(command, renderer=renderer, opted_out=opted_out, rendered=rendered, now=now)
        if new.notification_id in taken_ids or new.dedup_key in taken_keys:
            log.info("notification_duplicate", notification_id=command.notification_id)
            continue
        taken_ids.add(new.notification_id)
        taken_keys.add(new.dedup_key)
        rows.append(new)
    stored = await repo.insert_notifications(conn, rows)
    kept = [new for new in rows if new.notification_id in stored]
    if len(kept) < len(rows):
        log.info("notification_duplicates", count=len(rows) - len(kept))
    await enqueue_many(conn, [publisher.prepare(new, new.status, new.reason, at=now) for new in kept])
    return [new.notification_id for new in kept]


@dataclass(frozen=True)
class _Texts:
    subject: str | None
    body: str
    html: str | None
    segments: int | None
    encoding: str | None
    failure: str | None = None


def _address(command: SendNotification) -> str:
    channel = Channel(command.channel)
    address = command.recipient.email if channel is Channel.EMAIL else command.recipient.phone
    assert address is not None  # the command model guarantees it
    return normalise_recipient(channel, address)


def _new_notification(command: SendNotification, *, renderer: Renderer, opted_out: set[str],
                      rendered: dict[tuple[str, ...], _Texts], now: datetime) -> repo.NewNotification:
    """The row one command becomes (pure but for the renderer); `rendered` caches texts by what they depend on."""
    channel = Channel(command.channel)
    address = _address(command)
    own_case = is_own_case(command.template, command.case_reference)
    fallback_email = str(command.recipient.email) if command.recipient.email else None
    could_fall_back = channel is Channel.SMS and own_case and fallback_email is not None
    decision = route(channel=channel, recipient=address, opted_out=could_fall_back and address in opted_out,
                     own_open_case=own_case, fallback_email=fallback_email)
    status, reason = DeliveryStatus.QUEUED, None
    texts = _Texts(None, "", None, None, None)
    params: dict[str, Any] | None = None
    if decision.route is Route.OPTED_OUT:
        status, reason = DeliveryStatus.OPTED_OUT, "recipient_opted_out"
    else:
        # The command's model checked the params against the template's (shared/events/notifications.py)
        params_for_fallback = dict(command.params)
        # Equal JSON, equal parameters (they came as JSON): the same words. Keys in another order only miss.
        key = (command.template, command.language, decision.channel.value,
               to_json(params_for_fallback, fallback=str).decode())
        if key not in rendered:
            rendered[key] = _render(renderer, command.template, command.language, params_for_fallback,
                                    decision.channel)
        texts = rendered[key]
        if fallback_order(command.template):
            params = params_for_fallback
        if texts.failure is not None:
            status, reason = DeliveryStatus.FAILED, texts.failure
        elif decision.channel is not channel:
            reason = "opted_out_sms_sent_by_email"
    return repo.NewNotification(
        notification_id=command.notification_id,
        dedup_key=dedup_key(command.purpose, channel, address),
        purpose=command.purpose, channel=decision.channel.value,
        recipient=normalise_recipient(decision.channel, decision.recipient),
        language=command.language, template=command.template,
        priority=int(priority_for(command.template, command.priority)),
        case_reference=command.case_reference, crisis_id=command.crisis_id,
        subject=texts.subject, body=texts.body, html=texts.html, segments=texts.segments, encoding=texts.encoding,
        status=status, reason=reason, sender=command.sender,
        **_fallback_fields(command, params),
        expires_at=None if (seconds := validity_seconds(command.template)) is None else now + timedelta(
            seconds=seconds),
    )


def _fallback_fields(command: SendNotification, params: dict[str, Any] | None) -> dict[str, Any]:
    """The person's other addresses (and the parameters to render for them), kept only when the purpose has a
    fallback that could use them (data minimisation)."""
    order = fallback_order(command.template)
    if not order or params is None:
        return {}
    email = str(command.recipient.email) if command.recipient.email and Channel.EMAIL in order else None
    phone = command.recipient.phone if command.recipient.phone and Channel.VOICE in order else None
    if email is None and phone is None:
        return {}
    return {"alt_email": normalise_recipient(Channel.EMAIL, email) if email else None,
            "alt_phone": normalise_recipient(Channel.VOICE, phone) if phone else None,
            "params": params if email else None}  # a call reads the SMS's own text: no parameters needed


def _render(renderer: Renderer, template: str, language: str, params: dict[str, object], channel: Channel) -> _Texts:
    try:
        rendered = renderer.render(template, language, params, channel=channel.value)
    except TemplateError as exc:
        return _Texts(None, "", None, None, None, failure=f"template: {exc}"[:500])
    if channel is Channel.SMS:
        info = rendered.sms_info
        return _Texts(None, rendered.sms, None, info.segments, info.encoding.value)
    if channel is Channel.VOICE:
        return _Texts(None, rendered.voice, None, None, None)  # the words said; the dispatcher wraps them in TwiML
    return _Texts(rendered.subject, rendered.text, rendered.html, None, None)


async def record_observation(
    conn: asyncpg.Connection,
    observation: Observation,
    *,
    publisher: Publisher,
    source: str,
    notification_id: str | None = None,
    provider_id: str | None = None,
    finish_sending: bool = False,
    opt_out_address: str | None = None,
    renderer: Renderer | None = None,
) -> bool | None:
    """Apply what a provider told us (answer or callback), monotonically; None when the message is unknown.
    A message that ends `failed` or `undeliverable` is followed by its fallback (`fall_back`)."""
    row = await repo.lock_row(conn, notification_id=notification_id, provider_id=None if notification_id else
                              provider_id)
    if row is None:
        return None
    moved = await repo.apply_status(conn, row, observation, source=source, provider_id=provider_id,
                                    finish_sending=finish_sending)
    if moved:
        await publisher.status(conn, row, observation.status, observation.reason)
        if observation.status in (DeliveryStatus.FAILED, DeliveryStatus.UNDELIVERABLE):
            await fall_back(conn, row.notification_id, publisher=publisher, renderer=renderer or _renderer())
    if observation.status is DeliveryStatus.OPTED_OUT and opt_out_address:
        await repo.add_opt_out(conn, opt_out_address, keyword=None, source="twilio_21610")
    return moved


@functools.cache
def _renderer() -> Renderer:
    return Renderer()


async def fall_back(conn: asyncpg.Connection, notification_id: str, *, publisher: Publisher,
                    renderer: Renderer) -> str | None:
    """The same message by the next channel of its purpose's order (`policy.FALLBACK_ORDER`) after it failed on
    its own; returns the new notification's id, None when there is no (new) one.

    Once per channel, whatever happens: the new message's id and key derive from its purpose, channel and address
    (as a sender's would), so a redelivered callback, a restart or a sender asking for the same thing finds it taken.
    It inherits the original's validity: past it, it ends `expired` unsent."""
    facts = await repo.fallback_facts(conn, notification_id)
    if facts is None:
        return None
    template, failed = facts["template"], Channel(facts["channel"])
    email, phone = facts["alt_email"], facts["alt_phone"]
    if phone and await repo.is_opted_out(conn, phone):  # STOP: no call either
        phone = None
    channel = next_fallback(template, failed, email=email, phone=phone, reason=facts["reason"])
    if channel is None:
        return None
    address = email if channel is Channel.EMAIL else phone
    assert address is not None
    params = facts["params"]
    if channel is Channel.EMAIL:
        texts = _render(renderer, template, facts["language"], dict(params or {}), Channel.EMAIL)
    elif failed is Channel.SMS:  # a call reads the SMS's own words
        texts = _Texts(None, facts["body"], None, None, None)
    elif params is not None:
        sms = _render(renderer, template, facts["language"], dict(params), Channel.SMS)
        texts = _Texts(None, sms.body, None, None, None, failure=sms.failure)
    else:
        return None
    status, reason = DeliveryStatus.QUEUED, f"fallback_after_{failed.value}_{facts['reason'] or 'failed'}"[:200]
    if texts.failure is not None:
        status, reason = DeliveryStatus.FAILED, texts.failure
    new = repo.NewNotification(
        notification_id=notification_id_for(facts["purpose"], channel.value, address),
        dedup_key=dedup_key(facts["purpose"], channel, address), purpose=facts["purpose"], channel=channel.value,
        recipient=normalise_recipient(channel, address), language=facts["language"], template=template,
        priority=facts["priority"], case_reference=facts["case_reference"], crisis_id=facts["crisis_id"],
        subject=texts.subject, body=texts.body, html=texts.html, segments=None, encoding=None, status=status,
        reason=reason, sender=facts["sender"], alt_email=email, alt_phone=phone, params=params,
        expires_at=facts["expires_at"], fallback_of=notification_id,
    )
    if not await repo.insert_notifications(conn, [new]):
        log.info("fallback_exists", notification_id=notification_id, channel=channel.value)
        return None
    await enqueue_many(conn, [publisher.prepare(
        repo.Row(new.notification_id, new.channel, status, new.case_reference, new.crisis_id), status, reason)])
    log.info("fallback_queued", notification_id=notification_id, fallback_id=new.notification_id,
             channel=channel.value)
    return new.notification_id


async def take_due(conn: asyncpg.Connection, *, sender_id: str, limit: int, now: datetime, per_number_hour: int,
                   publisher: Publisher) -> list[repo.Claimed]:
    """Reserve up to `limit` due messages, most urgent first, under the carriers' limits (`domain/limits.py`): an
    SMS beyond the number's hourly share waits (`throttled`), the same text to the same number within the hour is
    not sent again (`deduplicated`), a message past its validity is not sent at all (`expired`). One transaction;
    senders take turns (the limit holds across them)."""
    async with conn.transaction():
        await repo.lock_claims(conn)
        rows = await repo.due(conn, limit, now)
        if not rows:
            return []
        candidates = [limits.Candidate(r["notification_id"], r["channel"], r["recipient"], r["body"],
                                       r["expires_at"] if r["status"] in ("queued", "throttled") else None,
                                       r["opted_out"]) for r in rows]
        sms_numbers = sorted({c.recipient for c in candidates if c.channel == "sms"})
        recent = [limits.RecentSms(r["notification_id"], r["recipient"], r["body"], r["sent_at"], r["status"])
                  for r in await repo.recent_sms(conn, sms_numbers, now - limits.HOUR)]
        verdicts = limits.plan(candidates, recent, now=now, limit=per_number_hour)
        take: list[int] = []
        held: list[tuple[int, datetime]] = []
        ended: list[tuple[int, str, str]] = []
        for r in rows:
            verdict = verdicts[r["notification_id"]]
            if verdict.verdict is limits.Verdict.SEND:
                take.append(r["id"])
            elif verdict.verdict is limits.Verdict.HOLD:
                assert verdict.until is not None
                held.append((r["id"], verdict.until))
            elif verdict.verdict is limits.Verdict.EXPIRE:
                ended.append((r["id"], DeliveryStatus.EXPIRED.value, "validity_passed"))
            elif r["status"] in ("queued", "throttled"):
                ended.append((r["id"], DeliveryStatus.DEDUPLICATED.value, "same_text_within_hour"))
            else:  # attempted already (a retry): the provider may hold it, so it is followed up, never ended here
                take.append(r["id"])
        by_id = {r["id"]: r for r in rows}
        events = []
        await repo.hold(conn, held)
        throttled = await repo.mark_throttled(conn, [h[0] for h in held])
        for item_id, _ in held:
            r = by_id[item_id]
            if r["notification_id"] in throttled:
                events.append(publisher.prepare(_row(r, "sms"), DeliveryStatus.THROTTLED, "per_number_limit"))
        await repo.end_unsent(conn, ended)
        for item_id, status, reason in ended:
            events.append(publisher.prepare(_row(by_id[item_id], by_id[item_id]["channel"]), DeliveryStatus(status),
                                            reason))
        await enqueue_many(conn, events)
        if held or ended:
            log.info("carrier_limits_applied", held=len(held), throttled=len(throttled),
                     expired=sum(1 for e in ended if e[1] == "expired"),
                     deduplicated=sum(1 for e in ended if e[1] == "deduplicated"))
        taken = set(take)
        stamp = [r["id"] for r in rows if r["id"] in taken and r["channel"] == "sms" and not r["opted_out"]]
        return await repo.reserve(conn, sender_id, take, now, stamp=stamp)


def _row(record: asyncpg.Record, channel: str) -> repo.Row:
    return repo.Row(record["notification_id"], channel, DeliveryStatus(record["status"]), record["case_reference"],
                    record["crisis_id"])


async def sms_preference(conn: asyncpg.Connection, command: SmsPreference) -> None:
    """STOP or START received on another of our numbers (intake's duty line): the same effect as on ours."""
    address = normalise_recipient(Channel.SMS, command.phone)
    if command.opted_out:
        await repo.add_opt_out(conn, address, keyword="opt_out", source="duty_line")
    else:
        await repo.remove_opt_out(conn, address)


async def inbound_sms(conn: asyncpg.Connection, *, sender: str, body: str) -> Keyword | None:
    """An SMS from a person: STOP and its siblings mark the number, START and its siblings unmark it."""
    keyword = classify(body)
    address = normalise_recipient(Channel.SMS, sender)
    if keyword is Keyword.OPT_OUT:
        await repo.add_opt_out(conn, address, keyword="opt_out", source="inbound_sms")
    elif keyword is Keyword.OPT_IN:
        await repo.remove_opt_out(conn, address)
    return keyword
