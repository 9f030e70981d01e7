"""The country engine over plain dicts: the issue's scenarios at the level of the pure logic."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from services.crisis_center.domain.activation import ThresholdPolicy
from services.crisis_center.domain.commands import (
    IncidentClose,
    IncidentUpsert,
    ReportSeen,
    Tick,
    TravellerRemove,
    TravellersBatch,
    TravellerUpsert,
    decode_command,
    encode_command,
)
from services.crisis_center.domain.engine import (
    Activate,
    CloseCrisis,
    CountChanged,
    CountryEngine,
    Effect,
    Notify,
    Unwatched,
    Watched,
)
from services.crisis_center.domain.people import registration_contribution, report_contribution

NOW = datetime(2026, 11, 28, 12, tzinfo=UTC)
POLICY = ThresholdPolicy(3)
CIRCLE = {"country": "TR", "circle": {"lat": 41.0, "lon": 29.0, "radius_km": 20}}


def engine() -> tuple[CountryEngine, dict[str, dict[str, Any]]]:
    stores: dict[str, dict[str, Any]] = {"travellers": {}, "reports": {}, "incidents": {}, "members": {}}
    return CountryEngine(**stores), stores


def traveller(n: int, *, lat: float = 41.01, lon: float = 29.01, departure: date = date(2026, 12, 10),
              phone: str | None = None, country: str = "TR") -> TravellerUpsert:
    phone = phone or f"+3247000{n:04d}"
    contribution = registration_contribution(f"t{n}", phone, None)
    return TravellerUpsert(traveller_id=f"t{n}", country=country, lat=lat, lon=lon, arrival=date(2026, 11, 1),
                           departure=departure, phone=phone, language="nl",
                           identifiers=sorted(contribution.identifiers))


def incident(area: dict[str, Any] | None = None, severity: str = "severe") -> IncidentUpsert:
    return IncidentUpsert(incident_id="inc-1", title="Quake", kind="earthquake", severity=severity,
                          area=area or CIRCLE, occurred_at=NOW - timedelta(hours=1))


def run(eng: CountryEngine, *commands: Any, policy: ThresholdPolicy = POLICY) -> list[Effect]:
    """The effects of the commands, without the watch list's rows (test_activation_modes.py covers those)."""
    effects: list[Effect] = []
    for command in commands:
        effects += eng.handle(decode_command(encode_command(command)), now=NOW, policy=policy, partition=0)
    return [e for e in effects if not isinstance(e, Watched | Unwatched)]


def activate(eng: CountryEngine, effects: list[Effect]) -> Activate:
    [act] = [e for e in effects if isinstance(e, Activate)]
    eng.activated(act.incident.incident_id, crisis_id="c-1", hotline_number="+3225018111", count=act.count)
    eng.notified(act.incident.incident_id, act.recipients)
    return act


def test_a_batch_of_travellers_is_applied_in_order_and_evaluated_once() -> None:
    """A routed batch (`TravellersBatch`) is the same as its commands one by one, but the incident is evaluated once:
    one activation with everyone counted, whatever the batch's size."""
    eng, stores = engine()
    run(eng, incident())
    moved_out = traveller(2, lat=50.0)  # the same traveller, later in the batch, outside the circle
    batch = TravellersBatch(commands=[traveller(1), traveller(2), TravellerRemove(traveller_id="t1"), moved_out,
                                      traveller(3), traveller(4), traveller(5)])
    effects = run(eng, batch)
    [act] = [e for e in effects if isinstance(e, Activate)]
    assert act.count == 3 and sorted(r.traveller_id for r in act.recipients) == ["t3", "t4", "t5"]
    assert "t1" not in stores["travellers"] and stores["travellers"]["t2"]["incidents"] == []
    one_by_one, _ = engine()
    singles = run(one_by_one, incident(), *batch.commands)
    assert sum(isinstance(e, Activate) for e in singles) == 1
    assert one_by_one.affected("inc-1").count == eng.affected("inc-1").count == 3


