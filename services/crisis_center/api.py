"""The crisis center's HTTP API: `create_app(settings)`; the lifespan owns the pool, the outbox relay and the
live feed. Thin adapters over `handlers`: the worker writes crises to PostgreSQL, the API reads them there and
publishes its own changes (manual activation, closing) through the same outbox."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import asyncpg
import jwt
from fastapi import Depends, FastAPI, HTTPException, Path, Query, Request
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, Field, TypeAdapter, model_validator

from services.crisis_center import handlers
from services.crisis_center.adapters.feed import CrisisFeed, sse
from services.crisis_center.broadcasts_api import broadcasts_router
from services.crisis_center.check_in_page import check_in_router
from services.crisis_center.dashboard.router import DashboardSettings, dashboard_router
from services.crisis_center.domain import stream_ticket
from services.crisis_center.domain.atom import build_atom
from services.crisis_center.domain.cap import build_cap
from services.crisis_center.domain.crisis import Crisis
from services.crisis_center.domain.exercise import title as exercise_title
from services.crisis_center.domain.membership import KINDS
from services.crisis_center.public_cache import PublicCache
from services.crisis_center.settings import Settings
from services.crisis_center.welfare_api import welfare_router
from shared.auth import Principal, authenticate, require_roles
from shared.db import create_pool, ping
from shared.events.common import JSON_INTEGER
from shared.events.common import Area as WireArea
from shared.geo import Area, InvalidArea
from shared.http import install_common
from shared.kafka.outbox import OutboxRelay
from shared.kafka.producer import make_producer
from shared.kafka.security import client_security
from shared.logging import get_logger
from shared.openapi import error_responses

log = get_logger(__name__)

Coordinator = Annotated[Principal, Depends(require_roles("coordinator"))]
CrisisSource = Literal["gdacs", "usgs", "feed", "external", "manual"]
IncidentIdPath = Annotated[str, Path(min_length=1, max_length=200)]
Severity = Literal["minor", "moderate", "severe", "extreme"]
Kind = Literal["earthquake", "flood", "storm", "fire", "unrest", "attack", "epidemic", "transport", "other"]
assert set(Kind.__args__) == set(KINDS)  # type: ignore[attr-defined]


# wire shapes ----------------------------------------------------------------------------------------------------
class Counts(BaseModel):
    total: int
    registrations: int
    reports: int


class PersonOnMap(BaseModel):
    """One affected person for the dashboard's map: a position rounded to ~1 km and how they are known."""

    lat: float
    lon: float
    source: Literal["registration", "report"]
    welfare: Literal["safe", "needs_help", "unclear", "no_answer", "unreachable"] | None = Field(
        default=None, description="The person's latest welfare answer, or where their round stands; null: never "
                                  "asked (a report, or no round yet).")


Welfare = Literal["safe", "needs_help", "unclear", "no_answer", "unreachable"]


class PeopleCluster(BaseModel):
    """The affected people in one grid cell of the map (no ids, names or phones: a count and a mean position)."""

    lat: float = Field(description="The mean position of the people in the cell.")
    lon: float
    count: int = Field(description="People in the cell (one per person, as the points).")
    registrations: int = Field(description="Of them, known through a registration.")
    reports: int = Field(description="Of them, known only through a report.")
    welfare: Welfare | None = Field(description=(
        "The most urgent welfare among them (needs_help, unreachable, unclear, no_answer, safe); null: nobody "
        "in the cell was asked."))


class PeopleLayer(BaseModel):
    """The dashboard map's people layer for one view: points up to `max_points` people, grid clusters beyond."""

    kind: Literal["points", "clusters"] = Field(description="Which of `points` and `clusters` is filled.")
    total: int = Field(description="Affected people in the view (the whole area when no box is given).")
    zoom: int = Field(description="The zoom level asked for.")
    cell_degrees: float = Field(description="The side of a cluster's grid cell at this zoom: 45 / 2^zoom degrees.")
    points: list[PersonOnMap] = Field(description="One per person when `kind` is points; else empty.")
    clusters: list[PeopleCluster] = Field(description="One per non-empty grid cell when `kind` is clusters.")


