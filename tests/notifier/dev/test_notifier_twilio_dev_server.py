"""The local Twilio server, driven by the real twilio library (its async HTTP client)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web
from twilio.base.exceptions import TwilioRestException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from services.notifier.dev.twilio_server import ServerConfig, build_app
from tests.notifier.conftest import TwilioFake
from tests.support import serve_stand_in

SID = "AC" + "1" * 32
TOKEN = "test-token"


@dataclass
class Receiver:
    """A status-callback endpoint that records what arrives and whether the signature held."""

    url: str = ""
    calls: list[dict[str, str]] = field(default_factory=list)
    valid: list[bool] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle(self, request: web.Request) -> web.Response:
        form = {k: str(v) for k, v in (await request.post()).items()}
        ok = RequestValidator(TOKEN).validate(self.url, form, request.headers.get("X-Twilio-Signature", ""))
        self.calls.append(form)
        self.valid.append(ok)
        self.arrived.set()
        return web.Response(status=204 if ok else 403)

    async def wait_for(self, count: int) -> None:
        while len(self.calls) < count:
            self.arrived.clear()
            await asyncio.wait_for(self.arrived.wait(), 10)


@dataclass
class Stack(TwilioFake):
    """The stand-in (`url`, `server`, `http`, `configure`: the notifier tests' TwilioFake), a status-callback
    receiver, and twilio-python pointed at the stand-in."""

    receiver: Receiver
    client: Client


@asynccontextmanager
async def _client(base: str, token: str = TOKEN) -> AsyncIterator[Client]:
    """twilio-python on its async HTTP client, pointed at the stand-in as the notifier points it at TWILIO_API_BASE."""
    http_client = AsyncTwilioHttpClient(timeout=5)
    client = Client(SID, token, http_client=http_client)
    client.api.base_url = base
    try:
        yield client
    finally:
        await http_client.close()


@pytest.fixture
async def stack() -> AsyncIterator[Stack]:
    app, server = build_app(ServerConfig(account_sid=SID, auth_token=TOKEN, callback_delay_seconds=0))
    receiver = Receiver()
    rapp = web.Application()
    rapp.router.add_post("/twilio/status", receiver.handle)
    async with serve_stand_in(app) as (base, http), serve_stand_in(rapp) as (receiver_base, _):
        receiver.url = f"{receiver_base}/twilio/status"
        async with _client(base) as client:
            yield Stack(base, server, http, receiver, client)


async def _send(stack: Stack, to: str, body: str = "Hello", callback: bool = True) -> Any:
    return await stack.client.messages.create_async(
        to=to, from_="+3225010000", body=body, status_callback=stack.receiver.url if callback else None
    )


async def test_send_fetch_and_signed_callbacks(stack: Stack) -> None:
    message = await _send(stack, "+32470000001", "Réponse au plus tard le 12 décembre")
    assert message.sid.startswith("SM") and len(message.sid) == 34
    assert message.status == "queued"
    assert message.to == "+32470000001"
    assert message.num_segments == "1"
    await stack.receiver.wait_for(2)
    assert [c["MessageStatus"] for c in stack.receiver.calls] == ["sent", "delivered"]
    assert all(stack.receiver.valid)
    assert all(c["MessageSid"] == message.sid for c in stack.receiver.calls)
    fetched = await stack.client.messages(message.sid).fetch_async()
    assert fetched.status == "delivered"
    assert fetched.body == "Réponse au plus tard le 12 décembre"
    async with stack.http.get(f"{stack.url}/_dev/messages", params={"to": "+32470000001"}) as resp:
        listing = await resp.json()
    assert listing["count"] == 1
    assert listing["messages"][0]["sid"] == message.sid


async def test_list_by_recipient_for_reconciliation(stack: Stack) -> None:
    first = await _send(stack, "+32470000002", "one", callback=False)
    await _send(stack, "+32470000003", "other", callback=False)
    found = await stack.client.messages.list_async(to="+32470000002", limit=20)
    assert [m.sid for m in found] == [first.sid]


async def test_wrong_credentials_are_refused(stack: Stack) -> None:
    async with _client(stack.url, "wrong") as client:
        with pytest.raises(TwilioRestException) as caught:
            await client.messages.create_async(to="+32470000001", from_="+3225010000", body="x")
    assert caught.value.status == 401
    assert caught.value.code == 20003


@pytest.mark.parametrize(("to", "code"), [("+99921211001", 21211), ("+99921610001", 21610), ("not-a-number", 21211)])
async def test_rest_errors_come_as_twilio_errors(stack: Stack, to: str, code: int) -> None:
    with pytest.raises(TwilioRestException) as caught:
        await _send(stack, to)
    assert caught.value.status == 400
    assert caught.value.code == code


@pytest.mark.parametrize(("code", "final"), [(30003, "undelivered"), (30005, "undelivered"), (30001, "failed")])
async def test_delivery_failures_come_in_the_callback(stack: Stack, code: int, final: str) -> None:
    number = "+32470000009"
    await stack.configure(numbers={number: {"code": code}})
    message = await _send(stack, number)
    assert message.status == "queued"
    expected = 1 if final == "failed" else 2
    await stack.receiver.wait_for(expected)
    last = stack.receiver.calls[-1]
    assert last["MessageStatus"] == final
    assert last["ErrorCode"] == str(code)
    fetched = await stack.client.messages(message.sid).fetch_async()
    assert fetched.error_code == code


async def test_429_for_a_number_then_it_goes_through(stack: Stack) -> None:
    number = "+32470000010"
    await stack.configure(numbers={number: {"http_status": 429, "times": 2}})
    for _ in range(2):
        with pytest.raises(TwilioRestException) as caught:
            await _send(stack, number, callback=False)
        assert caught.value.status == 429
    message = await _send(stack, number, callback=False)
    assert message.status == "queued"


async def test_burst_of_429(stack: Stack) -> None:
    await stack.configure(burst_429=1)
    with pytest.raises(TwilioRestException) as caught:
        await _send(stack, "+32470000011", callback=False)
    assert caught.value.status == 429
    assert (await _send(stack, "+32470000011", callback=False)).status == "queued"


async def test_slow_answer_times_out_but_the_message_exists(stack: Stack) -> None:
    number = "+32470000012"
    await stack.configure(numbers={number: {"delay_seconds": 3}})
    create = stack.client.messages.create_async(to=number, from_="+3225010000", body="ambiguous")
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(create, 0.3)
    found = await stack.client.messages.list_async(to=number, limit=5)
    assert len(found) == 1 and found[0].body == "ambiguous"


async def test_reversed_callbacks(stack: Stack) -> None:
    number = "+32470000013"
    await stack.configure(numbers={number: {"reverse_callbacks": True}})
    await _send(stack, number)
    await stack.receiver.wait_for(2)
    assert [c["MessageStatus"] for c in stack.receiver.calls] == ["delivered", "sent"]
    assert all(stack.receiver.valid)


@pytest.mark.parametrize(("code", "statuses"), [(30001, ["failed"]), (30003, ["sent", "undelivered"])])
async def test_a_number_told_to_fail_ends_failed_or_undelivered_by_the_callback(stack: Stack, code: int,
                                                                                statuses: list[str]) -> None:
    """Issue 23's fallback tests make an SMS end this way: accepted first, then the final status callback
    (`failed` never left Twilio: no `sent` before it)."""
    to = f"+3247000{code}"
    await stack.configure(numbers={to: {"code": code}})
    message = await _send(stack, to)
    assert message.status == "queued"
    await stack.receiver.wait_for(len(statuses))
    assert [c["MessageStatus"] for c in stack.receiver.calls] == statuses
    assert stack.receiver.calls[-1]["ErrorCode"] == str(code)


async def test_validity_period_is_kept_and_checked(stack: Stack) -> None:
    message = await stack.client.messages.create_async(to="+32470000009", from_="+3225010000", body="x",
                                                       validity_period=14400)
    assert stack.server.messages[message.sid]["_validity_period"] == 14400
    with pytest.raises(TwilioRestException) as caught:
        await stack.client.messages.create_async(to="+32470000009", from_="+3225010000", body="x",
                                                 validity_period=36001)
    assert (caught.value.status, caught.value.code) == (400, 21624)


async def test_a_number_told_to_fail_refuses_calls_that_many_times_then_the_call_is_placed(stack: Stack) -> None:
    """The Calls resource shares the Messages resource's switches: a number's `http_status` for `times` requests,
    then the call is created and can be fetched by its sid (an unknown sid: Twilio's 404)."""
    number = "+32470000014"
    await stack.configure(numbers={number: {"http_status": 503, "times": 2}})
    for _ in range(2):
        with pytest.raises(TwilioRestException) as caught:
            await stack.client.calls.create_async(to=number, from_="+3225010000", twiml="<Response/>")
        assert (caught.value.status, caught.value.code) == (503, 20500)
    call = await stack.client.calls.create_async(to=number, from_="+3225010000", twiml="<Response/>")
    assert call.sid.startswith("CA") and call.status == "queued"
    assert (await stack.client.calls(call.sid).fetch_async()).to == number
    with pytest.raises(TwilioRestException) as caught:
        await stack.client.calls("CA" + "0" * 32).fetch_async()
    assert (caught.value.status, caught.value.code) == (404, 20404)
    assert stack.server.stats["throttled"] == 2
    assert stack.server.stats["requests"] == 3 and stack.server.stats["created"] == 1


async def test_an_outage_or_wrong_credentials_refuse_calls_as_they_do_messages(stack: Stack) -> None:
    async with _client(stack.url, "wrong") as client:
        with pytest.raises(TwilioRestException) as caught:
            await client.calls.create_async(to="+32470000015", from_="+3225010000", twiml="<Response/>")
        assert (caught.value.status, caught.value.code) == (401, 20003)
        with pytest.raises(TwilioRestException) as caught:
            await client.calls("CA" + "0" * 32).fetch_async()
        assert (caught.value.status, caught.value.code) == (401, 20003)
    await stack.configure(outage={"seconds": 60, "status": 503})
    with pytest.raises(TwilioRestException) as caught:
        await stack.client.calls.create_async(to="+32470000015", from_="+3225010000", twiml="<Response/>")
    assert (caught.value.status, caught.value.code) == (503, 20503)
    assert stack.server.stats["outage_refused"] == 1 and stack.server.stats["requests"] == 2
    assert stack.server.calls == {}
