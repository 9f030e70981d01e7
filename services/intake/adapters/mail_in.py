"""The consular inbox: an SMTP receiver (aiosmtpd, on the worker's own event loop) that hands each message to
`inbound.inbound_email`. In production the ministry's mail relay forwards the inbox to it; locally, anything that
speaks SMTP can write to it (`INBOUND_SMTP_PORT`)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import parseaddr
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session

from shared.logging import get_logger

log = get_logger(__name__)

#: (sender address, display name, subject, text, Message-ID) -> handled
Deliver = Callable[[str, str | None, str, str, str | None], Awaitable[Any]]
MAX_BYTES = 2_000_000


def text_of(message: EmailMessage) -> str:
    """The plain text of a message (its text/plain part, else its HTML with the tags dropped)."""
    part = message.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    content = part.get_content()
    if part.get_content_subtype() == "html":
        content = re.sub(r"<[^>]+>", " ", content)
    return str(content).strip()


class InboxHandler:
    def __init__(self, deliver: Deliver, *, inbox: str) -> None:
        self._deliver = deliver
        self._inbox = inbox.lower()

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope, address: str,
                          rcpt_options: list[str]) -> str:
        if address.lower() != self._inbox:
            return "550 5.1.1 no such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or envelope.content
        if not isinstance(raw, bytes) or len(raw) > MAX_BYTES:
            return "552 5.3.4 message too big"
        message = message_from_bytes(raw, policy=policy.default)
        assert isinstance(message, EmailMessage)
        name, address = parseaddr(str(message.get("From", "")))
        sender = address or str(envelope.mail_from or "")
        if "@" not in sender:
            return "550 5.1.7 no sender address"
        try:
            await self._deliver(sender, name or None, str(message.get("Subject", "")), text_of(message),
                                str(message.get("Message-ID") or "") or None)
        except Exception as exc:  # a temporary failure: the relay keeps the message and tries again
            log.warning("inbound_email_failed", error=type(exc).__name__)
            return "451 4.3.0 try again later"
        return "250 Message accepted"


async def start_inbox(deliver: Deliver, *, host: str, port: int, inbox: str) -> asyncio.Server:
    handler = InboxHandler(deliver, inbox=inbox)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SMTP(handler, data_size_limit=MAX_BYTES, enable_SMTPUTF8=True),
                                      host=host, port=port)
    log.info("inbox_listening", port=port)
    return server
