"""Use cases over PostgreSQL: activation, counts, notifications, closing, thresholds, reading.

Plain `async def`s with keyword-only dependencies; both the Faust worker and the HTTP API call them. The
database is the authority on crises (one per incident: unique index; hotline numbers: advisory lock plus a
unique index on active pool numbers); every event leaves through the outbox in the same transaction. The SQL is
in `adapters.repository`; these decide what to write, in which transaction, and what to publish.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import asyncpg

from services.crisis_center import welfare
from services.crisis_center.adapters import repository
from services.crisis_center.domain import exercise, texts
from services.crisis_center.domain.activation import ThresholdPolicy, allocate_hotline
from services.crisis_center.domain.crisis import MANUAL_PREFIX, Crisis, counting_key
from services.crisis_center.domain.engine import Activate, PeopleChanged, PersonPoint, Propose, Recipient, Watched
from services.crisis_center.domain.exercise import ExerciseContact
from services.crisis_center.domain.membership import SEVERITIES
from services.crisis_center.records import Publishing, audit
from shared.events.crisis import CrisisActivated, CrisisClosed, CrisisUpdated
from shared.events.incidents import IncidentClosed, IncidentReported
from shared.events.notifications import Recipient as WireRecipient
from shared.events.notifications import SendNotification, notification_id_for
from shared.geo import Area
from shared.kafka.outbox import OutboxRow, enqueue, enqueue_many, prepare
from shared.logging import get_logger

log = get_logger(__name__)

_CRISIS_NAMESPACE = uuid.UUID("0b0d2c1e-5f0c-4f57-9f3b-3b8a3c2d6e10")


def crisis_id_for_incident(incident_id: str) -> str:
    """Derived from the incident: a replayed activation finds the crisis it already made."""
    return str(uuid.uuid5(_CRISIS_NAMESPACE, incident_id))


def row_to_crisis(row: asyncpg.Record) -> Crisis:
    area = row["area"] if isinstance(row["area"], dict) else json.loads(row["area"])
    return Crisis(
        crisis_id=row["crisis_id"], incident_id=row["incident_id"], title=row["title"], kind=row["kind"],
        severity=row["severity"], status=row["status"], affected_count=row["affected_count"],
        threshold=row["threshold"], hotline_number=row["hotline_number"], area=Area.from_dict(area),
        activated_at=row["activated_at"], updated_at=row["updated_at"], closed_at=row["closed_at"],
        exercise=bool(row.get("exercise", False)),
    )


async def _publish_state(conn: asyncpg.Connection, crisis: Crisis, event: str, publishing: Publishing) -> None:
    model = {"activated": CrisisActivated, "updated": CrisisUpdated, "closed": CrisisClosed}[event]
    data = model.model_validate(crisis.status_data())
    await enqueue(conn, data, source=publishing.source, topic_prefix=publishing.topic_prefix)


async def _timeline(conn: asyncpg.Connection, crisis_id: str, at: datetime, event: str, actor: str,
                    count: int | None, detail: dict[str, Any] | None = None) -> None:
    await repository.insert_timeline(conn, crisis_id=crisis_id, at=at, event=event, actor=actor, affected_count=count,
                                     detail=detail or {})


async def _allocate(conn: asyncpg.Connection, *, pool_numbers: Sequence[str], general_number: str,
                    crisis_id: str, at: datetime) -> tuple[str, bool]:
    await repository.lock_hotline_pool(conn)
    in_use = await repository.pool_numbers_in_use(conn)
    allocation = allocate_hotline(pool_numbers, in_use, general_number)
    if not allocation.from_pool:
        log.warning("hotline_pool_exhausted", crisis_id=crisis_id, pool_size=len(pool_numbers))
        await repository.insert_alert(conn, at=at, kind="hotline_pool_exhausted",
                                      detail={"crisis_id": crisis_id, "pool_size": len(pool_numbers)})
    return allocation.number, allocation.from_pool


@dataclass(frozen=True, slots=True)
class Activation:
    crisis: Crisis
    created: bool  # False: the incident already had its crisis (a replay, a restart): nothing published again


async def activate_for_incident(
    *, pool: asyncpg.Pool, activate: Activate, pool_numbers: Sequence[str], general_number: str, now: datetime,
    publishing: Publishing,
) -> Activation | None:
    """Activate the incident's crisis, publish `crisis.activated` and one message per affected traveller (None:
    an unknown manual crisis, see `_manual_activation`)."""
    incident = activate.incident
    if incident.incident_id.startswith(MANUAL_PREFIX):
        return await _manual_activation(pool=pool, activate=activate, now=now, publishing=publishing)
    crisis_id = crisis_id_for_incident(incident.incident_id)
    async with pool.acquire() as conn, conn.transaction():
        existing = await repository.crisis_of_incident(conn, incident_id=incident.incident_id)
        if existing is not None:
            if existing["status"] == "active":  # a replay: the map rows again (idempotent), nothing published
                await _place_people(conn, incident.incident_id, activate.people)
            await _settle_proposal_on_activation(conn, activate, now)
            return Activation(row_to_crisis(existing), False)
        number, from_pool = await _allocate(conn, pool_numbers=pool_numbers, general_number=general_number,
                                            crisis_id=crisis_id, at=now)
        row = await repository.insert_crisis(
            conn, crisis_id=crisis_id, incident_id=incident.incident_id, title=incident.title, kind=incident.kind,
            severity=incident.severity, affected_count=activate.count,
            count_registrations=activate.by_source["registration"], count_reports=activate.by_source["report"],
            threshold=activate.threshold, hotline_number=number, hotline_from_pool=from_pool,
            area=incident.area.to_dict(), activated_at=now, activated_by=activate.actor, source=incident.origin,
            link=incident.link,
        )
        if row is None:  # lost a race with another activation of the same incident
            existing = await repository.crisis_of_incident(conn, incident_id=incident.incident_id)
            assert existing is not None
            return Activation(row_to_crisis(existing), False)
        crisis = row_to_crisis(row)
        detail: dict[str, Any] = {"threshold": activate.threshold, "hotline_from_pool": from_pool}
        if activate.proposal_round is not None:
            detail["proposal_round"] = activate.proposal_round  # a coordinator confirmed the proposal
        await _timeline(conn, crisis_id, now, "activated", activate.actor, activate.count, detail)
        await _settle_proposal_on_activation(conn, activate, now)
        await _publish_state(conn, crisis, "activated", publishing)
        await _enqueue_messages(conn, crisis, activate.recipients, publishing, now)
        await _place_people(conn, incident.incident_id, activate.people)
    log.info("crisis_activated", crisis_id=crisis_id, incident_id=incident.incident_id, count=activate.count,
             recipients=len(activate.recipients))
    return Activation(crisis, True)


async def _manual_activation(*, pool: asyncpg.Pool, activate: Activate, now: datetime,
                             publishing: Publishing) -> Activation | None:
    """The worker's activation of a manual crisis's incident: the crisis exists (the API opened it); its people
    get the alert and their place on the map. Again after a replay: the notification ids make it once. None when
    no manual crisis has that id (an incident named `manual:` by someone else activates nothing)."""
    crisis_id = activate.incident.incident_id.removeprefix(MANUAL_PREFIX)
    async with pool.acquire() as conn, conn.transaction():
        row = await repository.manual_crisis_for_share(conn, crisis_id=crisis_id)
        if row is None:
            log.warning("manual_incident_without_crisis", incident_id=activate.incident.incident_id)
            return None
        crisis = row_to_crisis(row)
        if crisis.status == "active":
            await _enqueue_messages(conn, crisis, activate.recipients, publishing, now)
            await _place_people(conn, activate.incident.incident_id, activate.people)
    if crisis.status == "active" and activate.count != crisis.affected_count:  # the engine counts on from here
        await record_count(pool=pool, crisis_id=crisis_id, count=activate.count,
                           by_source={k: v for k, v in activate.by_source.items()}, now=now, publishing=publishing)
    log.info("manual_crisis_counted", crisis_id=crisis_id, count=activate.count,
             recipients=len(activate.recipients))
    return Activation(crisis, False)


async def _enqueue_messages(conn: asyncpg.Connection, crisis: Crisis, recipients: Sequence[Recipient],
                            publishing: Publishing, now: datetime) -> int:
    rows: list[OutboxRow] = []
    # an exercise messages its test list only, whoever the worker counted in its area (nor are they its contacts)
    recipients = exercise.only_test_people(crisis.exercise, recipients, lambda r: r.traveller_id)
    for recipient in recipients:
        language = texts.as_language(recipient.language)
        purpose = f"crisis:{crisis.crisis_id}:alert:{recipient.traveller_id}"
        for channel, address in (("sms", recipient.phone), ("email", recipient.email)):
            if not address:
                continue
            notification_id = notification_id_for(purpose, channel, address)
            command = SendNotification(
                notification_id=notification_id, purpose=purpose, channel=channel,  # type: ignore[arg-type]
                recipient=WireRecipient(phone=recipient.phone if channel == "sms" else None,
                                        email=recipient.email if channel == "email" else None,
                                        traveller_id=recipient.traveller_id),
                language=language, template="crisis_alert", priority="crisis", crisis_id=crisis.crisis_id,
                params=exercise.mark({"crisis_title": crisis.title, "hotline_number": crisis.hotline_number,
                                      "instructions": texts.instruction(crisis.hotline_number, language)},
                                     crisis.exercise),
            )
            rows.append(prepare(command, source=publishing.source, topic_prefix=publishing.topic_prefix,
                                event_id=f"send:{notification_id}"))
    await enqueue_many(conn, rows)
    await welfare.record_contacts(conn, crisis.crisis_id, recipients, at=now)
    return len(rows)


async def write_joiners(*, pool: asyncpg.Pool, crisis_id: str, recipients: Sequence[Recipient],
                        people: Sequence[PeopleChanged], publishing: Publishing, now: datetime) -> bool:
    """A batch for one active crisis (`joiners.JoinerBatch`): messages to the people who joined and the map rows
    that changed, in order, in one transaction; False (nothing written) when the crisis is no longer active."""
    async with pool.acquire() as conn, conn.transaction():
        row = await repository.crisis_for_share(conn, crisis_id=crisis_id)
        if row is None or row["status"] != "active":
            return False
        if recipients:
            sent = await _enqueue_messages(conn, row_to_crisis(row), recipients, publishing, now)
            await _timeline(conn, crisis_id, now, "notified", "system:registration", None, {"messages": sent})
        for change in people:
            await _apply_people(conn, change)
    return True


# the map of affected people -------------------------------------------------------------------------------------
async def _place_people(conn: asyncpg.Connection, incident_id: str, points: Sequence[PersonPoint]) -> None:
    if points:
        await repository.upsert_people(conn, incident_id=incident_id, points=points)


async def _apply_people(conn: asyncpg.Connection, change: PeopleChanged) -> None:
    if change.replace:
        await repository.delete_people_except(conn, incident_id=change.incident_id,
                                              contribution_ids=[p.contribution_id for p in change.placed])
    elif change.removed:
        await repository.delete_people(conn, incident_id=change.incident_id, contribution_ids=change.removed)
    await _place_people(conn, change.incident_id, change.placed)


async def people_on_map(*, pool: asyncpg.Pool, crisis_id: str) -> list[asyncpg.Record] | None:
    """One point per affected person of an active crisis (a registration's position before a report's);
    None for an unknown crisis, nothing for a closed one."""
    async with pool.acquire() as conn:
        crisis = await repository.crisis_incident_and_status(conn, crisis_id=crisis_id)
        if crisis is None:
            return None
        if crisis["status"] != "active":
            return []
        async with conn.transaction():
            await repository.without_jit(conn)
            return await repository.people_on_map(conn, incident_key=counting_key(crisis_id, crisis["incident_id"]),
                                                  crisis_id=crisis_id)


#: The map's people layer: points up to this many people in view, grid clusters beyond (issue 26).
MAP_POINTS_MAX = 2000
#: Welfare from the most to the least urgent: a cluster shows the most urgent welfare of its people.
WELFARE_URGENCY = ("needs_help", "unreachable", "unclear", "no_answer", "safe")


def cell_degrees(zoom: int) -> float:
    """The side of a cluster's grid cell at a web-map zoom level: 1/8 of a 256-pixel tile, so about 32 pixels."""
    return 45.0 / 2 ** zoom