class CrisisOut(BaseModel):
    crisis_id: str
    incident_id: str | None
    title: str
    kind: str
    severity: str | None
    status: str
    affected_count: int
    counts: Counts
    threshold: int
    hotline_number: str
    hotline_from_pool: bool
    area: dict[str, Any]
    activated_at: datetime
    activated_by: str
    updated_at: datetime | None
    closed_at: datetime | None
    closed_by: str | None
    source: CrisisSource = Field(default="external", description=(
        "Where the crisis came from: an incident from the GDACS or USGS feed (`feed`: another feed id), from an "
        "external system, or a coordinator's manual activation."))
    link: str | None = Field(default=None, description="The public page of the incident at its source, if given.")
    exercise: bool = Field(default=False, description=(
        "An exercise (issue 23), not a real crisis: its messages go to the test list (EXERCISE_RECIPIENTS) only, "
        "marked EXERCISE; the dashboard shows it as such."))


class TimelineEntry(BaseModel):
    id: int = Field(description="Its place in the timeline: pass it as `timeline_before` for the entries before it.")
    at: datetime
    event: str
    actor: str
    affected_count: int | None
    detail: dict[str, Any]


class CrisisDetail(CrisisOut):
    timeline: list[TimelineEntry] = Field(description="The latest `timeline_limit` entries, oldest first.")
    timeline_next_before: int | None = Field(description="More entries before these: pass this as "
                                                         "`timeline_before` for them; null: none.")


#: A list of entries in one response: the default and the most (timeline, audit).
PAGE_DEFAULT, PAGE_MAX = 200, 1000
PageLimit = Annotated[int, Query(ge=1, le=PAGE_MAX, description="Entries in this response (the latest ones).")]
PageBefore = Annotated[int | None, Query(ge=1, le=2**63 - 1, description=(
    "Only entries older than this one (an entry's `id`): the next page back."))]
CrisisIdPath = Annotated[str, Path(min_length=1, max_length=200)]


class PublicCrisis(BaseModel):
    crisis_id: str
    title: str
    kind: str
    hotline_number: str
    affected_count: int
    area: dict[str, Any]
    activated_at: datetime
    cap_url: str
    exercise: bool = Field(default=False, description=(
        "An exercise, not a real crisis (listed only with EXERCISE_IN_PUBLIC_FEEDS; its title then starts with "
        "EXERCISE and its CAP status is Exercise)."))


PUBLIC_LIST = TypeAdapter(list[PublicCrisis])


class ManualActivation(BaseModel):
    title: str = Field(min_length=3, max_length=500)
    kind: Kind = "other"
    severity: Severity | None = None
    area: WireArea
    exercise: bool = Field(default=False, strict=True, description=(
        "Open it as an exercise (issue 23; additive to the contract): messages go to the test list "
        "(EXERCISE_RECIPIENTS) only, marked EXERCISE in every text, feed (CAP status Exercise) and view."))

    @model_validator(mode="after")
    def _geometry(self) -> ManualActivation:
        try:
            Area.from_dict(self.area.model_dump(mode="json", exclude_none=True))
        except InvalidArea as exc:
            raise ValueError(f"area: {exc}") from exc
        return self


class Thresholds(BaseModel):
    default: Annotated[int, Field(ge=1, le=100000), JSON_INTEGER] | None = None
    by_severity: dict[Severity, Annotated[int, Field(ge=1, le=100000), JSON_INTEGER]] = Field(default_factory=dict)


class ThresholdsOut(BaseModel):
    default: int
    by_severity: dict[str, int]


def _crisis_out(row: asyncpg.Record) -> CrisisOut:
    return CrisisOut(
        crisis_id=row["crisis_id"], incident_id=row["incident_id"], title=row["title"], kind=row["kind"],
        severity=row["severity"], status=row["status"], affected_count=row["affected_count"],
        counts=Counts(total=row["affected_count"], registrations=row["count_registrations"],
                      reports=row["count_reports"]),
        threshold=row["threshold"], hotline_number=row["hotline_number"], hotline_from_pool=row["hotline_from_pool"],
        area=row["area"], activated_at=row["activated_at"], activated_by=row["activated_by"],
        updated_at=row["updated_at"], closed_at=row["closed_at"], closed_by=row["closed_by"],
        source=row["source"] or ("manual" if row["incident_id"] is None else "external"), link=row["link"],
        exercise=row["exercise"],
    )


