"""The registry: the travellers of one partition of `travellers.registrations`, held where they are read (issue 20).

Every registration used to cross two Faust hops (re-keyed by country onto `crisis.by-country`), with a changelog
record at each: about 500 us of the worker's CPU per registration. The registry reads its partitions with plain
aiokafka and keeps every traveller in memory, partitioned like the topic (which is compacted: it is its own
changelog). It sends on to the country agent only the travellers who may count:

- a traveller whose position lies inside the area of an open incident of their country (the area alone: the
  country agent checks the dates of the stay, and its tick sees stays begin and end);
- every later change of a traveller sent on before (a move, a cancellation, a new position), while the country
  agent may hold them: `held` is the countries where it may.

So the country agent handles what is proportional to the people in incident areas, not to the registry. When an
incident opens or its area changes, the registry scans its travellers of that country (`scan`).

`held` must survive a restart: a traveller sent on under an incident since closed, who then moves or cancels,
must still be removed from the country agent's tables. The adapter writes it to a compacted topic, widened before
the commands leave and narrowed once they are delivered (`HeldLedger`), so what is written is never less than
what the country agent may hold. Replaying the partition from its beginning is safe: each command carries the
registration's offset (`seq`) and the country agent ignores one older than the record it holds.

Pure: no I/O. `Places` (the gazetteer and the time-zone finder, `adapters/translate.py`) is the only collaborator.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from typing import Protocol

from services.crisis_center.domain.commands import TravellerRemove, TravellerUpsert
from services.crisis_center.domain.people import registration_contribution
from shared.events.travellers import TravellerRegistered
from shared.geo import Area, Point


class Places(Protocol):
    """Coordinates of a city when none are given, and the time zone of a point."""

    def point(self, country: str, city: str | None, lat: float | None, lon: float | None) -> Point | None: ...

    def tz(self, point: Point | None) -> str | None: ...


@dataclass(slots=True)
class Stay:
    """What the registry keeps of a registration: enough to decide and to build the country agent's command."""

    country: str
    lat: float | None
    lon: float | None
    arrival: date
    departure: date
    phone: str | None
    email: str | None
    language: str
    seq: int  # the registration's offset on its partition

    @property
    def point(self) -> Point | None:
        return Point(self.lat, self.lon) if self.lat is not None and self.lon is not None else None


#: A command for the country agent, with the country whose partition it goes to.
Forward = tuple[str, TravellerUpsert | TravellerRemove]
#: Travellers looked at per step of a scan or a reconcile (each sent on costs about 40 us to build: 20 ms a step).
STEP = 500


class OpenAreas:
    """The areas of the open incidents, by country, as every registry reads them from `crisis.incidents`.

    A new area is not used by `register` until `apply` (after the hold of the adapter): a registration published
    before the incident, and cancelled before it too, must never be sent on because of it."""

    def __init__(self) -> None:
        self._by_country: dict[str, dict[str, Area]] = {}
        self._country_of: dict[str, str] = {}
        self._closed: set[str] = set()

    def changes(self, incident_id: str, area: Area) -> bool:
        """Whether the incident's area is new here (it needs a scan once applied); a closed incident or a change
        of country (refused by the incidents' routing, dead-lettered there) is not."""
        if incident_id in self._closed:
            return False
        country = self._country_of.get(incident_id)
        if country is not None and country != area.country:
            return False
        return country is None or self._by_country[country].get(incident_id) != area

    def apply(self, incident_id: str, area: Area) -> bool:
        """Use the area from now on; False when `changes` no longer holds (closed, or applied meanwhile)."""
        if not self.changes(incident_id, area):
            return False
        self._country_of[incident_id] = area.country
        self._by_country.setdefault(area.country, {})[incident_id] = area
        return True

    def close(self, incident_id: str) -> None:
        self._closed.add(incident_id)
        country = self._country_of.pop(incident_id, None)
        if country is not None:
            self._by_country[country].pop(incident_id, None)

    def covers(self, country: str, point: Point | None) -> bool:
        areas = self._by_country.get(country)
        return areas is not None and any(area.contains(point, country) for area in areas.values())

    def __len__(self) -> int:
        return len(self._country_of)


