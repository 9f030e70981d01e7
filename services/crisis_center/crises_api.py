"""The coordinators' routes on crises: the list, one crisis with its timeline, its people (points and map layer),
manual activation and closing, the activation thresholds and the audit trail."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import asyncpg
from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, Field, model_validator

from services.crisis_center import handlers
from services.crisis_center.deps import Coordinator, CrisisId, Deps
from services.crisis_center.domain.membership import KINDS
from shared.events.common import JSON_INTEGER
from shared.events.common import Area as WireArea
from shared.geo import Area, InvalidArea
from shared.openapi import error_responses

router = APIRouter(tags=["coordinators"])

CrisisSource = Literal["gdacs", "usgs", "feed", "external", "manual"]
Severity = Literal["minor", "moderate", "severe", "extreme"]
Kind = Literal["earthquake", "flood", "storm", "fire", "unrest", "attack", "epidemic", "transport", "other"]
assert set(Kind.__args__) == set(KINDS)  # type: ignore[attr-defined]


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


def crisis_out(row: asyncpg.Record) -> CrisisOut:
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



@router.get("/v1/crises", response_model=list[CrisisOut])
async def list_crises(state: Deps, _: Coordinator,
                      status: Literal["active", "closed"] | None = None) -> list[CrisisOut]:
    return [crisis_out(r) for r in await handlers.list_crises(pool=state.pool, status=status)]


@router.get("/v1/crises/{crisis_id}", response_model=CrisisDetail, responses={404: {"description": "unknown crisis"}})
async def crisis_detail(state: Deps, crisis_id: CrisisId, _: Coordinator,
                        timeline_limit: PageLimit = PAGE_DEFAULT, timeline_before: PageBefore = None) -> CrisisDetail:
    """The crisis and the latest entries of its timeline (a long crisis has thousands: page back with
    `timeline_before`)."""
    row = await handlers.get_crisis(pool=state.pool, crisis_id=crisis_id)
    if row is None:
        raise HTTPException(404, f"no crisis {crisis_id}")
    rows = await handlers.timeline(pool=state.pool, crisis_id=crisis_id, limit=timeline_limit + 1,
                                   before=timeline_before)
    more = len(rows) > timeline_limit
    entries = [TimelineEntry(**dict(r)) for r in (rows[1:] if more else rows)]  # the extra one is the oldest
    return CrisisDetail(**crisis_out(row).model_dump(), timeline=entries,
                        timeline_next_before=entries[0].id if more else None)


@router.get("/v1/crises/{crisis_id}/people", response_model=list[PersonOnMap],
            responses={404: {"description": "unknown crisis"}})
async def crisis_people(state: Deps, crisis_id: CrisisId, _: Coordinator) -> list[PersonOnMap]:
    """Where the affected people of an active crisis are (one point per person; no ids, names or phones)."""
    rows = await handlers.people_on_map(pool=state.pool, crisis_id=crisis_id)
    if rows is None:
        raise HTTPException(404, f"no crisis {crisis_id}")
    return [PersonOnMap(lat=r["lat"], lon=r["lon"], source=r["source"], welfare=r["welfare"]) for r in rows]


@router.get("/v1/crises/{crisis_id}/people/map", response_model=PeopleLayer,
            responses=error_responses(401, 403, 404, 422, descriptions={
                404: "unknown crisis", 422: "a zoom, an edge or max_points out of its range"}))
async def crisis_people_map(
        state: Deps, crisis_id: CrisisId, _: Coordinator,
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
    layer = await handlers.people_layer(pool=state.pool, crisis_id=crisis_id, zoom=zoom, bbox=bbox,
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


@router.post("/v1/crises", response_model=CrisisOut, status_code=201)
async def activate(state: Deps, body: ManualActivation, who: Coordinator) -> CrisisOut:
    """Opens a crisis by hand (201). Its `area` is a circle, a polygon of `[lon, lat]` corners, or neither (the
    whole country); a polygon needs at least three distinct corners within range and must enclose an area
    (corners on one line, or repeated, do not; 422 otherwise, rule `invalid`). E.g. `{"title": "Floods in
    Valencia", "kind": "flood", "severity": "severe", "area": {"country": "ES", "polygon": [[-0.5, 39.3],
    [-0.2, 39.3], [-0.2, 39.6], [-0.5, 39.6]]}}`."""
    settings = state.settings
    area = Area.from_dict(body.area.model_dump(mode="json", exclude_none=True))
    policy = await handlers.load_policy(pool=state.pool, defaults=settings.threshold_policy())
    state.public_cache.clear()  # read-your-writes for this process (the others learn it from crisis.status)
    crisis = await handlers.activate_manually(
        pool=state.pool, title=body.title, kind=body.kind, severity=body.severity, area=area,
        actor=who.subject, pool_numbers=settings.hotline_pool, general_number=settings.crisis_general_number,
        threshold=policy.for_severity(body.severity), now=state.now(), publishing=state.publishing,
        exercise_of=settings.exercise_test_list if body.exercise else None)
    row = await handlers.get_crisis(pool=state.pool, crisis_id=crisis.crisis_id)
    assert row is not None
    return crisis_out(row)


@router.post("/v1/crises/{crisis_id}/close", response_model=CrisisOut,
             responses={404: {"description": "unknown crisis"}})
async def close(state: Deps, crisis_id: CrisisId, who: Coordinator) -> CrisisOut:
    state.public_cache.clear()
    crisis = await handlers.close_crisis(pool=state.pool, crisis_id=crisis_id, actor=who.subject,
                                         now=state.now(), publishing=state.publishing)
    if crisis is None:
        raise HTTPException(404, f"no crisis {crisis_id}")
    row = await handlers.get_crisis(pool=state.pool, crisis_id=crisis_id)
    assert row is not None
    return crisis_out(row)


@router.get("/v1/thresholds", response_model=ThresholdsOut)
async def get_thresholds(state: Deps, _: Coordinator) -> ThresholdsOut:
    policy = await handlers.load_policy(pool=state.pool, defaults=state.settings.threshold_policy())
    return ThresholdsOut(default=policy.default, by_severity=dict(policy.by_severity))


@router.put("/v1/thresholds", response_model=ThresholdsOut)
async def put_thresholds(state: Deps, body: Thresholds, who: Coordinator) -> ThresholdsOut:
    """Takes effect in the worker within seconds; incidents already above a lowered threshold activate."""
    await handlers.set_thresholds(pool=state.pool, actor=who.subject, now=state.now(), default=body.default,
                                  by_severity={str(k): v for k, v in body.by_severity.items()})
    policy = await handlers.load_policy(pool=state.pool, defaults=state.settings.threshold_policy())
    return ThresholdsOut(default=policy.default, by_severity=dict(policy.by_severity))


@router.get("/v1/audit")
async def audit_log(state: Deps, _: Coordinator,
                    target: Annotated[str | None, Query(max_length=200, pattern=r"^[A-Za-z0-9._:-]+$",
                                                        description="a crisis id")] = None,
                    limit: PageLimit = PAGE_DEFAULT, before: PageBefore = None) -> list[dict[str, Any]]:
    """The coordinators' actions: the latest `limit`, newest first (oldest first for one `target`); each
    entry's `id` as `before` gives the ones before it."""
    return [dict(r) for r in await handlers.audit_entries(pool=state.pool, target=target, limit=limit,
                                                          before=before)]
