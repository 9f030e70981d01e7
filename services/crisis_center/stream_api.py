"""The coordinators' live stream of crisis changes (server-sent events) and the short tickets that open it from a
browser's `EventSource`, which cannot send a bearer token in a header."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Annotated

import jwt
from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from services.crisis_center import handlers
from services.crisis_center.adapters.feed import sse
from services.crisis_center.crises_api import crisis_out
from services.crisis_center.deps import Coordinator, Deps
from services.crisis_center.domain import stream_ticket
from shared.auth import authenticate
from shared.openapi import error_responses

router = APIRouter(tags=["coordinators"])


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    return header[7:] if header.lower().startswith("bearer ") else None


async def _stream_access(request: Request, ticket: str | None, key: bytes) -> stream_ticket.Ticket:
    """Who opens the stream and until when: a ticket (what `EventSource` can carry), or a bearer token in the
    header (other clients). Never the bearer token in the query string."""
    if ticket is not None:
        try:
            access = stream_ticket.read(key, ticket, now=int(time.time()))
        except stream_ticket.BadTicket:
            raise HTTPException(401, "invalid or expired stream ticket: ask for another",
                                headers={"WWW-Authenticate": "Bearer"}) from None
    else:
        token = _bearer(request)
        if not token:
            raise HTTPException(401, "missing bearer token or stream ticket", headers={"WWW-Authenticate": "Bearer"})
        principal = await authenticate(request, token)  # 401, or 503 when the OIDC provider's keys cannot be had
        access = stream_ticket.Ticket(principal.subject, tuple(sorted(principal.roles)), _token_expiry(token))
    if "coordinator" not in access.roles:
        raise HTTPException(403, "requires one of the roles ['coordinator']")
    return access


def _token_expiry(token: str) -> int:
    """The `exp` of a token already verified."""
    return int(jwt.decode(token, options={"verify_signature": False})["exp"])


class StreamTicketOut(BaseModel):
    ticket: str = Field(description="Pass as `?ticket=` to GET /v1/crises/events within `expires_in` seconds.")
    expires_in: int



@router.post("/v1/crises/events/ticket", response_model=StreamTicketOut)
async def events_ticket(state: Deps, request: Request, principal: Coordinator) -> StreamTicketOut:
    """A ticket to open the event stream (`EventSource` cannot send the bearer token in a header): valid
    seconds, for the stream only; the stream it opens ends when this token expires."""
    token = _bearer(request)
    assert token is not None  # the Coordinator dependency read it
    issued = stream_ticket.issue(state.stream_ticket_key, stream_ticket.Ticket(
        principal.subject, tuple(sorted(principal.roles)), _token_expiry(token)), now=int(time.time()))
    return StreamTicketOut(ticket=issued, expires_in=stream_ticket.TICKET_SECONDS)


@router.get("/v1/crises/events", response_class=StreamingResponse,
            responses={200: {"description": "an endless stream of server-sent events (`event:` and `data:` lines, "
                                            "the data JSON), with `: keep-alive` comments",
                             "content": {"text/event-stream": {"schema": {
                                 "type": "object", "required": ["event", "data"], "properties": {
                                     "event": {"enum": ["snapshot", "activated", "updated", "closed"]},
                                     "data": {"type": "string", "contentMediaType": "application/json"}}}}}},
                       **error_responses(401, 403, descriptions={
                           401: "no bearer token or ticket, or an invalid or expired one",
                           403: "the token or ticket lacks the role coordinator"})})
async def crisis_events(state: Deps, request: Request, ticket: Annotated[str | None, Query(max_length=2000)] = None,
                        max_events: Annotated[int | None, Query(ge=1)] = None) -> StreamingResponse:
    """Server-sent events: `snapshot` (the active crises) then `activated`/`updated`/`closed` as they happen.
    Opened with a ticket from `POST /v1/crises/events/ticket` (or a bearer token in the header); the stream
    ends when the bearer token expires."""
    access = await _stream_access(request, ticket, state.stream_ticket_key)
    feed = state.resources.feed
    queue = feed.subscribe()
    rows = await handlers.list_crises(pool=state.pool, status="active")
    snapshot = [crisis_out(r).model_dump(mode="json") for r in rows]

    async def stream() -> AsyncIterator[bytes]:
        sent = 0
        try:
            yield sse("snapshot", snapshot)
            while max_events is None or sent < max_events:
                left = access.stream_until - time.time()
                if left <= 0:
                    return  # the token expired: the dashboard reconnects with a fresh ticket, or signs in
                try:
                    item = await asyncio.wait_for(queue.get(), timeout=min(15.0, left))
                except TimeoutError:
                    yield b": keep-alive\n\n"
                    continue
                yield sse(item["type"], item["crisis"])
                sent += 1
        finally:
            feed.unsubscribe(queue)

    return StreamingResponse(stream(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
