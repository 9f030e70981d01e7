"""Local snapshots of the registries (issue 20, goal 2: a restart ready within 15 s at 1,000,000 travellers).

A registry's travellers reflect the records of its partition below one offset, whenever they are read, so a
snapshot is just the two together: a restart loads it and reads the partition from that offset instead of from
its beginning (then decides once for everyone, as after any rebuild). Only the travellers are kept: which tables
may hold whom always comes from the held topic. A snapshot that cannot be read, or that is ahead of the topic (the
topic was recreated), is ignored and the partition read from its beginning: the snapshot saves time, never
correctness.

Written to a temporary file and renamed (never half a snapshot), from a thread: pickling a partition of 170,000
travellers takes a few hundred milliseconds that the event loop keeps running through. The files are this
process's own, in the worker's data directory beside Faust's RocksDB tables.
"""

from __future__ import annotations

import asyncio
import os
import pickle
from datetime import date
from pathlib import Path

from services.crisis_center.domain.registry import Stay
from shared.logging import get_logger

log = get_logger(__name__)

FORMAT = 2
#: traveller, country, lat, lon, arrival, departure (ordinals), phone, email, language, offset, delivered (-1: none)
Row = tuple[str, str, float | None, float | None, int, int, str | None, str | None, str, int, int]


class Snapshots:
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def path(self, topic: str, partition: int) -> Path:
        return self.directory / f"{topic}-{partition}.pickle"

    def load(self, topic: str, partition: int) -> tuple[int, dict[str, Stay], dict[str, int]] | None:
        """(the offset it reflects, the travellers, what the country agent was sent of them: `delivered`), or None
        when there is none or it cannot be read."""
        path = self.path(topic, partition)
        if not path.exists():
            return None
        try:
            fmt, offset, rows = pickle.loads(path.read_bytes())  # noqa: S301 - this worker's own file
            if fmt != FORMAT:
                raise ValueError(f"snapshot format {fmt}")
            travellers = {row[0]: Stay(row[1], row[2], row[3], date.fromordinal(row[4]), date.fromordinal(row[5]),
                                       row[6], row[7], row[8], row[9]) for row in rows}
            delivered = {row[0]: row[10] for row in rows if row[10] >= 0}
        except Exception as exc:
            log.warning("registry_snapshot_unreadable", partition=partition, error=type(exc).__name__)
            return None
        return int(offset), travellers, delivered

    async def save(self, topic: str, partition: int, offset: int, travellers: dict[str, Stay],
                   delivered: dict[str, int] | None = None) -> None:
        """The travellers as they are now (the records below `offset`); their `Stay`s are never changed in place,
        so a shallow copy taken here is consistent while a thread pickles it."""
        items, sent = list(travellers.items()), dict(delivered or {})
        await asyncio.to_thread(self._write, self.path(topic, partition), offset, items, sent)

    def _write(self, path: Path, offset: int, items: list[tuple[str, Stay]], delivered: dict[str, int]) -> None:
        rows: list[Row] = [(traveller_id, s.country, s.lat, s.lon, s.arrival.toordinal(), s.departure.toordinal(),
                            s.phone, s.email, s.language, s.seq, delivered.get(traveller_id, -1))
                           for traveller_id, s in items]
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(".tmp")
        temporary.write_bytes(pickle.dumps((FORMAT, offset, rows), protocol=pickle.HIGHEST_PROTOCOL))
        os.replace(temporary, path)
