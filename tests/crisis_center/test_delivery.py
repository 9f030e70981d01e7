"""The seek that follows a rebalance (delivery.py, gap 3): done once the buffers were cleared, skipped when another
rebalance has begun or the worker stops. The restart-in-a-burst test in test_worker_e2e shows it on the broker."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, cast

import pytest

from services.crisis_center.delivery import seek_again_after_resume


@dataclass
class Consumer:
    seeks: int = 0
    fails: bool = False

    async def perform_seek(self) -> None:
        if self.fails:
            raise OSError("broker gone")
        self.seeks += 1


@dataclass
class App:
    consumer_generation_id: int = 3
    rebalancing: bool = False
    should_stop: bool = False
    consumer: Consumer = field(default_factory=Consumer)


async def test_seeks_once_when_the_rebalance_it_ended_is_still_the_current_one() -> None:
    app = App()
    await seek_again_after_resume(cast(Any, app), 3)
    assert app.consumer.seeks == 1


@pytest.mark.parametrize("change", [{"consumer_generation_id": 4}, {"rebalancing": True}, {"should_stop": True}])
async def test_no_seek_when_another_rebalance_began_or_the_worker_stops(change: dict[str, Any]) -> None:
    app = App(**change)
    await seek_again_after_resume(cast(Any, app), 3)
    assert app.consumer.seeks == 0


async def test_a_failed_seek_is_logged_not_raised() -> None:
    app = App(consumer=Consumer(fails=True))
    await seek_again_after_resume(cast(Any, app), 3)  # the next rebalance seeks again
    assert app.consumer.seeks == 0
