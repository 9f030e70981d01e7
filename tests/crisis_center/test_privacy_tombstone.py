"""An erasure's tombstone on `travellers.registrations` takes the traveller out of the crisis worker's tables: the
registries send the country agent the removal (on the real broker)."""

from __future__ import annotations

from services.crisis_center.adapters.internal_topics import ensure_internal_topics
from services.crisis_center.domain.commands import TravellerRemove, TravellerUpsert
from tests.crisis_center.conftest import Env, quake, registration
from tests.crisis_center.test_registries import registries, sent
from tests.support import eventually


async def test_a_tombstone_removes_the_traveller_from_the_tables(env: Env) -> None:
    await ensure_internal_topics(env.settings)
    await env.send(quake())
    async with registries(env) as running:
        await eventually(running.caught_up)
        await env.send(registration(7))
        await eventually(lambda: running.applied() == 1 and not any(r.changed for r in running.partitions.values()))
        tombstone = await env.producer.send_and_wait(env.topic("travellers.registrations"), None, key=b"t7")
        await sent(env, removals=1)
        assert running.applied() == 0
    commands = await sent(env)
    # the registration into TR, then its removal from TR's tables and counts, at the tombstone's offset
    assert isinstance(commands[0], TravellerUpsert) and commands[0].traveller_id == "t7"
    assert commands[1:] == [TravellerRemove(traveller_id="t7", country="TR", seq=tombstone.offset)]
