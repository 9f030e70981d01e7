"""`shared.health.api_readiness`, an API's /readyz checks: the lifespan's pool answers, a bootstrap server answers."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from shared import health
from shared.health import api_readiness


async def test_not_ready_before_the_lifespan_opened_the_pool() -> None:
    server = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        assert await api_readiness(lambda: None, f"127.0.0.1:{port}")() == {"database": False, "kafka": True}
    finally:
        server.close()
        await server.wait_closed()


async def test_the_pool_is_pinged_and_the_broker_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    pinged: list[object] = []
    pool = object()

    async def ping(found: Any) -> bool:
        pinged.append(found)
        return True

    monkeypatch.setattr(health, "ping", ping)
    assert await api_readiness(lambda: pool, "not-a-port")() == {"database": True, "kafka": False}  # type: ignore[arg-type,return-value]
    assert pinged == [pool]
