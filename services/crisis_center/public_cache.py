"""The public feeds (JSON, Atom, CAP) served from memory: during a crisis crowds poll them, and each hit used to
query the database through the pool the coordinators and the outbox relay need (issue 19, finding 11).

A rendered body is kept `ttl` seconds and dropped at once when a crisis changes (the API's own writes, and every
`crisis.status` event its live feed reads); concurrent misses of one key render it once. Responses carry an
`ETag` and `Cache-Control`, and `If-None-Match` gets a 304 without a body.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from fastapi import Request
from fastapi.responses import Response
from prometheus_client import Counter

HITS = Counter("crisis_public_cache_total", "Public feed requests by cache outcome", ["outcome"])
Clock = Callable[[], float]


@dataclass(frozen=True)
class Rendered:
    body: bytes
    media_type: str
    status: int
    etag: str
    expires: float


@dataclass
class PublicCache:
    ttl: float
    clock: Clock
    _entries: dict[str, Rendered] = field(default_factory=dict)
    _locks: dict[str, asyncio.Lock] = field(default_factory=dict)

    def clear(self) -> None:
        self._entries.clear()

    async def respond(self, request: Request, key: str,
                      render: Callable[[], Awaitable[tuple[bytes, str, int]]]) -> Response:
        entry = self._entries.get(key)
        if entry is None or entry.expires <= self.clock():
            lock = self._locks.setdefault(key, asyncio.Lock())
            async with lock:  # one render per key however many wait for it
                entry = self._entries.get(key)
                if entry is None or entry.expires <= self.clock():
                    body, media_type, status = await render()
                    entry = Rendered(body, media_type, status, '"' + hashlib.sha256(body).hexdigest()[:32] + '"',
                                     self.clock() + self.ttl)
                    if status == 200:  # an error is not kept (unknown ids must not fill the memory)
                        self._entries[key] = entry
                    HITS.labels("miss").inc()
                else:
                    HITS.labels("hit").inc()
        else:
            HITS.labels("hit").inc()
        headers = {"ETag": entry.etag, "Cache-Control": f"public, max-age={int(self.ttl)}"}
        if entry.status == 200 and entry.etag in request.headers.get("if-none-match", ""):
            return Response(status_code=304, headers=headers)
        return Response(entry.body, status_code=entry.status, media_type=entry.media_type, headers=headers)