@dataclass(frozen=True, slots=True)
class BBox:
    """The map's view in degrees; `west > east` crosses the antimeridian."""

    west: float
    south: float
    east: float
    north: float


@dataclass(frozen=True, slots=True)
class PeopleLayer:
    kind: str  # "points" | "clusters"
    total: int
    cell: float
    points: list[asyncpg.Record]
    clusters: list[asyncpg.Record]


async def people_layer(*, pool: asyncpg.Pool, crisis_id: str, zoom: int, bbox: BBox | None,
                       max_points: int = MAP_POINTS_MAX) -> PeopleLayer | None:
    """The people of an active crisis inside the view, as points when at most `max_points`, else as grid
    clusters of `cell_degrees(zoom)` aggregated in SQL (so 100,000 people cost a few hundred cells, not 100,000
    points); None for an unknown crisis, nothing for a closed one."""
    cell = cell_degrees(zoom)
    box: repository.Box = (bbox.west, bbox.south, bbox.east, bbox.north) if bbox else (None, None, None, None)
    async with pool.acquire() as conn:
        crisis = await repository.crisis_incident_and_status(conn, crisis_id=crisis_id)
        if crisis is None:
            return None
        if crisis["status"] != "active":
            return PeopleLayer("points", 0, cell, [], [])
        key = counting_key(crisis_id, crisis["incident_id"])
        async with conn.transaction():
            await repository.without_jit(conn)
            clusters = await repository.people_clusters(conn, incident_key=key, crisis_id=crisis_id, cell=cell,
                                                        urgency=WELFARE_URGENCY, box=box)
            total = sum(c["count"] for c in clusters)
            if total > max_points:
                return PeopleLayer("clusters", total, cell, [], clusters)
            points = await repository.people_in_box(conn, incident_key=key, crisis_id=crisis_id, box=box)
            return PeopleLayer("points", len(points), cell, points, [])


