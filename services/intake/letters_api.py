"""Letters (the reply channel of requests that came by post): the ones waiting to be printed, each as a PDF, and the
"printed and posted" action that marks the case's message sent."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path
from fastapi.responses import Response
from pydantic import BaseModel

from services.intake.adapters.letter_pdf import letter_pdf
from services.intake.deps import Deps
from services.intake.domain.clocks import local
from shared.auth import Principal, require_roles

DutyOfficer = Annotated[Principal, Depends(require_roles("duty_officer"))]
LetterId = Annotated[int, Path(ge=1, le=9_223_372_036_854_775_807)]




class LetterOut(BaseModel):
    letter_id: int
    reference: str
    purpose: str
    language: str
    subject: str
    created_at: datetime
    printed_at: datetime | None
    posted_by: str | None


_COLUMNS = ("id AS letter_id, reference, split_part(purpose, ':', 3) AS purpose, language, subject, created_at,"
            " printed_at, posted_by")


def letters_router(now: Callable[[], datetime]) -> APIRouter:
    router = APIRouter(tags=["letters"])

    @router.get("/v1/letters", response_model=list[LetterOut])
    async def waiting(_: DutyOfficer, deps: Deps) -> list[dict[str, Any]]:
        """Letters waiting to be printed and posted, oldest first."""
        rows = await deps.pool.fetch(f"SELECT {_COLUMNS} FROM print_queue WHERE printed_at IS NULL"
                                     " AND address <> '' ORDER BY created_at, id LIMIT 500")
        return [dict(r) for r in rows]

    @router.get("/v1/letters/{letter_id}.pdf", response_class=Response,
                responses={200: {"content": {"application/pdf": {}}, "description": "the letter, A4"}})
    async def pdf(letter_id: LetterId, _: DutyOfficer, deps: Deps) -> Response:
        """The letter as a PDF, dated today (Brussels), in the citizen's language, with the officer card."""
        row = await deps.pool.fetchrow("SELECT * FROM print_queue WHERE id = $1 AND address <> ''", letter_id)
        if row is None:
            raise HTTPException(404, f"no letter {letter_id}")
        letter = dict(row)
        content = await asyncio.to_thread(letter_pdf, letter, reference=letter["reference"],
                                          today=local(now()).date())
        return Response(content, media_type="application/pdf", headers={
            "Content-Disposition": f'inline; filename="{letter["reference"]}-{letter_id}.pdf"',
            "Cache-Control": "no-store"})

    @router.post("/v1/letters/{letter_id}/posted", response_model=LetterOut,
                 responses={409: {"description": "already printed and posted"}})
    async def posted(letter_id: LetterId, principal: DutyOfficer, deps: Deps) -> dict[str, Any]:
        """Printed and posted: the case's message shows as sent, and the history says who posted it."""
        at = now()
        async with deps.pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow("SELECT reference, purpose, printed_at FROM print_queue WHERE id = $1"
                                      " FOR UPDATE", letter_id)
            if row is None:
                raise HTTPException(404, f"no letter {letter_id}")
            if row["printed_at"] is not None:
                raise HTTPException(409, f"letter {letter_id} was already posted")
            await conn.execute("UPDATE print_queue SET printed_at = $2, posted_by = $3 WHERE id = $1",
                               letter_id, at, principal.subject)
            short = row["purpose"].split(":", 2)[-1]
            await conn.execute("UPDATE messages SET status = 'sent', status_at = $3 WHERE reference = $1"
                               " AND channel = 'letter' AND purpose = $2", row["reference"], short, at)
            await conn.execute(
                "INSERT INTO status_history (reference, status, at, actor, note, action) SELECT reference, status,"
                " $2, $3, $4, 'letter_posted' FROM reports WHERE reference = $1", row["reference"], at,
                principal.subject, f"letter ({short}) printed and posted")
            updated = await conn.fetchrow(f"SELECT {_COLUMNS} FROM print_queue WHERE id = $1", letter_id)
        return dict(updated)

    return router
