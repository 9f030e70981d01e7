"""The directory's `/v1/resolve`: which post (or EU member state's post) to turn to for a service at a place.

The query is parsed by hand and the answer built as plain dicts, then cached as bytes (`ResolveCache`): the hot
path. `RESOLVE_PARAMETERS` documents the query string the parser takes."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from services.directory.deps import COUNTRY, ApiState
from services.directory.domain.model import SERVICES, InvalidQuery, Match, Resolution
from services.directory.domain.posts import eu_post_to_dict
from shared.countries import country_pattern

router = APIRouter()

# -- response shapes (documentation; responses are built as plain dicts for speed) ----------------------------


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


# -- building responses ---------------------------------------------------------------------------------------


def _post_view(match: Match) -> dict[str, Any]:
    if match.post is not None:
        p = match.post
        return {
            **_summary_view(match),
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


async def invalid_query(_: Request, exc: Exception) -> JSONResponse:
    """The app's handler of `InvalidQuery` (registered for it alone), wherever the domain raises it: 422."""
    assert isinstance(exc, InvalidQuery)
    return JSONResponse({"detail": [{"field": exc.field, "rule": exc.rule, "message": exc.message}]}, 422)


@router.get(
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
    state: ApiState = request.app.state.api  # no dependency on this hot path: the state straight from the app
    directory = state.resources.snapshot.current
    now = datetime.now(UTC)
    cache = state.resolve_cache
    raw = request.scope["query_string"]
    body = cache.get(directory, now, raw)
    if body is None:
        query = parse_resolve_query(request.query_params)
        resolution = directory.resolve_at(query.pop("service"), now, **query)
        body = _json(resolution_view(resolution))
        cache.put(directory, now, raw, body)
    return Response(body, media_type="application/json")
