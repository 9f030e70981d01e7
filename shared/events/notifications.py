"""Topics `notifications.status` (contract, key notification_id) and `notifications.commands` (internal).

`SendNotification` is a command (imperative): intake and crisis_center ask the notifier to send one message.
Its `notification_id` is derived from purpose, channel and recipient (`notification_id_for`), so a sender that
retries produces the same id, and the notifier's unique key on it makes a second send impossible.
"""

from __future__ import annotations

import uuid
from typing import Any, ClassVar, Literal

from pydantic import AwareDatetime, EmailStr, Field, model_validator

from shared.events.common import E164, PERSONAL, Language, WireModel
from shared.events.envelope import EventData

STATUS_TOPIC = "notifications.status"
COMMANDS_TOPIC = "notifications.commands"

NotificationChannel = Literal["sms", "email", "voice"]  # voice (a call) added by issue 17: welfare checks
# throttled, expired, deduplicated added by issue 23 (provider limits): additive, see docs/notifier.md
DeliveryStatus = Literal["queued", "sent", "delivered", "failed", "undeliverable", "opted_out", "throttled", "expired",
                         "deduplicated"]
Priority = Literal["crisis", "case", "bulk"]
_NAMESPACE = uuid.UUID("6f1c2a53-8d0e-4d7b-9a43-3c1f0e5b7a11")


def notification_id_for(purpose: str, channel: str, recipient: str) -> str:
    """The same purpose, channel and recipient always give the same id."""
    return str(uuid.uuid5(_NAMESPACE, f"{purpose}|{channel}|{recipient}"))


class OfficerCard(WireModel):
    """Who handles the case: carried by every message about a case."""

    name: str
    role: str
    phone: str
    email: str


class Recipient(WireModel):
    name: str | None = Field(default=None, json_schema_extra=PERSONAL)
    phone: E164 | None = Field(default=None, json_schema_extra=PERSONAL)
    email: EmailStr | None = Field(default=None, json_schema_extra=PERSONAL)
    traveller_id: str | None = None


class SendNotification(EventData):
    TYPE: ClassVar[str] = "be.diplomatie.notification.send"
    TOPIC: ClassVar[str] = COMMANDS_TOPIC
    KEY_FIELD: ClassVar[str] = "notification_id"

    notification_id: str = Field(min_length=1, max_length=200)
    purpose: str = Field(min_length=1, max_length=300, description="e.g. 'case:BE-2026-000123:ack'")
    channel: NotificationChannel
    recipient: Recipient
    language: Language
    template: str = Field(min_length=1, max_length=100)
    params: dict[str, Any] = Field(default_factory=dict, json_schema_extra=PERSONAL)
    priority: Priority = "bulk"
    case_reference: str | None = None
    crisis_id: str | None = None
    officer: OfficerCard | None = None
    sender: Literal["notifier", "duty_line"] = Field(default="notifier", description=(
        "Which of our numbers an SMS comes from: the notifier's own, or the duty line's, whose replies reach "
        "intake (a welfare question, whose answer comes back by SMS)."))

    @model_validator(mode="after")
    def _address_for_channel(self) -> SendNotification:
        if self.channel in ("sms", "voice") and self.recipient.phone is None:
            raise ValueError(f"{'an sms' if self.channel == 'sms' else 'a call'} needs recipient.phone")
        if self.channel == "email" and self.recipient.email is None:
            raise ValueError("an email needs recipient.email")
        if self.case_reference is None and self.crisis_id is None:
            raise ValueError("a notification belongs to a case_reference or a crisis_id")
        return self


class SmsPreference(EventData):
    """A command: a number answered STOP (or START) to a number of ours that is not the notifier's own sender (the
    duty line, read by intake). The notifier stops (or resumes) non-urgent SMS to it, as for its own inbound STOP."""

    TYPE: ClassVar[str] = "be.diplomatie.notification.sms_preference"
    TOPIC: ClassVar[str] = COMMANDS_TOPIC
    KEY_FIELD: ClassVar[str] = "phone"

    phone: E164 = Field(json_schema_extra=PERSONAL)
    opted_out: bool = Field(description="true: STOP and its siblings; false: START and its siblings")
    keyword: str = Field(min_length=1, max_length=40, description="the word as received, upper case, no accents")
    at: AwareDatetime


class NotificationStatus(EventData):
    TYPE: ClassVar[str] = "be.diplomatie.notification.status"
    TOPIC: ClassVar[str] = STATUS_TOPIC
    KEY_FIELD: ClassVar[str] = "notification_id"

    notification_id: str = Field(min_length=1, max_length=200)
    channel: NotificationChannel
    status: DeliveryStatus
    reason: str | None = None
    at: AwareDatetime
    case_reference: str | None = None
    crisis_id: str | None = None
