"""PostgreSQL out of reach: 503 with Retry-After, never a 500, and recovery when it comes back.

The database itself is shared and must not be stopped: the app reaches it through a TCP proxy the test cuts.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest

from services.intake.api import create_app
from tests.intake.conftest import PUBLIC_BASE, make_settings
from tests.intake.integration.test_intake_api import report
from tests.support import auth, database_url


class Proxy:
    def __init__(self, target_host: str, target_port: int) -> None:
        self._target = (target_host, target_port)
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self.port = 0

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Refuse new connections and cut the open ones, as a database going down would."""
        assert self._server is not None
        self._server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        await self._server.wait_closed()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self._target)
        except OSError:
            writer.close()
            return
        self._writers |= {writer, up_writer}

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError, ConnectionError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        self._writers -= {writer, up_writer}


@pytest.fixture
async def proxy() -> AsyncIterator[Proxy]:
    target = urlsplit(database_url())
    proxy = Proxy(target.hostname or "127.0.0.1", target.port or 5432)
    await proxy.start()
    yield proxy
    with contextlib.suppress(Exception):
        await proxy.stop()


async def test_database_down_gives_503_then_recovers(proxy: Proxy, schema: str) -> None:
    target = urlsplit(database_url())
    via_proxy = urlunsplit(target._replace(netloc=f"{target.username}@127.0.0.1:{proxy.port}"))
    settings = make_settings(schema, database_url=via_proxy)
    app = create_app(settings)
    headers = auth("duty_officer")
    async with app.router.lifespan_context(app), httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                                                   base_url=PUBLIC_BASE) as client:
        assert (await client.post("/v1/reports", json=report(), headers=headers)).status_code == 201
        await proxy.stop()
        for _ in range(3):
            down = await client.post("/v1/reports", json=report(), headers=headers)
            assert down.status_code == 503, down.text
            assert down.headers["Retry-After"] == "5"
        ready = await client.get("/readyz")
        assert ready.status_code == 503 and ready.json()["checks"]["database"] is False
        await proxy.start()  # the same port: the database is back
        assert (await client.post("/v1/reports", json=report(), headers=headers)).status_code == 201
        assert (await client.get("/readyz")).json()["checks"]["database"] is True