class PartitionRegistry:
    """The travellers of one source partition, by id and by country, and where the country agent may hold them.

    `rebuilding`: the partition is being read from its beginning (a start, a rebalance). Records are only kept
    then, and `reconcile` decides once for each traveller's last record: a registration cancelled later in the
    partition is never sent on, even for a moment."""

    def __init__(self, places: Places, held: dict[str, frozenset[str]] | None = None, *,
                 rebuilding: bool = False) -> None:
        self.travellers: dict[str, Stay] = {}
        self.by_country: dict[str, set[str]] = {}
        self.held: dict[str, frozenset[str]] = dict(held or {})
        self.changed: set[str] = set()  # travellers whose `held` changed since the adapter last took them
        #: traveller -> the offset of the registration whose upsert the country agent was sent and the broker
        #: acknowledged (`confirm`); kept in the snapshot, so that a restart does not send it again.
        self.delivered: dict[str, int] = {}
        self.rebuilding = rebuilding
        self._places = places

    def __len__(self) -> int:
        return len(self.travellers)

    def restore(self, travellers: dict[str, Stay], delivered: dict[str, int] | None = None) -> None:
        """Start from a snapshot's travellers (what the partition said up to the snapshot's offset) and what the
        country agent had been sent of them."""
        self.travellers = travellers
        self.delivered = dict(delivered or {})
        self.by_country = {}
        for traveller_id, stay in travellers.items():
            self.by_country.setdefault(stay.country, set()).add(traveller_id)

    def register(self, event: TravellerRegistered, seq: int, areas: OpenAreas) -> list[Forward]:
        location = event.location
        point = self._places.point(event.country, event.city, location.lat if location else None,
                                   location.lon if location else None)
        stay = Stay(event.country, point.lat if point else None, point.lon if point else None, event.arrival,
                    event.departure, event.phone, str(event.email) if event.email else None, event.language, seq)
        traveller_id = event.traveller_id
        previous = self.travellers.get(traveller_id)
        if previous is not None and previous.seq > seq:
            return []  # an older record read again: the newer one stands
        if previous is not None and previous.country != stay.country:
            self.by_country[previous.country].discard(traveller_id)
        self.travellers[traveller_id] = stay
        self.by_country.setdefault(stay.country, set()).add(traveller_id)
        return [] if self.rebuilding else self._decide(traveller_id, stay, areas)

    def cancel(self, traveller_id: str, seq: int) -> list[Forward]:
        previous = self.travellers.get(traveller_id)
        if previous is not None and previous.seq > seq:
            return []
        if previous is not None:
            del self.travellers[traveller_id]
            self.by_country[previous.country].discard(traveller_id)
        return [] if self.rebuilding else self._removed(traveller_id, seq)

    def reconcile(self, areas: OpenAreas) -> Iterator[list[Forward]]:
        """The end of a rebuild: every traveller's last record against the open areas and `held`, in steps of at
        most `STEP` travellers (the caller lets other work run between them)."""
        self.rebuilding = False
        return self._reconciling(areas)

    def _reconciling(self, areas: OpenAreas) -> Iterator[list[Forward]]:
        forwards: list[Forward] = []
        for traveller_id in sorted(set(self.held) - set(self.travellers)):
            forwards += self._removed(traveller_id, None)
        for looked_at, (traveller_id, stay) in enumerate(self.travellers.items(), 1):
            forwards += self._decide(traveller_id, stay, areas)
            if looked_at % STEP == 0:
                yield forwards
                forwards = []
        yield forwards

    def scan(self, area: Area) -> Iterator[list[Forward]]:
        """The travellers of the area's country inside it whom the country agent does not hold yet, in steps of at
        most `STEP` travellers looked at (an incident over a crowd of 100,000 must not hold the loop for seconds)."""
        if self.rebuilding:
            return iter(())  # `reconcile` will look at everyone
        return self._scanning(area)

    def _scanning(self, area: Area) -> Iterator[list[Forward]]:
        country = area.country
        forwards: list[Forward] = []
        for looked_at, traveller_id in enumerate(sorted(self.by_country.get(country, ())), 1):
            stay = self.travellers.get(traveller_id)
            if stay is not None and country not in self.held.get(traveller_id, ()) and area.contains(
                    stay.point, country):
                forwards.append((country, self.upsert(traveller_id, stay)))
                self._hold(traveller_id, frozenset((country,)))
            if looked_at % STEP == 0:
                yield forwards
                forwards = []
        yield forwards

    def upsert(self, traveller_id: str, stay: Stay) -> TravellerUpsert:
        """The country agent's command (time zone and identifiers computed here: only for those sent on)."""
        point = stay.point
        return TravellerUpsert(
            traveller_id=traveller_id, country=stay.country, lat=stay.lat, lon=stay.lon, tz=self._places.tz(point),
            arrival=stay.arrival, departure=stay.departure, phone=stay.phone, email=stay.email,
            language=stay.language,
            identifiers=sorted(registration_contribution(traveller_id, stay.phone, stay.email).identifiers),
            seq=stay.seq)

    def _decide(self, traveller_id: str, stay: Stay, areas: OpenAreas) -> list[Forward]:
        held = self.held.get(traveller_id, frozenset())
        forwards: list[Forward] = [
            (country, TravellerRemove(traveller_id=traveller_id, country=country, seq=stay.seq))
            for country in sorted(held) if country != stay.country]
        if stay.country in held or areas.covers(stay.country, stay.point):
            if held != {stay.country} or self.delivered.get(traveller_id) != stay.seq:  # else it has this one
                forwards.append((stay.country, self.upsert(traveller_id, stay)))
            self._hold(traveller_id, frozenset((stay.country,)))
        else:
            self._hold(traveller_id, frozenset())
        return forwards

    def confirm(self, commands: Iterable[TravellerUpsert | TravellerRemove]) -> None:
        """The broker acknowledged these commands (in their order)."""
        for command in commands:
            if isinstance(command, TravellerUpsert) and command.seq is not None:
                self.delivered[command.traveller_id] = command.seq
            else:
                self.delivered.pop(command.traveller_id, None)

    def _removed(self, traveller_id: str, seq: int | None) -> list[Forward]:
        held = self.held.get(traveller_id, frozenset())
        self._hold(traveller_id, frozenset())
        return [(country, TravellerRemove(traveller_id=traveller_id, country=country, seq=seq))
                for country in sorted(held)]

    def _hold(self, traveller_id: str, countries: frozenset[str]) -> None:
        if self.held.get(traveller_id, frozenset()) == countries:
            return
        self.changed.add(traveller_id)
        if countries:
            self.held[traveller_id] = countries
        else:
            self.held.pop(traveller_id, None)


