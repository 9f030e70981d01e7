"""The registry of one partition of travellers.registrations (issue 20): what it sends on to the country agent."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from services.crisis_center.domain.commands import TravellerRemove, TravellerUpsert
from services.crisis_center.domain.people import registration_contribution
from services.crisis_center.domain.registry import STEP, Forward, HeldLedger, OpenAreas, PartitionRegistry
from shared.events.travellers import TravellerRegistered
from shared.geo import Area, Point

ISTANBUL = Area.from_dict({"country": "TR", "circle": {"lat": 41.0, "lon": 29.0, "radius_km": 20}})
INSIDE, OUTSIDE = (41.01, 29.01), (39.9, 32.8)  # Istanbul, Ankara


class FixedPlaces:
    """Coordinates as given, one time zone: the registry's only collaborator, without the gazetteer's files."""

    def point(self, country: str, city: str | None, lat: float | None, lon: float | None) -> Point | None:
        return Point(lat, lon) if lat is not None and lon is not None else None

    def tz(self, point: Point | None) -> str | None:
        return "Europe/Istanbul" if point is not None else None


def registration(traveller_id: str, where: tuple[float, float] | None, country: str = "TR") -> TravellerRegistered:
    return TravellerRegistered(
        traveller_id=traveller_id, full_name="A Traveller", phone="+32470000001", email="a@example.org",
        language="nl", country=country, location={"lat": where[0], "lon": where[1]} if where else None,
        arrival=date(2030, 1, 1), departure=date(2030, 1, 9))


def open_areas(*incidents: tuple[str, Area]) -> OpenAreas:
    areas = OpenAreas()
    for incident_id, area in incidents:
        assert areas.apply(incident_id, area)
    return areas


def flat(steps: Iterable[list[Forward]]) -> list[Forward]:
    """A scan's or a reconcile's steps, one after the other."""
    return [forward for step in steps for forward in step]


def removals(forwards: list[Forward]) -> list[tuple[str, str, int | None]]:
    return [(country, c.traveller_id, c.seq) for country, c in forwards if isinstance(c, TravellerRemove)]


def upserts(forwards: list[Forward]) -> list[tuple[str, str, int | None]]:
    return [(country, c.traveller_id, c.seq) for country, c in forwards if isinstance(c, TravellerUpsert)]


def test_only_a_traveller_inside_an_open_area_is_sent_on_with_what_the_country_agent_needs() -> None:
    registry, areas = PartitionRegistry(FixedPlaces()), open_areas(("quake", ISTANBUL))
    assert registry.register(registration("far", OUTSIDE), 10, areas) == []
    forwards = registry.register(registration("near", INSIDE), 11, areas)
    assert upserts(forwards) == [("TR", "near", 11)]
    command = forwards[0][1]
    assert isinstance(command, TravellerUpsert)
    assert command.tz == "Europe/Istanbul" and command.language == "nl" and command.email == "a@example.org"
    assert command.identifiers == sorted(registration_contribution("near", "+32470000001", "a@example.org").identifiers)
    assert len(registry) == 2 and registry.held == {"near": frozenset({"TR"})}


def test_a_held_travellers_every_change_is_sent_on_and_a_move_removes_the_old_countrys_record() -> None:
    registry, areas = PartitionRegistry(FixedPlaces()), open_areas(("quake", ISTANBUL))
    registry.register(registration("t1", INSIDE), 1, areas)
    # left the area, same country: the country agent must see them leave
    assert upserts(registry.register(registration("t1", OUTSIDE), 2, areas)) == [("TR", "t1", 2)]
    # moved to Greece, where nothing is open: removed from Turkey's tables, not sent to Greece's
    forwards = registry.register(registration("t1", (37.98, 23.72), "GR"), 3, areas)
    assert removals(forwards) == [("TR", "t1", 3)] and upserts(forwards) == []
    assert "t1" not in registry.held and registry.by_country["TR"] == set()
    assert registry.register(registration("t1", (37.98, 23.72), "GR"), 4, areas) == []


def test_a_cancellation_removes_a_held_traveller_and_sends_nothing_for_one_never_sent() -> None:
    registry, areas = PartitionRegistry(FixedPlaces()), open_areas(("quake", ISTANBUL))
    registry.register(registration("near", INSIDE), 1, areas)
    registry.register(registration("far", OUTSIDE), 2, areas)
    assert removals(registry.cancel("near", 3)) == [("TR", "near", 3)]
    assert registry.cancel("far", 4) == [] and len(registry) == 0 and registry.held == {}


def test_an_older_record_read_again_changes_nothing() -> None:
    registry, areas = PartitionRegistry(FixedPlaces()), open_areas(("quake", ISTANBUL))
    registry.register(registration("t1", OUTSIDE), 5, areas)
    assert registry.register(registration("t1", INSIDE), 4, areas) == []
    assert registry.cancel("t1", 3) == [] and registry.travellers["t1"].seq == 5


def test_a_new_area_is_used_only_once_applied_and_its_scan_sends_each_traveller_inside_once() -> None:
    registry, areas = PartitionRegistry(FixedPlaces()), OpenAreas()
    assert areas.changes("quake", ISTANBUL)
    assert registry.register(registration("near", INSIDE), 1, areas) == []  # not applied yet: held back
    registry.register(registration("far", OUTSIDE), 2, areas)
    registry.register(registration("nowhere", None), 3, areas)  # no position: never inside a circle
    assert areas.apply("quake", ISTANBUL)
    assert upserts(flat(registry.scan(ISTANBUL))) == [("TR", "near", 1)]
    assert flat(registry.scan(ISTANBUL)) == []
    assert not areas.changes("quake", ISTANBUL)


def test_closed_incidents_and_changes_of_country_are_not_areas() -> None:
    areas = open_areas(("quake", ISTANBUL))
    athens = Area.from_dict({"country": "GR", "circle": {"lat": 37.98, "lon": 23.72, "radius_km": 20}})
    assert not areas.changes("quake", athens) and not areas.apply("quake", athens)
    areas.close("quake")
    assert not areas.covers("TR", Point(*INSIDE)) and len(areas) == 0
    assert not areas.changes("quake", ISTANBUL)  # closed for good


def test_a_whole_country_area_covers_travellers_without_a_position() -> None:
    registry = PartitionRegistry(FixedPlaces())
    areas = open_areas(("unrest", Area.from_dict({"country": "TR"})))
    assert upserts(registry.register(registration("nowhere", None), 1, areas)) == [("TR", "nowhere", 1)]


def test_a_rebuild_decides_once_on_each_travellers_last_record() -> None:
    """Read from the beginning: a registration cancelled later in the partition is never sent on; a traveller
    the country agent may still hold (held) but whose registration is gone is removed there."""
    registry = PartitionRegistry(FixedPlaces(), {"gone": frozenset({"TR"}), "kept": frozenset({"TR"})},
                                 rebuilding=True)
    areas = open_areas(("quake", ISTANBUL))
    assert registry.register(registration("cancelled", INSIDE), 1, areas) == []
    assert registry.cancel("cancelled", 2) == []
    assert registry.register(registration("kept", OUTSIDE), 3, areas) == []
    assert registry.register(registration("near", INSIDE), 4, areas) == []
    assert flat(registry.scan(ISTANBUL)) == []  # the reconcile looks at everyone
    forwards = flat(registry.reconcile(areas))
    assert removals(forwards) == [("TR", "gone", None)]
    assert sorted(upserts(forwards)) == [("TR", "kept", 3), ("TR", "near", 4)]
    assert registry.held == {"kept": frozenset({"TR"}), "near": frozenset({"TR"})} and not registry.rebuilding


def test_the_ledger_writes_the_union_before_and_the_decision_after() -> None:
    registry, areas = PartitionRegistry(FixedPlaces()), open_areas(("quake", ISTANBUL), (
        "flood", Area.from_dict({"country": "GR"})))
    ledger = HeldLedger()
    registry.register(registration("t1", INSIDE), 1, areas)
    first = ledger.widen(registry.held, registry.changed)
    assert first == {"t1": frozenset({"TR"})}
    ledger.wrote(first)
    assert ledger.settle(registry.held, registry.changed) == {}
    registry.changed.clear()
    registry.register(registration("t1", (37.98, 23.72), "GR"), 2, areas)  # a move between two held countries
    wider = ledger.widen(registry.held, registry.changed)
    assert wider == {"t1": frozenset({"TR", "GR"})}
    ledger.wrote(wider)
    # a crash now: what the topic says makes a rebuild remove Turkey's record again
    rebuilt = PartitionRegistry(FixedPlaces(), dict(ledger.written), rebuilding=True)
    rebuilt.register(registration("t1", (37.98, 23.72), "GR"), 2, areas)
    assert removals(flat(rebuilt.reconcile(areas))) == [("TR", "t1", 2)]
    settled = ledger.settle(registry.held, registry.changed)
    assert settled == {"t1": frozenset({"GR"})}
    ledger.wrote(settled)
    registry.changed.clear()
    registry.cancel("t1", 3)
    assert ledger.widen(registry.held, registry.changed) == {}
    tombstone = ledger.settle(registry.held, registry.changed)
    assert tombstone == {"t1": frozenset()}
    ledger.wrote(tombstone)
    assert ledger.written == {}


def test_a_rebuild_from_a_snapshot_does_not_send_again_what_was_delivered() -> None:
    areas = open_areas(("quake", ISTANBUL))
    first = PartitionRegistry(FixedPlaces())
    sent = first.register(registration("t1", INSIDE), 1, areas) + first.register(registration("t2", INSIDE), 2, areas)
    first.confirm(command for _, command in sent[:1])  # t2's upsert was never acknowledged
    assert first.delivered == {"t1": 1}
    restarted = PartitionRegistry(FixedPlaces(), dict(first.held), rebuilding=True)
    restarted.restore(dict(first.travellers), first.delivered)
    restarted.register(registration("t3", INSIDE), 3, areas)  # read after the snapshot
    assert sorted(upserts(flat(restarted.reconcile(areas)))) == [("TR", "t2", 2), ("TR", "t3", 3)]
    restarted.confirm(command for _, command in removals_of(restarted.cancel("t1", 4)))
    assert "t1" not in restarted.delivered


def removals_of(forwards: list[Forward]) -> list[Forward]:
    return [f for f in forwards if isinstance(f[1], TravellerRemove)]


def test_a_scan_over_a_crowd_comes_in_steps_and_sends_each_traveller_inside_once() -> None:
    registry, areas = PartitionRegistry(FixedPlaces()), OpenAreas()
    crowd = 2 * STEP + 10
    for n in range(crowd):
        registry.register(registration(f"t{n:05d}", INSIDE if n % 2 else OUTSIDE), n, areas)
    areas.apply("quake", ISTANBUL)
    steps = list(registry.scan(ISTANBUL))
    assert len(steps) == 3 and all(len(step) <= STEP for step in steps)
    assert sorted(t for _, t, _ in upserts(flat(steps))) == [f"t{n:05d}" for n in range(1, crowd, 2)]
