"""Calls (the welfare check's last step) through the real `twilio` client and the local Twilio server: placed from
the duty line, the question said in the person's language, the key pressed posted to the answer webhook signed
like Twilio, and the call's outcome as the notification's status."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web
from twilio.request_validator import RequestValidator

from services.notifier.dev.smtp_sink import SmtpSink, free_port
from services.notifier.dispatcher import call_twiml
from services.notifier.settings import NotifierSettings
from tests.notifier.conftest import Running, TwilioFake, make_settings, sms_recipient
from tests.support import eventually, unique


@dataclass
class AnswerDesk:
    """Stands for intake's voice webhook: checks Twilio's signature and records what was pressed."""

    url: str = ""
    presses: list[dict[str, str]] = field(default_factory=list)
    forged: int = 0


@pytest.fixture
async def desk() -> AsyncIterator[AnswerDesk]:
    desk = AnswerDesk()
    validator = RequestValidator(os.environ["TWILIO_AUTH_TOKEN"])

    async def answer(request: web.Request) -> web.Response:
        form = {k: str(v) for k, v in (await request.post()).items()}
        if not validator.validate(desk.url, form, request.headers.get("X-Twilio-Signature", "")):
            desk.forged += 1
            return web.Response(status=403)
        desk.presses.append(form)
        return web.Response(text="<Response><Say>Thank you.</Say><Hangup/></Response>", content_type="text/xml")

    app = web.Application()
    app.router.add_post("/twilio/voice/welfare", answer)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    desk.url = f"http://127.0.0.1:{runner.addresses[0][1]}/twilio/voice/welfare"
    yield desk
    await runner.cleanup()


@pytest.fixture
async def settings(schema: str, prefix: str, twilio: TwilioFake, smtp: SmtpSink, desk: AnswerDesk) -> NotifierSettings:
    return make_settings(schema=schema, prefix=prefix, twilio_url=twilio.url, smtp_port=smtp.port,
                         api_port=free_port(), voice_answer_url=desk.url)


async def call(running: Running, phone: str, language: str = "nl") -> Any:
    crisis_id = unique("crisis-")
    return await running.command(purpose=f"crisis:{crisis_id}:welfare:c1:call:p1", channel="voice",
                                 recipient=sms_recipient(phone), language=language, template="welfare_call",
                                 params={"crisis_title": "Aardbeving in Kathmandu", "hotline_number": "+3225011000"},
                                 priority="crisis", crisis_id=crisis_id)


async def final(running: Running, notification_id: str) -> str:
    async def done() -> str | None:
        status = await running.status(notification_id)
        return status if status in ("delivered", "failed") else None

    return str(await eventually(done, timeout=30))


async def test_a_picked_up_call_says_the_question_and_posts_the_key(running: Running, twilio: TwilioFake,
                                                                    desk: AnswerDesk) -> None:
    phone = sms_recipient().phone
    assert phone is not None
    await twilio.configure(numbers={phone: {"keypad": "2"}})
    command = await call(running, phone)
    assert await final(running, command.notification_id) == "delivered"
    [placed] = [c for c in twilio.server.calls.values() if c["to"] == phone]
    assert placed["from"] == running.settings.duty_line_number
    assert placed["_said"] and placed["_said"][0][0] == "nl-NL"
    assert "Druk op 1 als u veilig bent" in placed["_said"][0][1] and "Aardbeving in Kathmandu" in placed["_said"][0][1]
    [press] = desk.presses
    assert (press["Digits"], press["To"], press["CallSid"]) == ("2", phone, placed["sid"])
    assert desk.forged == 0
    assert placed["_answer"].startswith("<Response>"), "the desk's TwiML went back to the call"
    assert await running.statuses(command.notification_id) == ["queued", "delivered"]


async def test_a_call_nobody_picks_up_fails_as_no_answer(running: Running, twilio: TwilioFake,
                                                         desk: AnswerDesk) -> None:
    phone = sms_recipient().phone
    assert phone is not None
    command = await call(running, phone, language="fr")
    assert await final(running, command.notification_id) == "failed"
    row = await running.row(command.notification_id)
    assert row is not None and row["reason"] == "no_answer" and row["channel"] == "voice"
    assert desk.presses == []
    assert len([c for c in twilio.server.calls.values() if c["to"] == phone]) == 1, "called once"


def test_the_call_gathers_one_key_twice_then_hangs_up() -> None:
    twiml = call_twiml("Appuyez sur 1.", language="fr", answer_url="https://intake.example/twilio/voice/welfare")
    assert twiml.count('<Gather action="https://intake.example/twilio/voice/welfare" method="POST" numDigits="1"') \
        == 2
    assert twiml.count('<Say language="fr-FR">Appuyez sur 1.</Say>') == 2 and twiml.endswith("<Hangup /></Response>")
