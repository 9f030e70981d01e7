"""Exercise mode's pure parts (issue 23): the test list, who an exercise may message, the params mark, and the
marking of the CAP document (status Exercise, schema-valid), the Atom entry and the crisis.status data."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import replace
from datetime import timedelta

import pytest
import xmlschema

from services.crisis_center.domain import exercise
from services.crisis_center.domain.atom import ATOM_NS, build_atom
from services.crisis_center.domain.cap import CAP_NS, build_cap
from services.crisis_center.domain.exercise import BANNER, BadTestList, ExerciseContact, parse_test_list
from shared.events.crisis import CrisisActivated
from tests.crisis_center.domain.test_cap_atom import SCHEMA_PATH, T0, crisis

NS = {"cap": CAP_NS}


def _parse(xml: bytes) -> ET.Element:
    return ET.fromstring(xml)  # noqa: S314 (our own output)


@pytest.fixture(scope="module")
def schema() -> xmlschema.XMLSchema:
    return xmlschema.XMLSchema(SCHEMA_PATH)


def test_the_test_list_takes_phones_and_emails_with_an_optional_language() -> None:
    people = parse_test_list(" +32 470 00 00 01 , Ops@Example.org:fr,+32470000001:nl, ,training@example.be:de ")
    assert [(p.phone, p.email, p.language) for p in people] == [
        ("+32470000001", None, "en"), (None, "ops@example.org", "fr"), (None, "training@example.be", "de")]
    assert all(exercise.is_test_person(p.person_id) for p in people)
    assert len({p.person_id for p in people}) == 3
    assert parse_test_list("+32470000001")[0].person_id == people[0].person_id, "the same id in every exercise"
    assert parse_test_list("") == () and parse_test_list(" , ") == ()


@pytest.mark.parametrize("bad", ["0470", "ops@", "not a number", "+32470000001:es", "a@b"])
def test_a_bad_entry_is_named(bad: str) -> None:
    with pytest.raises(BadTestList, match="EXERCISE_RECIPIENTS"):
        parse_test_list(f"+32470000001,{bad}")


def test_settings_refuse_a_bad_test_list() -> None:
    from services.crisis_center.settings import Settings

    assert Settings(exercise_recipients="+32470000001").exercise_test_list[0].phone == "+32470000001"
    with pytest.raises(ValueError, match="EXERCISE_RECIPIENTS"):
        Settings(exercise_recipients="+32470000001,oops")


def test_an_exercise_keeps_its_test_people_only_a_real_crisis_everyone() -> None:
    tester = parse_test_list("+32470000001")[0]
    people = ["t1", tester.person_id, "check-in:abc"]
    assert exercise.only_test_people(False, people, str) == people
    assert exercise.only_test_people(True, people, str) == [tester.person_id]
    assert exercise.only_test_people(True, ["t1"], str) == []
    assert isinstance(tester, ExerciseContact)


def test_params_are_marked_for_an_exercise_only() -> None:
    params = {"crisis_title": "Drill"}
    assert exercise.mark(params, True) == {"crisis_title": "Drill", "exercise": True}
    assert exercise.mark(params, False) == params and "exercise" not in params


def test_a_real_crisis_is_actual_in_cap(schema: xmlschema.XMLSchema) -> None:
    root = _parse(build_cap(crisis()))
    assert root.findtext("cap:status", namespaces=NS) == "Actual"
    assert root.find("cap:note", NS) is None
    assert "EXERCISE" not in (root.findtext("cap:info/cap:headline", namespaces=NS) or "")


@pytest.mark.parametrize("stage", ["alert", "update", "cancel"])
def test_an_exercise_is_status_exercise_in_cap(schema: xmlschema.XMLSchema, stage: str) -> None:
    drill = crisis(exercise=True, incident_id=None)
    if stage != "alert":
        drill = replace(drill, updated_at=T0 + timedelta(minutes=5))
    if stage == "cancel":
        drill = replace(drill, status="closed", closed_at=T0 + timedelta(hours=1))
    xml = build_cap(drill)
    schema.validate(xml.decode())
    root = _parse(xml)
    assert root.findtext("cap:status", namespaces=NS) == "Exercise"
    assert root.findtext("cap:msgType", namespaces=NS) == {"alert": "Alert", "update": "Update",
                                                           "cancel": "Cancel"}[stage]
    assert (root.findtext("cap:note", namespaces=NS) or "").startswith(BANNER)
    for info in root.findall("cap:info", NS):
        assert (info.findtext("cap:headline", namespaces=NS) or "").startswith(f"{BANNER}: Earthquake")


def test_an_exercise_entry_of_the_atom_feed_starts_with_exercise() -> None:
    real, drill = crisis(crisis_id="c-1"), crisis(crisis_id="c-2", title="Drill Kathmandu", exercise=True)
    feed = _parse(build_atom([real, drill], base_url="https://crisis.example", now=T0))
    ns = {"a": ATOM_NS}
    entries = {e.findtext("a:id", namespaces=ns): e for e in feed.findall("a:entry", ns)}
    drill_entry = entries["https://crisis.example/public/crises/c-2"]
    assert drill_entry.findtext("a:title", namespaces=ns) == f"{BANNER}: Drill Kathmandu"
    assert (drill_entry.findtext("a:summary", namespaces=ns) or "").startswith(BANNER)
    real_entry = entries["https://crisis.example/public/crises/c-1"]
    assert real_entry.findtext("a:title", namespaces=ns) == "Earthquake near Istanbul"
    assert "EXERCISE" not in (real_entry.findtext("a:summary", namespaces=ns) or "")


def test_crisis_status_data_says_exercise() -> None:
    assert CrisisActivated.model_validate(crisis(exercise=True).status_data()).exercise is True
    assert CrisisActivated.model_validate(crisis().status_data()).exercise is False
    older = {k: v for k, v in crisis().status_data().items() if k != "exercise"}
    assert CrisisActivated.model_validate(older).exercise is False, "absent: a real crisis (older producers)"
