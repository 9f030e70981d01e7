"""The on-call roster's rules: which overlapping entry wins, which overlaps are refused, who takes over next."""

from __future__ import annotations

from datetime import UTC, datetime

from services.intake.domain.roster import RosterEntry, conflicts, next_handover, on_call


def at(day: int, hour: int = 0) -> datetime:
    return datetime(2030, 3, day, hour, tzinfo=UTC)


ROTA = RosterEntry(starts_at=at(1), ends_at=at(31), officer_phone="+32470000001", entry_id=1)
REPLACEMENT = RosterEntry(starts_at=at(10), ends_at=at(12), officer_phone="+32470000003", precedence=1, entry_id=2)
LATER = RosterEntry(starts_at=at(31), ends_at=at(31, 12), officer_phone="+32470000004", entry_id=3)


def test_higher_precedence_wins_over_a_later_start() -> None:
    standing = RosterEntry(starts_at=at(11), ends_at=at(20), officer_phone="+32470000009", entry_id=4)
    assert on_call([ROTA, REPLACEMENT, standing], at(11, 6)) == REPLACEMENT
    assert on_call([ROTA, REPLACEMENT, standing], at(12)) == standing


def test_nobody_outside_every_entry() -> None:
    assert on_call([ROTA], at(31)) is None
    assert on_call([ROTA], at(1)) == ROTA  # the start is covered, the end is not


def test_an_overlap_of_equal_precedence_is_a_conflict() -> None:
    found = conflicts([ROTA, REPLACEMENT], starts_at=at(5), ends_at=at(6), precedence=0)
    assert found == [ROTA]
    assert conflicts([ROTA, REPLACEMENT], starts_at=at(11), ends_at=at(13), precedence=1) == [REPLACEMENT]
    assert conflicts([ROTA, REPLACEMENT], starts_at=at(5), ends_at=at(6), precedence=2) == []


def test_touching_entries_do_not_conflict_and_a_change_ignores_itself() -> None:
    assert conflicts([ROTA], starts_at=at(31), ends_at=at(31, 12), precedence=0) == []
    assert conflicts([ROTA], starts_at=at(2), ends_at=at(30), precedence=0, ignore_id=1) == []


def test_next_handover_follows_the_boundaries() -> None:
    roster = [ROTA, REPLACEMENT, LATER]
    first = next_handover(roster, at(9))
    assert first is not None and first.at == at(10) and first.entry == REPLACEMENT
    back = next_handover(roster, at(10, 5))
    assert back is not None and back.at == at(12) and back.entry == ROTA
    last = next_handover(roster, at(20))
    assert last is not None and last.at == at(31) and last.entry == LATER
    gap = next_handover(roster, at(31, 1))
    assert gap is not None and gap.at == at(31, 12) and gap.entry is None
    assert next_handover(roster, at(31, 12)) is None
