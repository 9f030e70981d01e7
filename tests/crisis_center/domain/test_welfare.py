"""The escalation of one person's welfare question, and the answer links' tokens."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.crisis_center.domain.welfare import (
    BadToken,
    LinkClaim,
    link_key,
    make_token,
    next_step,
    read_token,
)

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
E = timedelta(minutes=30)
KEY = link_key("a-secret-of-at-least-thirty-two-characters")


def test_a_question_is_asked_then_reminded_then_called_then_listed() -> None:
    asked = next_step("pending", asked_at=None, now=T0, escalate_after=E, can_call=True)
    assert asked is not None and (asked.step, asked.message, asked.due_at) == ("asked", "question", T0 + E)
    reminded = next_step("asked", asked_at=T0, now=T0 + E, escalate_after=E, can_call=True)
    assert reminded is not None and (reminded.step, reminded.message) == ("reminded", "reminder")
    assert reminded.due_at == T0 + 2 * E, "the call is due twice the delay after the question, not after the reminder"
    called = next_step("reminded", asked_at=T0, now=T0 + 2 * E, escalate_after=E, can_call=True)
    assert called is not None and (called.step, called.message, called.due_at) == ("called", "call", T0 + 3 * E)
    listed = next_step("called", asked_at=T0, now=T0 + 3 * E, escalate_after=E, can_call=True)
    assert listed is not None and (listed.step, listed.message, listed.due_at) == ("to_phone", None, None)
    assert next_step("to_phone", asked_at=T0, now=T0 + 4 * E, escalate_after=E, can_call=True) is None


def test_without_calls_the_unanswered_are_listed_after_the_reminder() -> None:
    move = next_step("reminded", asked_at=T0, now=T0 + 2 * E, escalate_after=E, can_call=False)
    assert move is not None and (move.step, move.message, move.due_at) == ("to_phone", None, None)


def test_a_token_names_one_person_one_round_and_one_answer() -> None:
    claim = LinkClaim("9f1c0c9a1b2d4e5f8a7b6c5d4e3f2a1b", "traveller-42", "needs_help")
    token = make_token(KEY, claim)
    assert read_token(KEY, token) == claim
    other = make_token(KEY, LinkClaim(claim.check_id, claim.person_id, "safe"))
    assert other != token and read_token(KEY, other).answer == "safe"
    assert all(c.isalnum() or c in "-_." for c in token)


@pytest.mark.parametrize("forge", [
    lambda t: t[:-2],  # truncated signature
    lambda t: t.split(".")[0] + "." + "A" * 22,  # a made-up signature
    lambda t: make_token(link_key("another-secret-of-thirty-two-characters!"),
                         LinkClaim("9f1c0c9a1b2d4e5f8a7b6c5d4e3f2a1b", "traveller-42", "safe")),  # other key
    lambda t: "not-a-token",
    lambda t: "",
])
def test_a_forged_or_altered_token_is_refused(forge: object) -> None:
    token = make_token(KEY, LinkClaim("9f1c0c9a1b2d4e5f8a7b6c5d4e3f2a1b", "traveller-42", "safe"))
    with pytest.raises(BadToken):
        read_token(KEY, forge(token))  # type: ignore[operator]


def test_changing_the_person_or_the_answer_in_a_token_breaks_it() -> None:
    import base64

    token = make_token(KEY, LinkClaim("c1", "traveller-42", "safe"))
    payload, mac = token.split(".")
    raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)).decode()
    for altered in (raw.replace("traveller-42", "traveller-43"), raw[:-1] + "h"):
        forged = base64.urlsafe_b64encode(altered.encode()).rstrip(b"=").decode() + "." + mac
        with pytest.raises(BadToken):
            read_token(KEY, forged)