async def record_count(*, pool: asyncpg.Pool, crisis_id: str, count: int, by_source: dict[str, int],
                       now: datetime, publishing: Publishing) -> bool:
    """Store the new count and publish `crisis.updated`; False when the crisis is no longer active."""
    async with pool.acquire() as conn, conn.transaction():
        row = await repository.update_count(conn, crisis_id=crisis_id, count=count,
                                            registrations=by_source.get("registration", 0),
                                            reports=by_source.get("report", 0), at=now)
        if row is None:
            return False
        await _timeline(conn, crisis_id, now, "updated", "system:count", count, dict(by_source))
        await _publish_state(conn, row_to_crisis(row), "updated", publishing)
    return True


async def close_crisis(*, pool: asyncpg.Pool, crisis_id: str, actor: str, now: datetime,
                       publishing: Publishing) -> Crisis | None:
    """Close, free the hotline number, publish `crisis.closed`; None if unknown. Closing twice is a no-op."""
    async with pool.acquire() as conn, conn.transaction():
        row = await repository.close(conn, crisis_id=crisis_id, at=now, actor=actor)
        if row is None:
            existing = await repository.crisis(conn, crisis_id=crisis_id)
            return row_to_crisis(existing) if existing is not None else None
        crisis = row_to_crisis(row)
        # a closed crisis has no map: nobody's whereabouts are kept
        await repository.delete_map(conn, incident_id=counting_key(crisis_id, crisis.incident_id))
        if crisis.incident_id is None:  # the worker stops counting the manual crisis's incident
            await enqueue(conn, IncidentClosed(incident_id=MANUAL_PREFIX + crisis_id), source=publishing.source,
                          topic_prefix=publishing.topic_prefix)
        answers = await welfare.counts_in(conn, crisis_id)
        await welfare.forget_crisis(conn, crisis_id)
        await _timeline(conn, crisis_id, now, "closed", actor, crisis.affected_count,
                        {"welfare": answers} if answers else None)
        await audit(conn, actor=actor, action="crisis.close", target=crisis_id, at=now)
        await _publish_state(conn, crisis, "closed", publishing)
    log.info("crisis_closed", crisis_id=crisis_id)
    return crisis


