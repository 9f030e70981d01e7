"""Registrations' commands to `crisis.by-country` in runs: one record per country and run instead of one per
registration, so the country agent handles (and evaluates the country's incidents) once per run (issue 20).

The routing agent still handles and acks registrations one by one; what they change in each country waits here,
with the traveller's new country. The buffer is sent when it holds `max_commands`, when the agent has nothing more
fetched (so a lone registration is not held back), from a short timer, and before every commit of the worker's
offsets (`InFlight.before_commit`): no offset is committed before the commands of its registrations are delivered.
Nothing is held unacked, so a rebalance never waits on this buffer.

The routing table (`traveller_country`) is written only once the commands are delivered: a worker killed in
between finds the old country there when it handles the registration again, and sends the move's removal again
(the engine ignores what it holds already, by `seq`). Written first, as before, the removal of a move was lost
with the process: the traveller then counted in two countries.

Sending one event at a time through Faust's `take_events` was measured first (x1.7) and taken out: its passive
drainer ignores cancellation (docs/crisis_center.md, National scale).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from services.crisis_center.domain.commands import TravellerRemove, TravellersBatch, TravellerUpsert

TravellerCommand = TravellerUpsert | TravellerRemove
#: Sends one record to a country's partition; awaiting what it returns waits for its delivery.
Send = Callable[[str, TravellerCommand | TravellersBatch], Awaitable[Awaitable[Any]]]
#: Dead-letters a registration with a reason (the worker's `_dead_letter` for travellers.registrations).
DeadLetter = Callable[[Any, str], Awaitable[None]]
#: Writes a traveller's country in the routing table (None: gone), in the context of the agent's event `trigger`.
WriteCountry = Callable[[Any, str, str | None], None]


class ForwardBuffer:
    def __init__(self, send: Send, dead_letter: DeadLetter, write_country: WriteCountry, *, max_commands: int = 500,
                 per_record: int = 250) -> None:
        self._send = send
        self._dead_letter = dead_letter
        self._write_country = write_country
        self.max_commands = max_commands
        self.per_record = per_record  # an upsert is about 450 bytes: a record of at most about 110 KB
        self._pending: dict[str, list[tuple[Any, TravellerCommand]]] = {}  # country -> (source, command) in order
        self._size = 0
        #: traveller -> (the agent's event, the record the country came from, the country or None): to write once
        #: the commands are delivered; `_writing` while a flush delivers them.
        self._countries: dict[str, tuple[Any, Any, str | None]] = {}
        self._writing: dict[str, tuple[Any, Any, str | None]] = {}
        self._lock = asyncio.Lock()

    def add(self, country: str, source: Any, command: TravellerCommand) -> None:
        self._pending.setdefault(country, []).append((source, command))
        self._size += 1

    def set_country(self, traveller_id: str, trigger: Any, source: Any, country: str | None) -> None:
        """The traveller's country once what was added is delivered (None: registered nowhere)."""
        self._countries[traveller_id] = (trigger, source, country)

    def country_of(self, traveller_id: str) -> tuple[bool, str | None]:
        """(True, country) when a country waits to be written (None: gone), else (False, None): ask the table."""
        found = self._countries.get(traveller_id) or self._writing.get(traveller_id)
        return (True, found[2]) if found is not None else (False, None)

    @property
    def size(self) -> int:
        return self._size

    @property
    def full(self) -> bool:
        return self._size >= self.max_commands

    async def flush(self) -> None:
        """Send what waits, per country in order, wait for its delivery, then write the countries. A record that
        cannot be sent dead-letters the registrations it carried (their countries are not written). On any other
        failure everything goes back in front of what came meanwhile, and the error propagates (the commit that
        asked fails and is tried again; records sent twice change nothing)."""
        async with self._lock:
            records, countries = self._pending, self._countries
            size, self._pending, self._countries, self._size = self._size, {}, {}, 0
            self._writing = countries
            try:
                dead: set[int] = set()
                deliveries = []
                for country, routed in records.items():
                    for start in range(0, len(routed), self.per_record):
                        delivery = await self._send_record(country, routed[start:start + self.per_record], dead)
                        if delivery is not None:
                            deliveries.append(delivery)
                await asyncio.gather(*deliveries)
            except BaseException:
                for country, routed in records.items():
                    self._pending[country] = routed + self._pending.get(country, [])
                self._size += size
                self._countries = {**countries, **self._countries}
                raise
            finally:
                self._writing = {}
            for traveller_id, (trigger, source, now_in) in countries.items():
                if id(source) not in dead:
                    self._write_country(trigger, traveller_id, now_in)

    async def forget(self, revoked: Callable[[Any], bool]) -> None:
        """Drop what came from records of partitions this worker lost (`revoked(source)`), after a flush failed
        at the rebalance's commit: their offsets were not committed, so the partitions' new owner handles those
        registrations again and sends the same commands. Kept, a later flush here would also write the
        travellers' countries into changelog partitions another worker now owns."""
        async with self._lock:
            for country in list(self._pending):
                kept = [(source, command) for source, command in self._pending[country] if not revoked(source)]
                self._size -= len(self._pending[country]) - len(kept)
                if kept:
                    self._pending[country] = kept
                else:
                    del self._pending[country]
            self._countries = {traveller_id: entry for traveller_id, entry in self._countries.items()
                               if not revoked(entry[1])}

    async def _send_record(self, country: str, routed: list[tuple[Any, TravellerCommand]],
                           dead: set[int]) -> Awaitable[Any] | None:
        commands = [command for _, command in routed]
        try:
            return await self._send(country, commands[0] if len(commands) == 1 else TravellersBatch(commands=commands))
        except Exception as exc:
            reason = f"forwarding to crisis.by-country failed: {type(exc).__name__}: {exc}"
            for source, _ in routed:
                if id(source) not in dead:  # a move's two commands come from one registration: one dead letter
                    dead.add(id(source))
                    await self._dead_letter(source, reason)
            return None
