"""What intake's use cases share: their configuration, the name of a reporter known only by number, a case not found.

The use cases are plain `async def`s with explicit keyword dependencies (no FastAPI, Kafka or Twilio), in modules
named after their concern beside this one: `opening` (a case and its acknowledgement), `messages` (what is sent
about a case), `reading`, `closing`, `case_actions` (a duty officer's actions), `inbound` (SMS, email, voicemail),
`welfare` (welfare answers and check-ins), `travellers`, `crises`, `routing`, `deadlines`, `families`,
`pfif_exchange`, `privacy`, `retention`. Every state change and the events or commands it causes commit in one
transaction (outbox).
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.crypto import FieldCipher

UNKNOWN_NAME = "(unknown)"


@dataclass(frozen=True)
class IntakeConfig:
    """What the use cases need from the settings."""

    source: str
    topic_prefix: str = ""
    complex_reply_days: int = 60
    survey_link_base: str = "http://127.0.0.1:8001/public/survey"
    cipher: FieldCipher | None = None
    """Seals the sensitive fields of new cases (domain/sensitive.py); None only in tests of other rules."""
    check_ins_per_hour: int = 5
    check_in_stay_days: int = 14


class CaseNotFound(LookupError):
    pass
