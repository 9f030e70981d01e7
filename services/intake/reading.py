"""Reading a case: the view `POST /v1/reports` answers, and the full case (in clear, paged history and messages,
charter clock, family matches) with the read audit of detention and missing-person cases.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg

from services.intake import families
from services.intake.adapters import people, repository
from services.intake.domain.charter import answered_from, charter_view
from services.intake.domain.model import Kind
from services.intake.domain.sensitive import SENSITIVE_KINDS, open_row
from services.intake.handlers import CaseNotFound
from shared.crypto import FieldCipher


def case_view(row: dict[str, Any]) -> dict[str, Any]:
    """The case as `POST /v1/reports` answers it."""
    return {
        "reference": row["reference"], "status": row["status"], "kind": row["kind"],
        "received_at": row["received_at"], "reply_due_by": row["reply_due_by"],
        "provisional_reply_due_by": row["provisional_reply_due_by"],
        "officer": {"name": row["officer_name"], "role": row["officer_role"], "phone": row["officer_phone"],
                    "email": row["officer_email"]},
        "post": row["post"], "crisis_id": row.get("crisis_id"), "attention": row.get("attention"),
    }


@dataclass(frozen=True)
class Reader:
    """Who reads a case, for the read audit of detention and missing-person cases."""

    subject: str
    roles: tuple[str, ...]


#: History entries and messages shown with a case at most (the latest ones): a long case pages back for the rest.
CASE_LIST_DEFAULT, CASE_LIST_MAX = 200, 1000


@dataclass(frozen=True)
class CasePage:
    """How much of a case's history and messages to show: the latest `limit` of each, before the given ids."""

    limit: int = CASE_LIST_DEFAULT
    history_before: int | None = None
    messages_before: int | None = None


async def get_case(reference: str, *, pool: asyncpg.Pool, details: bool = True, cipher: FieldCipher | None = None,
                   reader: Reader | None = None, now: datetime | None = None,
                   page: CasePage | None = None) -> dict[str, Any]:
    """The case; with `details`, in clear, and a read of a detention or missing-person case is recorded."""
    page = page or CasePage()
    async with pool.acquire() as conn:
        row = await repository.report(conn, reference)
        if row is None:
            raise CaseNotFound(reference)
        view = case_view(row)
        if details:
            row = open_row(row, cipher)
            if reader is not None and row["kind"] in SENSITIVE_KINDS:
                await repository.record_read(conn, reference=reference, kind=row["kind"], actor=reader.subject,
                                             roles=list(reader.roles))
            view.update({
                "channel": row["channel"], "language": row["language"], "reporter": row["reporter"],
                "subject": row["subject"], "location": row["location"], "description": row["description"],
                "occurred_at": row["occurred_at"], "complex": row["complex"], "forward_to": row["forward_to"],
                "forward_due_by": row["forward_due_by"], "closed_at": row["closed_at"],
                **_paged("history", await repository.history(conn, reference, limit=page.limit + 1,
                                                              before=page.history_before), page.limit),
                **_paged("messages", await repository.messages(conn, reference, limit=page.limit + 1,
                                                                before=page.messages_before), page.limit),
                "matches": await _matches(conn, reference) if row["kind"] == Kind.MISSING_PERSON.value else [],
                "charter": charter_view(
                    reply_due_by=row["reply_due_by"], now=now or datetime.now(UTC),
                    answered=answered_from(row["answered_by"], row["answered_at"], row["answered_on_time"])),
            })
        return view


def _paged(name: str, rows: list[dict[str, Any]], limit: int) -> dict[str, Any]:
    """`rows` (oldest first, one more than `limit` asked for) as `name` and `<name>_next_before`: the id to page
    back from, or None when there is nothing older."""
    more = len(rows) > limit
    kept = rows[1:] if more else rows  # the extra row is the oldest
    return {name: kept, f"{name}_next_before": kept[0]["id"] if more else None}


async def _matches(conn: asyncpg.Connection, reference: str) -> list[dict[str, Any]]:
    sought = await people.sought_of_case(conn, reference)
    return [families.match_view(m) for m in await people.matches(conn, sought["sought_id"])] if sought else []
