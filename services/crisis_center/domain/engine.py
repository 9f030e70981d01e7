"""The country engine: what the country agent does with one command, over plain mutable mappings.

The Faust agent passes its tables (which are MutableMappings); tests pass dicts. The engine does no I/O: it
returns effects (activate, count changed, notify, close) that the adapter carries out against PostgreSQL and
Kafka, then reports back (`activated`, `notified`, `closed`). Records are JSON-able dicts, so that the tables'
changelogs hold plain JSON.

Tables (all written while handling a command from the country's partition):
- travellers: traveller_id -> {country, lat, lon, tz, arrival, departure, phone, email, language,
  identifiers, incidents}; `incidents` is the set this traveller is counted in (what to undo later).
- reports: reference -> {country, lat, lon, received_at, identifiers, incidents}.
- incidents: incident_id -> {title, kind, severity, area, occurred_at, country, phase, crisis_id,
  hotline_number, last_count, partition, origin, link, proposal_round}.
- members: "<incident_id>|<contribution_id>" -> {source, identifiers, traveller_id, notified, lat, lon}
  (position rounded to 2 decimals, ~1 km: what the dashboard's map shows).
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, MutableMapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from shared.geo import Area, Point

from .activation import AUTOMATIC, ActivationRules, Mode, Phase, ThresholdPolicy
from .affected import AffectedSet
from .commands import (
    Command,
    IncidentClose,
    IncidentUpsert,
    ProposalDecided,
    ReportSeen,
    RescanSlice,
    Tick,
    TravellerRemove,
    TravellersBatch,
    TravellerUpsert,
)
from .geo import stay_covers
from .membership import Incident
from .people import Contribution, Source

Record = dict[str, Any]
Store = MutableMapping[str, Record]


@dataclass(frozen=True, slots=True)
class Recipient:
    contribution_id: str
    traveller_id: str
    phone: str | None
    email: str | None
    language: str


@dataclass(frozen=True, slots=True)
class IncidentFacts(Incident):
    """An incident as activating, proposing and watching it carry: where it came from besides what it is."""

    origin: str = "external"  # activation.ORIGINS
    link: str | None = None


@dataclass(frozen=True, slots=True)
class PersonPoint:
    """Where one record of an affected person puts them; `person` is shared by the records about one person."""

    contribution_id: str
    person: str
    source: Source
    lat: float
    lon: float


@dataclass(frozen=True, slots=True)
class PeopleChanged:
    """Positions to store for an active crisis's map; `replace`: the full set (a tick's resynchronisation)."""

    incident_id: str
    crisis_id: str
    placed: tuple[PersonPoint, ...]
    removed: tuple[str, ...] = ()
    replace: bool = False


@dataclass(frozen=True, slots=True)
class Tally:
    """An incident's count (by source) against its threshold: what activating, proposing and watching it carry."""

    incident: IncidentFacts
    count: int
    by_source: dict[Source, int]
    threshold: int


@dataclass(frozen=True, slots=True)
class Activate(Tally):
    recipients: tuple[Recipient, ...]
    people: tuple[PersonPoint, ...] = ()
    actor: str = "system:threshold"  # a coordinator's subject when they confirmed a proposal
    proposal_round: int | None = None  # the proposal this activation confirms


@dataclass(frozen=True, slots=True)
class Propose(Tally):
    """The threshold was crossed under the `proposed` mode: a coordinator decides; nothing is sent before."""

    round: int


@dataclass(frozen=True, slots=True)
class ProposalSettled:
    """A coordinator's decision reached the engine (dismissed, or no longer applicable): stop sending it."""

    incident_id: str
    round: int


@dataclass(frozen=True, slots=True)
class Watched(Tally):
    """An open incident's live count, threshold and mode, for the dashboard's watch list (rows the API reads)."""

    mode: Mode


@dataclass(frozen=True, slots=True)
class Unwatched:
    """The incident closed: off the watch list; a pending proposal is withdrawn."""

    incident_id: str


@dataclass(frozen=True, slots=True)
class CountChanged:
    incident_id: str
    crisis_id: str
    count: int
    by_source: dict[Source, int]


