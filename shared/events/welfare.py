"""Welfare checks during a crisis: the question asked, the raw reply, and the answer (contract version 2).

- `welfare.questions` (internal, key person_id): `WelfareAsked`, published by the crisis center each time it asks
  a person (question, reminder, call). Intake keeps the latest open question per phone number, so that an SMS
  from that number is read as an answer and not as a new distress report.
- `welfare.replies` (internal, key person_id): `WelfareReplied`, an answer the crisis center received itself (a
  personal link in an email). Intake, which owns cases, turns it into a `welfare.answered` (opening the case for
  needs_help), exactly as for an SMS answer: one place decides what an answer causes.
- `welfare.answers` (contract, key person_id): `WelfareAnswered`, every answer, read by the crisis center's counts
  and by anyone else (the families' matching, issue 18).
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import AwareDatetime, EmailStr, Field, model_validator

from shared.events.common import E164, PERSONAL, Language
from shared.events.envelope import EventData
from shared.events.reports import ReportLocation

QUESTIONS_TOPIC = "welfare.questions"
REPLIES_TOPIC = "welfare.replies"
ANSWERS_TOPIC = "welfare.answers"

#: The ids given to people who check in during a crisis without having registered (`checkin-<uuid>`).
CHECK_IN_PREFIX = "checkin-"

Answer = Literal["safe", "needs_help", "unclear"]
AnswerChannel = Literal["sms", "email", "voice", "web", "officer"]
Step = Literal["question", "reminder", "call"]


class WelfareAsked(EventData):
    TYPE: ClassVar[str] = "be.diplomatie.welfare.asked"
    TOPIC: ClassVar[str] = QUESTIONS_TOPIC
    KEY_FIELD: ClassVar[str] = "person_id"

    check_id: str = Field(min_length=1, max_length=100)
    crisis_id: str = Field(min_length=1, max_length=200)
    crisis_title: str = Field(min_length=1, max_length=300)
    hotline_number: E164
    person_id: str = Field(min_length=1, max_length=200)
    phone: E164 | None = Field(default=None, json_schema_extra=PERSONAL)
    email: EmailStr | None = Field(default=None, json_schema_extra=PERSONAL)
    language: Language
    step: Step
    asked_at: AwareDatetime
    open_until: AwareDatetime = Field(description="Past this, a message from the person is no longer an answer.")


class WelfareReplied(EventData):
    TYPE: ClassVar[str] = "be.diplomatie.welfare.replied"
    TOPIC: ClassVar[str] = REPLIES_TOPIC
    KEY_FIELD: ClassVar[str] = "person_id"

    check_id: str | None = Field(default=None, max_length=100, description="null for a check-in")
    crisis_id: str = Field(min_length=1, max_length=200)
    person_id: str = Field(min_length=1, max_length=200)
    answer: Literal["safe", "needs_help"]
    channel: AnswerChannel
    language: Language
    phone: E164 | None = Field(default=None, json_schema_extra=PERSONAL)
    email: EmailStr | None = Field(default=None, json_schema_extra=PERSONAL)
    at: AwareDatetime
    full_name: str | None = Field(default=None, max_length=200, json_schema_extra=PERSONAL,
                                  description="Given at a check-in, for the case a help answer opens.")
    location: ReportLocation | None = Field(default=None, json_schema_extra=PERSONAL,
                                            description="Where a person who checked in is, for that case.")


class WelfareAnswered(EventData):
    TYPE: ClassVar[str] = "be.diplomatie.welfare.answered"
    TOPIC: ClassVar[str] = ANSWERS_TOPIC
    KEY_FIELD: ClassVar[str] = "person_id"

    crisis_id: str = Field(min_length=1, max_length=200)
    person_id: str = Field(min_length=1, max_length=200)
    answer: Answer
    channel: AnswerChannel
    text: str | None = Field(default=None, max_length=2000, json_schema_extra=PERSONAL)
    case_reference: str | None = Field(default=None, description="The case opened for needs_help, else null.")
    at: AwareDatetime
    check_id: str | None = Field(default=None, max_length=100, description="The round answered (ours; null for a "
                                                                          "check-in or an officer's entry).")

    @model_validator(mode="after")
    def _case_only_for_help(self) -> WelfareAnswered:
        if self.case_reference is not None and self.answer != "needs_help":
            raise ValueError("case_reference is only given for a needs_help answer")
        return self
