"""Internal topic `cases.deadlines` (key reference): the charter clocks of a case."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import AwareDatetime, Field

from shared.events.envelope import EventData

TOPIC = "cases.deadlines"

DeadlineKind = Literal["reply", "provisional_reply", "forward_notice"]


class _Deadline(EventData):
    TOPIC: ClassVar[str] = TOPIC
    KEY_FIELD: ClassVar[str] = "reference"

    reference: str = Field(min_length=1)
    deadline: DeadlineKind
    due_by: AwareDatetime
    officer_email: str | None = None


class DeadlineApproaching(_Deadline):
    TYPE: ClassVar[str] = "be.diplomatie.case.deadline_approaching"


class DeadlineMissed(_Deadline):
    TYPE: ClassVar[str] = "be.diplomatie.case.deadline_missed"
