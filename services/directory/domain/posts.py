"""Posts from the seed format, to the published shape, and the changes admins and coordinators make."""

from __future__ import annotations

import dataclasses
from datetime import date
from typing import Any, Literal

import pycountry

from services.directory.domain.hours import validate_hours
from services.directory.domain.model import (
    SERVICES,
    EuPost,
    InvalidQuery,
    JurisdictionEntry,
    Post,
    Subdivision,
)

ChangeKind = Literal["set_hours", "suspend_services", "resume_services", "close_temporarily", "reopen"]
CHANGE_KINDS: tuple[ChangeKind, ...] = (
    "set_hours",
    "suspend_services",
    "resume_services",
    "close_temporarily",
    "reopen",
)


def _date(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


def post_from_seed(raw: dict[str, Any]) -> Post:
    jurisdiction = tuple(
        JurisdictionEntry(
            country=entry["country"],
            scope=entry["scope"],
            subdivisions=tuple(
                Subdivision(code=s["code"], name=s["name"], geonames_admin1=s["geonames_admin1"])
                for s in entry.get("subdivisions", ())
            ),
            description=entry.get("description"),
        )
        for entry in raw["consular_jurisdiction"]
    )
    return Post(
        post_id=raw["post_id"],
        type=raw["type"],
        name=raw["name"],
        city=raw["city"],
        country=raw["country"],
        lat=float(raw["location"]["lat"]),
        lon=float(raw["location"]["lon"]),
        time_zone=raw["time_zone"],
        status=raw["status"],
        valid_from=_date(raw.get("valid_from")),
        valid_until=_date(raw.get("valid_until")),
        accredited_to=tuple(raw["accredited_to"]),
        consular_competence=bool(raw["consular_competence"]),
        jurisdiction=jurisdiction,
        services=frozenset(raw["services"]),
        opening_hours=dict(raw["opening_hours"]),
        contact=dict(raw["contact"]),
        seed=raw,
    )


def eu_posts_from_seed(by_host: dict[str, list[dict[str, Any]]]) -> list[EuPost]:
    return [
        EuPost(
            eu_post_id=raw["eu_post_id"],
            member_state=raw["member_state"],
            type=raw["type"],
            city=raw["city"],
            country=raw["country"],
            lat=float(raw["location"]["lat"]),
            lon=float(raw["location"]["lon"]),
        )
        for rows in by_host.values()
        for raw in rows
    ]


def post_to_dict(post: Post, *, open_now: bool | None = None) -> dict[str, Any]:
    """The published shape of a post: the seed record with the current state applied."""
    body = {k: v for k, v in post.seed.items() if k not in ("opening_hours", "contact", "services")}
    body.update(
        {
            "services": sorted(post.services - post.suspended_services, key=SERVICES.index),
            "suspended_services": sorted(post.suspended_services, key=SERVICES.index),
            "temporarily_closed": post.temporarily_closed,
            "closure_note": post.closure_note,
            "opening_hours": post.opening_hours,
            "contact": post.contact,
        }
    )
    if open_now is not None or not post.opening_hours.get("placeholder", True):
        body["open_now"] = open_now
    return body


def _services(values: list[str], post: Post) -> frozenset[str]:
    if not values:
        raise InvalidQuery("services", "required", "name at least one service")
    unknown = [s for s in values if s not in SERVICES]
    if unknown:
        raise InvalidQuery("services", "service", f"unknown services {unknown}; use {', '.join(SERVICES)}")
    not_offered = [s for s in values if s not in post.services]
    if not_offered:
        raise InvalidQuery("services", "offered", f"{post.post_id} does not offer {not_offered}")
    return frozenset(values)


def apply_change(post: Post, kind: str, payload: dict[str, Any]) -> Post:
    """Apply one admin or coordinator change to a post; raises InvalidQuery for bad input."""
    if kind == "set_hours":
        return dataclasses.replace(post, opening_hours=validate_hours(payload))
    if kind == "suspend_services":
        return dataclasses.replace(
            post, suspended_services=post.suspended_services | _services(payload.get("services") or [], post)
        )
    if kind == "resume_services":
        return dataclasses.replace(
            post, suspended_services=post.suspended_services - _services(payload.get("services") or [], post)
        )
    if kind == "close_temporarily":
        note = payload.get("note")
        if note is not None and (not isinstance(note, str) or len(note) > 500):
            raise InvalidQuery("note", "length", "note is a string of at most 500 characters")
        return dataclasses.replace(post, temporarily_closed=True, closure_note=note)
    if kind == "reopen":
        return dataclasses.replace(post, temporarily_closed=False, closure_note=None)
    raise InvalidQuery("change", "kind", f"unknown change {kind!r}; use {', '.join(CHANGE_KINDS)}")


def state_of(post: Post) -> dict[str, Any]:
    """The part of a post that changes after seeding (what the database keeps as overrides)."""
    return {
        "opening_hours": post.opening_hours,
        "suspended_services": sorted(post.suspended_services),
        "temporarily_closed": post.temporarily_closed,
        "closure_note": post.closure_note,
    }


def with_state(post: Post, state: dict[str, Any]) -> Post:
    return dataclasses.replace(
        post,
        opening_hours=dict(state.get("opening_hours") or post.opening_hours),
        suspended_services=frozenset(state.get("suspended_services") or ()),
        temporarily_closed=bool(state.get("temporarily_closed", False)),
        closure_note=state.get("closure_note"),
    )


_EU_TYPE_NAMES = {
    "embassy": "Embassy",
    "consulate_general": "Consulate General",
    "consulate": "Consulate",
    "consular_agency": "Consular Agency",
}


def eu_post_name(post: EuPost) -> str:
    """`Embassy of Germany in Kabul`: built from the member state's ISO name."""
    state = pycountry.countries.get(alpha_2=post.member_state)
    state_name = getattr(state, "common_name", None) or getattr(state, "name", post.member_state)
    return f"{_EU_TYPE_NAMES.get(post.type, post.type.replace('_', ' ').title())} of {state_name} in {post.city}"


def eu_post_to_dict(post: EuPost) -> dict[str, Any]:
    return {
        "post_id": post.eu_post_id,
        "name": eu_post_name(post),
        "type": post.type,
        "member_state": post.member_state,
        "city": post.city,
        "country": post.country,
        "location": {"lat": post.lat, "lon": post.lon},
    }
