"""Atom 1.0 (RFC 4287) feed of the active crises, for people and systems that follow the crisis center (an exercise
listed in it has a title and summary starting with EXERCISE)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from datetime import UTC, datetime

from . import exercise, texts
from .crisis import Crisis

ATOM_NS = "http://www.w3.org/2005/Atom"


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    element = ET.SubElement(parent, f"{{{ATOM_NS}}}{tag}", attrs)
    if text is not None:
        element.text = text
    return element


def build_atom(crises: Sequence[Crisis], *, base_url: str, now: datetime) -> bytes:
    """One entry per crisis; `updated` is the latest change (or `now` for an empty feed)."""
    base = base_url.rstrip("/")
    ET.register_namespace("", ATOM_NS)
    feed = ET.Element(f"{{{ATOM_NS}}}feed")
    _sub(feed, "id", f"{base}/public/crises.atom")
    _sub(feed, "title", "Crisis Centre, FPS Foreign Affairs Belgium: active crises")
    _sub(feed, "updated", _rfc3339(max((c.last_change for c in crises), default=now)))
    author = _sub(feed, "author")
    _sub(author, "name", texts.SENDER_NAME["en"])
    _sub(feed, "link", rel="self", href=f"{base}/public/crises.atom", type="application/atom+xml")
    _sub(feed, "link", rel="alternate", href=f"{base}/public/crises", type="application/json")
    for crisis in sorted(crises, key=lambda c: c.last_change, reverse=True):
        entry = _sub(feed, "entry")
        _sub(entry, "id", f"{base}/public/crises/{crisis.crisis_id}")
        _sub(entry, "title", exercise.title(crisis.title, crisis.exercise))
        _sub(entry, "updated", _rfc3339(crisis.last_change))
        _sub(entry, "published", _rfc3339(crisis.activated_at))
        _sub(entry, "link", rel="alternate", href=f"{base}/public/crises/{crisis.crisis_id}.cap",
             type="application/cap+xml")
        _sub(entry, "category", term=crisis.kind)
        summary = " ".join(
            f"{texts.description(crisis.affected_count, lang)} {texts.instruction(crisis.hotline_number, lang)}"
            for lang in ("en", "fr", "nl", "de")
        )
        _sub(entry, "summary", f"{exercise.BANNER}. {summary}" if crisis.exercise else summary, type="text")
    return ET.tostring(feed, encoding="utf-8", xml_declaration=True)
