"""Messages and map rows for people who join an active crisis, written in batches instead of one by one.

Each registration that joined an active crisis used to cost a transaction of its own: about 50 a second, so a
crowd registering while a crisis was active (or an incident overtaking registrations still on their way) was
counted and alerted over minutes (issue 26). The country agent now hands its `Notify` and `PeopleChanged` effects
to a `JoinerBatch` and goes on with the next event. The batch is written in one transaction per crisis
(`handlers.write_joiners`) when it holds `max_recipients`, and before every commit of the worker's offsets
(`InFlight.before_commit`, every FAUST_COMMIT_INTERVAL_SECONDS): no offset is committed before what its events
caused is in PostgreSQL, so a crash loses nothing that a replay (or a tick's sweep) would not bring back.

What was written is reported back to the engine at the next event of the same partition (`take_reports`), since
Faust tables are written only while handling an event of their own partition. Until then a sweep may message
someone again: the notification ids are derived from the crisis and the person, so the outbox and the notifier
drop the repeat.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from services.crisis_center.domain.engine import PeopleChanged, Recipient

#: (crisis_id, recipients, map changes in order) -> False when the crisis is no longer active (nothing written)
Writer = Callable[[str, Sequence[Recipient], Sequence[PeopleChanged]], Awaitable[bool]]


@dataclass
class _Pending:
    incident_id: str
    partition: int
    recipients: list[Recipient] = field(default_factory=list)
    people: list[PeopleChanged] = field(default_factory=list)

    def merged_after(self, earlier: _Pending) -> _Pending:
        return _Pending(self.incident_id, self.partition, earlier.recipients + self.recipients,
                        earlier.people + self.people)


@dataclass
class Reports:
    """What the engine must hear about one partition: recipients written per incident, incidents found closed."""

    notified: list[tuple[str, tuple[Recipient, ...]]] = field(default_factory=list)
    closed: set[str] = field(default_factory=set)


class JoinerBatch:
    def __init__(self, write: Writer, *, max_recipients: int = 1000) -> None:
        self._write = write
        self.max_recipients = max_recipients
        self._pending: dict[str, _Pending] = {}  # crisis_id -> what waits, in the order it came
        self._reports: dict[int, Reports] = {}
        self._lock = asyncio.Lock()

    def add(self, crisis_id: str, incident_id: str, partition: int, *, recipients: Sequence[Recipient] = (),
            people: PeopleChanged | None = None) -> None:
        """Queue one effect (the caller writes the batch once `size` reaches `max_recipients`)."""
        pending = self._pending.setdefault(crisis_id, _Pending(incident_id, partition))
        pending.recipients.extend(recipients)
        if people is not None:
            pending.people.append(people)

    @property
    def size(self) -> int:
        return sum(len(p.recipients) + sum(len(c.placed) for c in p.people) for p in self._pending.values())

    async def flush(self) -> None:
        """Write everything queued so far, a transaction per crisis. On a failure what was not written goes back in
        front of what came meanwhile, and the error propagates (the commit that asked fails and is tried again)."""
        async with self._lock:
            taken, self._pending = self._pending, {}
            remaining = dict(taken)
            try:
                for crisis_id, item in taken.items():
                    written = await self._write(crisis_id, item.recipients, item.people)
                    reports = self._reports.setdefault(item.partition, Reports())
                    if written:
                        if item.recipients:
                            reports.notified.append((item.incident_id, tuple(item.recipients)))
                    else:
                        reports.closed.add(item.incident_id)
                    del remaining[crisis_id]
            finally:
                for crisis_id, item in remaining.items():
                    later = self._pending.get(crisis_id)
                    self._pending[crisis_id] = later.merged_after(item) if later is not None else item

    def take_reports(self, partition: int) -> Reports:
        return self._reports.pop(partition, Reports())

    def forget(self) -> None:
        """Partitions moved: reports for partitions no longer held are of no use (their tables are elsewhere)."""
        self._reports.clear()
