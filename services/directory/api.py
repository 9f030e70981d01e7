"""The directory's HTTP API: `create_app(settings)`; the lifespan owns the pool, the snapshot and a producer
(readiness only). Public: posts and resolution. Admins and coordinators: changes to a post (audited)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import re
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from fastapi import Body, Depends, FastAPI, HTTPException, Path, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from services.directory import handlers
from services.directory.adapters import repository
from services.directory.bootstrap import Resources, open_resources
from services.directory.domain.directory import Directory
from services.directory.domain.hours import HOURS_UNKNOWN, open_now
from services.directory.domain.model import POST_TYPES, SERVICES, InvalidQuery, Match, Resolution
from services.directory.domain.model import Service as ServiceName
from services.directory.domain.posts import eu_post_to_dict, post_to_dict
from services.directory.settings import Settings
from shared.auth import Principal, require_roles
from shared.countries import country_pattern
from shared.db import ping
from shared.http import install_common
from shared.kafka.admin import kafka_ping
from shared.kafka.producer import make_producer
from shared.kafka.security import client_security

PostType = Literal[
    "embassy", "consulate_general", "diplomatic_office", "representative_office", "permanent_representation"
]
assert set(PostType.__args__) == set(POST_TYPES)  # type: ignore[attr-defined]

POST_ID = r"^be-[a-z0-9-]{3,80}$"
COUNTRY = r"^[A-Za-z]{2}$"
PostId = Annotated[str, Path(pattern=POST_ID)]
ChangeRoles = Annotated[Principal, Depends(require_roles("admin", "coordinator"))]


# -- response and request shapes (documentation; responses are built as plain dicts for speed) ---------------


class ResolvedPost(BaseModel):
    post_id: str
    name: str
    type: str
    city: str
    country: str
    member_state: str = Field(description="BE for a Belgian post, else the EU member state's ISO code")
    location: dict[str, float]
    time_zone: str | None = None
    services: list[str] | None = None
    opening_hours: dict[str, Any] | None = None
    contact: dict[str, Any] | None = None


class Alternative(BaseModel):
    post: ResolvedPost
    basis: str
    distance_km: float | None
    eu_member_state: str | None
    open_now: bool | None


class ResolveOut(BaseModel):
    service: str
    place: dict[str, Any]
    post: ResolvedPost | None
    basis: str | None = Field(
        description="resident, consular_jurisdiction, side_accreditation, eu_member_state, or nearest_post "
        "(this project's addition: no other rule applied)"
    )
    distance_km: float | None
    eu_member_state: str | None
    open_now: bool | None = Field(description="in the post's own time zone; null when its hours are unknown")
    alternatives: list[Alternative]
    notes: list[str]


class PostsOut(BaseModel):
    count: int
    posts: list[dict[str, Any]]


Day = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
HourMinute = Annotated[str, Field(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$|^24:00$", examples=["09:00"])]
Span = Annotated[list[HourMinute], Field(min_length=2, max_length=2, description="[open, close], open before close")]
IsoDate = Annotated[str, Field(pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$", json_schema_extra={"format": "date"})]


class HoursIn(BaseModel):
    """Each span opens before it closes (422 with the rule `span` otherwise: JSON Schema cannot compare them)."""

    model_config = {"json_schema_extra": {"examples": [{"weekly": {"mon": [["09:00", "12:30"], ["14:00", "17:00"]]},
                                                        "closed_dates": ["2026-12-25"]}]}}
    weekly: dict[Day, list[Span]] = Field(
        description='days mon..sun to [["09:00", "12:30"], ...] in the post\'s local time; days left out are closed'
    )
    closed_dates: list[IsoDate] = Field(default_factory=list, description="YYYY-MM-DD")


class ServicesIn(BaseModel):
    services: list[ServiceName] = Field(min_length=1)


class ClosureIn(BaseModel):
    note: str | None = Field(default=None, max_length=500, description="why, e.g. unrest (no personal data)")


# -- building responses ---------------------------------------------------------------------------------------


def _post_view(match: Match) -> dict[str, Any]:
    if match.post is not None:
        p = match.post
        return {
            "post_id": p.post_id,
            "name": p.name,
            "type": p.type,
            "city": p.city,
            "country": p.country,
            "member_state": "BE",
            "location": {"lat": p.lat, "lon": p.lon},
            "time_zone": p.time_zone,
            "services": sorted(p.services - p.suspended_services),
            "opening_hours": p.opening_hours,
            "contact": p.contact,
        }
    assert match.eu_post is not None
    return eu_post_to_dict(match.eu_post)


def _summary_view(match: Match) -> dict[str, Any]:
    if match.post is not None:
        p = match.post
        return {
            "post_id": p.post_id,
            "name": p.name,
            "type": p.type,
            "city": p.city,
            "country": p.country,
            "member_state": "BE",
            "location": {"lat": p.lat, "lon": p.lon},
        }
    assert match.eu_post is not None
    return eu_post_to_dict(match.eu_post)


def _match_view(match: Match) -> dict[str, Any]:
    """An alternative: the post in short (its detail is at /v1/posts/{post_id})."""
    return {
        "post": _summary_view(match),
        "basis": match.basis,
        "distance_km": match.distance_km,
        "eu_member_state": match.eu_member_state,
        "open_now": match.open_now,
    }


def resolution_view(resolution: Resolution) -> dict[str, Any]:
    place = resolution.place
    match = resolution.match
    return {
        "service": resolution.service,
        "place": {
            "country": place.country,
            "city": place.city,
            "lat": place.lat,
            "lon": place.lon,
            "located": place.located,
            "geonames_admin1": place.admin1,
        },
        "post": _post_view(match) if match else None,
        "basis": match.basis if match else None,
        "distance_km": match.distance_km if match else None,
        "eu_member_state": match.eu_member_state if match else None,
        "open_now": match.open_now if match else None,
        "alternatives": [_match_view(m) for m in resolution.alternatives],
        "notes": list(resolution.notes),
    }


RESOLVE_PARAMETERS: list[dict[str, Any]] = [
    {"name": "service", "in": "query", "required": True, "schema": {"type": "string", "enum": list(SERVICES)}},
    # The place is one object, its fields separate query parameters (form, exploded): so the schema can say that
    # lat and lon come together, and that country or both coordinates are needed.
    {"name": "place", "in": "query", "required": True, "style": "form", "explode": True,
     "description": "Where: `country` (ISO 3166-1 alpha-2, any country but BE: the directory is for abroad) "
     "and/or `lat` with `lon`; `city` is geocoded offline within the country (GeoNames names, also in French, "
     "Dutch, German, English). Coordinates without a country must lie near a city of a country other than "
     "Belgium (offline reverse geocoding), else 422 with the rule `geocoding` (give the country then) or "
     "`abroad`.",
     "examples": {"city": {"value": {"country": "CD", "city": "Kinshasa"}},
                  "coordinates": {"value": {"lat": -4.32, "lon": 15.31}}},
     "schema": {"type": "object", "properties": {
         "country": {"type": "string", "pattern": country_pattern(exclude=["BE"])},
         "city": {"type": "string", "maxLength": 200},
         "lat": {"type": "number", "minimum": -90, "maximum": 90},
         "lon": {"type": "number", "minimum": -180, "maximum": 180}},
         "dependentRequired": {"lat": ["lon"], "lon": ["lat"]},
         "anyOf": [{"required": ["country"]}, {"required": ["lat", "lon"]}]}},
]  # fmt: skip


def _float(params: Mapping[str, str], name: str) -> float | None:
    raw = params.get(name)
    if raw is None or raw == "":
        return None
    try:
        value = float(raw)
    except ValueError:
        raise InvalidQuery(name, "number", f"{name} must be a number") from None
    if not math.isfinite(value):
        raise InvalidQuery(name, "number", f"{name} must be a finite number")
    return value


def parse_resolve_query(params: Mapping[str, str]) -> dict[str, Any]:
    """`service`, `country`, `city`, `lat`, `lon` from the query string; the domain checks the rest."""
    service = params.get("service")
    if not service:
        raise InvalidQuery("service", "required", f"service is required: one of {', '.join(SERVICES)}")
    country = params.get("country") or None
    if country is not None and not re.fullmatch(COUNTRY, country):
        raise InvalidQuery("country", "iso3166", "country must be an ISO 3166-1 alpha-2 code such as CD")
    city = params.get("city") or None
    if city is not None and len(city) > 200:
        raise InvalidQuery("city", "max_length", "city is at most 200 characters")
    return {"service": service, "country": country, "city": city, "lat": _float(params, "lat"),
            "lon": _float(params, "lon")}  # fmt: skip


def _json(body: dict[str, Any]) -> bytes:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


class ResolveCache:
    """Rendered answers of /v1/resolve by query string, for one snapshot and one UTC minute.

    An answer depends only on the snapshot (immutable, replaced on every change), the query, the day (validity)
    and the minute (opening hours are HH:MM): within those, the same query gets the same bytes. Bounded."""

    def __init__(self, max_entries: int = 20_000) -> None:
        self._max = max_entries
        self._directory: Directory | None = None
        self._minute: datetime | None = None
        self._bodies: dict[bytes, bytes] = {}

    def _current(self, directory: Directory, now: datetime) -> bool:
        minute = now.replace(second=0, microsecond=0)
        if directory is not self._directory or minute != self._minute:
            self._directory, self._minute, self._bodies = directory, minute, {}
            return False
        return True

    def get(self, directory: Directory, now: datetime, query: bytes) -> bytes | None:
        return self._bodies.get(query) if self._current(directory, now) else None

    def put(self, directory: Directory, now: datetime, query: bytes, body: bytes) -> None:
        self._current(directory, now)
        if len(self._bodies) >= self._max:
            self._bodies.clear()
        self._bodies[query] = body


def _invalid(exc: InvalidQuery) -> JSONResponse:
    return JSONResponse({"detail": [{"field": exc.field, "rule": exc.rule, "message": exc.message}]}, 422)


async def _resources(request: Request) -> Resources:
    """Async on purpose: FastAPI runs a plain `def` dependency in its thread pool, a hop per request."""
    resources: Resources = request.app.state.resources
    return resources


Deps = Annotated[Resources, Depends(_resources)]


def _directory(request: Request) -> Directory:
    directory: Directory = request.app.state.resources.snapshot.current
    return directory


def create_app(settings: Settings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        resources = await open_resources(settings)
        producer: AIOKafkaProducer | None = make_producer(settings.kafka_bootstrap_servers, client_id="directory-api",
                                                          security=client_security(settings))
        stop = asyncio.Event()
        try:
            await producer.start()  # type: ignore[union-attr]
        except (KafkaError, OSError):  # Kafka down at start: serve the directory anyway; /readyz says so
            producer = None
        app.state.resources = resources
        app.state.producer = producer
        app.state.resolve_cache = ResolveCache()
        refresher = asyncio.create_task(
            resources.snapshot.keep_fresh(resources.pool, settings.overrides_refresh_seconds, stop)
        )
        try:
            yield
        finally:
            stop.set()
            refresher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await refresher
            if producer is not None:
                await producer.stop()
            await resources.pool.close()

    app = FastAPI(
        title="Directory of Belgian posts",
        version="1",
        lifespan=lifespan,
        description="Belgian embassies and consulates, their consular jurisdiction, and which post (or EU "
        "member state's post) a Belgian abroad turns to. Data: Wikidata (CC0), official Belgian sources, "
        "GeoNames (CC BY 4.0). Opening hours and contacts are placeholders unless an admin set them.",
    )

    async def readiness() -> dict[str, bool]:
        resources: Resources | None = getattr(app.state, "resources", None)
        producer = getattr(app.state, "producer", None)
        return {
            "database": bool(resources and await ping(resources.pool)),
            "kafka": bool(producer is not None and await kafka_ping(producer)),
        }

    install_common(app, service="directory", auth=settings, readiness=readiness)

    @app.exception_handler(InvalidQuery)
    async def _invalid_query(_: Request, exc: InvalidQuery) -> JSONResponse:
        return _invalid(exc)

    @app.get(
        "/v1/resolve",
        response_model=ResolveOut,
        tags=["resolution"],
        openapi_extra={"parameters": RESOLVE_PARAMETERS},
        responses={422: {"description": "bad input: `detail` names the field and the rule"}},
    )
    async def resolve(request: Request) -> Response:
        """The post to turn to for a service at a place (`country` required unless `lat`/`lon` are given).

        The query is parsed by hand on this hot path (documented above); errors are 422 like everywhere.
        Answers are cached per query string for the current minute and snapshot (see ResolveCache)."""
        directory: Directory = request.app.state.resources.snapshot.current
        now = datetime.now(UTC)
        cache: ResolveCache = request.app.state.resolve_cache
        raw = request.scope["query_string"]
        body = cache.get(directory, now, raw)
        if body is None:
            query = parse_resolve_query(request.query_params)
            resolution = directory.resolve_at(query.pop("service"), now, **query)
            body = _json(resolution_view(resolution))
            cache.put(directory, now, raw, body)
        return Response(body, media_type="application/json")

    @app.get("/v1/posts", response_model=PostsOut, tags=["posts"])
    async def list_posts(
        request: Request,
        country: Annotated[str | None, Query(pattern=COUNTRY, description="where the post is")] = None,
        type: Annotated[PostType | None, Query()] = None,  # the contract's filter name
        service: Annotated[ServiceName | None, Query()] = None,
    ) -> JSONResponse:
        directory = _directory(request)
        now = datetime.now(UTC)
        posts = directory.list_posts(country=country.upper() if country else None, type_=type, service=service)
        body = [{**post_to_dict(p), "open_now": open_now(p.opening_hours, p.time_zone, now)} for p in posts]
        return JSONResponse({"count": len(body), "posts": body})

    @app.get("/v1/posts/{post_id}", tags=["posts"], responses={404: {"description": "no such post"}})
    async def get_post(request: Request, post_id: PostId) -> JSONResponse:
        post = _directory(request).posts.get(post_id)
        if post is None:
            raise HTTPException(404, f"no post {post_id}")
        state = open_now(post.opening_hours, post.time_zone, datetime.now(UTC))
        body = post_to_dict(post, open_now=state)
        if state is None:
            body["open_now"] = None
            body["open_now_note"] = HOURS_UNKNOWN
        return JSONResponse(body)

    async def _change(
        resources: Resources, principal: Principal, post_id: str, change: str, payload: dict[str, Any]
    ) -> JSONResponse:
        try:
            post = await handlers.change_post(
                pool=resources.pool,
                snapshot=resources.snapshot,
                post_id=post_id,
                change=change,
                payload=payload,
                subject=principal.subject,
                roles=sorted(principal.roles),
                source=settings.source,
                topic_prefix=settings.kafka_topic_prefix,
                now=datetime.now(UTC),
            )
        except handlers.UnknownPost:
            raise HTTPException(404, f"no post {post_id}") from None
        return JSONResponse(post_to_dict(post))

    @app.put("/v1/posts/{post_id}/hours", tags=["changes"])
    async def set_hours(post_id: PostId, body: HoursIn, resources: Deps, principal: ChangeRoles) -> JSONResponse:
        """Set the opening hours (local time of the post); they replace the placeholder."""
        return await _change(resources, principal, post_id, "set_hours", body.model_dump())

    @app.post("/v1/posts/{post_id}/suspensions", tags=["changes"])
    async def suspend(post_id: PostId, body: ServicesIn, resources: Deps, principal: ChangeRoles) -> JSONResponse:
        """Suspend services at a post: resolution skips it for them until they are resumed."""
        return await _change(resources, principal, post_id, "suspend_services", body.model_dump())

    @app.post("/v1/posts/{post_id}/resumptions", tags=["changes"])
    async def resume(post_id: PostId, body: ServicesIn, resources: Deps, principal: ChangeRoles) -> JSONResponse:
        return await _change(resources, principal, post_id, "resume_services", body.model_dump())

    @app.put("/v1/posts/{post_id}/closure", tags=["changes"])
    async def close(
        post_id: PostId,
        resources: Deps,
        principal: ChangeRoles,
        body: Annotated[ClosureIn | None, Body()] = None,
    ) -> JSONResponse:
        """Close a post temporarily (during unrest, say): resolution skips it and offers the next one."""
        return await _change(resources, principal, post_id, "close_temporarily", (body or ClosureIn()).model_dump())

    @app.delete("/v1/posts/{post_id}/closure", tags=["changes"])
    async def reopen(post_id: PostId, resources: Deps, principal: ChangeRoles) -> JSONResponse:
        return await _change(resources, principal, post_id, "reopen", {})

    @app.get("/v1/posts/{post_id}/changes", tags=["changes"])
    async def post_changes(post_id: PostId, resources: Deps, principal: ChangeRoles) -> JSONResponse:
        """The audit of a post's changes, newest first."""
        if resources.snapshot.seed_post(post_id) is None:
            raise HTTPException(404, f"no post {post_id}")
        rows = await repository.changes(resources.pool, post_id)
        for row in rows:
            row["changed_at"] = row["changed_at"].isoformat()
        return JSONResponse({"post_id": post_id, "changes": rows})

    return app
