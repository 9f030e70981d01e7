"""Intake served behind a proxy under a path (`PUBLIC_BASE_URL=https://consular.example.org/intake`): Twilio signs
the full URL it was given, path included, and every TwiML action must keep that path. Before the fix the signature
was checked against the URL without `/intake` (every inbound SMS and voicemail got 403) and actions were
root-relative."""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from twilio.request_validator import RequestValidator

from services.intake.api import create_app
from tests.intake.conftest import make_settings

BASE = "https://consular.example.org/intake"


@pytest.fixture(scope="module")
async def behind_proxy(schema: str, prefix: str) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(make_settings(schema, prefix, public_base_url=BASE))
    # The proxy strips /intake: the app sees /twilio/..., Twilio signed https://consular.example.org/intake/twilio/...
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://intake.internal") as client:
        yield client


def signed(path: str, params: dict[str, str]) -> dict[str, str]:
    return {"X-Twilio-Signature": RequestValidator(os.environ["TWILIO_AUTH_TOKEN"]).compute_signature(
        BASE + path, params)}


@pytest.mark.parametrize(("path", "params"), [
    ("/twilio/sms", {"From": "+212612345678", "Body": "Passport stolen"}),
    ("/twilio/voice", {"From": "+212612345678"}),
    ("/twilio/voice/language", {"Digits": "4"}),
    ("/twilio/voice/menu?lang=en", {"Digits": "2"}),
    ("/twilio/voice/dial?lang=en&attempt=0", {"DialCallStatus": "completed"}),
    ("/twilio/voice/recorded?lang=en", {"From": "+212612345678", "RecordingUrl": "https://api.twilio.com/r/1"}),
])
async def test_every_webhook_accepts_the_signature_of_the_prefixed_url(behind_proxy: httpx.AsyncClient, path: str,
                                                                       params: dict[str, str]) -> None:
    params = {**params, "CallSid": "CA" + uuid.uuid4().hex, "MessageSid": "SM" + uuid.uuid4().hex}
    response = await behind_proxy.post(path, data=params, headers=signed(path, params))
    assert response.status_code == 200, response.text
    without_prefix = {"X-Twilio-Signature": RequestValidator(os.environ["TWILIO_AUTH_TOKEN"]).compute_signature(
        "https://consular.example.org" + path, params)}
    assert (await behind_proxy.post(path, data=params, headers=without_prefix)).status_code == 403


async def test_voice_actions_keep_the_path_prefix(behind_proxy: httpx.AsyncClient) -> None:
    params = {"From": "+212612345678", "CallSid": "CA" + uuid.uuid4().hex}
    twiml = (await behind_proxy.post("/twilio/voice", data=params, headers=signed("/twilio/voice", params))).text
    menu_params = {"Digits": "1"}
    menu = (await behind_proxy.post("/twilio/voice/language", data=menu_params,
                                    headers=signed("/twilio/voice/language", menu_params))).text
    urls = re.findall(r'action="([^"]+)"', twiml + menu) + re.findall(r"<Redirect[^>]*>([^<]+)<", twiml + menu)
    assert urls and all(u.startswith(BASE + "/twilio/voice") for u in urls), urls