class ProposalOut(BaseModel):
    """A proposal to open an incident's crisis (activation mode `proposed`), waiting for or given a decision."""

    incident_id: str
    crisis_id: str = Field(description="The id the crisis has once confirmed (derived from the incident).")
    round: int = Field(description="1, or more when a dismissed incident was proposed again at another severity.")
    title: str
    severity: str
    source: str
    affected_count: int = Field(description="Affected people when it was proposed.")
    threshold: int
    status: Literal["pending", "confirmed", "dismissed", "superseded", "withdrawn"] = Field(description=(
        "superseded: a rule made it automatic meanwhile; withdrawn: the incident closed first."))
    proposed_at: datetime
    escalated_at: datetime | None = Field(description="When the on-call coordinator was sent an SMS about it.")
    decided_at: datetime | None
    decided_by: str | None
    applied: bool = Field(description="The worker has carried the decision out (confirmed: the crisis exists).")


def _proposal_out(row: asyncpg.Record) -> ProposalOut:
    return ProposalOut(
        incident_id=row["incident_id"], crisis_id=row["crisis_id"], round=row["round"], title=row["title"],
        severity=row["severity"], source=row["origin"], affected_count=row["affected_count"],
        threshold=row["threshold"], status=row["status"], proposed_at=row["proposed_at"],
        escalated_at=row["escalated_at"], decided_at=row["decided_at"], decided_by=row["decided_by"],
        applied=row["applied_at"] is not None)


class WatchedIncident(BaseModel):
    """An open incident before (or after) it is a crisis: its live count, threshold, mode and source."""

    incident_id: str
    title: str
    kind: str
    severity: str
    area: dict[str, Any]
    source: Literal["gdacs", "usgs", "feed", "external"]
    link: str | None
    occurred_at: datetime
    affected_count: int
    counts: Counts
    threshold: int
    mode: Literal["automatic", "proposed"] = Field(description="What crossing the threshold does for this incident.")
    status: Literal["watching", "proposed", "confirmed", "dismissed", "crisis"] = Field(description=(
        "watching: below the threshold (or proposal superseded/withdrawn); proposed: waiting for a coordinator; "
        "confirmed: the crisis is being opened; dismissed: a coordinator said no; crisis: it has its crisis."))
    proposal: ProposalOut | None
    crisis_id: str | None = Field(description="The incident's crisis, once there is one.")
    updated_at: datetime


def _watched_out(row: asyncpg.Record) -> WatchedIncident:
    proposal = None
    if row["proposal_status"] is not None:
        proposal = ProposalOut(
            incident_id=row["incident_id"], crisis_id=handlers.crisis_id_for_incident(row["incident_id"]),
            round=row["proposal_round"], title=row["title"], severity=row["severity"], source=row["origin"],
            affected_count=row["affected_count"], threshold=row["threshold"], status=row["proposal_status"],
            proposed_at=row["proposed_at"], escalated_at=row["escalated_at"], decided_at=row["decided_at"],
            decided_by=row["decided_by"], applied=row["crisis_id"] is not None)
    status: str = "watching"
    if row["crisis_id"] is not None:
        status = "crisis"
    elif row["proposal_status"] == "pending":
        status = "proposed"
    elif row["proposal_status"] in ("confirmed", "dismissed"):
        status = row["proposal_status"]
    return WatchedIncident(
        incident_id=row["incident_id"], title=row["title"], kind=row["kind"], severity=row["severity"],
        area=row["area"], source=row["origin"], link=row["link"], occurred_at=row["occurred_at"],
        affected_count=row["affected_count"],
        counts=Counts(total=row["affected_count"], registrations=row["count_registrations"],
                      reports=row["count_reports"]),
        threshold=row["threshold"], mode=row["mode"], status=status,  # type: ignore[arg-type]
        proposal=proposal, crisis_id=row["crisis_id"], updated_at=row["updated_at"])


class Confirmation(BaseModel):
    reason: str | None = Field(default=None, max_length=1000, description="Optional, kept in the audit trail.")


class Dismissal(BaseModel):
    reason: str = Field(min_length=3, max_length=1000, description="Why not: kept in the audit trail.")


@dataclass
class Resources:
    pool: asyncpg.Pool
    feed: CrisisFeed
    relay: OutboxRelay
    relay_task: asyncio.Task[None]
    producer: Any


async def _kafka_reachable(bootstrap_servers: str) -> bool:
    host, _, port = bootstrap_servers.split(",")[0].strip().rpartition(":")
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host or "127.0.0.1", int(port)), 2)
    except (OSError, TimeoutError, ValueError):
        return False
    writer.close()
    return True


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    return header[7:] if header.lower().startswith("bearer ") else None