def test_a_move_to_another_country_holds_whichever_partition_is_handled_first() -> None:
    """A traveller registered in TR (offset 1), then in GR (offset 6): the removal goes to TR's partition, the new
    record to GR's, handled in either order. The later registration stays; its cancellation (offset 9) removes it."""
    first = traveller(1).model_copy(update={"seq": 1})
    moved = traveller(1, lat=37.98, lon=23.73, country="GR").model_copy(update={"seq": 6})
    leave_tr = TravellerRemove(traveller_id="t1", country="TR", seq=6)
    batch = TravellersBatch(commands=[first, leave_tr])
    for order in ([first, leave_tr, moved], [moved, first, leave_tr], [moved, batch]):
        eng, stores = engine()
        run(eng, incident(), *order)
        assert stores["travellers"]["t1"]["country"] == "GR" and stores["travellers"]["t1"]["seq"] == 6
        assert eng.affected("inc-1").count == 0  # the Istanbul circle: t1 is in Athens now
        run(eng, TravellerRemove(traveller_id="t1", country="GR", seq=9))
        assert "t1" not in stores["travellers"]


def test_threshold_minus_one_then_threshold_activates_once() -> None:
    eng, _ = engine()
    assert run(eng, incident(), traveller(1), traveller(2)) == []
    effects = run(eng, traveller(3))
    act = activate(eng, effects)
    assert act.count == 3 and act.threshold == 3 and len(act.recipients) == 3
    more = run(eng, traveller(4), traveller(5))
    assert not any(isinstance(e, Activate) for e in more)
    assert [e.count for e in more if isinstance(e, CountChanged)] == [4, 5]
    notified = [r.traveller_id for e in more if isinstance(e, Notify) for r in e.recipients]
    assert notified == ["t4", "t5"]  # those registering in the area while the crisis is active


def test_traveller_registered_before_the_incident_is_found_by_the_scan() -> None:
    eng, _ = engine()
    effects = run(eng, traveller(1), traveller(2), traveller(3), incident())
    assert activate(eng, effects).count == 3


def test_outside_the_circle_or_ended_stay_does_not_count() -> None:
    eng, _ = engine()
    run(eng, incident(), traveller(1), traveller(2))
    assert run(eng, traveller(3, lat=42.5)) == []  # ~170 km away
    assert run(eng, traveller(4, departure=date(2026, 11, 20))) == []  # stay already ended
    assert eng.affected("inc-1").count == 2


def test_polygon_and_whole_country_areas() -> None:
    square = {"country": "TR", "polygon": [[28.9, 40.9], [29.1, 40.9], [29.1, 41.1], [28.9, 41.1]]}
    eng, _ = engine()
    run(eng, incident(square), traveller(1), traveller(2, lat=39.9, lon=32.8))
    assert eng.affected("inc-1").count == 1
    eng, _ = engine()
    run(eng, incident({"country": "TR"}), traveller(1), traveller(2, lat=39.9, lon=32.8), traveller(3, country="GR"))
    assert eng.affected("inc-1").count == 2


def test_cancelled_registration_lowers_the_count_without_deactivating() -> None:
    eng, _ = engine()
    activate(eng, run(eng, incident(), traveller(1), traveller(2), traveller(3)))
    effects = run(eng, TravellerRemove(traveller_id="t2"))
    assert [e.count for e in effects if isinstance(e, CountChanged)] == [2]
    assert not any(isinstance(e, Activate) for e in effects)  # stays active below the threshold: no flapping
    assert run(eng, traveller(2)) and not any(isinstance(e, Activate) for e in run(eng, traveller(6)))


def test_same_person_in_registration_and_report_counts_once() -> None:
    eng, _ = engine()
    run(eng, incident(), traveller(1), traveller(2))
    report = report_contribution("BE-2026-000001", reporter_phone="+32470000001", reporter_email=None)
    seen = ReportSeen(reference="BE-2026-000001", country="TR", lat=41.0, lon=29.0, received_at=NOW,
                      identifiers=sorted(report.identifiers))
    assert run(eng, seen) == []
    assert eng.affected("inc-1").count == 2
    assert eng.affected("inc-1").counts_by_source() == {"registration": 2, "report": 1}
    other = report_contribution("BE-2026-000002", reporter_phone="+32470009999", reporter_email=None)
    second = seen.model_copy(update={"reference": "BE-2026-000002", "identifiers": sorted(other.identifiers)})
    effects = run(eng, second)
    assert activate(eng, effects).count == 3


def test_duplicated_events_change_nothing() -> None:
    eng, stores = engine()
    commands = [incident(), traveller(1), traveller(2)]
    run(eng, *commands)
    snapshot = {name: dict(store) for name, store in stores.items()}
    assert run(eng, *commands) == []
    assert {name: dict(store) for name, store in stores.items()} == snapshot
    act = activate(eng, run(eng, traveller(3)))
    assert run(eng, traveller(3), incident()) == [] and act.count == 3


