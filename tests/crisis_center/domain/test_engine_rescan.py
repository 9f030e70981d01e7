"""An incident over a crowd: the rescan goes a slice at a time, each slice a command of its own (issue 26)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from services.crisis_center.domain import engine as engine_module
from services.crisis_center.domain.commands import (
    Command,
    IncidentClose,
    RescanSlice,
    Tick,
    decode_command,
    encode_command,
)
from tests.crisis_center.domain.test_engine import NOW, POLICY, activate, engine, incident, traveller

SLICE = 4


@pytest.fixture(autouse=True)
def small_slices(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine_module, "RESCAN_SLICE", SLICE)


def handle(eng: engine_module.CountryEngine, command: Any) -> list[engine_module.Effect]:
    return eng.handle(decode_command(encode_command(command)), now=NOW, policy=POLICY, partition=0)


def slices(effects: list[engine_module.Effect]) -> list[RescanSlice]:
    return [e.command for e in effects if isinstance(e, engine_module.Continue)]


def drain(eng: engine_module.CountryEngine,
          effects: list[engine_module.Effect]) -> tuple[list[engine_module.Effect], int]:
    """Handle the continuations as the agent would (each through the wire format); every effect, and how many."""
    pending: list[Command] = list(slices(effects))
    seen, count = list(effects), 0
    while pending:
        more = handle(eng, pending.pop(0))
        count += 1
        seen += more
        pending += slices(more)
    return seen, count


def test_a_crowd_is_counted_slice_by_slice_and_everyone_is_messaged_once() -> None:
    eng, _ = engine()
    for n in range(10):
        handle(eng, traveller(n))
    first = handle(eng, incident())
    assert eng.affected("inc-1").count == SLICE  # only the first slice in the incident's own event
    [nxt] = slices(first)
    assert nxt.generation == 1 and nxt.after == "t:t3"  # keys in order: t0..t3 handled
    act = activate(eng, first)
    assert act.count == SLICE
    rest, handled = drain(eng, first)
    assert handled == 2  # 10 travellers, 4 a slice
    assert eng.affected("inc-1").count == 10
    assert [e.count for e in rest if isinstance(e, engine_module.CountChanged)] == [8, 10]
    messaged = [r.traveller_id for e in rest if isinstance(e, engine_module.Notify) for r in e.recipients]
    assert sorted(messaged) == [f"t{n}" for n in range(4, 10)]  # the first four got the activation message
    assert not eng.rescanning("inc-1")


def test_a_slice_of_an_outdated_area_does_nothing() -> None:
    eng, _ = engine()
    for n in range(10):
        handle(eng, traveller(n))
    first = handle(eng, incident())
    elsewhere = {"country": "TR", "circle": {"lat": 39.0, "lon": 35.0, "radius_km": 5}}
    moved = handle(eng, incident(area=elsewhere))  # nobody there: the first slice of generation 2 empties it
    assert eng.affected("inc-1").count == 0
    stale = handle(eng, slices(first)[0])
    assert eng.affected("inc-1").count == 0 and not slices(stale)
    assert not any(isinstance(e, engine_module.Activate) for e in stale)
    _, handled = drain(eng, moved)
    assert handled == 2 and eng.affected("inc-1").count == 0


def test_a_slice_resumes_after_the_cache_is_lost_and_a_closed_incident_stops_its_slices() -> None:
    eng, stores = engine()
    for n in range(10):
        handle(eng, traveller(n))
    first = handle(eng, incident())
    eng.forget_caches()  # a rebalance: the list of keys is rebuilt from the tables, from the key after `after`
    second = handle(eng, slices(first)[0])
    assert eng.affected("inc-1").count == 8
    handle(eng, IncidentClose(incident_id="inc-1"))
    assert handle(eng, slices(second)[0]) == []
    assert all("inc-1" not in t["incidents"] for t in stores["travellers"].values())


def test_a_tick_leaves_a_rescan_under_way_to_its_slices() -> None:
    eng, stores = engine()
    for n in range(10):
        handle(eng, traveller(n))
    first = handle(eng, incident())
    handle(eng, Tick(at=NOW))
    assert eng.affected("inc-1").count == SLICE  # the tick did not do the remaining work in one go
    drain(eng, first)
    assert sum("inc-1" in t["incidents"] for t in stores["travellers"].values()) == 10


def test_a_tick_rewrites_the_whole_map_only_now_and_then() -> None:
    eng, _ = engine()
    for n in range(3):
        handle(eng, traveller(n))
    act = activate(eng, handle(eng, incident()))
    assert act.count == 3

    def full_rewrites(at: Any) -> int:
        return sum(1 for e in handle(eng, Tick(at=at)) if isinstance(e, engine_module.PeopleChanged) and e.replace)

    assert full_rewrites(NOW) == 1  # the first tick after the caches were built
    assert full_rewrites(NOW + timedelta(minutes=1)) == 0
    assert full_rewrites(NOW + engine_module.MAP_RESYNC_EVERY + timedelta(minutes=1)) == 1
    eng.forget_caches()  # a rebalance: the map may have drifted while another worker held the partition
    assert full_rewrites(NOW + engine_module.MAP_RESYNC_EVERY + timedelta(minutes=2)) == 1


def test_a_sweep_finds_the_one_whose_message_was_never_confirmed() -> None:
    eng, _ = engine()
    for n in range(3):
        handle(eng, traveller(n))
    activate(eng, handle(eng, incident()))
    joined = handle(eng, traveller(3))
    [notify] = [e for e in joined if isinstance(e, engine_module.Notify)]
    assert [r.traveller_id for r in notify.recipients] == ["t3"]  # never confirmed: the write failed
    swept = [r.traveller_id for e in handle(eng, Tick(at=NOW)) if isinstance(e, engine_module.Notify)
             for r in e.recipients]
    assert swept == ["t3"]
    eng.notified("inc-1", notify.recipients)
    assert [e for e in handle(eng, Tick(at=NOW + timedelta(seconds=30))) if isinstance(e, engine_module.Notify)] == []
    eng.forget_caches()  # rebuilt from the tables: the confirmed ones stay confirmed
    assert [e for e in handle(eng, Tick(at=NOW + timedelta(seconds=60))) if isinstance(e, engine_module.Notify)] == []


def test_a_rescan_walks_the_partition_and_counts_only_the_incident_s_country() -> None:
    eng, stores = engine()
    for n in range(12):  # the same partition holds Greeks too: keys interleave, slices skip them
        handle(eng, traveller(n, country="TR" if n % 3 else "GR"))
    first = handle(eng, incident())
    _, handled = drain(eng, first)
    assert handled == 2  # 8 Turks: 4 in the incident's own event, 4 in the next, then the last Greek key
    assert eng.affected("inc-1").count == 8
    assert all(t["incidents"] == [] for t in stores["travellers"].values() if t["country"] == "GR")
