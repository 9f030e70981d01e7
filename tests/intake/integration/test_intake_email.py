"""The consular inbox: mail sent with a real SMTP client (aiosmtplib) to the worker's receiver opens a case, or
joins the case it quotes, or the sender's open case; duplicates and other mailboxes are refused."""

from __future__ import annotations

import uuid
from email.message import EmailMessage

import aiosmtplib
import asyncpg
import pytest

from services.intake.settings import Settings
from services.intake.worker import Worker
from tests.intake.conftest import make_settings
from tests.support import eventually, free_port

INBOX = "consular@diplomatie.example"




@pytest.fixture(scope="module")
def settings(schema: str, prefix: str) -> Settings:
    """The module's settings: the worker (conftest's `worker`) also runs the inbox's SMTP receiver."""
    return make_settings(schema, prefix, inbound_smtp_port=free_port(), inbound_email_address=INBOX)


@pytest.fixture(scope="module")
def inbox(worker: Worker, settings: Settings) -> Settings:
    return settings


async def send(settings: Settings, *, sender: str, subject: str, body: str, name: str = "Marie Courrier",
               message_id: str | None = None, to: str = INBOX) -> None:
    message = EmailMessage()
    message["From"] = f"{name} <{sender}>"
    message["To"] = to
    message["Subject"] = subject
    message["Message-ID"] = message_id or f"<{uuid.uuid4().hex}@example.org>"
    message.set_content(body)
    await aiosmtplib.send(message, hostname="127.0.0.1", port=settings.inbound_smtp_port)


async def cases_of(pool: asyncpg.Pool, sender: str) -> list[asyncpg.Record]:
    return list(await pool.fetch("SELECT reference, kind, channel, language, reporter FROM reports"
                                 " WHERE reporter->>'email' = $1 ORDER BY received_at", sender))


async def test_a_new_mail_opens_a_case_and_is_acknowledged(inbox: Settings, pool: asyncpg.Pool) -> None:
    sender = f"marie.{uuid.uuid4().hex[:6]}@example.org"
    await send(inbox, sender=sender, subject="Passeport volé", body="Mon passeport a été volé à Lisbonne, aide svp")
    found = await eventually(lambda: cases_of(pool, sender))
    case = found[0]
    assert case["kind"] == "lost_document" and case["channel"] == "email" and case["language"] == "fr"
    assert case["reporter"]["full_name"] == "Marie Courrier"
    ack = await pool.fetchval("SELECT count(*) FROM messages WHERE reference = $1 AND direction = 'out'"
                              " AND channel = 'email' AND purpose = 'acknowledgement'", case["reference"])
    assert ack == 1


async def test_a_mail_quoting_a_reference_joins_that_case_and_others_join_the_senders_case(
        inbox: Settings, pool: asyncpg.Pool) -> None:
    first, relative = f"a.{uuid.uuid4().hex[:6]}@example.org", f"b.{uuid.uuid4().hex[:6]}@example.org"
    await send(inbox, sender=first, subject="Arrested", body="My son was arrested in Bangkok")
    reference = (await eventually(lambda: cases_of(pool, first)))[0]["reference"]
    message_id = f"<{uuid.uuid4().hex}@example.org>"
    await send(inbox, sender=relative, subject=f"Re: {reference}", body="I am his sister.", message_id=message_id)
    await send(inbox, sender=relative, subject=f"Re: {reference}", body="I am his sister.", message_id=message_id)
    await send(inbox, sender=first, subject="Any news?", body="Please call me.")

    async def inbound() -> list[str] | None:
        rows = await pool.fetch("SELECT body FROM messages WHERE reference = $1 AND direction = 'in' ORDER BY id",
                                reference)
        return [r["body"] for r in rows] if len(rows) >= 3 else None

    bodies = await eventually(inbound)
    assert len(bodies) == 3  # the first mail, the sister's once (a duplicate Message-ID), the follow-up
    assert "I am his sister." in bodies[1] and "Please call me." in bodies[2]
    assert await cases_of(pool, relative) == []  # no case of her own


async def test_mail_to_another_mailbox_is_refused(inbox: Settings) -> None:
    with pytest.raises(aiosmtplib.SMTPRecipientsRefused):
        await send(inbox, sender="x@example.org", subject="hi", body="hi", to="someone.else@diplomatie.example")