async def activate_manually(
    *, pool: asyncpg.Pool, title: str, kind: str, severity: str | None, area: Area, actor: str,
    pool_numbers: Sequence[str], general_number: str, threshold: int, now: datetime, publishing: Publishing,
    exercise_of: Sequence[ExerciseContact] | None = None,
) -> Crisis:
    """A crisis without an incident (a coordinator's decision), hotline from the pool. Its people are counted,
    mapped and messaged as an automatic crisis's: the incident `manual:<crisis_id>` goes to the worker on
    `crisis.incidents` in the same transaction, and the worker's engine activates it at once whatever its count.

    `exercise_of` (the test list, possibly empty) opens it as an exercise (issue 23): the test list becomes its
    contacts and gets the alert, marked EXERCISE; the people the worker counts are counted and mapped but never
    messaged (`_enqueue_messages` keeps the test list's people only)."""
    crisis_id = str(uuid.uuid4())
    async with pool.acquire() as conn, conn.transaction():
        number, from_pool = await _allocate(conn, pool_numbers=pool_numbers, general_number=general_number,
                                            crisis_id=crisis_id, at=now)
        row = await repository.insert_crisis(
            conn, crisis_id=crisis_id, incident_id=None, title=title, kind=kind, severity=severity, affected_count=0,
            count_registrations=0, count_reports=0, threshold=threshold, hotline_number=number,
            hotline_from_pool=from_pool, area=area.to_dict(), activated_at=now, activated_by=actor, source="manual",
            link=None)
        assert row is not None
        is_exercise = exercise_of is not None
        if is_exercise:
            row = await repository.mark_exercise(conn, crisis_id=crisis_id)
        crisis = row_to_crisis(row)
        await _timeline(conn, crisis_id, now, "activated", actor, 0,
                        {"manual": True, "exercise": True} if is_exercise else {"manual": True})
        await audit(conn, actor=actor, action="crisis.activate", target=crisis_id, at=now,
                    detail={"title": title, "kind": kind, "severity": severity, "exercise": is_exercise})
        await _publish_state(conn, crisis, "activated", publishing)
        if exercise_of:
            testers = [Recipient(t.person_id, t.person_id, t.phone, t.email, t.language) for t in exercise_of]
            sent = await _enqueue_messages(conn, crisis, testers, publishing, now)
            await _timeline(conn, crisis_id, now, "notified", actor, None, {"messages": sent, "exercise": True})
        await enqueue(conn, IncidentReported(
            incident_id=MANUAL_PREFIX + crisis_id, title=title, kind=kind,  # type: ignore[arg-type]
            severity=severity or "severe", area=area.to_dict(), occurred_at=now),  # type: ignore[arg-type]
            source=publishing.source, topic_prefix=publishing.topic_prefix)
    return crisis


