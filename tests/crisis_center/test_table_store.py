"""The worker's RocksDB store releases a revoked partition's database by closing it, without a full garbage
collection (which stood the worker still for seconds with a million travellers in memory, issue 20)."""

from __future__ import annotations

import gc
from pathlib import Path

import faust
import pytest
from faust.types import TP

from services.crisis_center.adapters import table_store


def _never_collect(*_args: object) -> int:
    raise AssertionError("a full garbage collection")


async def test_a_revoked_partition_is_closed_and_opens_again_with_its_data(tmp_path: Path,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    table_store.install()
    app = faust.App("store-test", store="rocksdb://", datadir=str(tmp_path), broker="kafka://127.0.0.1:1")
    table = app.Table("people", partitions=2)
    store = table.data
    assert isinstance(store, table_store.ClosingRocksStore)
    monkeypatch.setattr(gc, "collect", _never_collect)
    store._db_for_partition(0)[b"traveller"] = b"kept"
    store._db_for_partition(1)[b"other"] = b"stays open"
    store.revoke_partitions(table, {TP(table.changelog_topic.get_topic_name(), 0)})
    assert set(store._dbs) == {1}
    reopened = store._db_for_partition(0)  # RocksDB's lock on the directory was released by the close
    assert reopened[b"traveller"] == b"kept"
    await store.stop()
    assert store._dbs == {}
