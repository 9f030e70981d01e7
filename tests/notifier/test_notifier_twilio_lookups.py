"""`TwilioSms.find` and `find_call`, the look-ups after an ambiguous answer, on a stand-in for twilio-python's
listings: which record counts as ours (not known already, recent enough, for a message the same body), and a failed
look-up is Transient."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import aiohttp
import pytest

from services.notifier.adapters.providers import Transient
from services.notifier.adapters.twilio_sms import TwilioSms

SINCE = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


class _Listing:
    def __init__(self, records: list[Any] | Exception, delay: float = 0.0) -> None:
        self.records, self.delay = records, delay
        self.asked: list[dict[str, Any]] = []

    async def list_async(self, **query: Any) -> list[Any]:
        self.asked.append(query)
        await asyncio.sleep(self.delay)
        if isinstance(self.records, Exception):
            raise self.records
        return self.records


def _record(sid: str, created: datetime | None, body: str = "") -> SimpleNamespace:
    return SimpleNamespace(sid=sid, date_created=created, body=body)


@pytest.fixture
async def sms() -> AsyncIterator[TwilioSms]:
    sms = TwilioSms(account_sid="AC" + "0" * 32, auth_token="token", api_base="http://127.0.0.1:9",
                    from_number="+3225010000", timeout=0.5)
    yield sms
    await sms.close()


async def test_find_takes_the_first_recent_message_with_the_body_not_known_already(sms: TwilioSms) -> None:
    messages = _Listing([
        _record("SM1", SINCE, body="other text"),
        _record("SM2", SINCE, body="hello"),  # known already
        _record("SM3", SINCE - timedelta(minutes=5), body="hello"),  # too old
        _record("SM4", (SINCE - timedelta(seconds=30)).replace(tzinfo=None), body="hello"),  # naive: UTC
        _record("SM5", None, body="hello"),
    ])
    sms.client = SimpleNamespace(messages=messages)  # type: ignore[assignment]
    assert await sms.find(to="+32470000001", body="hello", since=SINCE, exclude=frozenset({"SM2"})) == "SM4"
    assert messages.asked == [{"to": "+32470000001", "from_": "+3225010000", "limit": 50, "page_size": 50}]
    assert await sms.find(to="+32470000001", body="hello", since=SINCE, exclude=frozenset({"SM2", "SM4"}),
                          from_number="+3225019999") == "SM5"
    assert messages.asked[-1]["from_"] == "+3225019999"
    assert await sms.find(to="+32470000001", body="bye", since=SINCE) is None


async def test_find_call_takes_the_first_recent_call_not_known_already(sms: TwilioSms) -> None:
    calls = _Listing([
        _record("CA1", SINCE),  # known already
        _record("CA2", SINCE - timedelta(minutes=2)),  # too old
        _record("CA3", SINCE + timedelta(seconds=5)),
    ])
    sms.client = SimpleNamespace(calls=calls)  # type: ignore[assignment]
    assert await sms.find_call(to="+32470000002", from_number="+3225010001", since=SINCE,
                               exclude=frozenset({"CA1"})) == "CA3"
    assert calls.asked == [{"to": "+32470000002", "from_": "+3225010001",
                            "start_time_after": SINCE - timedelta(seconds=60), "limit": 20}]
    assert await sms.find_call(to="+32470000002", from_number="+3225010001", since=SINCE,
                               exclude=frozenset({"CA1", "CA3"})) is None


@pytest.mark.parametrize("listing", [_Listing(aiohttp.ClientConnectionError()), _Listing([], delay=5)],
                         ids=["connection", "timeout"])
async def test_a_failed_look_up_is_transient(sms: TwilioSms, listing: _Listing) -> None:
    sms.client = SimpleNamespace(messages=listing, calls=listing)  # type: ignore[assignment]
    with pytest.raises(Transient, match="lookup failed"):
        await sms.find(to="+32470000003", body="hello", since=SINCE)
    with pytest.raises(Transient, match="lookup failed"):
        await sms.find_call(to="+32470000003", from_number="+3225010000", since=SINCE)