HeldWrites = dict[str, frozenset[str]]  # traveller -> countries (empty: a tombstone)


class HeldLedger:
    """What the compacted held topic says of one partition's travellers, and what to write around a flush.

    Before the commands leave: for every traveller whose countries changed, the union of what is written and what
    is decided (`widen`); once they are delivered: what is decided (`settle`). A crash in between leaves a superset
    on the topic, and the registry sends removals that change nothing rather than forget a record. Neither call
    changes the ledger: `wrote` does, once the writes are delivered."""

    def __init__(self, written: HeldWrites | None = None) -> None:
        self.written: HeldWrites = dict(written or {})

    def widen(self, decided: HeldWrites, changed: Iterable[str]) -> HeldWrites:
        writes = {}
        for traveller_id in changed:
            was = self.written.get(traveller_id, frozenset())
            wider = was | decided.get(traveller_id, frozenset())
            if wider != was:
                writes[traveller_id] = wider
        return writes

    def settle(self, decided: HeldWrites, changed: Iterable[str]) -> HeldWrites:
        return {traveller_id: decided.get(traveller_id, frozenset()) for traveller_id in changed
                if self.written.get(traveller_id, frozenset()) != decided.get(traveller_id, frozenset())}

    def wrote(self, writes: HeldWrites) -> None:
        for traveller_id, countries in writes.items():
            if countries:
                self.written[traveller_id] = countries
            else:
                self.written.pop(traveller_id, None)
