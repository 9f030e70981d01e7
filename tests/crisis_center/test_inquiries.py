"""Families' inquiries on the real broker and database: the welfare desk keeps the latest state of each inquiry from
`families.inquiries` (an older event arriving late changes nothing, a redelivery is counted once, a tombstone
deletes, garbage is dead-lettered), the welfare counts of a crisis show them, and closing the crisis forgets them
(the timeline keeps the counts) without a late event bringing them back."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

from services.crisis_center import inquiries
from services.crisis_center.welfare_desk import WelfareDesk
from shared.events.families import InquiryState, InquiryUpdated
from shared.kafka.producer import publish
from tests.crisis_center.conftest import Clock, Env, new_crisis
from tests.crisis_center.test_welfare import COORDINATOR
from tests.support import consume, eventually

SOURCE = "/tests/intake"


@pytest.fixture
async def started(env: Env, clock: Clock) -> AsyncIterator[WelfareDesk]:
    desk = WelfareDesk(env.settings, clock=clock, pool=env.pool)
    await desk.start()
    try:
        yield desk
    finally:
        await desk.stop()


async def sought_counts(client: httpx.AsyncClient, crisis_id: str) -> dict[str, int]:
    response = await client.get(f"/v1/crises/{crisis_id}/welfare", headers=COORDINATOR)
    assert response.status_code == 200, response.text
    counted = response.json()
    return {name: counted[name] for name in inquiries.SOUGHT}


class Intake:
    """Publishes inquiry states as intake does, each at `minutes` after the test's clock; counts the events sent."""

    def __init__(self, env: Env, clock: Clock) -> None:
        self.env, self.clock, self.sent = env, clock, 0

    async def state(self, sought_id: str, crisis_id: str | None, state: InquiryState, minutes: int, *,
                    event_id: str | None = None) -> None:
        data = InquiryUpdated(sought_id=sought_id, crisis_id=crisis_id, state=state,
                              at=self.clock() + timedelta(minutes=minutes))
        await publish(self.env.producer, data, source=SOURCE, topic_prefix=self.env.settings.kafka_topic_prefix,
                      event_id=event_id)
        self.sent += 1

    async def tombstone(self, sought_id: str) -> None:
        await self.env.producer.send_and_wait(self.env.topic("families.inquiries"), None, key=sought_id.encode())

    async def all_handled(self, distinct: int) -> bool:
        return bool(await self.env.pool.fetchval(
            "SELECT count(*) FROM processed_events WHERE consumer = 'crisis-inquiries'") == distinct)


async def test_inquiries_on_kafka_are_counted_by_their_latest_state(client: httpx.AsyncClient, env: Env,
                                                                     clock: Clock, started: WelfareDesk) -> None:
    crisis_id = await new_crisis(env, clock)
    other = await new_crisis(env, clock)
    intake = Intake(env, clock)
    assert await sought_counts(client, crisis_id) == {"sought": 0, "sought_matched": 0, "sought_safe": 0}

    for minutes, state in ((0, "sought"), (5, "matched"), (9, "safe")):  # found, then answered safe
        await intake.state("s1", crisis_id, state, minutes)  # type: ignore[arg-type]
    await intake.state("s2", crisis_id, "matched", 10)
    await intake.state("s2", crisis_id, "sought", 3)  # older, arriving late: s2 stays matched
    for _ in range(2):  # redelivered: once
        await intake.state("s3", crisis_id, "sought", 1, event_id="s3-sought")
    await intake.state("s4", crisis_id, "sought", 0)
    await intake.state("s4", crisis_id, "closed", 20)  # the inquiry ended: not counted any more
    await intake.state("s5", other, "safe", 2)  # another crisis
    await intake.state("s6", None, "matched", 2)  # no crisis
    await intake.state("s7", crisis_id, "matched", 2)
    await intake.tombstone("s7")  # gone from intake (erased): the row goes
    await env.producer.send_and_wait(env.topic("families.inquiries"), b"{not json", key=b"s8")

    async def settled() -> bool:
        gone = await env.pool.fetchval("SELECT count(*) FROM inquiries WHERE sought_id = 's7'") == 0
        return gone and await intake.all_handled(intake.sent - 1)

    await eventually(settled)
    assert await sought_counts(client, crisis_id) == {"sought": 3, "sought_matched": 2, "sought_safe": 1}
    assert await sought_counts(client, other) == {"sought": 1, "sought_matched": 1, "sought_safe": 1}
    rows = {r["sought_id"]: (r["crisis_id"], r["state"]) for r in await env.pool.fetch("SELECT * FROM inquiries")}
    assert rows == {"s1": (crisis_id, "safe"), "s2": (crisis_id, "matched"), "s3": (crisis_id, "sought"),
                    "s4": (crisis_id, "closed"), "s5": (other, "safe"), "s6": (None, "matched")}
    dead = await consume(env.topic("families.inquiries.dlq"), count=1)
    assert dead and dead[0].value == b"{not json"

    # Closing forgets the crisis's inquiries with its other welfare rows; the timeline keeps the counts.
    assert (await client.post(f"/v1/crises/{crisis_id}/close", headers=COORDINATOR)).status_code == 200
    closed: dict[str, Any] = await env.pool.fetchval(
        "SELECT detail FROM crisis_timeline WHERE crisis_id = $1 AND event = 'closed'", crisis_id)
    assert {k: closed["welfare"][k] for k in inquiries.SOUGHT} == {"sought": 3, "sought_matched": 2,
                                                                   "sought_safe": 1}
    assert await sought_counts(client, crisis_id) == {"sought": 0, "sought_matched": 0, "sought_safe": 0}
    # A late event of the closed crisis brings nothing back; one moving an inquiry there takes it from its crisis.
    await intake.state("s3", crisis_id, "matched", 30)
    await intake.state("s5", crisis_id, "matched", 30)
    await eventually(lambda: intake.all_handled(intake.sent - 1))
    assert await env.pool.fetchval("SELECT count(*) FROM inquiries WHERE crisis_id = $1", crisis_id) == 0
    assert await sought_counts(client, crisis_id) == {"sought": 0, "sought_matched": 0, "sought_safe": 0}
    assert await sought_counts(client, other) == {"sought": 0, "sought_matched": 0, "sought_safe": 0}
    assert set(await env.pool.fetchval("SELECT array_agg(sought_id) FROM inquiries")) == {"s6"}


async def test_a_batch_keeps_the_latest_state_whatever_the_order(env: Env, clock: Clock) -> None:
    crisis_id = await new_crisis(env, clock)

    def at(minutes: int, state: InquiryState, sought_id: str = "s1") -> InquiryUpdated:
        return InquiryUpdated(sought_id=sought_id, crisis_id=crisis_id, state=state,
                              at=clock() + timedelta(minutes=minutes))

    async with env.pool.acquire() as conn, conn.transaction():
        assert await inquiries.record_inquiries([at(5, "safe"), at(1, "sought"), at(3, "matched", "s2")], conn) == 2
        assert await inquiries.record_inquiries([at(4, "matched"), at(2, "sought", "s2")], conn) == 0, "older"
        assert await inquiries.record_inquiries([at(5, "safe")], conn) == 1, "the same again: written again, the same"
        assert await inquiries.counts_in(conn, crisis_id) == {"sought": 2, "sought_matched": 2, "sought_safe": 1}
        await inquiries.forget_inquiry(conn, "s1")
        await inquiries.forget_inquiry(conn, "s1")  # a tombstone again: nothing
        assert await inquiries.counts_in(conn, crisis_id) == {"sought": 1, "sought_matched": 1, "sought_safe": 0}