async def _stream_access(request: Request, ticket: str | None, key: bytes) -> stream_ticket.Ticket:
    """Who opens the stream and until when: a ticket (what `EventSource` can carry), or a bearer token in the
    header (other clients). Never the bearer token in the query string."""
    if ticket is not None:
        try:
            access = stream_ticket.read(key, ticket, now=int(time.time()))
        except stream_ticket.BadTicket:
            raise HTTPException(401, "invalid or expired stream ticket: ask for another",
                                headers={"WWW-Authenticate": "Bearer"}) from None
    else:
        token = _bearer(request)
        if not token:
            raise HTTPException(401, "missing bearer token or stream ticket", headers={"WWW-Authenticate": "Bearer"})
        principal = await authenticate(request, token)  # 401, or 503 when the OIDC provider's keys cannot be had
        access = stream_ticket.Ticket(principal.subject, tuple(sorted(principal.roles)), _token_expiry(token))
    if "coordinator" not in access.roles:
        raise HTTPException(403, "requires one of the roles ['coordinator']")
    return access


def _token_expiry(token: str) -> int:
    """The `exp` of a token already verified."""
    return int(jwt.decode(token, options={"verify_signature": False})["exp"])


class StreamTicketOut(BaseModel):
    ticket: str = Field(description="Pass as `?ticket=` to GET /v1/crises/events within `expires_in` seconds.")
    expires_in: int


