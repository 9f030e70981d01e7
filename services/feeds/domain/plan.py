"""What one read of one feed changes: which incidents are reported, updated or closed (docs/feeds.md, "Rules").

`plan_document` takes the state as published (every incident with its sources), the document just read and the
polygons of its GDACS items' current episodes; it changes the state in place (marking what changed) and returns
the events to publish. The caller holds the lock and writes both in one transaction.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from services.feeds.domain.model import (
    Feed,
    FeedDocument,
    FeedEvent,
    Ignored,
    IncidentState,
    LonLat,
    Plan,
    Publication,
    SourceState,
    State,
)
from services.feeds.domain.rules import (
    SAME_QUAKE_WITHIN,
    Policy,
    area_of,
    highest_severity,
    is_stale,
    kind_of,
    quake_distance,
    qualifies,
    severity_of,
    signature,
    title_of,
)
from shared.events.incidents import IncidentReported


def incident_facts(incident: IncidentState) -> dict[str, Any]:
    """The data of an incident's reported/updated event from its sources: the first source names it (id, kind,
    title, and the event page it links, else the other source's); the magnitude is USGS's where it has one; the
    area GDACS's polygon, else USGS's circle, else the naming source's; the severity the highest of the sources';
    the time the earliest."""
    sources = sorted(incident.sources.values(), key=lambda s: s.first_seen_at)
    named = incident.named_by or sources[0]
    usgs, gdacs = incident.source_of("usgs"), incident.source_of("gdacs")
    magnitude = next((s.event.magnitude for s in (usgs, gdacs, named)
                      if s is not None and s.event.magnitude is not None), None)
    if gdacs is not None and gdacs.polygon:
        area = area_of(gdacs.event, incident.country, gdacs.polygon)
    elif usgs is not None:
        area = area_of(usgs.event, incident.country, None)
    else:
        area = area_of(named.event, incident.country, named.polygon)
    return {
        "incident_id": incident.incident_id,
        "title": title_of(named.event, magnitude if named.event.is_earthquake else None),
        "kind": kind_of(named.event),
        "severity": highest_severity([severity_of(s.event) for s in sources]),
        "area": area,
        "occurred_at": min(s.event.occurred_at for s in sources).isoformat(),
        "link": next((s.event.link for s in (named, *sources) if s.event.link), None),
    }


def _differs(facts: dict[str, Any], published: dict[str, Any]) -> bool:
    """Whether an enriched incident's data differs from what was published; a link alone, new to data published
    before incidents carried one, is not worth an `incident.updated`."""
    if "link" not in published:
        return {k: v for k, v in facts.items() if k != "link"} != published
    return facts != published


def plan_document(state: State, document: FeedDocument, *, now: datetime, policy: Policy,
                  polygons: Mapping[str, list[LonLat] | None]) -> Plan:
    """In order: tracked sources refreshed, untracked earthquakes joined to the other feed's incident, the rest
    reported (or ignored), changed or joined incidents updated, absent sources counted, stale incidents closed."""
    plan = Plan()
    feed = document.feed
    changed, untracked = _refresh_tracked(state, document.events, now, polygons)
    linked = _link_untracked(state, feed, untracked, now, polygons)
    _report_untracked(state, untracked, now, policy, polygons, plan)
    _update_incidents(state, changed, linked, now, plan)
    _mark_absent(state, feed, document.present_ids, now, policy, plan)
    _close_expired(state, feed, now, policy, plan)
    return plan


def _new_source(event: FeedEvent, incident_id: str, polygon: list[LonLat] | None, now: datetime) -> SourceState:
    return SourceState(event=event, incident_id=incident_id, signature=signature(event, polygon), polygon=polygon,
                       first_seen_at=now, last_seen_at=now, dirty=True)


def _refresh_tracked(state: State, events: Iterable[FeedEvent], now: datetime,
                     polygons: Mapping[str, list[LonLat] | None]) -> tuple[set[str], list[FeedEvent]]:
    """The document's events (oldest first) already tracked refresh their sources; returns the open incidents
    whose signature changed, and the events not tracked yet."""
    changed: set[str] = set()
    untracked: list[FeedEvent] = []
    tracked = {s.source_id: s for incident in state.incidents.values() for s in incident.sources.values()}
    for event in sorted(events, key=lambda e: (e.occurred_at, e.source_id)):
        source = tracked.get(event.source_id)
        if source is None:
            untracked.append(event)
            continue
        _seen(source, now)
        polygon = polygons.get(event.source_id)
        new_signature = signature(event, polygon)
        if event != source.event or new_signature != source.signature or polygon != source.polygon:
            if new_signature != source.signature and state.incidents[source.incident_id].is_open:
                changed.add(source.incident_id)
            source.event, source.signature, source.polygon, source.dirty = event, new_signature, polygon, True
    return changed, untracked


def _link_untracked(state: State, feed: Feed, untracked: list[FeedEvent], now: datetime,
                    polygons: Mapping[str, list[LonLat] | None]) -> set[str]:
    """Joins untracked earthquakes to the other feed's incident of the same quake (removing them from
    `untracked`); returns the open incidents joined."""
    linked: set[str] = set()
    for event, incident in _links(state, feed, untracked):
        untracked.remove(event)
        incident.sources[event.source_id] = _new_source(event, incident.incident_id,
                                                        polygons.get(event.source_id), now)
        if incident.is_open:
            linked.add(incident.incident_id)
    return linked


def _report_untracked(state: State, untracked: list[FeedEvent], now: datetime, policy: Policy,
                      polygons: Mapping[str, list[LonLat] | None], plan: Plan) -> None:
    """Each event still untracked is a new incident, reported; or ignored, with the reason."""
    for event in untracked:
        reason = _why_not(event, now, policy)
        if reason is not None:
            plan.ignored.append(Ignored(event.source_id, reason))
            continue
        assert event.country is not None
        if event.source_id in state.incidents:  # its source row was forgotten; never report an id twice
            plan.ignored.append(Ignored(event.source_id, "known"))
            continue
        incident = IncidentState(incident_id=event.source_id, country=event.country, status="open", published={},
                                 revision=1, reported_at=now, changed_at=now, dirty=True)
        incident.sources[event.source_id] = _new_source(event, incident.incident_id,
                                                        polygons.get(event.source_id), now)
        incident.published = incident_facts(incident)
        if not _valid(incident.published):
            plan.ignored.append(Ignored(event.source_id, "invalid"))
            continue
        state.incidents[incident.incident_id] = incident
        plan.publications.append(Publication("reported", incident.incident_id, 1, incident.published))


def _update_incidents(state: State, changed: set[str], linked: set[str], now: datetime, plan: Plan) -> None:
    """An incident whose source changed is updated ("changed"); one a source joined, if its data differs
    ("enriched")."""
    for incident_id in sorted(changed | linked):
        incident = state.incidents[incident_id]
        facts = incident_facts(incident)
        if not _valid(facts):
            continue  # keeps what was published; the sources are stored, a later change is compared to them
        if incident_id in changed or _differs(facts, incident.published):
            incident.revision += 1
            incident.published, incident.changed_at, incident.dirty = facts, now, True
            plan.publications.append(Publication("updated", incident_id, incident.revision, facts,
                                                 reason="changed" if incident_id in changed else "enriched"))


def _mark_absent(state: State, feed: Feed, present: frozenset[str], now: datetime, policy: Policy,
                 plan: Plan) -> None:
    """The feed's sources missing from the document count a poll absent (gone after `policy.absent_polls`); an
    open incident all of whose sources are gone is closed ("left_feed")."""
    for source in state.sources_of(feed):
        if source.source_id in present:
            if source.absent_polls or source.gone:
                _seen(source, now)
            continue
        source.absent_polls += 1
        source.gone = source.gone or source.absent_polls >= policy.absent_polls
        source.dirty = True
        incident = state.incidents[source.incident_id]
        if incident.is_open and all(s.gone for s in incident.sources.values()):
            _close(incident, now, "left_feed", plan)


def _close_expired(state: State, feed: Feed, now: datetime, policy: Policy, plan: Plan) -> None:
    """An open incident of this feed unchanged for `policy.ttl` is closed ("ttl")."""
    for incident in list(state.incidents.values()):
        if incident.is_open and incident.source_of(feed) is not None and now - incident.changed_at >= policy.ttl:
            _close(incident, now, "ttl", plan)


def _valid(facts: dict[str, Any]) -> bool:
    """What the planner built is a valid event (a polygon the contract refuses is dropped at the adapter; this is
    the last guard, so that one odd item can never block a feed)."""
    try:
        IncidentReported.model_validate(facts)
    except ValidationError:
        return False
    return True


def _seen(source: SourceState, now: datetime) -> None:
    source.last_seen_at, source.absent_polls, source.gone, source.dirty = now, 0, False, True


def _why_not(event: FeedEvent, now: datetime, policy: Policy) -> str | None:
    if event.feed == "usgs" and not event.is_earthquake:
        return "not_an_earthquake"
    if not qualifies(event, policy):
        return "below_threshold"
    if is_stale(event, now, policy):
        return "stale"
    if event.country is None:
        return "no_country"
    return None


def _links(state: State, feed: Feed, events: list[FeedEvent]) -> list[tuple[FeedEvent, IncidentState]]:
    """Each earthquake of this feed not yet tracked, joined to the incident (open or closed: a closed one keeps
    it from being reported again) of the same quake from the other feed that has no source of this feed yet;
    the closest pairs first."""
    # The other feed's earthquake sources of incidents without a source of this feed, by time: each event is
    # compared with those within the same-quake window only (a read is not quadratic in the feed's size).
    others = sorted(((s.event.occurred_at, s.source_id, s, incident) for incident in state.incidents.values()
                     if incident.source_of(feed) is None for s in incident.sources.values()
                     if s.event.is_earthquake), key=lambda o: o[:2])
    times = [o[0] for o in others]
    best: dict[tuple[str, str], tuple[float, FeedEvent, IncidentState]] = {}
    for event in events:
        if not event.is_earthquake or not others:
            continue
        first = bisect_left(times, event.occurred_at - SAME_QUAKE_WITHIN)
        last = bisect_right(times, event.occurred_at + SAME_QUAKE_WITHIN)
        for _when, _id, source, incident in others[first:last]:
            score = quake_distance(source.event, event)
            key = (event.source_id, incident.incident_id)
            if score is not None and (key not in best or score < best[key][0]):
                best[key] = (score, event, incident)
    candidates = [(score, source_id, incident_id, event, incident)
                  for (source_id, incident_id), (score, event, incident) in best.items()]
    taken_events: set[str] = set()
    taken_incidents: set[str] = set()
    links = []
    for _score, source_id, incident_id, event, incident in sorted(candidates, key=lambda c: c[:3]):
        if source_id in taken_events or incident_id in taken_incidents:
            continue
        taken_events.add(source_id)
        taken_incidents.add(incident_id)
        links.append((event, incident))
    return links


def _close(incident: IncidentState, now: datetime, reason: str, plan: Plan) -> None:
    incident.status, incident.closed_at, incident.close_reason = "closed", now, reason
    incident.revision += 1
    incident.dirty = True
    plan.publications.append(Publication("closed", incident.incident_id, incident.revision, None, reason=reason))
