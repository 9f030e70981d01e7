"""services/crisis_center/forwarding.py: registrations' commands leave in runs, one record per country, in order;
what cannot be sent is dead-lettered, and what could not even be dead-lettered is kept for the next flush."""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import date
from typing import Any

import pytest

from services.crisis_center.domain.commands import TravellerRemove, TravellersBatch, TravellerUpsert
from services.crisis_center.forwarding import ForwardBuffer


def upsert(n: int, country: str = "TR") -> TravellerUpsert:
    return TravellerUpsert(traveller_id=f"t{n}", country=country, lat=41.0, lon=29.0, tz="Europe/Istanbul",
                           arrival=date(2030, 1, 1), departure=date(2030, 1, 9), language="nl",
                           identifiers=[f"traveller:t{n}"], seq=n)


class Broker:
    """Records sent, their deliveries (each an awaitable), dead letters, and the routing table."""

    def __init__(self, refuse: set[str] | None = None) -> None:
        self.records: list[tuple[str, Any]] = []
        self.dead: list[tuple[str, str]] = []
        self.table: dict[str, str] = {}
        self.refuse = refuse or set()
        self.dead_letters_fail = False
        self.delivery_fails = False
        self.table_at_delivery: dict[str, str] | None = None

    async def send(self, country: str, command: Any) -> Awaitable[None]:
        if country in self.refuse:
            raise RuntimeError("record too large")
        self.records.append((country, command))
        return self._delivered()

    async def _delivered(self) -> None:
        self.table_at_delivery = dict(self.table)
        if self.delivery_fails:
            raise ConnectionError("not delivered")

    async def dead_letter(self, event: Any, reason: str) -> None:
        if self.dead_letters_fail:
            raise ConnectionError("broker unreachable")
        self.dead.append((event, reason))

    def write_country(self, _trigger: Any, traveller_id: str, country: str | None) -> None:
        if country is None:
            self.table.pop(traveller_id, None)
        else:
            self.table[traveller_id] = country

    def buffer(self, **options: Any) -> ForwardBuffer:
        return ForwardBuffer(self.send, self.dead_letter, self.write_country, **options)


async def test_each_countrys_commands_leave_in_order_as_one_record() -> None:
    broker = Broker()
    buffer = broker.buffer(max_commands=4)
    buffer.add("TR", "e1", upsert(1))
    buffer.add("GR", "e2", upsert(2, "GR"))
    buffer.add("TR", "e3", upsert(3))
    assert (buffer.size, buffer.full) == (3, False)
    buffer.add("TR", "e4", TravellerRemove(traveller_id="t1", country="TR", seq=4))
    assert buffer.full
    await buffer.flush()
    assert buffer.size == 0
    assert broker.records == [
        ("TR", TravellersBatch(commands=[upsert(1), upsert(3), TravellerRemove(traveller_id="t1", country="TR",
                                                                                seq=4)])),
        ("GR", upsert(2, "GR")),  # alone: the command itself
    ]
    await buffer.flush()
    assert len(broker.records) == 2  # nothing sent twice


async def test_a_long_run_is_cut_into_records_of_at_most_per_record_commands() -> None:
    broker = Broker()
    buffer = broker.buffer(per_record=3)
    for n in range(7):
        buffer.add("TR", f"e{n}", upsert(n))
    await buffer.flush()
    sizes = [len(c.commands) if isinstance(c, TravellersBatch) else 1 for _, c in broker.records]
    assert sizes == [3, 3, 1]
    sent = [c for _, record in broker.records for c in (record.commands if isinstance(record, TravellersBatch)
                                                          else [record])]
    assert [c.traveller_id for c in sent] == [f"t{n}" for n in range(7)]


async def test_a_record_that_cannot_be_sent_dead_letters_each_of_its_registrations_once() -> None:
    broker = Broker(refuse={"GR"})
    buffer = broker.buffer()
    buffer.add("GR", "move", upsert(1, "GR"))  # a move: the removal in TR and the record in GR, one event
    buffer.add("TR", "move", TravellerRemove(traveller_id="t1", country="TR", seq=1))
    buffer.add("GR", "e2", upsert(2, "GR"))
    buffer.add("GR", "move-again", upsert(1, "GR"))
    await buffer.flush()
    assert [event for event, _ in broker.dead] == ["move", "e2", "move-again"]
    assert "forwarding to crisis.by-country failed: RuntimeError: record too large" in broker.dead[0][1]
    assert [country for country, _ in broker.records] == ["TR"]  # the other country's record still went


