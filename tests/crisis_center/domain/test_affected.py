from __future__ import annotations

import random
from datetime import date

from services.crisis_center.domain.affected import AffectedSet
from services.crisis_center.domain.people import (
    Contribution,
    email_identifier,
    normalise_name,
    phone_identifier,
    registration_contribution,
    report_contribution,
    subject_identifier,
)


def test_phone_numbers_are_normalised_to_e164() -> None:
    assert phone_identifier("+32 470 12 34 56") == "tel:+32470123456"
    assert phone_identifier("0470/12.34.56") == "tel:+32470123456"  # national Belgian format
    assert phone_identifier("not a phone") is None
    assert phone_identifier("") is None
    assert email_identifier(" Marie.Dubois@Example.ORG ") == "mailto:marie.dubois@example.org"
    assert email_identifier("nope") is None


def test_names_compare_without_accents_case_or_order() -> None:
    assert normalise_name("Dubois, Marie-Élise") == normalise_name("marie elise DUBOIS")
    born = date(1990, 5, 1)
    assert subject_identifier("Jan Peeters", born) == subject_identifier("PEETERS Jan", born)
    assert subject_identifier("Jan Peeters", born) != subject_identifier("Jan Peeters", date(1991, 5, 1))
    assert subject_identifier("Jan Peeters", born) != subject_identifier("Jan Peeters", None)
    assert subject_identifier("  ", None) is None
    ident = subject_identifier("Jan Peeters", born)
    assert ident is not None and "peeters" not in ident.lower()  # no name in clear


def test_report_is_about_the_subject_when_there_is_one() -> None:
    about_subject = report_contribution("BE-1", reporter_phone="+32470000001", reporter_email=None,
                                        subject_name="Jan Peeters")
    assert about_subject.source == "report"
    assert "tel:+32470000001" not in about_subject.identifiers  # the relative who called is not affected
    about_reporter = report_contribution("BE-2", reporter_phone="+32470000001", reporter_email=None)
    assert about_reporter.identifiers == {"tel:+32470000001"}
    anonymous = report_contribution("BE-3", reporter_phone=None, reporter_email=None)
    assert anonymous.identifiers == {"report:BE-3"}


def test_same_person_through_registration_and_report_counts_once() -> None:
    affected = AffectedSet()
    affected.upsert(registration_contribution("t1", "+32470000001", "a@example.org"))
    change = affected.upsert(report_contribution("BE-1", reporter_phone="0470 00 00 01", reporter_email=None))
    assert change.changed and change.count_after == 1
    assert affected.count == 1
    assert affected.counts_by_source() == {"registration": 1, "report": 1}


def test_shared_email_links_records_even_when_phones_differ() -> None:
    affected = AffectedSet()
    affected.upsert(registration_contribution("t1", "+32470000001", "a@example.org"))
    affected.upsert(report_contribution("BE-1", reporter_phone=None, reporter_email="A@example.org"))
    affected.upsert(registration_contribution("t2", "+32470000002", None))
    assert affected.count == 2
    assert affected.same_person("registration:t1") == {"registration:t1", "report:BE-1"}


def test_duplicates_change_nothing() -> None:
    affected = AffectedSet()
    record = registration_contribution("t1", "+32470000001", None)
    assert affected.upsert(record).changed
    again = affected.upsert(record)
    assert not again.changed and affected.count == 1 and len(affected) == 1
    assert affected.remove("registration:t1").changed
    assert not affected.remove("registration:t1").changed
    assert affected.count == 0


def test_replacing_a_record_moves_the_person() -> None:
    affected = AffectedSet()
    affected.upsert(registration_contribution("t1", "+32470000001", None))
    affected.upsert(report_contribution("BE-1", reporter_phone="+32470000001", reporter_email=None))
    assert affected.count == 1
    # The traveller re-registers with another phone: the report's person is no longer the same one.
    change = affected.upsert(registration_contribution("t1", "+32470000009", None))
    assert change.changed and change.count_before == 1 and change.count_after == 2


def test_removing_the_bridge_splits_a_person() -> None:
    affected = AffectedSet()
    affected.upsert(Contribution("a", "registration", frozenset({"x"})))
    affected.upsert(Contribution("b", "report", frozenset({"y"})))
    assert affected.count == 2
    affected.upsert(Contribution("bridge", "report", frozenset({"x", "y"})))
    assert affected.count == 1
    affected.remove("bridge")
    assert affected.count == 2
    assert affected.same_person("a") == {"a"}


def _components_by_brute_force(records: dict[str, frozenset[str]]) -> int:
    parent = {k: k for k in records}

    def find(k: str) -> str:
        while parent[k] != k:
            k = parent[k]
        return k

    keys = list(records)
    for i, a in enumerate(keys):
        for b in keys[i + 1:]:
            if records[a] & records[b]:
                parent[find(a)] = find(b)
    return len({find(k) for k in keys})


def test_count_matches_a_brute_force_count_under_random_changes() -> None:
    rng = random.Random(5)
    affected = AffectedSet()
    model: dict[str, frozenset[str]] = {}
    for _ in range(600):
        cid = f"r{rng.randrange(40)}"
        if rng.random() < 0.3:
            affected.remove(cid)
            model.pop(cid, None)
        else:
            idents = frozenset(f"i{rng.randrange(60)}" for _ in range(rng.randint(1, 3)))
            affected.upsert(Contribution(cid, rng.choice(["registration", "report"]), idents))
            model[cid] = idents
        assert affected.count == _components_by_brute_force(model)
    rebuilt = AffectedSet(c for c in (affected.contribution(k) for k in model) if c is not None)
    assert rebuilt.count == affected.count


def test_counts_by_source_kept_as_records_come_and_go_match_a_recount() -> None:
    """The per-source figures are kept incrementally (read on every event of a crisis): they must always equal
    a recount over the people, through merges, splits and replaced records."""
    rng = random.Random(11)
    affected = AffectedSet()
    for _ in range(800):
        cid = f"r{rng.randrange(40)}"
        if rng.random() < 0.3:
            affected.remove(cid)
        else:
            idents = frozenset(f"i{rng.randrange(50)}" for _ in range(rng.randint(1, 3)))
            affected.upsert(Contribution(cid, rng.choice(["registration", "report"]), idents))
        recount = {"registration": 0, "report": 0}
        for person in affected.people():
            for source in {c.source for c in (affected.contribution(m) for m in person) if c is not None}:
                recount[source] += 1
        assert affected.counts_by_source() == recount
