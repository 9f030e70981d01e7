"""The notifier's worker sends an SMS and an e-mail carrying a traveller's and an officer's details through the local
Twilio server and SMTP sink: its logs name none of them, and no secret."""

from __future__ import annotations

from collections.abc import Iterator
from io import StringIO

import pytest

from shared.events.notifications import OfficerCard, Recipient
from tests.notifier.conftest import (  # noqa: F401 - fixtures of the notifier's tests, reused
    Running,
    api,
    prefix,
    producer,
    running,
    schema,
    settings,
    smtp,
    twilio,
)
from tests.support import eventually, unique
from tests.support_logs import captured_logs, leaks, secret_values

OFFICER = OfficerCard(name="Griet Vanhoutteghem", role="Consular officer", phone="+3225018999",
                      email="griet.vanhoutteghem@example.be")
TRAVELLER = Recipient(phone="+32478123987", email="jozefien.claeys@example.org")


@pytest.fixture
def logs() -> Iterator[StringIO]:
    with captured_logs("notifier") as buffer:
        yield buffer


async def test_notifier_logs_name_nobody(logs: StringIO, running: Running) -> None:  # noqa: F811 - the fixture
    reference = f"BE-2026-{unique('')[:6].translate(str.maketrans('abcdef', '123456'))}"
    ids = []
    for channel in ("sms", "email"):
        command = await running.command(purpose=f"case:{reference}:ack", recipient=TRAVELLER, channel=channel,
                                        language="nl", template="case_acknowledgement",
                                        params={"reference": reference, "officer": OFFICER.model_dump(),
                                                "reply_due_by": "2026-12-12"}, priority="case",
                                        case_reference=reference, officer=OFFICER)
        ids.append(command.notification_id)
    for notification_id in ids:
        await eventually(lambda n=notification_id: _sent(running, n), timeout=60)
    text = logs.getvalue()
    assert text.strip(), "the worker logged (the capture works)"
    personal = [str(TRAVELLER.phone), str(TRAVELLER.email), OFFICER.name, OFFICER.email, "Vanhoutteghem", "Claeys"]
    assert leaks(text, personal) == [], "personal data in the notifier's logs"
    assert leaks(text, secret_values(running.settings)) == [], "a secret in the notifier's logs"


async def _sent(env: Running, notification_id: str) -> bool:
    return await env.status(notification_id) in {"sent", "delivered"}
