from __future__ import annotations

from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import aiosmtplib
import pytest

from services.notifier.dev.smtp_sink import SmtpSink, list_directory


@pytest.fixture
def sink(tmp_path: Path) -> Iterator[SmtpSink]:
    sink = SmtpSink("127.0.0.1", 0, directory=tmp_path)
    sink.start()
    try:
        yield sink
    finally:
        sink.stop()


def _mail(to: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = "noreply@example.be"
    message["To"] = to
    message["Subject"] = "Votre dossier BE-2026-000001"
    message.set_content("Bonjour, texte")
    message.add_alternative("<p>Bonjour, <strong>html</strong></p>", subtype="html")
    return message


async def test_mail_is_kept_with_text_and_html(sink: SmtpSink, tmp_path: Path) -> None:
    await aiosmtplib.send(_mail("traveller@example.org"), hostname="127.0.0.1", port=sink.port)
    mails = sink.handler.find("traveller@example.org")
    assert len(mails) == 1
    assert mails[0].subject == "Votre dossier BE-2026-000001"
    assert "texte" in mails[0].text
    assert "<strong>html</strong>" in mails[0].html
    assert [m["to"] for m in list_directory(tmp_path)] == ["traveller@example.org"]


async def test_refused_recipient(sink: SmtpSink) -> None:
    with pytest.raises(aiosmtplib.SMTPRecipientsRefused):
        await aiosmtplib.send(_mail("nobody@refused.invalid"), hostname="127.0.0.1", port=sink.port)
    assert sink.handler.find() == []