async def active_closed_among(*, pool: asyncpg.Pool, crisis_ids: Sequence[str]) -> set[str]:
    """Those of `crisis_ids` that are closed (by a coordinator, while the worker still holds them active)."""
    if not crisis_ids:
        return set()
    return await repository.closed_among(pool, crisis_ids=crisis_ids)


# proposals and the watch list ---------------------------------------------------------------------------------
async def _settle_proposal_on_activation(conn: asyncpg.Connection, activate: Activate, now: datetime) -> None:
    """The confirmed proposal is carried out; a pending one under a rule now automatic is superseded."""
    incident_id = activate.incident.incident_id
    if activate.proposal_round is not None:
        await repository.mark_round_applied(conn, incident_id=incident_id, round=activate.proposal_round, at=now)
    else:
        await repository.supersede_pending(conn, incident_id=incident_id, at=now)


async def raise_proposal(*, pool: asyncpg.Pool, propose: Propose, now: datetime) -> bool:
    """Store the proposal to open the incident's crisis (and its audit row); False when this round is already
    stored (a replay). Nothing is published: a coordinator decides first."""
    incident = propose.incident
    crisis_id = crisis_id_for_incident(incident.incident_id)
    async with pool.acquire() as conn, conn.transaction():
        stored = await repository.upsert_proposal(
            conn, incident_id=incident.incident_id, crisis_id=crisis_id, round=propose.round, title=incident.title,
            severity=incident.severity, origin=incident.origin, country=incident.area.country,
            affected_count=propose.count, threshold=propose.threshold, proposed_at=now)
        if not stored:
            return False
        await audit(conn, actor="system:threshold", action="proposal.raise", target=crisis_id, at=now, detail={
            "incident_id": incident.incident_id, "round": propose.round, "affected_count": propose.count,
            "threshold": propose.threshold, "severity": incident.severity, "origin": incident.origin})
    log.info("crisis_proposed", crisis_id=crisis_id, incident_id=incident.incident_id, round=propose.round,
             count=propose.count)
    return True


