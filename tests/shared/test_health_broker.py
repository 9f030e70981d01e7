"""`shared.health.broker_reachable`: an API's readiness asks only whether a bootstrap server answers TCP."""

from __future__ import annotations

import asyncio

from shared.health import broker_reachable


async def test_a_listening_server_is_reachable_and_a_closed_port_is_not() -> None:
    server = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        assert await broker_reachable(f"127.0.0.1:{port}")
        # The first server down, the second up: still reachable (a cluster's other broker answers).
        assert await broker_reachable(f"127.0.0.1:1,127.0.0.1:{port}")
    finally:
        server.close()
        await server.wait_closed()
    assert not await broker_reachable(f"127.0.0.1:{port}")
    assert not await broker_reachable("not-a-port")
