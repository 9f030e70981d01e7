"""The notifier's use cases as plain async functions; they know nothing of Kafka, HTTP, Twilio or SMTP."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg

from services.notifier.adapters import repository as repo
from services.notifier.domain.commands import is_own_case, status_event_id, template_params
from services.notifier.domain.delivery import DeliveryStatus, Observation
from services.notifier.domain.policy import Channel, Route, dedup_key, normalise_recipient, priority_for, route
from services.notifier.rendering import Renderer, TemplateError
from shared.events.notifications import NotificationStatus, SendNotification, SmsPreference
from shared.kafka.outbox import enqueue
from shared.logging import get_logger
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


async def accept_command(
    conn: asyncpg.Connection, command: SendNotification, *, renderer: Renderer, publisher: Publisher
) -> bool:
    """Store the command as a message to send (rendered now), once per purpose, channel and recipient.

    Returns False for a duplicate. A number that opted out gets `opted_out` at once, unless the message is
    about the person's own case and an e-mail address is known: then it goes by e-mail.
    """
    channel = Channel(command.channel)
    address = command.recipient.email if channel is Channel.EMAIL else command.recipient.phone
    assert address is not None  # the command model guarantees it
    address = normalise_recipient(channel, address)
    own_case = is_own_case(command.template, command.case_reference)
    fallback_email = str(command.recipient.email) if command.recipient.email else None
    # Only a message that could go another way needs the opt-out list now; for the others (alerts, bulk) the
    # dispatcher checks it when it takes the message, which also catches an opt-out that comes in meanwhile.
    opted_out = (channel is Channel.SMS and own_case and fallback_email is not None
                 and await repo.is_opted_out(conn, address))
    decision = route(channel=channel, recipient=address, opted_out=opted_out, own_open_case=own_case,
                     fallback_email=fallback_email)
    status, reason = DeliveryStatus.QUEUED, None
    subject = html = encoding = None
    body, segments = "", None
    params = template_params(
        command.params, officer=command.officer.model_dump() if command.officer else None,
        case_reference=command.case_reference, crisis_id=command.crisis_id,
    )
    if decision.route is Route.OPTED_OUT:
        status, reason = DeliveryStatus.OPTED_OUT, "recipient_opted_out"
    else:
        try:
            rendered = renderer.render(command.template, command.language, params, channel=decision.channel.value)
        except TemplateError as exc:
            status, reason = DeliveryStatus.FAILED, f"template: {exc}"[:500]
        else:
            if decision.channel is Channel.SMS:
                body = rendered.sms
                info = rendered.sms_info
                segments, encoding = info.segments, info.encoding.value
            elif decision.channel is Channel.VOICE:
                body = rendered.voice  # the words said on the call; the dispatcher wraps them in TwiML
            else:
                subject, body, html = rendered.subject, rendered.text, rendered.html
            if decision.channel is not channel:
                reason = "opted_out_sms_sent_by_email"
    new = repo.NewNotification(
        notification_id=command.notification_id,
        dedup_key=dedup_key(command.purpose, channel, address),
        purpose=command.purpose, channel=decision.channel.value,
        recipient=normalise_recipient(decision.channel, decision.recipient),
        language=command.language, template=command.template,
        priority=int(priority_for(command.template, command.priority)),
        case_reference=command.case_reference, crisis_id=command.crisis_id,
        subject=subject, body=body, html=html, segments=segments, encoding=encoding, status=status, reason=reason,
        sender=command.sender,
    )
    if not await repo.insert_notification(conn, new):
        log.info("notification_duplicate", notification_id=command.notification_id)
        return False
    row = repo.Row(new.notification_id, new.channel, status, new.case_reference, new.crisis_id)
    await publisher.status(conn, row, status, reason)
    return True


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
) -> bool | None:
    """Apply what a provider told us (answer or callback), monotonically; None when the message is unknown."""
    row = await repo.lock_row(conn, notification_id=notification_id, provider_id=None if notification_id else
                              provider_id)
    if row is None:
        return None
    moved = await repo.apply_status(conn, row, observation, source=source, provider_id=provider_id,
                                    finish_sending=finish_sending)
    if moved:
        await publisher.status(conn, row, observation.status, observation.reason)
    if observation.status is DeliveryStatus.OPTED_OUT and opt_out_address:
        await repo.add_opt_out(conn, opt_out_address, keyword=None, source="twilio_21610")
    return moved


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
