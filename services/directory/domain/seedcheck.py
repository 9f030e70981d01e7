"""Consistency rules for the seed data (used by its test and at start-up): pure checks over the documents."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import pycountry

from services.directory.domain.model import POST_TYPES, SERVICES


def valid_country(code: str) -> bool:
    """ISO 3166-1 alpha-2 (pycountry), plus XK (Kosovo: user-assigned, used by the EU and by the data)."""
    return code == "XK" or (len(code) == 2 and pycountry.countries.get(alpha_2=code) is not None)


def _valid_point(location: Any) -> bool:
    try:
        lat, lon = float(location["lat"]), float(location["lon"])
    except (KeyError, TypeError, ValueError):
        return False
    return -90 <= lat <= 90 and -180 <= lon <= 180


def check_posts(document: dict[str, Any], *, time_zones: Collection[str]) -> list[str]:
    """Problems in posts.json; an empty list when it is consistent."""
    problems: list[str] = []
    posts = document.get("posts") or []
    ids = [p.get("post_id") for p in posts]
    if len(ids) != len(set(ids)):
        problems.append("duplicate post_id")
    for post in posts:
        pid = post.get("post_id")
        if post.get("type") not in POST_TYPES:
            problems.append(f"{pid}: unknown type {post.get('type')!r}")
        if not valid_country(str(post.get("country"))):
            problems.append(f"{pid}: bad country {post.get('country')!r}")
        for code in post.get("accredited_to", []):
            if not valid_country(code):
                problems.append(f"{pid}: accredited to unknown country {code!r}")
        for entry in post.get("consular_jurisdiction", []):
            if not valid_country(entry.get("country", "")):
                problems.append(f"{pid}: jurisdiction over unknown country {entry.get('country')!r}")
            for sub in entry.get("subdivisions", []):
                if pycountry.subdivisions.get(code=sub.get("code")) is None or not sub.get("geonames_admin1"):
                    problems.append(f"{pid}: bad subdivision {sub!r}")
        if not _valid_point(post.get("location")):
            problems.append(f"{pid}: no valid coordinates")
        if post.get("time_zone") not in time_zones:
            problems.append(f"{pid}: unknown time zone {post.get('time_zone')!r}")
        unknown = [s for s in post.get("services", []) if s not in SERVICES]
        if unknown:
            problems.append(f"{pid}: unknown services {unknown}")
        if post.get("type") == "permanent_representation" and post.get("services"):
            problems.append(f"{pid}: a permanent representation offers no consular service")
        if not post.get("consular_competence") and (post.get("services") or post.get("consular_jurisdiction")):
            problems.append(f"{pid}: services or jurisdiction without consular competence")
        for part in ("opening_hours", "contact"):
            if not isinstance(post.get(part), dict) or "placeholder" not in post[part]:
                problems.append(f"{pid}: {part} must say whether it is a placeholder")
        if post.get("status") not in ("active", "closing", "planned"):
            problems.append(f"{pid}: unknown status {post.get('status')!r}")
        if post.get("status") == "closing" and not post.get("valid_until"):
            problems.append(f"{pid}: closing without valid_until")
        if post.get("status") == "planned" and not post.get("valid_from"):
            problems.append(f"{pid}: planned without valid_from")
    return problems


def check_eu_posts(document: dict[str, Any]) -> list[str]:
    problems: list[str] = []
    ids: set[str] = set()
    for host, rows in (document.get("by_host") or {}).items():
        if not valid_country(host):
            problems.append(f"bad host country {host!r}")
        for row in rows:
            rid = row.get("eu_post_id")
            if rid in ids:
                problems.append(f"duplicate eu_post_id {rid}")
            ids.add(rid)
            if row.get("country") != host:
                problems.append(f"{rid}: filed under {host} but in {row.get('country')}")
            if row.get("member_state") not in EU_MEMBER_STATES or row.get("member_state") == "BE":
                problems.append(f"{rid}: bad member state {row.get('member_state')!r}")
            if not _valid_point(row.get("location")):
                problems.append(f"{rid}: no valid coordinates")
    return problems


EU_MEMBER_STATES: frozenset[str] = frozenset(
    {"AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU"}
    | {"IE", "IT", "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK"}
)
