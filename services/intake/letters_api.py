"""Letters (the reply channel of requests that came by post): the ones waiting to be printed, each as a PDF, and the
"printed and posted" action that marks the case's message sent."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path
from fastapi.responses import Response
from pydantic import BaseModel

from services.intake.adapters import repository
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


router = APIRouter(tags=["letters"])


@router.get("/v1/letters", response_model=list[LetterOut])

async def waiting(_: DutyOfficer, deps: Deps) -> list[dict[str, Any]]:
    """Letters waiting to be printed and posted, oldest first."""
    async with deps.pool.acquire() as conn:
        return await repository.letters_waiting(conn, limit=500)


@router.get("/v1/letters/{letter_id}.pdf", response_class=Response,
            responses={200: {"content": {"application/pdf": {}}, "description": "the letter, A4"}})

async def pdf(letter_id: LetterId, _: DutyOfficer, deps: Deps) -> Response:
    """The letter as a PDF, dated today (Brussels), in the citizen's language, with the officer card."""
    async with deps.pool.acquire() as conn:
        letter = await repository.letter(conn, letter_id)
    if letter is None:
        raise HTTPException(404, f"no letter {letter_id}")
    content = await asyncio.to_thread(letter_pdf, letter, reference=letter["reference"],
                                      today=local(deps.now()).date())
    return Response(content, media_type="application/pdf", headers={
        "Content-Disposition": f'inline; filename="{letter["reference"]}-{letter_id}.pdf"',
        "Cache-Control": "no-store"})


@router.post("/v1/letters/{letter_id}/posted", response_model=LetterOut,
             responses={409: {"description": "already printed and posted"}})

async def posted(letter_id: LetterId, principal: DutyOfficer, deps: Deps) -> dict[str, Any]:
    """Printed and posted: the case's message shows as sent, and the history says who posted it."""
    at = deps.now()
    async with deps.pool.acquire() as conn, conn.transaction():
        letter = await repository.letter(conn, letter_id, lock=True)
        if letter is None:
            raise HTTPException(404, f"no letter {letter_id}")
        if letter["printed_at"] is not None:
            raise HTTPException(409, f"letter {letter_id} was already posted")
        purpose = letter["purpose"].split(":", 2)[-1]  # case:<reference>:<purpose of the message>
        updated = await repository.letter_posted(conn, letter_id, reference=letter["reference"],
                                                 purpose=purpose, at=at, actor=principal.subject)
        await repository.add_history_note(conn, letter["reference"], actor=principal.subject,
                                          action="letter_posted", at=at,
                                          note=f"letter ({purpose}) printed and posted")
    return updated
