"""Apply one read of one feed: plan against the state as published and write the state and the events in one
transaction, under the apply lock (a second replica, or the other feed's poller, waits and then plans against
what this one wrote, so that nothing is published twice)."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping
from datetime import datetime

import asyncpg

from services.feeds.adapters.repository import load_state, save_state
from services.feeds.domain.model import FeedDocument, LonLat, Plan, Publication
from services.feeds.domain.plan import plan_document
from services.feeds.domain.rules import Policy
from shared.events.envelope import EventData
from shared.events.incidents import IncidentClosed, IncidentReported, IncidentUpdated
from shared.kafka.outbox import enqueue

SOURCE = "/services/feeds"
EVENT_ID_NAMESPACE = uuid.UUID("6f0d3c2e-1c0a-4f7e-9a51-2b8e4fd1c0de")


def lock_key(name: str, schema: str) -> int:
    """A 64-bit advisory lock key of this schema (`apply`: one feed read applied at a time; `leader`: the
    replica that polls)."""
    return int.from_bytes(hashlib.sha256(f"feeds-{name}:{schema}".encode()).digest()[:8], "big", signed=True)


def event_id(publication: Publication) -> str:
    """The same for the same incident and revision, however often it is planned."""
    return str(uuid.uuid5(EVENT_ID_NAMESPACE, f"{publication.incident_id}|{publication.revision}"))


def event_data(publication: Publication) -> EventData:
    if publication.kind == "closed":
        return IncidentClosed(incident_id=publication.incident_id)
    model = IncidentReported if publication.kind == "reported" else IncidentUpdated
    return model.model_validate(publication.data)


async def apply_document(pool: asyncpg.Pool, document: FeedDocument, *, schema: str, now: datetime, policy: Policy,
                         polygons: Mapping[str, list[LonLat] | None], topic_prefix: str = "") -> Plan:
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", lock_key("apply", schema))
        state = await load_state(conn)
        plan = plan_document(state, document, now=now, policy=policy, polygons=polygons)
        await save_state(conn, state)
        for publication in plan.publications:
            await enqueue(conn, event_data(publication), source=SOURCE, topic_prefix=topic_prefix,
                          event_id=event_id(publication))
    return plan