@dataclass(frozen=True, slots=True)
class Notify:
    incident_id: str
    crisis_id: str
    title: str
    hotline_number: str
    recipients: tuple[Recipient, ...]


@dataclass(frozen=True, slots=True)
class CloseCrisis:
    incident_id: str
    crisis_id: str


@dataclass(frozen=True, slots=True)
class Continue:
    """A command the country agent sends itself (the next slice of a rescan), keyed by the country."""

    country: str
    command: RescanSlice


Effect = (Activate | CountChanged | Notify | PeopleChanged | CloseCrisis | Propose | ProposalSettled | Watched
          | Unwatched | Continue)

MAP_DECIMALS = 2  # ~1 km: enough for a map, not an address


@dataclass(slots=True)
class _Touched:
    contributions: dict[str, set[str]] = field(default_factory=dict)  # incident -> contribution ids
    incidents: set[str] = field(default_factory=set)
    mapped: dict[str, set[str]] = field(default_factory=dict)  # incident -> contributions whose map row changes

    def remap(self, incident_id: str, contribution_ids: Iterable[str]) -> None:
        self.incidents.add(incident_id)
        self.mapped.setdefault(incident_id, set()).update(contribution_ids)

    def touch(self, incident_id: str, contribution_id: str | None = None) -> None:
        self.incidents.add(incident_id)
        if contribution_id is not None:
            self.contributions.setdefault(incident_id, set()).add(contribution_id)


def _member_key(incident_id: str, contribution_id: str) -> str:
    return f"{incident_id}|{contribution_id}"


def _outdated(seq: int | None, stored: Record | None) -> bool:
    """Whether a traveller's command (at `seq` on the source partition) comes after a later one was applied."""
    held = stored.get("seq") if stored is not None else None
    return seq is not None and held is not None and seq < held


def _point(record: Record) -> Point | None:
    lat, lon = record.get("lat"), record.get("lon")
    return Point(float(lat), float(lon)) if lat is not None and lon is not None else None


def _map_position(record: Record) -> tuple[float | None, float | None]:
    point = _point(record)
    if point is None:
        return None, None
    return round(point.lat, MAP_DECIMALS), round(point.lon, MAP_DECIMALS)


def _facts(record: Record) -> IncidentFacts:
    return IncidentFacts(record["incident_id"], record["title"], record["kind"], record["severity"],
                         Area.from_dict(record["area"]), datetime.fromisoformat(record["occurred_at"]),
                         record.get("origin") or "external", record.get("link"))


def _incident(record: Record) -> Incident:
    return Incident(
        record["incident_id"], record["title"], record["kind"], record["severity"],
        Area.from_dict(record["area"]), datetime.fromisoformat(record["occurred_at"]),
    )


PURGE_EVERY = timedelta(hours=1)  # old reports are looked for at most this often (per partition)
#: Travellers and reports brought in line with an incident's area per event (with its messages and map rows, well under
#: 200 ms of the worker's loop on 2 cores):
#: the rest follows in `RescanSlice` commands, so other events and timers run between slices.
RESCAN_SLICE = 250
#: How often a tick rewrites an active crisis's whole map (drift after a dead-lettered write); every tick after a
#: rebalance or restart too. Rewriting 100,000 rows every tick would keep the database and the worker busy.
MAP_RESYNC_EVERY = timedelta(minutes=10)