def create_app(settings: Settings, *, clock: Callable[[], datetime] | None = None) -> FastAPI:
    now = clock or (lambda: datetime.now(UTC))
    publishing = handlers.Publishing(settings.source, settings.kafka_topic_prefix)
    public_cache = PublicCache(ttl=settings.public_cache_seconds, clock=time.monotonic)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool = await create_pool(settings.database_url, settings.db_schema, min_size=1,
                                 max_size=settings.database_pool_max)
        security = client_security(settings)
        producer = make_producer(settings.kafka_bootstrap_servers, client_id="crisis-center-api", security=security)
        await producer.start()
        relay = OutboxRelay(pool=pool, producer=producer, schema=settings.db_schema)

        async def enrich(data: dict[str, Any]) -> dict[str, Any]:
            """The stream carries the API's crisis shape (kind, severity, counts by source), not only the wire data.
            Called for every crisis change the feed reads: the public feeds' copies are stale from then on."""
            public_cache.clear()
            row = await handlers.get_crisis(pool=pool, crisis_id=str(data.get("crisis_id")))
            return _crisis_out(row).model_dump(mode="json") if row is not None else data

        feed = CrisisFeed(bootstrap_servers=settings.kafka_bootstrap_servers, topic=settings.topic("crisis.status"),
                          enrich=enrich, security=security)
        await feed.start()
        app.state.resources = Resources(pool, feed, relay, asyncio.create_task(relay.run()), producer)
        try:
            yield
        finally:
            resources: Resources = app.state.resources
            resources.relay.stop()
            await asyncio.gather(resources.relay_task, return_exceptions=True)
            await feed.stop()
            await producer.stop()
            await pool.close()

    app = FastAPI(title="crisis_center", version="1", lifespan=lifespan,
                  description="Crises: live headcount in incident areas, activation, hotlines, public CAP feed.")

    def res(request: Request) -> Resources:
        resources: Resources = request.app.state.resources
        return resources

    async def readiness() -> dict[str, bool]:
        resources: Resources | None = getattr(app.state, "resources", None)
        database = resources is not None and await ping(resources.pool)
        return {"database": database, "kafka": await _kafka_reachable(settings.kafka_bootstrap_servers)}

    install_common(app, service="crisis_center", auth=settings, readiness=readiness)
    app.include_router(dashboard_router(DashboardSettings(
        dashboard_users=settings.dashboard_users, notifier_url=settings.notifier_url,
        dashboard_token_ttl_seconds=settings.dashboard_token_ttl_seconds)))
    app.include_router(welfare_router(settings, now=now, publishing=publishing))
    app.include_router(broadcasts_router(settings, now=now, publishing=publishing))
    app.include_router(check_in_router(settings, now=now, publishing=publishing))

    # coordinators ---------------------------------------------------------------------------------------------
    @app.get("/v1/crises", response_model=list[CrisisOut], tags=["coordinators"])
    async def list_crises(request: Request, _: Coordinator,
                          status: Literal["active", "closed"] | None = None) -> list[CrisisOut]:
        return [_crisis_out(r) for r in await handlers.list_crises(pool=res(request).pool, status=status)]

    ticket_key = stream_ticket.ticket_key(settings.jwt_secret.get_secret_value())

    @app.post("/v1/crises/events/ticket", response_model=StreamTicketOut, tags=["coordinators"])
    async def events_ticket(request: Request, principal: Coordinator) -> StreamTicketOut:
        """A ticket to open the event stream (`EventSource` cannot send the bearer token in a header): valid
        seconds, for the stream only; the stream it opens ends when this token expires."""
        token = _bearer(request)
        assert token is not None  # the Coordinator dependency read it
        issued = stream_ticket.issue(ticket_key, stream_ticket.Ticket(
            principal.subject, tuple(sorted(principal.roles)), _token_expiry(token)), now=int(time.time()))
        return StreamTicketOut(ticket=issued, expires_in=stream_ticket.TICKET_SECONDS)

    @app.get("/v1/crises/events", tags=["coordinators"], response_class=StreamingResponse,
             responses={200: {"description": "an endless stream of server-sent events (`event:` and `data:` lines, "
                                             "the data JSON), with `: keep-alive` comments",
                              "content": {"text/event-stream": {"schema": {
                                  "type": "object", "required": ["event", "data"], "properties": {
                                      "event": {"enum": ["snapshot", "activated", "updated", "closed"]},
                                      "data": {"type": "string", "contentMediaType": "application/json"}}}}}},
                        **error_responses(401, 403, descriptions={
                            401: "no bearer token or ticket, or an invalid or expired one",
                            403: "the token or ticket lacks the role coordinator"})})
    async def crisis_events(request: Request, ticket: Annotated[str | None, Query(max_length=2000)] = None,
                            max_events: Annotated[int | None, Query(ge=1)] = None) -> StreamingResponse:
        """Server-sent events: `snapshot` (the active crises) then `activated`/`updated`/`closed` as they happen.
        Opened with a ticket from `POST /v1/crises/events/ticket` (or a bearer token in the header); the stream
        ends when the bearer token expires."""
        access = await _stream_access(request, ticket, ticket_key)
        resources = res(request)
        queue = resources.feed.subscribe()
        rows = await handlers.list_crises(pool=resources.pool, status="active")
        snapshot = [_crisis_out(r).model_dump(mode="json") for r in rows]

        async def stream() -> AsyncIterator[bytes]:
            sent = 0
            try:
                yield sse("snapshot", snapshot)
                while max_events is None or sent < max_events:
                    left = access.stream_until - time.time()
                    if left <= 0:
                        return  # the token expired: the dashboard reconnects with a fresh ticket, or signs in
                    try:
                        item = await asyncio.wait_for(queue.get(), timeout=min(15.0, left))
                    except TimeoutError:
                        yield b": keep-alive\n\n"
                        continue
                    yield sse(item["type"], item["crisis"])
                    sent += 1
            finally:
                resources.feed.unsubscribe(queue)

        return StreamingResponse(stream(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    @app.get("/v1/crises/{crisis_id}", response_model=CrisisDetail, tags=["coordinators"],
             responses={404: {"description": "unknown crisis"}})
    async def crisis_detail(request: Request, crisis_id: CrisisIdPath, _: Coordinator,
                            timeline_limit: PageLimit = PAGE_DEFAULT,
                            timeline_before: PageBefore = None) -> CrisisDetail:
        """The crisis and the latest entries of its timeline (a long crisis has thousands: page back with
        `timeline_before`)."""
        pool = res(request).pool
        row = await handlers.get_crisis(pool=pool, crisis_id=crisis_id)
        if row is None:
            raise HTTPException(404, f"no crisis {crisis_id}")
        rows = await handlers.timeline(pool=pool, crisis_id=crisis_id, limit=timeline_limit + 1,
                                       before=timeline_before)
        more = len(rows) > timeline_limit
        entries = [TimelineEntry(**dict(r)) for r in (rows[1:] if more else rows)]  # the extra one is the oldest
        return CrisisDetail(**_crisis_out(row).model_dump(), timeline=entries,
                            timeline_next_before=entries[0].id if more else None)

    @app.get("/v1/crises/{crisis_id}/people", response_model=list[PersonOnMap], tags=["coordinators"],
             responses={404: {"description": "unknown crisis"}})
    async def crisis_people(request: Request, crisis_id: CrisisIdPath, _: Coordinator) -> list[PersonOnMap]:
        """Where the affected people of an active crisis are (one point per person; no ids, names or phones)."""
        rows = await handlers.people_on_map(pool=res(request).pool, crisis_id=crisis_id)
        if rows is None:
            raise HTTPException(404, f"no crisis {crisis_id}")
        return [PersonOnMap(lat=r["lat"], lon=r["lon"], source=r["source"], welfare=r["welfare"]) for r in rows]

    @app.get("/v1/crises/{crisis_id}/people/map", response_model=PeopleLayer, tags=["coordinators"],
             responses=error_responses(401, 403, 404, 422, descriptions={
                 404: "unknown crisis", 422: "a zoom, an edge or max_points out of its range"}))
    async def crisis_people_map(
            request: Request, crisis_id: CrisisIdPath, _: Coordinator,
            zoom: Annotated[int, Query(ge=0, le=20, description=(
                "The map's zoom level (web-map convention: the world is 256 * 2^zoom pixels wide); clusters are "
                "grid cells of 45 / 2^zoom degrees, about 32 pixels."))] = 2,
            west: Annotated[float | None, Query(ge=-180, le=180, description=(
                "The view's box in degrees (west, south, east, north; a missing edge is the world's, none: the "
                "whole area); west > east crosses the antimeridian, south > north holds nobody."))] = None,
            south: Annotated[float | None, Query(ge=-90, le=90)] = None,
            east: Annotated[float | None, Query(ge=-180, le=180)] = None,
            north: Annotated[float | None, Query(ge=-90, le=90)] = None,
            max_points: Annotated[int, Query(ge=0, le=5000, description=(
                "Points up to this many people in the view, clusters beyond."))] = handlers.MAP_POINTS_MAX,
    ) -> PeopleLayer:
        """Where the affected people of an active crisis are, for one view of the map: one point per person up to
        `max_points` people in the box, else clusters per grid cell aggregated by the database (a crisis of
        100,000 people is a few hundred cells). An empty layer for a closed or manual crisis."""
        edges = (west, south, east, north)
        bbox = None if all(edge is None for edge in edges) else handlers.BBox(
            -180.0 if west is None else west, -90.0 if south is None else south,
            180.0 if east is None else east, 90.0 if north is None else north)
        layer = await handlers.people_layer(pool=res(request).pool, crisis_id=crisis_id, zoom=zoom, bbox=bbox,
                                            max_points=max_points)
        if layer is None:
            raise HTTPException(404, f"no crisis {crisis_id}")
        return PeopleLayer(
            kind="clusters" if layer.kind == "clusters" else "points", total=layer.total, zoom=zoom,
            cell_degrees=layer.cell,
            points=[PersonOnMap(lat=r["lat"], lon=r["lon"], source=r["source"], welfare=r["welfare"])
                    for r in layer.points],
            clusters=[PeopleCluster(
                lat=round(c["lat"], 4), lon=round(c["lon"], 4), count=c["count"],
                registrations=c["count"] - c["reports"], reports=c["reports"],
                welfare=handlers.WELFARE_URGENCY[c["urgency"] - 1] if c["urgency"] is not None else None)
                for c in layer.clusters])

    @app.post("/v1/crises", response_model=CrisisOut, status_code=201, tags=["coordinators"])
    async def activate(request: Request, body: ManualActivation, who: Coordinator) -> CrisisOut:
        """Opens a crisis by hand (201). Its `area` is a circle, a polygon of `[lon, lat]` corners, or neither (the
        whole country); a polygon needs at least three distinct corners within range and must enclose an area
        (corners on one line, or repeated, do not; 422 otherwise, rule `invalid`). E.g. `{"title": "Floods in
        Valencia", "kind": "flood", "severity": "severe", "area": {"country": "ES", "polygon": [[-0.5, 39.3],
        [-0.2, 39.3], [-0.2, 39.6], [-0.5, 39.6]]}}`."""
        pool = res(request).pool
        area = Area.from_dict(body.area.model_dump(mode="json", exclude_none=True))
        policy = await handlers.load_policy(pool=pool, defaults=settings.threshold_policy())
        public_cache.clear()  # read-your-writes for this process (the others learn it from crisis.status)
        crisis = await handlers.activate_manually(
            pool=pool, title=body.title, kind=body.kind, severity=body.severity, area=area,
            actor=who.subject, pool_numbers=settings.hotline_pool, general_number=settings.crisis_general_number,
            threshold=policy.for_severity(body.severity), now=now(), publishing=publishing,
            exercise_of=settings.exercise_test_list if body.exercise else None)
        row = await handlers.get_crisis(pool=pool, crisis_id=crisis.crisis_id)
        assert row is not None
        return _crisis_out(row)

    @app.post("/v1/crises/{crisis_id}/close", response_model=CrisisOut, tags=["coordinators"],
              responses={404: {"description": "unknown crisis"}})
    async def close(request: Request, crisis_id: CrisisIdPath, who: Coordinator) -> CrisisOut:
        pool = res(request).pool
        public_cache.clear()
        crisis = await handlers.close_crisis(pool=pool, crisis_id=crisis_id, actor=who.subject, now=now(),
                                             publishing=publishing)
        if crisis is None:
            raise HTTPException(404, f"no crisis {crisis_id}")
        row = await handlers.get_crisis(pool=pool, crisis_id=crisis_id)
        assert row is not None
        return _crisis_out(row)

    @app.get("/v1/thresholds", response_model=ThresholdsOut, tags=["coordinators"])
    async def get_thresholds(request: Request, _: Coordinator) -> ThresholdsOut:
        policy = await handlers.load_policy(pool=res(request).pool, defaults=settings.threshold_policy())
        return ThresholdsOut(default=policy.default, by_severity=dict(policy.by_severity))

    @app.put("/v1/thresholds", response_model=ThresholdsOut, tags=["coordinators"])
    async def put_thresholds(request: Request, body: Thresholds, who: Coordinator) -> ThresholdsOut:
        """Takes effect in the worker within seconds; incidents already above a lowered threshold activate."""
        pool = res(request).pool
        await handlers.set_thresholds(pool=pool, actor=who.subject, now=now(), default=body.default,
                                      by_severity={str(k): v for k, v in body.by_severity.items()})
        policy = await handlers.load_policy(pool=pool, defaults=settings.threshold_policy())
        return ThresholdsOut(default=policy.default, by_severity=dict(policy.by_severity))

    @app.get("/v1/audit", tags=["coordinators"])
    async def audit_log(request: Request, _: Coordinator,
                        target: Annotated[str | None, Query(max_length=200, pattern=r"^[A-Za-z0-9._:-]+$",
                                                            description="a crisis id")] = None,
                        limit: PageLimit = PAGE_DEFAULT, before: PageBefore = None) -> list[dict[str, Any]]:
        """The coordinators' actions: the latest `limit`, newest first (oldest first for one `target`); each
        entry's `id` as `before` gives the ones before it."""
        return [dict(r) for r in await handlers.audit_entries(pool=res(request).pool, target=target, limit=limit,
                                                              before=before)]

    # watch list and proposals (activation mode `proposed`) --------------------------------------------------------
    @app.get("/v1/watch", response_model=list[WatchedIncident], tags=["coordinators"])
    async def watch(request: Request, _: Coordinator) -> list[WatchedIncident]:
        """Every open incident (from the feeds or external systems) with its live count of people inside, its
        threshold, activation mode and source: pending proposals first, then nearest to their threshold. Counts
        follow the worker within CRISIS_UPDATE_INTERVAL_SECONDS."""
        return [_watched_out(r) for r in await handlers.watch_list(pool=res(request).pool)]

    @app.get("/v1/proposals", response_model=list[ProposalOut], tags=["coordinators"])
    async def proposals(request: Request, _: Coordinator,
                        status: Literal["pending", "confirmed", "dismissed", "superseded", "withdrawn"] | None = None,
                        ) -> list[ProposalOut]:
        return [_proposal_out(r) for r in await handlers.list_proposals(pool=res(request).pool, status=status)]

    decision_responses: dict[int | str, dict[str, Any]] = {
        404: {"description": "no proposal for this incident"},
        409: {"description": "the proposal was already decided otherwise, superseded or withdrawn"}}

    async def _decide(request: Request, incident_id: str, decision: str, who: Principal,
                      reason: str | None) -> ProposalOut:
        try:
            row = await handlers.decide_proposal(pool=res(request).pool, incident_id=incident_id, decision=decision,
                                                 actor=who.subject, now=now(), reason=reason)
        except handlers.ProposalConflict as exc:
            raise HTTPException(409, str(exc)) from None
        if row is None:
            raise HTTPException(404, f"no proposal for incident {incident_id}")
        return _proposal_out(row)

    @app.post("/v1/proposals/{incident_id}/confirm", response_model=ProposalOut, tags=["coordinators"],
              responses=decision_responses)
    async def confirm_proposal(request: Request, incident_id: IncidentIdPath, who: Coordinator,
                               body: Confirmation | None = None) -> ProposalOut:
        """Open the crisis: the worker activates it within seconds exactly as in the automatic mode (hotline,
        `crisis.activated`, alerts to everyone inside), with the coordinator as the activating actor. Audited;
        confirming again changes nothing."""
        return await _decide(request, incident_id, "confirmed", who, body.reason if body else None)

    @app.post("/v1/proposals/{incident_id}/dismiss", response_model=ProposalOut, tags=["coordinators"],
              responses=decision_responses)
    async def dismiss_proposal(request: Request, incident_id: IncidentIdPath, body: Dismissal,
                               who: Coordinator) -> ProposalOut:
        """No crisis for this incident (nothing is sent); audited with the reason. It is proposed again only if
        its severity changes."""
        return await _decide(request, incident_id, "dismissed", who, body.reason)

    # public -------------------------------------------------------------------------------------------------
    async def _active(request: Request) -> list[Crisis]:
        """The active crises of the public JSON and Atom feeds: exercises only with EXERCISE_IN_PUBLIC_FEEDS."""
        crises = [handlers.row_to_crisis(r) for r in await handlers.list_crises(pool=res(request).pool,
                                                                                status="active")]
        return [c for c in crises if settings.exercise_in_public_feeds or not c.exercise]

    base = settings.public_base_url.rstrip("/")

    cached = {200: {"description": "from memory for PUBLIC_CACHE_SECONDS at most (dropped when a crisis changes); "
                                   "ETag and Cache-Control set"},
              304: {"description": "If-None-Match matched the ETag"}}

    @app.get("/public/crises", response_model=list[PublicCrisis], tags=["public"], response_class=Response,
             responses={200: {**cached[200], "content": {"application/json": {}}}, 304: cached[304]})
    async def public_crises(request: Request) -> Response:
        async def render() -> tuple[bytes, str, int]:
            listed = [PublicCrisis(crisis_id=c.crisis_id, title=exercise_title(c.title, c.exercise), kind=c.kind,
                                   hotline_number=c.hotline_number, affected_count=c.affected_count,
                                   area=c.area.to_dict(), activated_at=c.activated_at,
                                   cap_url=f"{base}/public/crises/{c.crisis_id}.cap", exercise=c.exercise)
                      for c in await _active(request)]
            return PUBLIC_LIST.dump_json(listed), "application/json", 200

        return await public_cache.respond(request, "list", render)

    @app.get("/public/crises.atom", tags=["public"], response_class=Response,
             responses={200: {**cached[200], "content": {"application/atom+xml": {}}}, 304: cached[304]})
    async def public_atom(request: Request) -> Response:
        async def render() -> tuple[bytes, str, int]:
            return build_atom(await _active(request), base_url=base, now=now()), "application/atom+xml", 200

        return await public_cache.respond(request, "atom", render)

    @app.get("/public/crises/{crisis_id}.cap", tags=["public"], response_class=Response,
             responses={200: {**cached[200], "content": {"application/cap+xml": {}}}, 304: cached[304],
                        404: {"description": "unknown crisis"}})
    async def public_cap(request: Request, crisis_id: Annotated[str, Path(min_length=1, max_length=200)]) -> Response:
        async def render() -> tuple[bytes, str, int]:
            row = await handlers.get_crisis(pool=res(request).pool, crisis_id=crisis_id)
            if row is None:  # not kept: unknown ids must not fill the memory
                return json.dumps({"detail": f"no crisis {crisis_id}"}).encode(), "application/json", 404
            return build_cap(handlers.row_to_crisis(row), web=f"{base}/public/crises"), "application/cap+xml", 200

        return await public_cache.respond(request, f"cap:{crisis_id}", render)


    return app

