"""The /v1/resolve answer cache: per snapshot, per minute, bounded."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.directory.domain.directory import Directory
from services.directory.resolve_cache import ResolveCache


def test_cache_is_per_snapshot_and_minute(directory: Directory) -> None:
    cache = ResolveCache(max_entries=2)
    now = datetime(2026, 11, 28, 12, 0, 5, tzinfo=UTC)
    cache.put(directory, now, b"q=1", b"one")
    assert cache.get(directory, now + timedelta(seconds=50), b"q=1") == b"one"
    assert cache.get(directory, now + timedelta(seconds=55), b"q=2") is None
    assert cache.get(directory, now + timedelta(minutes=1), b"q=1") is None  # opening hours may have turned
    cache.put(directory, now, b"q=1", b"one")
    assert cache.get(directory.with_posts([]), now, b"q=1") is None  # a change makes a new snapshot
    for i in range(3):
        cache.put(directory, now, f"q={i}".encode(), b"x")
    assert cache.get(directory, now, b"q=2") == b"x"
    assert cache.get(directory, now, b"q=0") is None  # bounded: cleared when full