async def settle_proposal(*, pool: asyncpg.Pool, incident_id: str, round: int, now: datetime) -> None:
    """The worker applied a decision (or found it moot): the poller stops sending it."""
    await repository.mark_decision_applied(pool, incident_id=incident_id, round=round, at=now)


async def decisions_to_apply(*, pool: asyncpg.Pool, limit: int = 100) -> list[asyncpg.Record]:
    """Confirmed or dismissed proposals the worker has not carried out yet."""
    return await repository.decisions_to_apply(pool, limit=limit)


class ProposalConflict(Exception):
    """The proposal was already decided otherwise, superseded or withdrawn."""

    def __init__(self, status: str) -> None:
        super().__init__(f"the proposal is already {status}")
        self.status = status


async def decide_proposal(*, pool: asyncpg.Pool, incident_id: str, decision: str, actor: str, now: datetime,
                          reason: str | None) -> asyncpg.Record | None:
    """A coordinator confirms or dismisses a pending proposal (audited with their subject and reason); None for an
    unknown incident; the same decision again changes nothing; another one raises ProposalConflict."""
    async with pool.acquire() as conn, conn.transaction():
        row = await repository.proposal_for_update(conn, incident_id=incident_id)
        if row is None:
            return None
        if row["status"] == decision:
            return row
        if row["status"] != "pending":
            raise ProposalConflict(row["status"])
        updated = await repository.decide(conn, incident_id=incident_id, status=decision, at=now, actor=actor)
        action = "proposal.confirm" if decision == "confirmed" else "proposal.dismiss"
        await audit(conn, actor=actor, action=action, target=row["crisis_id"], at=now,
                    detail={"incident_id": incident_id, "round": row["round"], "reason": reason})
    log.info("proposal_decided", incident_id=incident_id, decision=decision, round=row["round"])
    return updated


async def escalate_due_proposals(*, pool: asyncpg.Pool, now: datetime, after_minutes: float, phone: str,
                                 language: str, dashboard_url: str, publishing: Publishing) -> int:
    """Proposals pending for `after_minutes` go to the on-call coordinator by SMS, once per round: the command is
    enqueued in the transaction that marks the proposal escalated (and its id is derived from the round)."""
    due = now - timedelta(minutes=after_minutes)
    escalated = 0
    async with pool.acquire() as conn, conn.transaction():
        rows = await repository.pending_to_escalate(conn, proposed_before=due)
        for row in rows:
            target = f"proposal:{row['incident_id']}:{row['round']}:escalation"
            if phone:
                notification_id = notification_id_for(target, "sms", phone)
                command = SendNotification(
                    notification_id=notification_id, purpose=target, channel="sms",
                    recipient=WireRecipient(phone=phone), language=texts.as_language(language),
                    template="crisis_proposal", priority="crisis", crisis_id=row["crisis_id"],
                    params={"crisis_title": row["title"], "affected_count": row["affected_count"],
                            "threshold": row["threshold"], "minutes": round(after_minutes),
                            "dashboard_url": dashboard_url},
                )
                await enqueue(conn, command, source=publishing.source, topic_prefix=publishing.topic_prefix,
                              event_id=f"send:{notification_id}")
            else:
                await repository.insert_alert(conn, at=now, kind="proposal_not_escalated", detail={
                    "incident_id": row["incident_id"], "reason": "no ONCALL_COORDINATOR_PHONE"})
                log.warning("proposal_not_escalated", incident_id=row["incident_id"], reason="no on-call phone")
            await repository.mark_escalated(conn, incident_id=row["incident_id"], at=now)
            await audit(conn, actor="system:escalation", action="proposal.escalate", target=row["crisis_id"], at=now,
                        detail={"incident_id": row["incident_id"], "round": row["round"], "sms": bool(phone)})
            escalated += 1
    if escalated:
        log.info("proposals_escalated", count=escalated)
    return escalated


