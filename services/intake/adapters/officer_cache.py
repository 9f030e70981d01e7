"""Officers and their open-case counts, cached per process.

Reading the counts in every request's transaction would put a count over all open cases (or a hot counter row)
on the path of every report. The cache is refreshed every few seconds and bumped locally on each assignment, so
least-open-cases stays a fair rule, exact within one process and close across replicas.
"""

from __future__ import annotations

import asyncio
import time

import asyncpg

from services.intake.adapters import repository
from services.intake.domain.model import Kind
from services.intake.domain.officers import Officer, choose_officer, team_for
from shared.logging import get_logger

log = get_logger(__name__)


class OfficerCache:
    def __init__(self, *, ttl_seconds: float) -> None:
        self._ttl = ttl_seconds
        self._loaded_at = float("-inf")
        self._officers: list[Officer] = []
        self._counts: dict[int, int] = {}
        self._lock = asyncio.Lock()

    def invalidate(self) -> None:
        self._loaded_at = float("-inf")

    async def _refresh(self, conn: asyncpg.Connection) -> None:
        if time.monotonic() - self._loaded_at < self._ttl:
            return
        async with self._lock:
            if time.monotonic() - self._loaded_at < self._ttl:
                return
            self._officers = await repository.officers(conn)
            self._counts = await repository.open_case_counts(conn)
            self._loaded_at = time.monotonic()

    async def assign(self, conn: asyncpg.Connection, *, kind: Kind, post_id: str | None) -> Officer:
        await self._refresh(conn)
        chosen = choose_officer(self._officers, kind=kind, post_id=post_id, open_cases=self._counts)
        if not chosen.active or chosen.team != team_for(kind):  # accepted all the same; someone must fix the roster
            log.error("case_assigned_outside_its_team", officer_id=chosen.officer_id, active=chosen.active,
                      kind=kind.value)
        self._counts[chosen.officer_id] = self._counts.get(chosen.officer_id, 0) + 1
        return chosen

    def released(self, officer_id: int) -> None:
        """A case of this officer closed or changed hands."""
        if self._counts.get(officer_id, 0) > 0:
            self._counts[officer_id] -= 1

    def taken(self, officer_id: int) -> None:
        """A case was assigned to this officer (or reopened in their hands) outside `assign`."""
        self._counts[officer_id] = self._counts.get(officer_id, 0) + 1
