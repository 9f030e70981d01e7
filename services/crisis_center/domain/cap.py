"""CAP 1.2 (OASIS Common Alerting Protocol) messages for a crisis: Alert at activation, Update on changes,
Cancel at closing, each later message naming the earlier ones in `references`.

Element order follows the schema (services/crisis_center/schemas/CAP-v1.2-schema.xsd); times carry an explicit
offset and no fractional seconds, UTC written `-00:00` as CAP requires.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

import pycountry

from shared.geo import closed_ring

from . import exercise, texts
from .crisis import Crisis

CAP_NS = "urn:oasis:names:tc:emergency:cap:1.2"
DEFAULT_SENDER = "crisis-center@diplomatie.belgium.be"
BRUSSELS = ZoneInfo("Europe/Brussels")

MsgType = Literal["Alert", "Update", "Cancel"]

CATEGORY = {
    "earthquake": "Geo", "flood": "Met", "storm": "Met", "fire": "Fire", "unrest": "Security",
    "attack": "Security", "epidemic": "Health", "transport": "Transport", "other": "Other",
}
SEVERITY = {"minor": "Minor", "moderate": "Moderate", "severe": "Severe", "extreme": "Extreme"}


def cap_time(moment: datetime, tz: ZoneInfo = BRUSSELS) -> str:
    """`2026-11-28T14:05:00+01:00`; a zero offset is written `-00:00` (CAP 1.2, 3.3.2)."""
    if moment.tzinfo is None:
        raise ValueError("CAP times need an aware datetime")
    local = moment.astimezone(tz).replace(microsecond=0)
    offset = local.utcoffset() or timedelta(0)
    text = local.strftime("%Y-%m-%dT%H:%M:%S")
    if offset == timedelta(0):
        return text + "-00:00"
    sign = "+" if offset > timedelta(0) else "-"
    minutes = abs(int(offset.total_seconds())) // 60
    return f"{text}{sign}{minutes // 60:02d}:{minutes % 60:02d}"


@dataclass(frozen=True, slots=True)
class CapMessageRef:
    msg_type: MsgType
    identifier: str
    sent: datetime

    def reference(self, sender: str) -> str:
        return f"{sender},{self.identifier},{cap_time(self.sent)}"


def chain(crisis: Crisis) -> list[CapMessageRef]:
    """The crisis's CAP messages so far, oldest first; identifiers are derived, so they are stable across calls."""
    base = f"be.diplomatie.crisis.{crisis.crisis_id}"

    def stamp(moment: datetime) -> str:
        return moment.astimezone(ZoneInfo("UTC")).strftime("%Y%m%dT%H%M%SZ")

    messages = [CapMessageRef("Alert", f"{base}.alert", crisis.activated_at)]
    if crisis.updated_at is not None and crisis.updated_at > crisis.activated_at and (
        crisis.closed_at is None or crisis.updated_at < crisis.closed_at
    ):
        messages.append(CapMessageRef("Update", f"{base}.update.{stamp(crisis.updated_at)}", crisis.updated_at))
    if crisis.status == "closed" and crisis.closed_at is not None:
        messages.append(CapMessageRef("Cancel", f"{base}.cancel", crisis.closed_at))
    return messages


def _sub(parent: ET.Element, tag: str, text: str | None = None) -> ET.Element:
    element = ET.SubElement(parent, f"{{{CAP_NS}}}{tag}")
    if text is not None:
        element.text = text
    return element


def _area_desc(crisis: Crisis) -> str:
    country = pycountry.countries.get(alpha_2=crisis.area.country)
    name = country.name if country is not None else crisis.area.country
    if crisis.area.circle is not None:
        circle = crisis.area.circle
        return f"{name}: {circle.radius_km:g} km around {circle.lat:.4f},{circle.lon:.4f}"
    if crisis.area.polygon is not None:
        return f"{name}: affected zone"
    return name


def build_cap(crisis: Crisis, *, sender: str = DEFAULT_SENDER, web: str | None = None) -> bytes:
    """The latest CAP message of the crisis (Alert, Update or Cancel), as UTF-8 XML."""
    messages = chain(crisis)
    current = messages[-1]
    ET.register_namespace("", CAP_NS)
    alert = ET.Element(f"{{{CAP_NS}}}alert")
    _sub(alert, "identifier", current.identifier)
    _sub(alert, "sender", sender)
    _sub(alert, "sent", cap_time(current.sent))
    _sub(alert, "status", "Exercise" if crisis.exercise else "Actual")
    _sub(alert, "msgType", current.msg_type)
    _sub(alert, "scope", "Public")
    if crisis.exercise:  # CAP 1.2: `note` identifies the exercise; `Exercise` is only for its participants
        _sub(alert, "note", f"{exercise.BANNER}: not a real crisis (issue 23 exercise mode)")
    if len(messages) > 1:
        _sub(alert, "references", " ".join(m.reference(sender) for m in messages[:-1]))
    if crisis.incident_id:
        _sub(alert, "incidents", crisis.incident_id)
    closing = current.msg_type == "Cancel"
    for language in texts.LANGUAGES:
        info = _sub(alert, "info")
        _sub(info, "language", texts.CAP_LANGUAGE[language])
        _sub(info, "category", CATEGORY.get(crisis.kind, "Other"))
        _sub(info, "event", texts.kind_name(crisis.kind, language))
        _sub(info, "responseType", "AllClear" if closing else "Monitor")
        _sub(info, "urgency", "Past" if closing else "Immediate")
        _sub(info, "severity", SEVERITY.get(crisis.severity or "", "Unknown"))
        _sub(info, "certainty", "Observed")
        _sub(info, "effective", cap_time(crisis.activated_at))
        if crisis.closed_at is not None:
            _sub(info, "expires", cap_time(crisis.closed_at))
        _sub(info, "senderName", texts.SENDER_NAME[language])
        _sub(info, "headline", exercise.title(crisis.title, crisis.exercise)[:160])
        if closing:
            _sub(info, "description", texts.closed_notice(language))
        else:
            _sub(info, "description", texts.description(crisis.affected_count, language))
            _sub(info, "instruction", texts.instruction(crisis.hotline_number, language))
        if web:
            _sub(info, "web", web)
        _sub(info, "contact", crisis.hotline_number)
        _sub_area(info, crisis)
    return ET.tostring(alert, encoding="utf-8", xml_declaration=True)


def _sub_area(info: ET.Element, crisis: Crisis) -> None:
    area = _sub(info, "area")
    _sub(area, "areaDesc", _area_desc(crisis))
    if crisis.area.polygon is not None:
        ring = closed_ring(crisis.area.polygon)
        _sub(area, "polygon", " ".join(f"{lat:g},{lon:g}" for lon, lat in ring))
    if crisis.area.circle is not None:
        circle = crisis.area.circle
        _sub(area, "circle", f"{circle.lat:g},{circle.lon:g} {circle.radius_km:g}")
    geocode = _sub(area, "geocode")
    _sub(geocode, "valueName", "ISO3166-1")
    _sub(geocode, "value", crisis.area.country)
