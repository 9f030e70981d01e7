"""The cache of `/v1/resolve`'s rendered answers (one per app, made by its lifespan)."""

from __future__ import annotations

from datetime import datetime

from services.directory.domain.directory import Directory


class ResolveCache:
    """Rendered answers of /v1/resolve by query string, for one snapshot and one UTC minute.

    An answer depends only on the snapshot (immutable, replaced on every change), the query, the day (validity)
    and the minute (opening hours are HH:MM): within those, the same query gets the same bytes. Bounded."""

    def __init__(self, max_entries: int = 20_000) -> None:
        self._max = max_entries
        self._directory: Directory | None = None
        self._minute: datetime | None = None
        self._bodies: dict[bytes, bytes] = {}

    def _current(self, directory: Directory, now: datetime) -> bool:
        minute = now.replace(second=0, microsecond=0)
        if directory is not self._directory or minute != self._minute:
            self._directory, self._minute, self._bodies = directory, minute, {}
            return False
        return True

    def get(self, directory: Directory, now: datetime, query: bytes) -> bytes | None:
        return self._bodies.get(query) if self._current(directory, now) else None

    def put(self, directory: Directory, now: datetime, query: bytes, body: bytes) -> None:
        self._current(directory, now)
        if len(self._bodies) >= self._max:
            self._bodies.clear()
        self._bodies[query] = body