async def record_watch(*, pool: asyncpg.Pool, watched: Watched, now: datetime) -> None:
    """An open incident's row of the watch list (its count below the threshold too)."""
    incident = watched.incident
    await repository.upsert_watch(
        pool, incident_id=incident.incident_id, title=incident.title, kind=incident.kind, severity=incident.severity,
        country=incident.area.country, area=incident.area.to_dict(), origin=incident.origin, link=incident.link,
        occurred_at=incident.occurred_at, affected_count=watched.count,
        count_registrations=watched.by_source.get("registration", 0),
        count_reports=watched.by_source.get("report", 0), threshold=watched.threshold, mode=watched.mode,
        updated_at=now)


async def unwatch(*, pool: asyncpg.Pool, incident_id: str, now: datetime) -> None:
    """The incident closed: off the watch list, and a proposal still pending is withdrawn."""
    async with pool.acquire() as conn, conn.transaction():
        await repository.delete_watch(conn, incident_id=incident_id)
        row = await repository.withdraw_pending(conn, incident_id=incident_id, at=now)
        if row is not None:
            await audit(conn, actor="system:incident.closed", action="proposal.withdraw", target=row["crisis_id"],
                        at=now, detail={"incident_id": incident_id, "round": row["round"]})


async def watch_list(*, pool: asyncpg.Pool) -> list[asyncpg.Record]:
    """Every open incident with its count, threshold, source, proposal and crisis (if any), nearest to its
    threshold first."""
    return await repository.watch_list(pool)


async def list_proposals(*, pool: asyncpg.Pool, status: str | None = None) -> list[asyncpg.Record]:
    return await repository.list_proposals(pool, status=status)


# thresholds ---------------------------------------------------------------------------------------------------
async def load_policy(*, pool: asyncpg.Pool, defaults: ThresholdPolicy) -> ThresholdPolicy:
    values = await repository.thresholds(pool)
    by_severity = {**defaults.by_severity, **{k: v for k, v in values.items() if k != "default"}}
    return ThresholdPolicy(values.get("default", defaults.default), by_severity)


async def set_thresholds(*, pool: asyncpg.Pool, actor: str, now: datetime, default: int | None,
                         by_severity: dict[str, int]) -> None:
    ThresholdPolicy(default or 1, by_severity)  # validates severities and values
    async with pool.acquire() as conn, conn.transaction():
        items = ([("default", default)] if default is not None else []) + list(by_severity.items())
        for severity, value in items:
            await repository.upsert_threshold(conn, severity=severity, value=value, actor=actor, at=now)
        await audit(conn, actor=actor, action="threshold.set", target=None, at=now,
                    detail={"default": default, "by_severity": by_severity})


# reading ------------------------------------------------------------------------------------------------------
async def list_crises(*, pool: asyncpg.Pool, status: str | None = None) -> list[asyncpg.Record]:
    return await repository.list_crises(pool, status=status)


async def get_crisis(*, pool: asyncpg.Pool, crisis_id: str) -> asyncpg.Record | None:
    return await repository.crisis(pool, crisis_id=crisis_id)


async def timeline(*, pool: asyncpg.Pool, crisis_id: str, limit: int, before: int | None = None
                   ) -> list[asyncpg.Record]:
    """The latest `limit` entries (older than entry `before` when given), oldest first."""
    rows = await repository.timeline_newest_first(pool, crisis_id=crisis_id, limit=limit, before=before)
    return rows[::-1]


async def audit_entries(*, pool: asyncpg.Pool, target: str | None = None, limit: int,
                        before: int | None = None) -> list[asyncpg.Record]:
    """The latest `limit` entries (older than entry `before` when given): newest first, or oldest first for one
    target (the order its history is read in)."""
    rows = await repository.audit_newest_first(pool, target=target, limit=limit, before=before)
    return rows if target is None else rows[::-1]


__all__ = ["SEVERITIES"]
