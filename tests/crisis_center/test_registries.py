"""The registries on the real broker (issue 20): what they send to crisis.by-country, across restarts and
between two processes of one group (`adapters/registries.py`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

from aiokafka import ConsumerRecord
from aiokafka.errors import KafkaTimeoutError

from services.crisis_center.adapters.internal_topics import ensure_internal_topics
from services.crisis_center.adapters.registries import Registries
from services.crisis_center.adapters.registry_snapshots import Snapshots
from services.crisis_center.domain.commands import (
    TravellerRemove,
    TravellersBatch,
    TravellerUpsert,
    decode_command,
)
from services.crisis_center.domain.registry import Stay
from shared.events.incidents import IncidentClosed
from shared.events.travellers import TravellerCancelled
from tests.crisis_center.conftest import Env, quake, registration
from tests.support import consume, eventually

ANKARA = (39.93, 32.86)  # outside the quake's circle around Istanbul


@asynccontextmanager
async def registries(env: Env) -> AsyncIterator[Registries]:
    running = Registries(env.settings)
    await running.start()
    try:
        yield running
    finally:
        await running.stop()


def unpack(record: ConsumerRecord[bytes, bytes]) -> list[TravellerUpsert | TravellerRemove]:
    command = decode_command(record.value)
    if isinstance(command, TravellersBatch):
        return list(command.commands)
    assert isinstance(command, TravellerUpsert | TravellerRemove)
    return [command]


async def sent(env: Env, *, removals: int | None = None,
               timeout: float = 3.0) -> list[TravellerUpsert | TravellerRemove]:
    """The traveller commands on crisis.by-country (runs unpacked): all of them within `timeout`, or (to wait for
    them) those of the records that carry removals, once there are `removals` such records."""
    if removals is None:
        records = await consume(env.topic("crisis.by-country"), count=10**6, timeout=timeout)
    else:
        records = await consume(env.topic("crisis.by-country"), count=removals, timeout=20,
                                predicate=lambda r: any(isinstance(c, TravellerRemove) for c in unpack(r)))
    return [command for record in records for command in unpack(record)]


async def test_only_travellers_in_an_open_area_are_sent_on_and_a_later_incident_scans_the_rest(env: Env) -> None:
    await ensure_internal_topics(env.settings)
    await env.send(quake())
    await env.send(registration(1))
    await env.send(registration(2, lat=ANKARA[0], lon=ANKARA[1]))
    running = Registries(env.settings)
    assert not running.ready()  # not started: nothing assigned yet, the worker is not ready
    async with registries(env) as running:
        await eventually(lambda: running.caught_up() and running.applied() == 2)
        assert running.ready()
        ankara = {"lat": ANKARA[0], "lon": ANKARA[1], "radius_km": 30}
        await env.send(quake("inc-2", area={"country": "TR", "circle": ankara}))
        await eventually(lambda: sum("t2" in r.held for r in running.partitions.values()) == 1)
    commands = await sent(env)
    assert [(c.traveller_id, c.country) for c in commands if isinstance(c, TravellerUpsert)] == [
        ("t1", "TR"), ("t2", "TR")]


async def test_a_traveller_sent_on_under_a_closed_incident_is_still_removed_after_a_restart(env: Env) -> None:
    """Which countries' tables may hold a traveller is kept on the held topic: a registry that starts afresh,
    after the incident closed, still removes a cancelled traveller there (its areas alone would not)."""
    await ensure_internal_topics(env.settings)
    await env.send(quake())
    await env.send(registration(1))
    async with registries(env) as first:
        await eventually(lambda: first.caught_up() and any("t1" in r.held for r in first.partitions.values()))
    await env.send(IncidentClosed(incident_id="inc-1"))
    async with registries(env) as second:
        await eventually(second.caught_up)
        await env.send(TravellerCancelled(traveller_id="t1"))
        commands = await sent(env, removals=1)
        assert not any("t1" in r.held for r in second.partitions.values())
    assert [(c.traveller_id, c.country) for c in commands if isinstance(c, TravellerRemove)] == [("t1", "TR")]


async def test_two_processes_share_the_partitions_and_each_traveller_is_sent_on(env: Env) -> None:
    """A second registry joins the group: partitions move, the one that gains them reads them from the beginning,
    and every traveller inside the area reaches the country agent (a registration cancelled before never)."""
    await ensure_internal_topics(env.settings)
    await env.send(quake())
    for n in range(30):
        await env.send(registration(n))
    await env.send(TravellerCancelled(traveller_id="t0"))
    async with registries(env) as first:
        await eventually(lambda: first.caught_up() and first.applied() == 29)
        async with registries(env) as second:
            await eventually(lambda: len(first.partitions) + len(second.partitions) == 6
                             and len(first.partitions) > 0 and len(second.partitions) > 0)
            await eventually(lambda: first.caught_up() and second.caught_up()
                             and first.applied() + second.applied() == 29)
            for n in range(30, 40):
                await env.send(registration(n))
            await eventually(lambda: first.applied() + second.applied() == 39)
            await eventually(lambda: sum(len(r.held) for x in (first, second) for r in x.partitions.values()) == 39)
    commands = await sent(env)
    upserted = {c.traveller_id for c in commands if isinstance(c, TravellerUpsert)}
    assert upserted == {f"t{n}" for n in range(1, 40)}


async def test_a_restart_reads_each_partition_from_its_snapshot(env: Env) -> None:
    """A stopped registry leaves a snapshot per partition; the next one starts from it (a traveller put only in
    the snapshot is there) and reads the rest of the partition after it. One that cannot be read is ignored."""
    await ensure_internal_topics(env.settings)
    await env.send(quake())
    for n in range(6):
        await env.send(registration(n))
    async with registries(env) as first:
        await eventually(lambda: first.caught_up() and first.applied() == 6)
        partition = next(p for p, r in first.partitions.items() if "t0" in r.travellers)
    snapshots = Snapshots(Path(env.settings.faust_data_dir) / env.settings.faust_app_id / "registry")
    topic = env.topic("travellers.registrations")
    saved = snapshots.load(topic, partition)
    assert saved is not None and "t0" in saved[1]
    offset, travellers, delivered = saved
    assert delivered == {t: stay.seq for t, stay in travellers.items()}  # all inside the quake's circle: all sent
    ghost = replace(travellers["t0"], country="BE")  # only in the snapshot: proof that it was read
    await snapshots.save(topic, partition, offset, {**travellers, "ghost": ghost}, delivered)
    other = next(p for p in range(6) if p != partition)
    snapshots.path(topic, other).write_bytes(b"not a snapshot")
    await env.send(registration(6))
    async with registries(env) as second:
        await eventually(lambda: second.caught_up() and second.applied() == 8)
        assert "ghost" in second.partitions[partition].travellers
        await eventually(lambda: second.sent_on("t6") == {"TR"} and not second._pending)
    assert snapshots.load(topic, other) is not None  # written again at the stop
    # What the first had sent on and the snapshot says was delivered is not sent again (t6 is new); the partition
    # whose snapshot could not be read is read again from its beginning, and its travellers sent again.
    upserted = [c.traveller_id for c in await sent(env) if isinstance(c, TravellerUpsert)]
    assert sorted(set(upserted)) == [f"t{n}" for n in range(7)]
    assert all(upserted.count(t) == 1 for t in travellers) and upserted.count("t6") == 1


async def test_a_snapshot_ahead_of_its_topic_is_ignored(env: Env) -> None:
    """The topic was recreated (offsets from 0 again): the snapshot describes another topic's records."""
    await ensure_internal_topics(env.settings)
    await env.send(registration(1))
    snapshots = Snapshots(Path(env.settings.faust_data_dir) / env.settings.faust_app_id / "registry")
    topic = env.topic("travellers.registrations")
    for partition in range(6):
        await snapshots.save(topic, partition, 10**6, {"ghost": Stay("BE", None, None, date(2030, 1, 1),
                                                                     date(2030, 1, 2), None, "g@example.org", "fr",
                                                                     0)})
    async with registries(env) as running:
        await eventually(lambda: running.caught_up() and running.applied() == 1)
        assert not any("ghost" in r.travellers for r in running.partitions.values())


async def test_an_incident_whose_handling_fails_is_read_again(env: Env) -> None:
    """The incident is read once the registries hold partitions; asking the broker for their ends fails the first
    time (a broker away): the incident is read again, and its travellers are still sent on."""
    await ensure_internal_topics(env.settings)
    await env.send(registration(1))
    async with registries(env) as running:
        await eventually(lambda: running.caught_up() and running.applied() == 1)
        real_end_offsets = running._consumer.end_offsets
        failures: list[int] = []

        async def end_offsets_failing_once(partitions: list[Any]) -> dict[Any, int]:
            if not failures:
                failures.append(1)
                raise KafkaTimeoutError("the broker is away")
            return await real_end_offsets(partitions)

        running._consumer.end_offsets = end_offsets_failing_once  # type: ignore[method-assign]
        await env.send(quake())
        await eventually(lambda: any("t1" in r.held for r in running.partitions.values()), timeout=10)
        assert failures == [1] and running.holding() == 0
    commands = await sent(env)
    assert [(c.traveller_id, c.country) for c in commands if isinstance(c, TravellerUpsert)] == [("t1", "TR")]
