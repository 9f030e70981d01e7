"""The seek that follows a rebalance (delivery.py, gap 3): every stream partition back to its committed offset, or
to its beginning where the group never committed; changelogs left to the recovery; nothing when another rebalance
has begun or the worker stops. On the broker: the restart-in-a-burst and two-workers tests."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, cast

import pytest

from services.crisis_center.adapters.delivery import seek_again_after_resume


@dataclass(frozen=True)
class TP:
    topic: str
    partition: int


REGISTRATIONS_0, REGISTRATIONS_1 = TP("travellers.registrations", 0), TP("travellers.registrations", 1)
CHANGELOG = TP("app-travellers-changelog", 0)


@dataclass
class Consumer:
    committed: dict[TP, int | None]
    beginnings: dict[TP, int]
    seeks: dict[TP, int] = field(default_factory=dict)
    fails: bool = False

    async def seek_to_committed(self) -> Mapping[TP, int | None]:
        if self.fails:
            raise OSError("broker gone")
        return self.committed

    async def earliest_offsets(self, *partitions: TP) -> Mapping[TP, int]:
        return {tp: self.beginnings[tp] for tp in partitions}

    async def seek(self, tp: TP, offset: int) -> None:
        self.seeks[tp] = offset


@dataclass
class Tables:
    changelog_topics: set[str]


@dataclass
class App:
    consumer: Consumer
    consumer_generation_id: int = 3
    rebalancing: bool = False
    should_stop: bool = False
    tables: Tables = field(default_factory=lambda: Tables({CHANGELOG.topic}))


def app_with(**change: Any) -> App:
    committed = {REGISTRATIONS_0: 12, REGISTRATIONS_1: None, CHANGELOG: None}
    beginnings = {REGISTRATIONS_1: 4, CHANGELOG: 0}
    return App(consumer=Consumer(committed, beginnings), **change)


async def test_streams_go_back_to_the_committed_offset_or_to_the_beginning_where_nothing_was_committed() -> None:
    app = app_with()
    await seek_again_after_resume(cast(Any, app), 3)
    assert app.consumer.seeks == {REGISTRATIONS_0: 12, REGISTRATIONS_1: 4}  # the changelog is not touched


@pytest.mark.parametrize("change", [{"consumer_generation_id": 4}, {"rebalancing": True}, {"should_stop": True}])
async def test_no_seek_when_another_rebalance_began_or_the_worker_stops(change: dict[str, Any]) -> None:
    app = app_with(**change)
    await seek_again_after_resume(cast(Any, app), 3)
    assert app.consumer.seeks == {}


async def test_a_failed_seek_is_logged_not_raised() -> None:
    app = app_with()
    app.consumer.fails = True
    await seek_again_after_resume(cast(Any, app), 3)  # the next rebalance seeks again
    assert app.consumer.seeks == {}
