"""The per-number rates are the notifier's, not each replica's: live senders share them (dispatcher._share_rates).
Two replicas each pacing to the full SMS_RATE_PER_SECOND sent twice the rate the provider allows a number."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from services.notifier.dispatcher import Dispatcher, RateLimit
from services.notifier.handlers import Publisher
from services.notifier.settings import NotifierSettings
from tests.support import new_pool


def dispatcher(pool: Any, settings: NotifierSettings, sender_id: str) -> Dispatcher:
    return Dispatcher(pool=pool, settings=settings, publisher=Publisher(), sms=None, email=None, sender_id=sender_id)


def paced_rate(limit: RateLimit) -> float:
    assert limit.pacer is not None
    return limit.pacer.rate_per_second / RateLimit.MARGIN


def test_a_new_rate_applies_from_the_next_slot_and_no_limit_stays_none() -> None:
    limit = RateLimit(100)
    assert limit.pacer is not None
    assert limit.pacer.reserve(0.0) == 0.0
    limit.set_rate(50)
    assert limit.pacer.reserve(0.0) == pytest.approx(1 / (100 * RateLimit.MARGIN))  # the slot taken at 100/s
    assert limit.pacer.reserve(0.0) == pytest.approx(1 / (100 * RateLimit.MARGIN) + 1 / (50 * RateLimit.MARGIN))
    unlimited = RateLimit(0)
    unlimited.set_rate(25)
    assert unlimited.pacer is None


async def test_live_senders_share_each_numbers_rate_and_the_last_one_takes_it_whole(schema: str) -> None:
    settings = NotifierSettings(database_schema=schema, sms_rate_per_second=120, email_rate_per_second=30)
    pool = await new_pool(schema)
    first, second = dispatcher(pool, settings, "a"), dispatcher(pool, settings, "b")
    try:
        await first.start()
        number = first.limiter("+32470000001")
        assert paced_rate(number) == pytest.approx(120)
        await second.start()  # sees both at its first heartbeat
        assert second.senders_sharing == 2
        assert paced_rate(second.limiter("+32470000001")) == pytest.approx(60)
        assert paced_rate(second.limiter("email")) == pytest.approx(15)
        async with pool.acquire() as conn:
            await first._beat(conn)  # its next heartbeat
        assert paced_rate(number) == pytest.approx(60)  # a limiter made before is paced anew
        assert paced_rate(first.limiter("+32470000002")) == pytest.approx(60)
        await second.stop(grace=0)  # forgets its sender row
        async with pool.acquire() as conn:
            await first._beat(conn)
        assert first.senders_sharing == 1
        assert paced_rate(number) == pytest.approx(120)
    finally:
        await first.stop(grace=0)
        await second.stop(grace=0)
        await pool.close()


async def test_a_sender_silent_past_its_own_fencing_no_longer_takes_a_share(schema: str) -> None:
    """A sender stops sending once its heartbeat is dead_after/3 late: one heard from longer ago counts for none."""
    settings = NotifierSettings(database_schema=schema, sms_rate_per_second=100)
    pool = await new_pool(schema)
    alive = dispatcher(pool, settings, "alive")
    try:
        window = settings.dead_after_seconds / 3 + settings.heartbeat_seconds
        await pool.execute("INSERT INTO senders (sender_id, heartbeat_at) VALUES"
                           " ('recent', now() - make_interval(secs => $1)),"
                           " ('silent', now() - make_interval(secs => $2))", window - 1, window + 1)
        await alive.start()
        assert alive.senders_sharing == 2  # itself and 'recent'
        assert paced_rate(alive.limiter("+32470000001")) == pytest.approx(50)
    finally:
        await alive.stop(grace=0)
        await pool.close()


async def test_a_sender_joining_others_waits_a_heartbeat_before_its_first_paced_slot(schema: str) -> None:
    """The others pace to shares without it until their next heartbeat: a newcomer sending at once would add a
    share above the number's rate meanwhile. Alone, a sender's first slot is at once."""
    settings = NotifierSettings(database_schema=schema, sms_rate_per_second=100, heartbeat_seconds=2.0)
    pool = await new_pool(schema)
    alone, joining = dispatcher(pool, settings, "a"), dispatcher(pool, settings, "b")
    try:
        await alone.start()
        first = alone.limiter("+32470000001").pacer
        assert first is not None
        assert first.reserve(asyncio.get_running_loop().time()) == 0.0
        await joining.start()
        pacer = joining.limiter("+32470000001").pacer
        assert pacer is not None
        wait = pacer.reserve(asyncio.get_running_loop().time())
        assert 1.0 < wait <= settings.heartbeat_seconds
        email = joining.limiter("email").pacer  # every limiter made after the start waits the same
        assert email is not None
        assert email.reserve(asyncio.get_running_loop().time()) > 1.0
    finally:
        await alone.stop(grace=0)
        await joining.stop(grace=0)
        await pool.close()
