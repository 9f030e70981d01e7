"""Reading a feed over HTTP: one GET with a deadline and a size limit, its outcome named for the metrics.

The feed libraries' own `update()` swallows every failure into "error" or "no data" (a garbled GDACS document even
comes back as "ok, no data"), which would hide a broken feed: the feeds worker does the GET itself and hands the
body to the libraries' parsers (adapters/gdacs.py, adapters/usgs.py).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Literal

import aiohttp

Outcome = Literal["ok", "http_error", "timeout", "unreachable", "too_large", "invalid"]
OUTCOMES: tuple[Outcome, ...] = ("ok", "http_error", "timeout", "unreachable", "too_large", "invalid")


@dataclass(frozen=True)
class Fetched:
    outcome: Outcome
    body: bytes | None = None
    status: int | None = None
    detail: str = ""


async def fetch(session: aiohttp.ClientSession, url: str, *, timeout_seconds: float, max_bytes: int,
                accept: str = "*/*") -> Fetched:
    """GET `url`; a status other than 200, a connection error, a slow answer or an oversized body is a failure."""
    try:
        async with asyncio.timeout(timeout_seconds):
            async with session.get(url, headers={"Accept": accept}, allow_redirects=True) as response:
                if response.status != 200:
                    return Fetched("http_error", status=response.status, detail=f"HTTP {response.status}")
                declared = response.content_length
                if declared is not None and declared > max_bytes:
                    return Fetched("too_large", status=response.status, detail=f"{declared} bytes")
                chunks: list[bytes] = []
                size = 0
                async for chunk in response.content.iter_chunked(65536):
                    size += len(chunk)
                    if size > max_bytes:
                        return Fetched("too_large", status=response.status, detail=f"over {max_bytes} bytes")
                    chunks.append(chunk)
                return Fetched("ok", body=b"".join(chunks), status=response.status)
    except TimeoutError:
        return Fetched("timeout", detail=f"no full answer within {timeout_seconds:g} s")
    except aiohttp.ClientPayloadError as exc:  # the connection closed before the announced end: a cut document
        return Fetched("invalid", detail=f"incomplete body: {type(exc).__name__}")
    except (aiohttp.ClientError, OSError) as exc:
        return Fetched("unreachable", detail=type(exc).__name__)
