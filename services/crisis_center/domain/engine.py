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
  hotline_number, last_count, partition}.
- members: "<incident_id>|<contribution_id>" -> {source, identifiers, traveller_id, notified, lat, lon}
  (position rounded to 2 decimals, ~1 km: what the dashboard's map shows).
"""

from __future__ import annotations

from collections.abc import Iterable, MutableMapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from shared.geo import Area, Point

from .activation import Phase, ThresholdPolicy, should_activate
from .affected import AffectedSet
from .commands import (
    Command,
    IncidentClose,
    IncidentUpsert,
    ReportSeen,
    Tick,
    TravellerRemove,
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
class IncidentFacts:
    incident_id: str
    title: str
    kind: str
    severity: str
    area: Area
    occurred_at: datetime


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
class Activate:
    incident: IncidentFacts
    count: int
    by_source: dict[Source, int]
    threshold: int
    recipients: tuple[Recipient, ...]
    people: tuple[PersonPoint, ...] = ()


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


Effect = Activate | CountChanged | Notify | PeopleChanged | CloseCrisis

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


def _point(record: Record) -> Point | None:
    lat, lon = record.get("lat"), record.get("lon")
    return Point(float(lat), float(lon)) if lat is not None and lon is not None else None


def _map_position(record: Record) -> tuple[float | None, float | None]:
    point = _point(record)
    if point is None:
        return None, None
    return round(point.lat, MAP_DECIMALS), round(point.lon, MAP_DECIMALS)


def _incident(record: Record) -> Incident:
    return Incident(
        record["incident_id"], record["title"], record["kind"], record["severity"],
        Area.from_dict(record["area"]), datetime.fromisoformat(record["occurred_at"]),
    )


PURGE_EVERY = timedelta(hours=1)  # old reports are looked for at most this often (per partition)


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

    # caches -------------------------------------------------------------------------------------------------
    def forget_caches(self) -> None:
        self._sets.clear()
        self._open_by_country = None

    def affected(self, incident_id: str) -> AffectedSet:
        aset = self._sets.get(incident_id)
        if aset is None:
            prefix = f"{incident_id}|"
            aset = AffectedSet(
                Contribution(key[len(prefix):], value["source"], frozenset(value["identifiers"]))
                for key, value in list(self.members.items())
                if key.startswith(prefix)
            )
            self._sets[incident_id] = aset
        return aset

    def _open_incidents(self, country: str) -> list[Incident]:
        if self._open_by_country is None:
            index: dict[str, list[Incident]] = {}
            for record in list(self.incidents.values()):
                if record.get("open", True):
                    index.setdefault(record["country"], []).append(_incident(record))
            self._open_by_country = index
        return self._open_by_country.get(country, [])

    # commands -----------------------------------------------------------------------------------------------
    def handle(self, command: Command, *, now: datetime, policy: ThresholdPolicy, partition: int) -> list[Effect]:
        touched = _Touched()
        effects: list[Effect] = []
        match command:
            case TravellerUpsert():
                self._traveller_upsert(command, now, touched)
            case TravellerRemove():
                self._traveller_remove(command.traveller_id, touched)
            case ReportSeen():
                self._report_seen(command, partition, touched)
            case IncidentUpsert():
                self._incident_upsert(command, now, partition, touched)
            case IncidentClose():
                effects += self._incident_close(command.incident_id)
            case Tick():
                self._tick(command.at, partition, touched)
        for incident_id in sorted(touched.incidents):
            changed = touched.contributions.get(incident_id)
            if isinstance(command, Tick):
                changed = set(self.affected(incident_id).contribution_ids())  # a sweep: anyone not yet messaged
            effects += self._evaluate(incident_id, policy, changed)
            effects += self._map(incident_id, None if isinstance(command, Tick) else touched.mapped.get(incident_id))
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
        record: Record = command.model_dump(mode="json", exclude={"op"})
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

    def _traveller_remove(self, traveller_id: str, touched: _Touched) -> None:
        previous = self.travellers.get(traveller_id)
        if previous is None:
            return
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
        record: Record = {
            "incident_id": command.incident_id, "title": command.title, "kind": command.kind,
            "severity": command.severity, "area": area.to_dict(), "occurred_at": command.occurred_at.isoformat(),
            "country": area.country, "open": True, "partition": partition,
            "phase": previous["phase"] if previous else Phase.NONE.value,
            "crisis_id": previous.get("crisis_id") if previous else None,
            "hotline_number": previous.get("hotline_number") if previous else None,
            "last_count": previous.get("last_count", 0) if previous else 0,
        }
        if previous == record:
            return  # duplicate: nothing to rescan
        self.incidents[command.incident_id] = record
        self._open_by_country = None
        touched.touch(command.incident_id)
        self._rescan(_incident(record), now, touched)

    def _rescan(self, incident: Incident, now: datetime, touched: _Touched) -> None:
        """Bring every traveller and report of the incident's country in line with its (new) area."""
        incident_id, country = incident.incident_id, incident.area.country
        for traveller_id, record in list(self.travellers.items()):
            if record["country"] != country:
                continue
            inside = self._traveller_in(record, incident, now)
            self._set_membership(self.travellers, traveller_id, record, incident_id, inside,
                                 Contribution(f"registration:{traveller_id}", "registration",
                                              frozenset(record["identifiers"])), traveller_id, touched)
        for reference, record in list(self.reports.items()):
            if record["country"] != country:
                continue
            inside = self._report_in(record, incident)
            self._set_membership(self.reports, reference, record, incident_id, inside,
                                 Contribution(f"report:{reference}", "report", frozenset(record["identifiers"])),
                                 None, touched)

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
        effects: list[Effect] = []
        if record["phase"] == Phase.ACTIVE.value and record.get("crisis_id"):
            effects.append(CloseCrisis(incident_id, record["crisis_id"]))
        self.incidents[incident_id] = {**record, "open": False,
                                       "phase": Phase.CLOSED.value if record["phase"] != "none" else "none"}
        self._open_by_country = None
        return effects

    def _tick(self, now: datetime, partition: int, touched: _Touched) -> None:
        """Stays end and begin without an event: re-check the travellers of countries with open incidents;
        forget the reports no open incident counts once they are older than the retention."""
        self._purge_reports(now, partition)
        for record in list(self.incidents.values()):
            if not record.get("open", True) or record.get("partition") != partition:
                continue
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
    def _evaluate(self, incident_id: str, policy: ThresholdPolicy, changed: set[str] | None) -> list[Effect]:
        record = self.incidents.get(incident_id)
        if record is None or not record.get("open", True):
            return []
        aset = self.affected(incident_id)
        count = aset.count
        phase = Phase(record["phase"])
        threshold = policy.for_severity(record["severity"])
        effects: list[Effect] = []
        if should_activate(phase, count, threshold):
            incident = _incident(record)
            facts = IncidentFacts(incident.incident_id, incident.title, incident.kind, incident.severity,
                                  incident.area, incident.occurred_at)
            effects.append(Activate(facts, count, aset.counts_by_source(), threshold,
                                    self._unnotified(incident_id, aset, None),
                                    tuple(self.people_points(incident_id))))
        elif phase is Phase.ACTIVE:
            if count != record.get("last_count"):
                effects.append(CountChanged(incident_id, record["crisis_id"], count, aset.counts_by_source()))
                self.incidents[incident_id] = {**record, "last_count": count}
            if changed:
                recipients = self._unnotified(incident_id, aset, changed)
                if recipients:
                    effects.append(Notify(incident_id, record["crisis_id"], record["title"],
                                          record["hotline_number"], recipients))
        return effects

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
        for person in people:
            members = {cid: self.members.get(_member_key(incident_id, cid)) for cid in person}
            if any(m and m.get("notified") for m in members.values()):
                continue
            registrations = sorted(cid for cid, m in members.items() if m and m["source"] == "registration")
            for cid in registrations:
                traveller = self.travellers.get(members[cid]["traveller_id"])  # type: ignore[index]
                if traveller and (traveller.get("phone") or traveller.get("email")):
                    recipients.append(Recipient(cid, traveller["traveller_id"], traveller.get("phone"),
                                                traveller.get("email"), traveller.get("language", "en")))
                    break
        return tuple(sorted(recipients, key=lambda r: r.contribution_id))

    # reports back from the adapter ------------------------------------------------------------------------
    def activated(self, incident_id: str, *, crisis_id: str, hotline_number: str, count: int,
                  still_active: bool = True) -> None:
        record = self.incidents[incident_id]
        phase = Phase.ACTIVE if still_active else Phase.CLOSED
        self.incidents[incident_id] = {**record, "phase": phase.value, "crisis_id": crisis_id,
                                       "hotline_number": hotline_number, "last_count": count}

    def notified(self, incident_id: str, recipients: Iterable[Recipient]) -> None:
        for recipient in recipients:
            key = _member_key(incident_id, recipient.contribution_id)
            member = self.members.get(key)
            if member is not None and not member.get("notified"):
                self.members[key] = {**member, "notified": True}

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
