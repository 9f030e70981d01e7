from __future__ import annotations

import pytest

from services.intake.domain.model import Kind
from services.intake.domain.officers import (
    QUALITY_TEAM,
    NoOfficer,
    Officer,
    choose_officer,
    needs_handover,
)


def officer(officer_id: int, post: str | None, *kinds: Kind, team: str = "consular",
            active: bool = True) -> Officer:
    return Officer(officer_id=officer_id, name=f"O{officer_id}", role="Consular officer", phone="+3225010000",
                   email=f"o{officer_id}@diplobel.test", post_id=post, kinds=frozenset(kinds), team=team,
                   active=active)


OFFICERS = [
    officer(1, None),
    officer(2, None, Kind.DETENTION),
    officer(3, "rabat", Kind.LOST_DOCUMENT, Kind.DETENTION),
    officer(4, "rabat", Kind.LOST_DOCUMENT),
    officer(5, None, team=QUALITY_TEAM),
    officer(6, None, team=QUALITY_TEAM),
    officer(7, "rabat", Kind.LOST_DOCUMENT, active=False),
]


def test_least_open_cases_at_the_post() -> None:
    chosen = choose_officer(OFFICERS, kind=Kind.LOST_DOCUMENT, post_id="rabat", open_cases={3: 5, 4: 2, 7: 0})
    assert chosen.officer_id == 4


def test_tie_goes_to_lowest_id() -> None:
    assert choose_officer(OFFICERS, kind=Kind.LOST_DOCUMENT, post_id="rabat", open_cases={}).officer_id == 3


def test_kind_filters_at_the_post() -> None:
    chosen = choose_officer(OFFICERS, kind=Kind.DETENTION, post_id="rabat", open_cases={3: 50, 4: 0})
    assert chosen.officer_id == 3


def test_headquarters_when_no_post_or_nobody_there() -> None:
    assert choose_officer(OFFICERS, kind=Kind.DETENTION, post_id=None, open_cases={1: 3, 2: 1}).officer_id == 2
    assert choose_officer(OFFICERS, kind=Kind.MISSING_PERSON, post_id="rabat", open_cases={}).officer_id == 1


def test_complaints_go_to_quality_team() -> None:
    chosen = choose_officer(OFFICERS, kind=Kind.COMPLAINT, post_id="rabat", open_cases={5: 2, 6: 1})
    assert chosen.team == QUALITY_TEAM and chosen.officer_id == 6


def test_quality_team_takes_no_ordinary_case() -> None:
    chosen = choose_officer(OFFICERS, kind=Kind.SERIOUS_DIFFICULTY, post_id=None, open_cases={1: 100})
    assert chosen.officer_id == 1


def test_a_report_is_never_refused_for_want_of_the_right_officer() -> None:
    assert choose_officer([officer(1, None)], kind=Kind.COMPLAINT, post_id=None, open_cases={}).officer_id == 1
    ended = [officer(8, None, active=False), officer(9, None, team=QUALITY_TEAM, active=False)]
    assert choose_officer(ended, kind=Kind.SERIOUS_DIFFICULTY, post_id=None, open_cases={9: 0, 8: 0}).officer_id == 8
    with pytest.raises(NoOfficer):
        choose_officer([], kind=Kind.COMPLAINT, post_id=None, open_cases={})


def test_handover_when_post_has_someone() -> None:
    hq = OFFICERS[0]
    assert needs_handover(hq, post_id="rabat", candidates=OFFICERS, kind=Kind.LOST_DOCUMENT)
    assert not needs_handover(hq, post_id="rabat", candidates=OFFICERS, kind=Kind.MISSING_PERSON)
    assert not needs_handover(OFFICERS[2], post_id="rabat", candidates=OFFICERS, kind=Kind.LOST_DOCUMENT)


def test_card() -> None:
    card = OFFICERS[0].card()
    assert card.as_dict() == {"name": "O1", "role": "Consular officer", "phone": "+3225010000",
                              "email": "o1@diplobel.test"}
    assert all(v in card.one_line() for v in card.as_dict().values())
