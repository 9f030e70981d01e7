"""An erasure's tombstone on `travellers.registrations` takes the traveller out of the crisis worker's tables
(the Faust agent through `test_context()`, what it forwards on the real broker)."""

from __future__ import annotations

from services.crisis_center.domain.commands import TravellerRemove, TravellerUpsert, decode_command
from services.crisis_center.worker import CrisisWorker
from tests.crisis_center.conftest import registration
from tests.crisis_center.test_agents import agent, raw, worker  # noqa: F401  (the fixture)
from tests.support import consume


async def test_a_tombstone_removes_the_traveller_from_the_tables(worker: CrisisWorker) -> None:  # noqa: F811
    table = worker.app.tables["traveller_country"]
    async with agent(worker, "route_registrations").test_context() as route:
        await route.put(raw(registration(7)), key=b"t7")
        assert table["t7"] == "TR"
        await route.put(None, key=b"t7")
        assert "t7" not in table
    forwarded = await consume(worker.settings.topic("crisis.by-country"), count=2)
    # the registration into TR, then its removal from TR's tables and counts
    assert [r.key for r in forwarded] == [b"TR", b"TR"]
    commands = [decode_command(r.value) for r in forwarded]
    assert isinstance(commands[0], TravellerUpsert)
    assert commands[1] == TravellerRemove(traveller_id="t7", country="TR", seq=1)  # the tombstone follows at offset 1