async def test_what_could_not_be_dead_lettered_goes_back_in_front_and_leaves_at_the_next_flush() -> None:
    broker = Broker(refuse={"GR"})
    buffer = broker.buffer()
    buffer.add("GR", "e1", upsert(1, "GR"))
    buffer.add("GR", "e2", upsert(2, "GR"))
    broker.dead_letters_fail = True
    with pytest.raises(ConnectionError):  # the commit that asked fails: its offsets are not committed
        await buffer.flush()
    assert buffer.size == 2
    buffer.add("GR", "e3", upsert(3, "GR"))  # came meanwhile: after them
    broker.refuse.clear()
    await buffer.flush()
    [(country, record)] = broker.records
    assert country == "GR" and [c.traveller_id for c in record.commands] == ["t1", "t2", "t3"]
    assert buffer.size == 0


async def test_a_travellers_new_country_is_written_once_its_commands_are_delivered() -> None:
    broker = Broker()
    broker.table["t1"] = "TR"
    buffer = broker.buffer()
    buffer.add("TR", "move", TravellerRemove(traveller_id="t1", country="TR", seq=8))
    buffer.add("GR", "move", upsert(1, "GR"))
    buffer.set_country("t1", "agent-event", "move", "GR")
    buffer.add("TR", "cancel", TravellerRemove(traveller_id="t2", country="TR", seq=9))
    buffer.set_country("t2", "agent-event", "cancel", None)
    broker.table["t2"] = "TR"
    assert buffer.country_of("t1") == (True, "GR") and buffer.country_of("t3") == (False, None)
    await buffer.flush()
    assert broker.table_at_delivery == {"t1": "TR", "t2": "TR"}  # nothing written before the delivery
    assert broker.table == {"t1": "GR"}
    assert buffer.country_of("t1") == (False, None)  # the table answers now


async def test_a_delivery_that_fails_keeps_everything_and_writes_no_country() -> None:
    broker = Broker()
    buffer = broker.buffer()
    buffer.add("GR", "e1", upsert(1, "GR"))
    buffer.set_country("t1", "agent-event", "e1", "GR")
    broker.delivery_fails = True
    with pytest.raises(ConnectionError):
        await buffer.flush()
    assert broker.table == {} and buffer.size == 1 and buffer.country_of("t1") == (True, "GR")
    broker.delivery_fails = False
    await buffer.flush()
    assert broker.table == {"t1": "GR"} and len(broker.records) == 2  # sent again: the engine ignores repeats


async def test_a_dead_lettered_registration_leaves_its_travellers_country_as_it_was() -> None:
    broker = Broker(refuse={"GR"})
    broker.table["t1"] = "TR"
    buffer = broker.buffer()
    buffer.add("TR", "move", TravellerRemove(traveller_id="t1", country="TR", seq=8))
    buffer.add("GR", "move", upsert(1, "GR"))
    buffer.set_country("t1", "agent-event", "move", "GR")
    buffer.add("GR", "e2", upsert(2, "GR"))
    buffer.set_country("t2", "agent-event", "e2", "GR")
    await buffer.flush()
    assert broker.table == {"t1": "TR"} and [event for event, _ in broker.dead] == ["move", "e2"]


async def test_what_came_from_revoked_partitions_is_forgotten_after_a_failed_flush() -> None:
    """The rebalance's commit could not deliver: the lost partitions' registrations will be handled again by their
    new owner, so nothing of theirs may be sent from here later, nor their countries written here."""
    broker = Broker()
    buffer = broker.buffer()
    buffer.add("TR", "lost:1", upsert(1))
    buffer.set_country("t1", "lost:1", "lost:1", "TR")
    buffer.add("TR", "kept:2", upsert(2))
    buffer.set_country("t2", "kept:2", "kept:2", "TR")
    buffer.add("GR", "lost:3", upsert(3, "GR"))
    buffer.set_country("t3", "lost:3", "lost:3", "GR")
    broker.delivery_fails = True
    with pytest.raises(ConnectionError):
        await buffer.flush()
    assert buffer.size == 3
    await buffer.forget(lambda source: source.startswith("lost:"))
    assert buffer.size == 1
    assert buffer.country_of("t1") == (False, None)
    assert buffer.country_of("t2") == (True, "TR")
    broker.delivery_fails = False
    broker.records.clear()
    await buffer.flush()
    assert broker.records == [("TR", upsert(2))]
    assert broker.table == {"t2": "TR"}
