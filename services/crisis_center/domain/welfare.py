"""Welfare rounds: the escalation of one person's question, and the personal answer links of an email.

A person of a round moves through `pending -> asked -> reminded -> [called ->] to_phone`, each step due at a time
set by the round's `escalate_after` (E): the question at once, the reminder E after it, the call 2E after it
(when the person has a phone and calls are enabled), and the listing for officers to phone E after the call (or
at 2E without one). An answer stops the escalation wherever it stands.

An answer link names one person of one round and one answer, signed with a key derived from the service's
secret: unguessable without it, and nothing to store or look up before the signature is checked.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

Step = Literal["pending", "asked", "reminded", "called", "to_phone"]
Message = Literal["question", "reminder", "call"]
LinkAnswer = Literal["safe", "needs_help"]
STATUSES = ("safe", "needs_help", "unclear", "no_answer", "unreachable", "checked_in")


@dataclass(frozen=True, slots=True)
class Transition:
    step: Step
    message: Message | None
    due_at: datetime | None


def next_step(step: Step, *, asked_at: datetime | None, now: datetime, escalate_after: timedelta,
              can_call: bool) -> Transition | None:
    """What happens when a row's due time has come; None for a row that has nothing left to do."""
    if step == "pending":
        return Transition("asked", "question", now + escalate_after)
    start = asked_at or now
    if step == "asked":
        return Transition("reminded", "reminder", start + 2 * escalate_after)
    if step == "reminded":
        if can_call:
            return Transition("called", "call", now + escalate_after)
        return Transition("to_phone", None, None)
    if step == "called":
        return Transition("to_phone", None, None)
    return None


# answer links ---------------------------------------------------------------------------------------------------
_CODES: dict[LinkAnswer, str] = {"safe": "s", "needs_help": "h"}
_ANSWERS = {code: answer for answer, code in _CODES.items()}
_MAC_BYTES = 16  # 128 bits


class BadToken(ValueError):
    """Not a token we issued (forged, altered, truncated)."""


@dataclass(frozen=True, slots=True)
class LinkClaim:
    check_id: str
    person_id: str
    answer: LinkAnswer


def link_key(secret: str) -> bytes:
    """A key of its own for answer links, derived from the service's secret (a leaked link reveals nothing of it)."""
    return hmac.new(secret.encode(), b"welfare-answer-link/v1", hashlib.sha256).digest()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def make_token(key: bytes, claim: LinkClaim) -> str:
    payload = f"{claim.check_id}|{claim.person_id}|{_CODES[claim.answer]}".encode()
    mac = hmac.new(key, payload, hashlib.sha256).digest()[:_MAC_BYTES]
    return f"{_b64(payload)}.{_b64(mac)}"


def read_token(key: bytes, token: str) -> LinkClaim:
    """The claim of a token we issued; BadToken for anything else."""
    try:
        payload_text, mac_text = token.split(".")
        payload, mac = _unb64(payload_text), _unb64(mac_text)
    except (ValueError, UnicodeEncodeError) as exc:
        raise BadToken("malformed token") from exc
    expected = hmac.new(key, payload, hashlib.sha256).digest()[:_MAC_BYTES]
    if not hmac.compare_digest(mac, expected):
        raise BadToken("signature does not match")
    try:
        check_id, person_id, code = payload.decode().split("|")
        return LinkClaim(check_id, person_id, _ANSWERS[code])
    except (ValueError, KeyError, UnicodeDecodeError) as exc:  # signed by us, so only an old format could do this
        raise BadToken("unknown token format") from exc
