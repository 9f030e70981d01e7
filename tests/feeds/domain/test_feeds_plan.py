"""The planner (services/feeds/domain/plan.py) on its own: what one read of one feed publishes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.feeds.domain.model import FeedDocument, FeedEvent, Plan, State
from services.feeds.domain.plan import plan_document
from services.feeds.domain.rules import Policy
from tests.feeds.domain.test_feeds_rules import gdacs, usgs

NOW = datetime.now(UTC)
POLICY = Policy(absent_polls=2)


def read(state: State, feed: str, *events: FeedEvent, at: datetime = NOW, policy: Policy = POLICY,
         polygons: dict[str, list[tuple[float, float]] | None] | None = None,
         unusable: frozenset[str] = frozenset()) -> Plan:
    document = FeedDocument(feed, tuple(events), unusable)  # type: ignore[arg-type]
    return plan_document(state, document, now=at, policy=policy, polygons=polygons or {})


def kinds(plan: Plan) -> list[tuple[str, str]]:
    return [(p.kind, p.incident_id) for p in plan.publications]


def test_a_qualifying_event_is_reported_once() -> None:
    state = State()
    plan = read(state, "gdacs", gdacs())
    assert kinds(plan) == [("reported", "gdacs:EQ:1")]
    assert plan.publications[0].revision == 1
    assert kinds(read(state, "gdacs", gdacs())) == []


def test_ignored_events_say_why() -> None:
    plan = read(State(), "usgs", usgs(5.0, source_id="usgs:a"), usgs(7.0, source_id="usgs:b", country=None),
                usgs(7.0, source_id="usgs:c", last_activity_at=NOW - timedelta(days=4)),
                usgs(7.0, source_id="usgs:d", hazard="explosion"))
    assert kinds(plan) == []
    assert {(i.source_id, i.reason) for i in plan.ignored} == {
        ("usgs:a", "below_threshold"), ("usgs:b", "no_country"), ("usgs:c", "stale"), ("usgs:d", "not_an_earthquake")}


def test_the_second_feed_enriches_the_first_feeds_incident() -> None:
    state = State()
    assert kinds(read(state, "usgs", usgs(7.0))) == [("reported", "usgs:us7000abcd")]
    green = gdacs(alert="green", occurred_at=NOW + timedelta(minutes=5), magnitude=6.9)
    plan = read(state, "gdacs", green)
    assert kinds(plan) == [], "below its own threshold, yet linked; nothing new to say"
    assert state.incidents["usgs:us7000abcd"].source_of("gdacs") is not None
    raised = gdacs(alert="red", episode="2", occurred_at=NOW + timedelta(minutes=5), magnitude=6.9)
    plan = read(state, "gdacs", raised)
    assert kinds(plan) == [("updated", "usgs:us7000abcd")]
    assert plan.publications[0].data is not None and plan.publications[0].data["severity"] == "extreme"
    assert plan.publications[0].revision == 2


def test_two_quakes_in_the_window_pair_with_the_closest() -> None:
    state = State()
    read(state, "usgs", usgs(7.0, source_id="usgs:main"))
    read(state, "usgs", usgs(7.0, source_id="usgs:main"), usgs(6.2, source_id="usgs:after", lat=27.9,
                                                                occurred_at=NOW + timedelta(minutes=20)))
    assert set(state.incidents) == {"usgs:main", "usgs:after"}
    main = gdacs(source_id="gdacs:EQ:1", magnitude=7.0, occurred_at=NOW + timedelta(seconds=30))
    after = gdacs(source_id="gdacs:EQ:2", magnitude=6.2, lat=27.9, occurred_at=NOW + timedelta(minutes=20))
    read(state, "gdacs", after, main)
    assert state.incidents["usgs:main"].source_of("gdacs").source_id == "gdacs:EQ:1"  # type: ignore[union-attr]
    assert state.incidents["usgs:after"].source_of("gdacs").source_id == "gdacs:EQ:2"  # type: ignore[union-attr]


def test_a_closed_incident_keeps_the_other_feed_from_reporting_the_same_quake() -> None:
    state = State()
    read(state, "gdacs", gdacs())
    read(state, "gdacs", at=NOW + timedelta(minutes=1))
    assert kinds(read(state, "gdacs", at=NOW + timedelta(minutes=2))) == [("closed", "gdacs:EQ:1")]
    assert kinds(read(state, "usgs", usgs(7.2), at=NOW + timedelta(minutes=3))) == []
    assert state.incidents["gdacs:EQ:1"].source_of("usgs") is not None


def test_an_incident_closes_when_every_source_has_left() -> None:
    state = State()
    read(state, "usgs", usgs(7.0))
    read(state, "gdacs", gdacs())
    for minute in (1, 2, 3):
        assert kinds(read(state, "gdacs", at=NOW + timedelta(minutes=minute))) == []
    assert kinds(read(state, "usgs", usgs(7.0), at=NOW + timedelta(minutes=4))) == []
    read(state, "usgs", at=NOW + timedelta(minutes=5))
    assert kinds(read(state, "usgs", at=NOW + timedelta(minutes=6))) == [("closed", "usgs:us7000abcd")]
    assert state.incidents["usgs:us7000abcd"].close_reason == "left_feed"


def test_an_item_the_adapter_could_not_map_is_still_present() -> None:
    state = State()
    read(state, "gdacs", gdacs())
    for minute in (1, 2, 3):
        assert kinds(read(state, "gdacs", at=NOW + timedelta(minutes=minute),
                          unusable=frozenset({"gdacs:EQ:1"}))) == []


def test_the_ttl_counts_from_the_last_change_and_only_in_a_feed_of_the_incident() -> None:
    state = State()
    read(state, "gdacs", gdacs("FL"))
    later = NOW + timedelta(hours=60)
    assert kinds(read(state, "gdacs", gdacs("FL", episode="2"), at=later)) == [("updated", "gdacs:FL:1")]
    assert kinds(read(state, "usgs", at=later + timedelta(hours=72))) == [], "USGS's reads do not age GDACS's"
    assert kinds(read(state, "gdacs", gdacs("FL", episode="2"), at=later + timedelta(hours=71))) == []
    plan = read(state, "gdacs", gdacs("FL", episode="2"), at=later + timedelta(hours=72))
    assert kinds(plan) == [("closed", "gdacs:FL:1")] and plan.publications[0].reason == "ttl"
    assert kinds(read(state, "gdacs", gdacs("FL", episode="3", alert="red"), at=later + timedelta(hours=73))) == []


def test_a_polygon_is_the_area_and_a_new_one_an_update() -> None:
    state = State()
    ring = [(125.0, 12.0), (127.5, 12.0), (127.5, 15.0), (125.0, 12.0)]
    plan = read(state, "gdacs", gdacs("TC"), polygons={"gdacs:TC:1": ring})
    assert plan.publications[0].data is not None
    assert plan.publications[0].data["area"] == {"country": "NP", "polygon": [list(p) for p in ring]}
    assert kinds(read(state, "gdacs", gdacs("TC"), polygons={"gdacs:TC:1": ring})) == []
    wider = [(124.0, 11.0), (128.5, 11.0), (128.5, 16.0), (124.0, 11.0)]
    assert kinds(read(state, "gdacs", gdacs("TC", episode="2"), polygons={"gdacs:TC:1": wider})) == [
        ("updated", "gdacs:TC:1")]


def test_a_usgs_magnitude_revision_is_an_update_its_other_changes_are_not() -> None:
    state = State()
    read(state, "usgs", usgs(6.5))
    assert kinds(read(state, "usgs", usgs(6.5, place="11 km NNE of Kathmandu, Nepal"))) == []
    plan = read(state, "usgs", usgs(6.8, place="11 km NNE of Kathmandu, Nepal"))
    assert kinds(plan) == [("updated", "usgs:us7000abcd")]
    assert plan.publications[0].data is not None
    assert plan.publications[0].data["title"] == "Earthquake: 11 km NNE of Kathmandu, Nepal (M 6.8)"


def test_the_incident_links_the_naming_sources_page_else_the_others() -> None:
    state = State()
    usgs_page = "https://earthquake.usgs.gov/earthquakes/eventpage/us7000abcd"
    gdacs_page = "https://www.gdacs.org/report.aspx?eventtype=EQ&eventid=1"
    plan = read(state, "usgs", usgs(7.0, link=usgs_page))
    assert plan.publications[0].data is not None and plan.publications[0].data["link"] == usgs_page
    plan = read(state, "gdacs", gdacs(alert="red", occurred_at=NOW + timedelta(minutes=5), link=gdacs_page))
    assert kinds(plan) == [("updated", "usgs:us7000abcd")]
    assert plan.publications[0].data is not None and plan.publications[0].data["link"] == usgs_page

    unlinked = State()
    read(unlinked, "gdacs", gdacs())
    plan = read(unlinked, "usgs", usgs(7.0, occurred_at=NOW + timedelta(minutes=3), link=usgs_page))
    assert plan.publications[0].data is not None and plan.publications[0].data["link"] == usgs_page


def test_a_link_alone_does_not_update_an_incident_published_before_links() -> None:
    state = State()
    read(state, "usgs", usgs(7.0))
    incident = state.incidents["usgs:us7000abcd"]
    incident.published = {k: v for k, v in incident.published.items() if k != "link"}  # published by an older version
    green = gdacs(alert="green", occurred_at=NOW + timedelta(minutes=5), magnitude=6.9,
                  link="https://www.gdacs.org/report.aspx?eventtype=EQ&eventid=1")
    assert kinds(read(state, "gdacs", green)) == []


def test_linking_looks_at_the_same_quake_window_only_and_at_its_edges() -> None:
    """The planner compares an event with the other feed's quakes within 30 minutes of it (found by time): the
    edges of the window still link, a minute beyond does not, among many other incidents."""
    state = State()
    others = [usgs(6.5, source_id=f"usgs:far{n}", occurred_at=NOW - timedelta(hours=n + 1)) for n in range(50)]
    edge_before = usgs(6.5, source_id="usgs:before", occurred_at=NOW - timedelta(minutes=30), lat=10.0, lon=10.0,
                       country="NG")
    edge_after = usgs(6.5, source_id="usgs:after", occurred_at=NOW + timedelta(minutes=30), lat=-10.0, lon=-50.0,
                      country="BR")
    beyond = usgs(6.5, source_id="usgs:beyond", occurred_at=NOW + timedelta(minutes=31), lat=40.0, lon=20.0,
                  country="AL")
    read(state, "usgs", *others, edge_before, edge_after, beyond, at=NOW + timedelta(minutes=40))
    assert len(state.incidents) == 53
    quakes = [gdacs(source_id="gdacs:EQ:1", lat=10.1, lon=10.1, country="NG", occurred_at=NOW),
              gdacs(source_id="gdacs:EQ:2", lat=-10.1, lon=-50.1, country="BR", occurred_at=NOW),
              gdacs(source_id="gdacs:EQ:3", lat=40.1, lon=20.1, country="AL", occurred_at=NOW)]
    read(state, "gdacs", *quakes, at=NOW + timedelta(minutes=41))
    linked = {source_id: source.incident_id for source_id in ("gdacs:EQ:1", "gdacs:EQ:2", "gdacs:EQ:3")
              if (source := state.source(source_id)) is not None}
    assert linked == {"gdacs:EQ:1": "usgs:before", "gdacs:EQ:2": "usgs:after", "gdacs:EQ:3": "gdacs:EQ:3"}
    assert "gdacs:EQ:3" in state.incidents, "a minute beyond the window: a quake of its own"
