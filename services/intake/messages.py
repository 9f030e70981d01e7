"""What is sent about a case (acknowledgement, replies, notices, survey): a letter for the print queue or a command to
the notifier through the outbox, and a line in the case's history recording the text sent; and the notifier's
delivery status of those messages.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import asyncpg

from services.intake.adapters import repository
from services.intake.adapters.outbox_rows import OutboxRow, outbox_row
from services.intake.domain.acknowledgement import AckChannel, Destination
from services.intake.domain.officers import Officer
from services.intake.handlers import UNKNOWN_NAME, IntakeConfig
from shared.events.notifications import (
    NotificationStatus,
    OfficerCard,
    Recipient,
    SendNotification,
    notification_id_for,
    template_params,
)
from shared.kafka.outbox import enqueue_many
from shared.notifications.rendering import default_renderer


@dataclass(frozen=True)
class Outgoing:
    message: dict[str, Any]
    letters: list[dict[str, Any]]
    outbox: list[OutboxRow]


def prepare_message(*, reference: str, purpose: str, template: str, to: Destination, params: dict[str, Any],
                    officer: Officer, recipient_name: str, config: IntakeConfig) -> Outgoing:
    """A letter for the print queue, or a command to the notifier; either way a line in the case's history.
    `params` are the template's (shared/events/notifications.py TEMPLATE_PARAMS) but for the officer's card, added
    here (a template that does not show it drops it). The history's body is the template rendered as the notifier
    renders the command (its SMS text, or its e-mail's text); a letter prints the e-mail's subject and text."""
    card = officer.card().as_dict()
    full_purpose = f"case:{reference}:{purpose}"
    if to.channel is AckChannel.LETTER:
        rendered = default_renderer().render(template, to.language.value,
                                             template_params(template, {"officer": card, **params}), channel="email")
        letter = {"purpose": full_purpose, "language": to.language.value, "address": to.to,
                  "subject": rendered.subject, "body": rendered.text, "officer": card}
        return Outgoing(message={"direction": "out", "channel": "letter", "purpose": purpose, "body": rendered.text,
                                 "officer": card, "status": "queued"}, letters=[letter], outbox=[])
    notification_id = notification_id_for(full_purpose, to.channel.value, to.to)
    name = None if recipient_name == UNKNOWN_NAME else recipient_name
    recipient = Recipient(name=name, phone=to.to if to.channel is AckChannel.SMS else None,
                          email=to.to if to.channel is AckChannel.EMAIL else None)
    channel: Literal["sms", "email"] = "sms" if to.channel is AckChannel.SMS else "email"
    command = SendNotification(
        notification_id=notification_id, purpose=full_purpose, channel=channel, recipient=recipient,
        language=to.language.value, template=template, params={"officer": card, **params}, priority="case",
        case_reference=reference, officer=OfficerCard(**card))
    return Outgoing(message={"direction": "out", "channel": channel, "purpose": purpose,
                             "notification_id": notification_id, "body": as_sent(command), "officer": card,
                             "status": "queued"},
                    letters=[], outbox=[outbox_row(command, source=config.source, topic_prefix=config.topic_prefix)])


def as_sent(command: SendNotification) -> str:
    """The text the notifier sends for `command`: its template, language and params rendered for its channel."""
    return default_renderer().render(command.template, command.language, command.params,
                                     channel=command.channel, html=False).body(command.channel)


async def send_case_message(conn: asyncpg.Connection, *, reference: str, purpose: str, template: str,
                            to: Destination, params: dict[str, Any], officer: Officer, recipient_name: str,
                            config: IntakeConfig) -> str:
    """Queue a message about an existing case (caller's transaction): letter, or command through the outbox.
    Returns the text recorded in the history (what is sent)."""
    outgoing = prepare_message(reference=reference, purpose=purpose, template=template, to=to, params=params,
                               officer=officer, recipient_name=recipient_name, config=config)
    for letter in outgoing.letters:
        await repository.queue_letter(conn, reference=reference, **letter)
    await enqueue_many(conn, outgoing.outbox)
    await repository.add_message(conn, reference=reference, **outgoing.message)
    return str(outgoing.message["body"])


async def notification_status(data: NotificationStatus, conn: asyncpg.Connection) -> None:
    if data.case_reference is None:
        return
    await repository.message_status(conn, notification_id=data.notification_id, status=data.status,
                                    reason=data.reason, at=data.at)
