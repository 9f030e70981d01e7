from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
import xmlschema

from services.crisis_center.domain import texts
from services.crisis_center.domain.atom import ATOM_NS, build_atom
from services.crisis_center.domain.cap import CAP_NS, build_cap, cap_time, chain
from services.crisis_center.domain.crisis import Crisis
from shared.geo import Area, Circle

SCHEMA_PATH = Path(__file__).parents[3] / "services" / "crisis_center" / "schemas" / "CAP-v1.2-schema.xsd"
NS = {"cap": CAP_NS}
T0 = datetime(2026, 11, 28, 13, 5, 7, 123456, tzinfo=UTC)


def _parse(xml: bytes | str) -> ET.Element:
    """Our own output, not untrusted input."""
    return ET.fromstring(xml)  # noqa: S314


@pytest.fixture(scope="module")
def schema() -> xmlschema.XMLSchema:
    return xmlschema.XMLSchema(SCHEMA_PATH)


def crisis(**changes: object) -> Crisis:
    base = Crisis(
        crisis_id="c-1", incident_id="inc-1", title="Earthquake near Istanbul", kind="earthquake",
        severity="severe", status="active", affected_count=57, threshold=50, hotline_number="+3225018111",
        area=Area("TR", circle=Circle(41.0082, 28.9784, 50)), activated_at=T0,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def test_cap_time_has_an_offset_and_no_fraction() -> None:
    assert cap_time(T0) == "2026-11-28T14:05:07+01:00"  # Brussels in winter
    assert cap_time(datetime(2026, 7, 1, 10, tzinfo=UTC)) == "2026-07-01T12:00:00+02:00"
    assert cap_time(T0, tz=timezone.utc) == "2026-11-28T13:05:07-00:00"  # type: ignore[arg-type]  # noqa: UP017
    with pytest.raises(ValueError, match="aware"):
        cap_time(datetime(2026, 1, 1))


def test_alert_is_valid_cap_with_one_info_per_language(schema: xmlschema.XMLSchema) -> None:
    xml = build_cap(crisis())
    schema.validate(xml.decode())
    root = _parse(xml)
    assert root.findtext("cap:msgType", namespaces=NS) == "Alert"
    assert root.find("cap:references", NS) is None
    languages = [i.findtext("cap:language", namespaces=NS) for i in root.findall("cap:info", NS)]
    assert languages == ["fr-BE", "nl-BE", "de-BE", "en"]
    for info in root.findall("cap:info", NS):
        assert "+3225018111" in (info.findtext("cap:instruction", namespaces=NS) or "")
        assert info.findtext("cap:area/cap:circle", namespaces=NS) == "41.0082,28.9784 50"
        assert info.findtext("cap:severity", namespaces=NS) == "Severe"
    assert root.findtext("cap:sent", namespaces=NS) == "2026-11-28T14:05:07+01:00"


def test_polygon_is_written_lat_lon_and_closed(schema: xmlschema.XMLSchema) -> None:
    square = ((-9.3, 38.6), (-9.0, 38.6), (-9.0, 38.85), (-9.3, 38.85))
    xml = build_cap(crisis(area=Area("PT", polygon=square), kind="flood", severity=None))
    schema.validate(xml.decode())
    root = _parse(xml)
    polygon = root.findtext("cap:info/cap:area/cap:polygon", namespaces=NS) or ""
    pairs = polygon.split()
    assert pairs[0] == "38.6,-9.3" and pairs[0] == pairs[-1] and len(pairs) == 5
    assert root.findtext("cap:info/cap:severity", namespaces=NS) == "Unknown"
    assert root.find("cap:info/cap:area/cap:circle", NS) is None


def test_whole_country_has_a_geocode(schema: xmlschema.XMLSchema) -> None:
    xml = build_cap(crisis(area=Area("TR"), incident_id=None, kind="other"))
    schema.validate(xml.decode())
    root = _parse(xml)
    assert root.findtext("cap:info/cap:area/cap:areaDesc", namespaces=NS) == "Türkiye"
    assert root.findtext("cap:info/cap:area/cap:geocode/cap:value", namespaces=NS) == "TR"
    assert root.find("cap:incidents", NS) is None


def test_update_and_cancel_reference_the_earlier_messages(schema: xmlschema.XMLSchema) -> None:
    updated = crisis(updated_at=T0 + timedelta(minutes=10), affected_count=80)
    closed = replace(updated, status="closed", closed_at=T0 + timedelta(hours=5))
    update_xml, cancel_xml = build_cap(updated), build_cap(closed)
    for xml in (update_xml, cancel_xml):
        schema.validate(xml.decode())
    update_root, cancel_root = _parse(update_xml), _parse(cancel_xml)
    alert_id = _parse(build_cap(crisis())).findtext("cap:identifier", namespaces=NS)
    assert update_root.findtext("cap:msgType", namespaces=NS) == "Update"
    refs = (update_root.findtext("cap:references", namespaces=NS) or "").split()
    assert refs == [f"crisis-center@diplomatie.belgium.be,{alert_id},2026-11-28T14:05:07+01:00"]
    assert cancel_root.findtext("cap:msgType", namespaces=NS) == "Cancel"
    cancel_refs = (cancel_root.findtext("cap:references", namespaces=NS) or "").split()
    assert [r.split(",")[1] for r in cancel_refs] == [alert_id, update_root.findtext("cap:identifier", namespaces=NS)]
    assert cancel_root.findtext("cap:info/cap:responseType", namespaces=NS) == "AllClear"
    assert len({m.identifier for m in chain(closed)}) == 3


def test_the_schema_rejects_what_cap_forbids(schema: xmlschema.XMLSchema) -> None:
    """The validation is real: a fractional-second or 'Z' time fails it."""
    xml = build_cap(crisis()).decode()
    sent = _parse(xml).findtext("cap:sent", namespaces=NS) or ""
    assert not schema.is_valid(xml.replace(sent, "2026-11-28T13:05:07.123Z"))


def test_atom_feed_lists_crises_newest_first() -> None:
    older = crisis(crisis_id="c-1", activated_at=T0)
    newer = crisis(crisis_id="c-2", title="Floods in Lisbon", activated_at=T0 + timedelta(hours=1),
                   hotline_number="+3225018112")
    feed = _parse(build_atom([older, newer], base_url="https://crisis.example/", now=T0))
    ns = {"a": ATOM_NS}
    assert feed.findtext("a:updated", namespaces=ns) == "2026-11-28T14:05:07Z"
    entries = feed.findall("a:entry", ns)
    assert [e.findtext("a:id", namespaces=ns) for e in entries] == [
        "https://crisis.example/public/crises/c-2", "https://crisis.example/public/crises/c-1"]
    for entry in entries:
        for required in ("a:id", "a:title", "a:updated"):
            assert entry.findtext(required, namespaces=ns)
    assert "+3225018112" in (entries[0].findtext("a:summary", namespaces=ns) or "")
    empty = _parse(build_atom([], base_url="https://crisis.example", now=T0))
    assert empty.findtext("a:updated", namespaces=ns) == "2026-11-28T13:05:07Z"


def test_notification_texts_carry_the_hotline_in_each_language() -> None:
    bodies = {lang: texts.sms_text("Quake", "+3225018111", lang) for lang in texts.LANGUAGES}
    assert len(set(bodies.values())) == 4
    assert all("+3225018111" in body for body in bodies.values())
    subject, body = texts.email_text("Quake", "+3225018111", "nl")
    assert "Quake" in subject and "+3225018111" in body and "Noodlijn" in body
    assert texts.as_language("de-BE") == "de" and texts.as_language("es") == "en" and texts.as_language(None) == "en"