def test_tick_drops_stays_that_ended() -> None:
    eng, _ = engine()
    run(eng, incident(), traveller(1), traveller(2, departure=date(2026, 11, 28)))
    assert eng.affected("inc-1").count == 2
    later = NOW + timedelta(days=2)
    eng.handle(Tick(at=later), now=later, policy=POLICY, partition=0)
    assert eng.affected("inc-1").count == 1


def test_tick_forgets_old_reports_no_open_incident_counts() -> None:
    eng, stores = engine()

    def seen(reference: str, received_at: datetime, lat: float = 41.0) -> ReportSeen:
        report = report_contribution(reference, reporter_phone="+32470000001", reporter_email=None)
        return ReportSeen(reference=reference, country="TR", lat=lat, lon=29.0, received_at=received_at,
                          identifiers=sorted(report.identifiers))

    later = NOW + timedelta(days=31)
    run(eng, incident(), seen("in-open-incident", NOW), seen("elsewhere-old", NOW - timedelta(days=40), lat=38.0),
        seen("elsewhere-new", later - timedelta(days=2), lat=38.0))
    stores["reports"]["other-partition"] = {**stores["reports"]["elsewhere-old"], "partition": 1}
    eng.handle(Tick(at=later), now=later, policy=POLICY, partition=0)
    assert set(stores["reports"]) == {"in-open-incident", "elsewhere-new", "other-partition"}
    run(eng, IncidentClose(incident_id="inc-1"))
    eng.handle(Tick(at=later), now=later, policy=POLICY, partition=0)
    assert "in-open-incident" in stores["reports"]  # the table is scanned at most once an hour per partition
    an_hour_on = later + timedelta(hours=1)
    eng.handle(Tick(at=an_hour_on), now=an_hour_on, policy=POLICY, partition=0)
    assert set(stores["reports"]) == {"elsewhere-new", "other-partition"}  # its incident closed: it goes too


def test_lowered_threshold_activates_on_the_next_tick() -> None:
    eng, _ = engine()
    run(eng, incident(), traveller(1), traveller(2))
    effects = eng.handle(Tick(at=NOW), now=NOW, policy=ThresholdPolicy(5, {"severe": 2}), partition=0)
    assert activate(eng, effects).threshold == 2


def test_incident_closed_closes_its_crisis_and_never_reopens() -> None:
    eng, _ = engine()
    activate(eng, run(eng, incident(), traveller(1), traveller(2), traveller(3)))
    assert run(eng, IncidentClose(incident_id="inc-1")) == [CloseCrisis("inc-1", "c-1")]
    assert run(eng, IncidentClose(incident_id="inc-1")) == []
    assert run(eng, incident(), traveller(7)) == []
    assert eng.travellers["t1"]["incidents"] == []


def test_state_survives_a_new_engine_over_the_same_tables() -> None:
    """What a restart does: tables come back from the changelog, caches are rebuilt."""
    eng, stores = engine()
    activate(eng, run(eng, incident(), traveller(1), traveller(2), traveller(3)))
    again = CountryEngine(**stores)
    assert again.affected("inc-1").count == 3
    effects = run(again, traveller(3), traveller(4))
    assert not any(isinstance(e, Activate) for e in effects)
    assert [r.traveller_id for e in effects if isinstance(e, Notify) for r in e.recipients] == ["t4"]


def test_crisis_closed_by_a_coordinator_stops_messages() -> None:
    eng, _ = engine()
    activate(eng, run(eng, incident(), traveller(1), traveller(2), traveller(3)))
    eng.crisis_closed("inc-1")
    assert run(eng, traveller(4)) == []
    assert eng.active_crises() == []


def test_tick_messages_whoever_a_failed_effect_left_out() -> None:
    eng, _ = engine()
    activate(eng, run(eng, incident(), traveller(1), traveller(2), traveller(3)))
    joined = [e for e in run(eng, traveller(4)) if isinstance(e, Notify)]
    assert [r.traveller_id for e in joined for r in e.recipients] == ["t4"]  # ... but never marked as sent
    swept = eng.handle(Tick(at=NOW), now=NOW, policy=POLICY, partition=0)
    [notify] = [e for e in swept if isinstance(e, Notify)]
    assert [r.traveller_id for r in notify.recipients] == ["t4"]
    eng.notified("inc-1", notify.recipients)
    assert not any(isinstance(e, Notify) for e in eng.handle(Tick(at=NOW), now=NOW, policy=POLICY, partition=0))