class CountryEngine:
    def __init__(self, *, travellers: Store, reports: Store, incidents: Store, members: Store,
                 report_retention: timedelta = timedelta(days=30)) -> None:
        self.travellers = travellers
        self.reports = reports
        self.incidents = incidents
        self.members = members
        self.report_retention = report_retention
        self._reports_purged_at: dict[int, datetime] = {}  # per partition: the scan reads the whole table
        # Caches, rebuilt from the tables on demand (and dropped on rebalance by `forget_caches`).
        self._sets: dict[str, AffectedSet] = {}
        self._open_by_country: dict[str, list[Incident]] | None = None
        # (incident_id, generation) -> the sorted keys of the country's travellers and reports when it began
        self._rescan_keys: dict[tuple[str, int], list[str]] = {}
        # incident -> its records not yet messaged (built with the affected set): what a tick's sweep looks at
        self._unmessaged: dict[str, set[str]] = {}
        self._map_synced: dict[str, datetime] = {}  # incident -> when a tick last rewrote its whole map
        self._continuations: list[Continue] = []

    # caches -------------------------------------------------------------------------------------------------
    def forget_caches(self) -> None:
        self._sets.clear()
        self._open_by_country = None
        self._rescan_keys.clear()  # a slice that arrives next rebuilds its list (sorted keys: it resumes exactly)
        self._unmessaged.clear()
        self._map_synced.clear()

    def affected(self, incident_id: str) -> AffectedSet:
        aset = self._sets.get(incident_id)
        if aset is None:
            prefix = f"{incident_id}|"
            mine = [(key[len(prefix):], value) for key, value in list(self.members.items()) if key.startswith(prefix)]
            aset = AffectedSet(Contribution(cid, value["source"], frozenset(value["identifiers"]))
                               for cid, value in mine)
            self._sets[incident_id] = aset
            self._unmessaged[incident_id] = {cid for cid, value in mine if not value.get("notified")}
        return aset

    def _unmessaged_ids(self, incident_id: str) -> set[str]:
        self.affected(incident_id)
        return self._unmessaged.setdefault(incident_id, set())

    def _open_incidents(self, country: str) -> list[Incident]:
        if self._open_by_country is None:
            index: dict[str, list[Incident]] = {}
            for record in list(self.incidents.values()):
                if record.get("open", True):
                    index.setdefault(record["country"], []).append(_incident(record))
            self._open_by_country = index
        return self._open_by_country.get(country, [])

    # commands -----------------------------------------------------------------------------------------------
    def handle(self, command: Command, *, now: datetime, policy: ThresholdPolicy, partition: int,
               rules: ActivationRules = AUTOMATIC) -> list[Effect]:
        touched = _Touched()
        effects: list[Effect] = []
        match command:
            case TravellerUpsert():
                self._traveller_upsert(command, now, touched)
            case TravellerRemove():
                self._traveller_remove(command, touched)
            case TravellersBatch():
                for each in command.commands:
                    if isinstance(each, TravellerUpsert):
                        self._traveller_upsert(each, now, touched)
                    else:
                        self._traveller_remove(each, touched)
            case ReportSeen():
                self._report_seen(command, partition, touched)
            case IncidentUpsert():
                self._incident_upsert(command, now, partition, touched)
            case RescanSlice():
                self._rescan_slice(command.incident_id, command.generation, command.after, now, touched)
            case IncidentClose():
                effects += self._incident_close(command.incident_id)
            case ProposalDecided():
                effects += self._proposal_decided(command, policy)
            case Tick():
                self._tick(command.at, partition, touched)
        for incident_id in sorted(touched.incidents):
            changed = touched.contributions.get(incident_id)
            full_map = False
            if isinstance(command, Tick):
                changed = set(self._unmessaged_ids(incident_id))  # a sweep: anyone not yet messaged
                full_map = self._map_due(incident_id, command.at)
            effects += self._evaluate(incident_id, policy, changed, rules)
            effects += self._map(incident_id, None if full_map else touched.mapped.get(incident_id, set()))
        effects += self._continuations
        self._continuations = []
        return effects

    # the map ----------------------------------------------------------------------------------------------
    def people_points(self, incident_id: str, among: Iterable[str] | None = None) -> list[PersonPoint]:
        """Map rows of the incident's records (of `among` only, if given) that have a position."""
        aset = self.affected(incident_id)
        ids = aset.contribution_ids() if among is None else [c for c in among if c in aset]
        points: list[PersonPoint] = []
        for contribution_id in sorted(ids):
            member = self.members.get(_member_key(incident_id, contribution_id))
            if member is None or member.get("lat") is None or member.get("lon") is None:
                continue
            person = min(aset.same_person(contribution_id))
            points.append(PersonPoint(contribution_id, person, member["source"], member["lat"], member["lon"]))
        return points

    def _map_due(self, incident_id: str, now: datetime) -> bool:
        """Whether a tick rewrites the incident's whole map now (first tick since the caches were built, then
        every MAP_RESYNC_EVERY)."""
        last = self._map_synced.get(incident_id)
        if last is not None and now - last < MAP_RESYNC_EVERY:
            return False
        self._map_synced[incident_id] = now
        return True

    def _map(self, incident_id: str, mapped: set[str] | None) -> list[Effect]:
        """Map rows to store for an active crisis: those that changed, or all of them (`mapped` None: a tick)."""
        record = self.incidents.get(incident_id)
        if record is None or record["phase"] != Phase.ACTIVE.value or not record.get("crisis_id"):
            return []
        if mapped is None:
            return [PeopleChanged(incident_id, record["crisis_id"], tuple(self.people_points(incident_id)),
                                  replace=True)]
        if not mapped:
            return []
        placed = tuple(self.people_points(incident_id, mapped))
        kept = {p.contribution_id for p in placed}
        return [PeopleChanged(incident_id, record["crisis_id"], placed, tuple(sorted(mapped - kept)))]

    def _join(self, incident_id: str, contribution: Contribution, traveller_id: str | None, record: Record,
              touched: _Touched) -> None:
        key = _member_key(incident_id, contribution.contribution_id)
        known = self.members.get(key)
        identifiers = sorted(contribution.identifiers)
        lat, lon = _map_position(record)
        same_person = known is not None and known["identifiers"] == identifiers
        if same_person and known is not None and (known.get("lat"), known.get("lon")) == (lat, lon):
            return
        self.members[key] = {
            "source": contribution.source, "identifiers": identifiers, "traveller_id": traveller_id,
            "notified": bool(known and known.get("notified")), "lat": lat, "lon": lon,
        }
        aset = self.affected(incident_id)
        if not self.members[key]["notified"]:
            self._unmessaged_ids(incident_id).add(contribution.contribution_id)
        if same_person:  # moved within the area: only the map changes
            touched.remap(incident_id, [contribution.contribution_id])
            return
        before = aset.same_person(contribution.contribution_id)
        aset.upsert(contribution)
        touched.touch(incident_id, contribution.contribution_id)
        touched.remap(incident_id, before | aset.same_person(contribution.contribution_id))

    def _leave(self, incident_id: str, contribution_id: str, touched: _Touched) -> None:
        key = _member_key(incident_id, contribution_id)
        if key in self.members:
            del self.members[key]
            aset = self.affected(incident_id)
            self._unmessaged_ids(incident_id).discard(contribution_id)
            before = aset.same_person(contribution_id)
            aset.remove(contribution_id)
            touched.touch(incident_id)
            touched.remap(incident_id, before | {contribution_id})  # it leaves the map; the rest may split

    # travellers -------------------------------------------------------------------------------------------
    @staticmethod
    def _traveller_in(record: Record, incident: Incident, now: datetime) -> bool:
        covers = stay_covers(date.fromisoformat(record["arrival"]), date.fromisoformat(record["departure"]), now,
                             record.get("tz"))
        return covers and incident.area.contains(_point(record), record["country"])

    def _traveller_upsert(self, command: TravellerUpsert, now: datetime, touched: _Touched) -> None:
        previous = self.travellers.get(command.traveller_id)
        if _outdated(command.seq, previous):
            return  # a later registration (in another country, its commands on another partition) is there already
        record: Record = command.model_dump(mode="json", exclude={"op"} if command.seq is not None else {"op", "seq"})
        record["identifiers"] = sorted(command.identifiers)
        incidents = self._open_incidents(command.country)
        desired = {i.incident_id for i in incidents if self._traveller_in(record, i, now)}
        before = set(previous["incidents"]) if previous else set()
        record["incidents"] = sorted(desired)
        if previous != record:
            self.travellers[command.traveller_id] = record
        contribution = Contribution(f"registration:{command.traveller_id}", "registration",
                                    frozenset(command.identifiers))
        for incident_id in before - desired:
            self._leave(incident_id, contribution.contribution_id, touched)
        for incident_id in desired:
            self._join(incident_id, contribution, command.traveller_id, record, touched)

    def _traveller_remove(self, command: TravellerRemove, touched: _Touched) -> None:
        traveller_id = command.traveller_id
        previous = self.travellers.get(traveller_id)
        if previous is None or _outdated(command.seq, previous):
            return
        if command.country is not None and previous["country"] != command.country:
            return  # the traveller moved, and the new country's record was stored before this removal came
        del self.travellers[traveller_id]
        for incident_id in previous["incidents"]:
            self._leave(incident_id, f"registration:{traveller_id}", touched)

    # reports ----------------------------------------------------------------------------------------------
    @staticmethod
    def _report_in(record: Record, incident: Incident) -> bool:
        received = datetime.fromisoformat(record["received_at"])
        return received >= incident.occurred_at and incident.area.contains(_point(record), record["country"])

    def _report_seen(self, command: ReportSeen, partition: int, touched: _Touched) -> None:
        previous = self.reports.get(command.reference)
        record: Record = command.model_dump(mode="json", exclude={"op"})
        record["identifiers"] = sorted(command.identifiers)
        record["partition"] = partition  # only a tick of this partition may delete it (its changelog partition)
        desired = {i.incident_id for i in self._open_incidents(command.country) if self._report_in(record, i)}
        before = set(previous["incidents"]) if previous else set()
        record["incidents"] = sorted(desired)
        if previous != record:
            self.reports[command.reference] = record
        contribution = Contribution(f"report:{command.reference}", "report", frozenset(command.identifiers))
        for incident_id in before - desired:
            self._leave(incident_id, contribution.contribution_id, touched)
        for incident_id in desired:
            self._join(incident_id, contribution, None, record, touched)

    # incidents --------------------------------------------------------------------------------------------
    def _incident_upsert(self, command: IncidentUpsert, now: datetime, partition: int, touched: _Touched) -> None:
        previous = self.incidents.get(command.incident_id)
        if previous is not None and not previous.get("open", True):
            return  # closed is final: a late or repeated report does not reopen it
        area = Area.from_dict(command.area)
        phase = previous["phase"] if previous else Phase.NONE.value
        if phase == Phase.DISMISSED.value and previous is not None and previous["severity"] != command.severity:
            phase = Phase.NONE.value  # a coordinator said no at another severity: the threshold may propose again
        record: Record = {
            "incident_id": command.incident_id, "title": command.title, "kind": command.kind,
            "severity": command.severity, "area": area.to_dict(), "occurred_at": command.occurred_at.isoformat(),
            "country": area.country, "open": True, "partition": partition,
            "phase": phase,
            "crisis_id": previous.get("crisis_id") if previous else None,
            "hotline_number": previous.get("hotline_number") if previous else None,
            "last_count": previous.get("last_count", 0) if previous else 0,
            "origin": command.origin, "link": command.link,
            "proposal_round": previous.get("proposal_round", 0) if previous else 0,
        }
        generation = int(previous.get("rescan", 0)) if previous else 0
        if previous is not None and {k: v for k, v in previous.items() if k != "rescan"} == record:
            return  # duplicate: nothing to rescan
        record["rescan"] = generation + 1
        self.incidents[command.incident_id] = record
        self._open_by_country = None
        touched.touch(command.incident_id)
        self._rescan_slice(command.incident_id, generation + 1, None, now, touched)

    def rescanning(self, incident_id: str) -> bool:
        """Whether slices of this incident's rescan are still on their way (known to this engine)."""
        return any(key[0] == incident_id for key in self._rescan_keys)

    def _rescan_slice(self, incident_id: str, generation: int, after: str | None, now: datetime,
                      touched: _Touched) -> None:
        """Bring the next `RESCAN_SLICE` travellers and reports of the incident's country (in key order over the
        partition's records; at most 8 x RESCAN_SLICE looked at) in line with its area, and ask for the next slice.
        A slice of an older generation (the area changed since) or of a closed incident does nothing. Travellers
        who register meanwhile are placed by their own event."""
        record = self.incidents.get(incident_id)
        if record is None or not record.get("open", True) or int(record.get("rescan", 0)) != generation:
            self._rescan_keys.pop((incident_id, generation), None)
            return
        incident, country = _incident(record), record["country"]
        keys = self._rescan_keys.get((incident_id, generation))
        if keys is None:  # keys only: reading every record of a store of 100,000 would decode each (seconds)
            keys = sorted([f"t:{k}" for k in list(self.travellers.keys())]
                          + [f"r:{k}" for k in list(self.reports.keys())])
            self._rescan_keys[(incident_id, generation)] = keys
        start = 0 if after is None else bisect.bisect_right(keys, after)
        end, matched = start, 0
        while end < len(keys) and matched < RESCAN_SLICE and end - start < RESCAN_SLICE * 8:
            key = keys[end]
            end += 1
            identifier = key[2:]
            if key.startswith("t:"):
                traveller = self.travellers.get(identifier)
                if traveller is not None and traveller["country"] == country:
                    matched += 1
                    self._set_membership(self.travellers, identifier, traveller, incident_id,
                                         self._traveller_in(traveller, incident, now),
                                         Contribution(f"registration:{identifier}", "registration",
                                                      frozenset(traveller["identifiers"])), identifier, touched)
            else:
                report = self.reports.get(identifier)
                if report is not None and report["country"] == country:
                    matched += 1
                    self._set_membership(self.reports, identifier, report, incident_id,
                                         self._report_in(report, incident),
                                         Contribution(f"report:{identifier}", "report",
                                                      frozenset(report["identifiers"])), None, touched)
        if end < len(keys):
            self._continuations.append(Continue(country, RescanSlice(incident_id=incident_id, generation=generation,
                                                                     after=keys[end - 1])))
        else:
            self._rescan_keys.pop((incident_id, generation), None)

    def _set_membership(self, store: Store, key: str, record: Record, incident_id: str, inside: bool,
                        contribution: Contribution, traveller_id: str | None, touched: _Touched) -> None:
        was = incident_id in record["incidents"]
        if inside:
            self._join(incident_id, contribution, traveller_id, record, touched)
        elif was:
            self._leave(incident_id, contribution.contribution_id, touched)
        if inside != was:
            incidents = set(record["incidents"])
            (incidents.add if inside else incidents.discard)(incident_id)
            store[key] = {**record, "incidents": sorted(incidents)}

    def _incident_close(self, incident_id: str) -> list[Effect]:
        record = self.incidents.get(incident_id)
        if record is None or not record.get("open", True):
            return []
        country = record["country"]
        for store in (self.travellers, self.reports):
            for key, value in list(store.items()):
                if value["country"] == country and incident_id in value["incidents"]:
                    store[key] = {**value, "incidents": [i for i in value["incidents"] if i != incident_id]}
        prefix = f"{incident_id}|"
        for key in [k for k in list(self.members.keys()) if k.startswith(prefix)]:
            del self.members[key]
        self._sets.pop(incident_id, None)
        self._unmessaged.pop(incident_id, None)
        effects: list[Effect] = [Unwatched(incident_id)]
        if record["phase"] == Phase.ACTIVE.value and record.get("crisis_id"):
            effects.append(CloseCrisis(incident_id, record["crisis_id"]))
        ended = record["phase"] in (Phase.ACTIVE.value, Phase.CLOSED.value)  # a proposal ends with its incident
        self.incidents[incident_id] = {**record, "open": False,
                                       "phase": Phase.CLOSED.value if ended else Phase.NONE.value}
        self._open_by_country = None
        return effects

    def _tick(self, now: datetime, partition: int, touched: _Touched) -> None:
        """Stays end and begin without an event: re-check the travellers of countries with open incidents;
        forget the reports no open incident counts once they are older than the retention."""
        self._purge_reports(now, partition)
        for record in list(self.incidents.values()):
            if not record.get("open", True) or record.get("partition") != partition:
                continue
            if (record["incident_id"], int(record.get("rescan", 0))) in self._rescan_keys:
                continue  # its slices are on their way: they do this work without holding the loop
            touched.touch(record["incident_id"])
            incident = _incident(record)
            for traveller_id, traveller in list(self.travellers.items()):
                if traveller["country"] != incident.area.country:
                    continue
                inside = self._traveller_in(traveller, incident, now)
                if inside != (incident.incident_id in traveller["incidents"]):
                    self._set_membership(self.travellers, traveller_id, traveller, incident.incident_id, inside,
                                         Contribution(f"registration:{traveller_id}", "registration",
                                                      frozenset(traveller["identifiers"])), traveller_id, touched)

    def _purge_reports(self, now: datetime, partition: int) -> None:
        """A report older than `report_retention` can only matter to an incident that was open before it went:
        those it counts in keep it, the others drop it (reporters' phone numbers and emails go with it)."""
        last = self._reports_purged_at.get(partition)
        if last is not None and now - last < PURGE_EVERY:
            return
        self._reports_purged_at[partition] = now
        cutoff = now - self.report_retention
        for reference, record in list(self.reports.items()):
            if record.get("partition") != partition or datetime.fromisoformat(record["received_at"]) >= cutoff:
                continue
            if any(self.incidents.get(i, {}).get("open", False) for i in record.get("incidents", [])):
                continue
            del self.reports[reference]

    # activation -------------------------------------------------------------------------------------------
    def _evaluate(self, incident_id: str, policy: ThresholdPolicy, changed: set[str] | None,
                  rules: ActivationRules = AUTOMATIC) -> list[Effect]:
        """The decision point: below the threshold nothing; crossing it activates (`automatic`) or proposes
        (`proposed`: a coordinator confirms, see `_proposal_decided`); a pending proposal whose incident is now
        under an automatic rule (its severity rose) activates at once."""
        record = self.incidents.get(incident_id)
        if record is None or not record.get("open", True):
            return []
        aset = self.affected(incident_id)
        count = aset.count
        phase = Phase(record["phase"])
        threshold = policy.for_severity(record["severity"])
        mode = rules.mode_for(record.get("origin"), record["severity"])
        if record.get("origin") == "manual":  # a coordinator opened the crisis: it is active whatever the count
            threshold, mode = 0, "automatic"
        effects: list[Effect] = []
        crossed = count >= threshold and phase in (Phase.NONE, Phase.PROPOSED)
        if crossed and mode == "automatic":
            effects.append(self._activate(record, threshold))
        elif crossed and phase is Phase.NONE:
            effects.append(Propose(_facts(record), count, aset.counts_by_source(), threshold,
                                   int(record.get("proposal_round", 0)) + 1))
        elif phase is Phase.ACTIVE:
            if count != record.get("last_count"):
                effects.append(CountChanged(incident_id, record["crisis_id"], count, aset.counts_by_source()))
                self.incidents[incident_id] = {**record, "last_count": count}
            if changed:
                recipients = self._unnotified(incident_id, aset, changed)
                if recipients:
                    effects.append(Notify(incident_id, record["crisis_id"], record["title"],
                                          record["hotline_number"], recipients))
        if record.get("origin") != "manual":  # the watch list is of incidents that may become crises
            effects.append(Watched(_facts(record), count, aset.counts_by_source(), threshold, mode))
        return effects

    def _activate(self, record: Record, threshold: int, actor: str = "system:threshold",
                  proposal_round: int | None = None) -> Activate:
        incident_id = record["incident_id"]
        aset = self.affected(incident_id)
        return Activate(_facts(record), aset.count, aset.counts_by_source(), threshold,
                        self._unnotified(incident_id, aset, None), tuple(self.people_points(incident_id)),
                        actor=actor, proposal_round=proposal_round)

    def _proposal_decided(self, command: ProposalDecided, policy: ThresholdPolicy) -> list[Effect]:
        """A coordinator's decision: confirmed activates exactly as the automatic mode does (whatever the count
        is now: they decided), dismissed keeps the incident on the watch list without a crisis."""
        record = self.incidents.get(command.incident_id)
        pending = (record is not None and record.get("open", True) and record["phase"] == Phase.PROPOSED.value
                   and int(record.get("proposal_round", 0)) == command.round)
        if record is None or not pending:
            return [ProposalSettled(command.incident_id, command.round)]
        if command.decision == "confirmed":
            return [self._activate(record, policy.for_severity(record["severity"]), command.actor, command.round)]
        self.incidents[command.incident_id] = {**record, "phase": Phase.DISMISSED.value}
        return [ProposalSettled(command.incident_id, command.round)]

    def _unnotified(self, incident_id: str, aset: AffectedSet, among: Iterable[str] | None) -> tuple[Recipient, ...]:
        """One recipient per registered person of the incident not yet messaged (limited to `among`'s people)."""
        if among is None:
            people: Iterable[frozenset[str]] = list(aset.people())
        else:
            seen: set[frozenset[str]] = set()
            for contribution_id in among:
                person = aset.same_person(contribution_id)
                if person:
                    seen.add(person)
            people = seen
        recipients: list[Recipient] = []
        unmessaged = self._unmessaged_ids(incident_id)
        for person in people:
            members = {cid: self.members.get(_member_key(incident_id, cid)) for cid in person}
            if any(m and m.get("notified") for m in members.values()):
                unmessaged.difference_update(person)  # messaged through another of their records
                continue
            registrations = sorted(cid for cid, m in members.items() if m and m["source"] == "registration")
            for cid in registrations:
                traveller = self.travellers.get(members[cid]["traveller_id"])  # type: ignore[index]
                if traveller and (traveller.get("phone") or traveller.get("email")):
                    recipients.append(Recipient(cid, traveller["traveller_id"], traveller.get("phone"),
                                                traveller.get("email"), traveller.get("language", "en")))
                    break
            else:  # nobody to write to: the sweeps stop looking until a record of theirs changes (it joins again)
                unmessaged.difference_update(person)
        return tuple(sorted(recipients, key=lambda r: r.contribution_id))

    # reports back from the adapter ------------------------------------------------------------------------
    def activated(self, incident_id: str, *, crisis_id: str, hotline_number: str, count: int,
                  still_active: bool = True) -> None:
        record = self.incidents[incident_id]
        phase = Phase.ACTIVE if still_active else Phase.CLOSED
        self.incidents[incident_id] = {**record, "phase": phase.value, "crisis_id": crisis_id,
                                       "hotline_number": hotline_number, "last_count": count}

    def proposed(self, incident_id: str, round: int) -> None:
        """The proposal is stored: wait for a coordinator."""
        record = self.incidents.get(incident_id)
        if record is not None and record["phase"] == Phase.NONE.value:
            self.incidents[incident_id] = {**record, "phase": Phase.PROPOSED.value, "proposal_round": round}

    def notified(self, incident_id: str, recipients: Iterable[Recipient]) -> None:
        unmessaged = self._unmessaged.get(incident_id, set())
        for recipient in recipients:
            key = _member_key(incident_id, recipient.contribution_id)
            member = self.members.get(key)
            if member is not None and not member.get("notified"):
                self.members[key] = {**member, "notified": True}
            unmessaged.discard(recipient.contribution_id)

    def crisis_closed(self, incident_id: str) -> None:
        """The crisis was closed elsewhere (a coordinator): no updates or messages any more, and none again."""
        record = self.incidents.get(incident_id)
        if record is not None and record["phase"] == Phase.ACTIVE.value:
            self.incidents[incident_id] = {**record, "phase": Phase.CLOSED.value}

    def active_crises(self, partition: int | None = None) -> list[tuple[str, str]]:
        """(incident_id, crisis_id) of the active crises held here."""
        return [
            (r["incident_id"], r["crisis_id"]) for r in list(self.incidents.values())
            if r["phase"] == Phase.ACTIVE.value and (partition is None or r.get("partition") == partition)
        ]
