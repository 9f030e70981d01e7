"""The process's current Directory: the seed with the stored changes applied, swapped whole on each change.

Each process (API replica, worker) keeps its own snapshot; it applies its own changes at once and reloads
the others' every `refresh_seconds` (a cheap marker query tells when something changed)."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import asyncpg

from services.directory.adapters import repository
from services.directory.domain.directory import Directory
from services.directory.domain.model import Post
from services.directory.domain.posts import with_state
from shared.db import DATABASE_ERRORS
from shared.logging import get_logger

log = get_logger(__name__)


class Snapshot:
    def __init__(self, seed: Directory) -> None:
        self.seed = seed
        self.current = seed
        self._marker: tuple[int, int] | None = None

    def seed_post(self, post_id: str) -> Post | None:
        return self.seed.posts.get(post_id)

    def apply(self, states: dict[str, dict[str, Any]]) -> None:
        changed = [with_state(self.seed.posts[pid], state) for pid, state in states.items() if pid in self.seed.posts]
        self.current = self.seed.with_posts(changed)

    def replace(self, post: Post) -> None:
        self.current = self.current.with_post(post)

    async def refresh(self, pool: asyncpg.Pool) -> bool:
        """Reload the stored changes when they differ from what this process last loaded."""
        async with pool.acquire() as conn:
            marker = await repository.overrides_marker(conn)
            if marker == self._marker:
                return False
            states = await repository.overrides(conn)
        self.apply(states)
        self._marker = marker
        return True

    async def keep_fresh(self, pool: asyncpg.Pool, interval: float, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.refresh(pool)
            except DATABASE_ERRORS as exc:
                log.warning("directory_refresh_failed", error=type(exc).__name__)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=interval)
