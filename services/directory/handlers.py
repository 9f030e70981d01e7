"""The directory's use cases as plain async functions with keyword-only dependencies (no FastAPI, no Kafka)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg

from services.directory.adapters import repository
from services.directory.adapters.snapshot import Snapshot
from services.directory.domain.model import InvalidQuery, Match, Post, Resolution
from services.directory.domain.posts import apply_change, eu_post_name, post_to_dict, state_of, with_state
from services.directory.domain.routing import rule_for
from shared.events.directory import CaseRouted, PostChanged, PostSummary
from shared.events.envelope import CloudEvent
from shared.events.reports import ReportSubmitted
from shared.kafka.outbox import enqueue
from shared.logging import get_logger

log = get_logger(__name__)


class UnknownPost(LookupError):
    pass


async def change_post(
    *,
    pool: asyncpg.Pool,
    snapshot: Snapshot,
    post_id: str,
    change: str,
    payload: dict[str, Any],
    subject: str,
    roles: list[str],
    source: str,
    topic_prefix: str,
    now: datetime,
) -> Post:
    """Apply an admin's or coordinator's change: stored, audited and published (outbox) in one transaction."""
    seed = snapshot.seed_post(post_id)
    if seed is None:
        raise UnknownPost(post_id)
    async with pool.acquire() as conn, conn.transaction():
        stored = await repository.lock_override(conn, post_id)
        before = with_state(seed, stored) if stored is not None else seed
        after = apply_change(before, change, payload)
        await repository.save_override(conn, post_id, state_of(after), by=subject)
        await repository.audit(
            conn,
            post_id=post_id,
            change=change,
            payload=payload,
            before=state_of(before),
            after=state_of(after),
            by=subject,
            roles=roles,
            at=now,
        )
        await enqueue(
            conn,
            PostChanged(post_id=post_id, change=change, post=post_to_dict(after), changed_by=subject, at=now),
            source=source,
            topic_prefix=topic_prefix,
        )
    snapshot.replace(after)
    log.info("post_changed", post_id=post_id, change=change, changed_by=subject)
    return after


def summary(match: Match) -> PostSummary:
    if match.post is not None:
        post = match.post
        return PostSummary(
            post_id=post.post_id,
            name=post.name,
            type=post.type,
            city=post.city,
            country=post.country,
            phone=post.contact.get("phone"),
            email=post.contact.get("email"),
        )
    assert match.eu_post is not None
    eu = match.eu_post
    return PostSummary(post_id=eu.eu_post_id, name=eu_post_name(eu), type=eu.type, city=eu.city, country=eu.country)


def routed(reference: str, label: str, resolution: Resolution | None, now: datetime) -> CaseRouted:
    match = resolution.match if resolution is not None else None
    return CaseRouted(
        reference=reference,
        service=label,
        post=summary(match) if match else None,
        basis=match.basis if match else None,
        eu_member_state=match.eu_member_state if match else None,
        distance_km=match.distance_km if match else None,
        resolved_at=now,
    )


async def route_report(
    *,
    conn: asyncpg.Connection,
    snapshot: Snapshot,
    event: CloudEvent,
    data: ReportSubmitted,
    routed_sources: frozenset[str],
    source: str,
    topic_prefix: str,
    now: datetime,
) -> CaseRouted | None:
    """Resolve the post responsible for a case and publish the routing (outbox, same transaction as the
    consumer's dedup record). Reports without a reference, or from sources not routed, are skipped."""
    if data.reference is None or (routed_sources and event.source not in routed_sources):
        return None
    rule = rule_for(data.kind)
    location = data.location
    resolution: Resolution | None
    try:
        resolution = snapshot.current.resolve_at(
            rule.service, now, country=location.country, city=location.city, lat=location.lat, lon=location.lon
        )
    except InvalidQuery as exc:
        log.info("report_not_routable", reference=data.reference, rule=exc.rule)
        resolution = None
    routing = routed(data.reference, rule.label, resolution, now)
    await enqueue(conn, routing, source=source, topic_prefix=topic_prefix)
    await repository.save_routing(
        conn,
        reference=data.reference,
        kind=data.kind,
        service=rule.label,
        country=location.country,
        post_id=routing.post.post_id if routing.post else None,
        basis=resolution.match.basis if resolution and resolution.match else None,
        eu_member_state=routing.eu_member_state,
        distance_km=routing.distance_km,
        routed_at=now,
    )
    log.info("case_routed", reference=data.reference, post_id=routing.post.post_id if routing.post else None)
    return routing
