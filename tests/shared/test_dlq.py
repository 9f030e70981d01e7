"""Issue 19, finding 6: the dead-letter topics keep a month, and `python -m shared.cli dlq list|show|replay` lets a
person see why a record was refused and send it back once the cause is fixed (real broker and database)."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from shared import cli
from shared.events.envelope import CloudEvent, EventData
from shared.events.travellers import TravellerCancelled
from shared.kafka import dlq
from shared.kafka.consumer import EventConsumer, PermanentError
from shared.kafka.producer import publish
from shared.topics import spec_for
from tests.shared.test_kafka_loop import SOURCE
from tests.support import bootstrap, eventually, unique


def test_dead_letters_are_kept_a_month() -> None:
    assert spec_for("welfare.answers.dlq").kafka_config()["retention.ms"] == str(30 * 24 * 3600 * 1000)


async def test_a_dead_letter_is_listed_shown_and_replayed_once_fixed(
        prefix: str, pool: asyncpg.Pool, producer: object, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    fixed = {"yet": False}

    async def handler(event: CloudEvent, data: EventData, conn: asyncpg.Connection | None) -> None:
        assert conn is not None
        if not fixed["yet"]:
            raise PermanentError("the traveller is unknown here")
        await conn.execute("INSERT INTO effects VALUES ($1, $2)", event.id, getattr(data, "traveller_id", None))

    consumer = EventConsumer(name="t-dlq", bootstrap_servers=bootstrap(), group_id=unique("g"),
                             topics=["travellers.registrations"], handler=handler,
                             producer=producer, pool=pool, topic_prefix=prefix)  # type: ignore[arg-type]
    event = await publish(producer, TravellerCancelled(traveller_id="lost-1"), source=SOURCE,  # type: ignore[arg-type]
                          topic_prefix=prefix)
    task = asyncio.create_task(consumer.run())
    try:
        held = await eventually(lambda: _held(prefix))
        assert held == 1
        monkeypatch.setenv("KAFKA_TOPIC_PREFIX", prefix)
        assert await asyncio.to_thread(cli.main, ["dlq", "list"]) == 0
        assert f"       1  {prefix}travellers.registrations.dlq" in capsys.readouterr().out
        assert await asyncio.to_thread(cli.main, ["dlq", "show", "travellers.registrations"]) == 0
        shown = capsys.readouterr().out
        assert "travellers.registrations@" in shown and "key=lost-1" in shown
        assert "PermanentError: the traveller is unknown here" in shown and "t-dlq" in shown

        fixed["yet"] = True
        assert await asyncio.to_thread(cli.main, ["dlq", "replay", "travellers.registrations.dlq"]) == 0
        assert "replayed 1 record(s)" in capsys.readouterr().out
        await eventually(lambda: pool.fetchval("SELECT count(*) FROM effects WHERE event_id = $1", event.id))
    finally:
        await consumer.stop()
        task.cancel()


async def _held(prefix: str) -> int:
    return (await dlq.counts(bootstrap(), prefix)).get(prefix + "travellers.registrations.dlq", 0)
