"""An agent that is handed a record beyond the next expected offset first handles the ones it missed, read from
the real broker (gaps.py): what makes a commit past an unhandled record harmless."""

from __future__ import annotations

from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from services.crisis_center.adapters.gaps import AppliedOffsets, GapFiller, Record, Refetched, handle_in_order
from shared.kafka.producer import make_producer
from tests.crisis_center.conftest import drop_topics
from tests.support import bootstrap, new_topic_prefix


async def test_missed_records_are_handled_first_and_in_order() -> None:
    prefix = await new_topic_prefix()
    topic = f"{prefix}gaps"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap())
    await admin.start()
    await admin.create_topics([NewTopic(topic, 2, 1)])
    await admin.close()
    producer = make_producer(bootstrap(), client_id="gaps-test", linger_ms=0)
    await producer.start()
    gaps = GapFiller(bootstrap())
    try:
        for n in range(6):
            await producer.send_and_wait(topic, f"v{n}".encode(), key=b"k", partition=1)
        handled: list[bytes | None] = []

        async def handle(event: Any) -> None:
            handled.append(event.message.value)

        applied: dict[str, int] = {}

        def event(offset: int) -> Refetched:
            return Refetched(Record(topic, 1, offset, b"k", f"v{offset}".encode()))

        await handle_in_order(event(0), handle, applied, gaps)  # the first record: nothing missed
        await handle_in_order(event(3), handle, applied, gaps)  # 1 and 2 were skipped by the consumer
        await handle_in_order(event(4), handle, applied, gaps)
        assert handled == [b"v0", b"v1", b"v2", b"v3", b"v4"]
        assert applied == {f"{topic}:1": 4}
        # A new agent whose table lost nothing but whose first event is far ahead reads from the beginning.
        handled.clear()
        await handle_in_order(event(5), handle, {}, gaps)
        assert handled == [b"v0", b"v1", b"v2", b"v3", b"v4", b"v5"]
        # A replay below the applied offset is handled again (idempotent handlers) and moves nothing back.
        handled.clear()
        await handle_in_order(event(2), handle, applied, gaps)
        assert handled == [b"v2"] and applied == {f"{topic}:1": 4}
    finally:
        await gaps.stop()
        await producer.stop()
        await drop_topics(prefix)


def test_applied_offsets_are_written_every_n_and_a_fresh_reader_is_behind_but_never_ahead() -> None:
    table: dict[str, int] = {}
    applied = AppliedOffsets(table, every=4)
    writes: list[int] = []
    for offset in range(10):
        applied["t:0"] = offset
        assert applied["t:0"] == offset  # the agent itself always sees the last one
        if table.get("t:0") not in (None, *writes):
            writes.append(table["t:0"])
    assert writes == [3, 7]  # one write per 4 records, not 10
    after_restart = AppliedOffsets(table, every=4)  # a restarted worker: its table came back from the changelog
    assert 9 - 4 < after_restart["t:0"] <= 9
    applied.forget()  # a rebalance: the table knows best
    assert applied["t:0"] == 7
