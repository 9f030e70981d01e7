"""shared/runner.py: the modes every service's `__main__` runs, with a real uvicorn and real signals."""

from __future__ import annotations

import asyncio
import os
import signal

import httpx
import pytest
import uvloop
from fastapi import FastAPI

from shared.runner import loop_factory, run_modes
from shared.settings import HttpSettings
from tests.support import free_port


def settings() -> HttpSettings:
    return HttpSettings(http_host="127.0.0.1", http_port=free_port(), log_level="WARNING")


def hello() -> FastAPI:
    app = FastAPI()

    @app.get("/hello")
    async def say() -> dict[str, str]:
        return {"hello": "world"}

    return app


async def until_serving(url: str) -> httpx.Response:
    async with httpx.AsyncClient() as client:
        for _ in range(200):
            try:
                return await client.get(url)
            except httpx.TransportError:
                await asyncio.sleep(0.02)
    raise AssertionError(f"{url} never answered")


async def get_once(url: str) -> httpx.Response:
    async with httpx.AsyncClient() as client:
        return await client.get(url)


async def test_sigterm_stops_the_worker_it_runs() -> None:
    stopped: list[str] = []

    async def worker(stop: asyncio.Event) -> None:
        await stop.wait()
        stopped.append("worker")

    running = asyncio.create_task(run_modes("worker", settings(), worker=worker))
    await asyncio.sleep(0.05)
    assert not running.done()
    os.kill(os.getpid(), signal.SIGTERM)
    await asyncio.wait_for(running, 5)
    assert stopped == ["worker"]
    assert not asyncio.get_running_loop().remove_signal_handler(signal.SIGTERM)  # its handler did not outlive it


async def test_in_mode_all_a_worker_that_ends_stops_the_api_too() -> None:
    config = settings()
    served = asyncio.Event()

    async def worker(stop: asyncio.Event) -> None:
        await served.wait()  # ends on its own (as a crashed worker would), with the API still serving

    running = asyncio.create_task(run_modes("all", config, api=hello, worker=worker))
    answer = await until_serving(f"http://127.0.0.1:{config.http_port}/hello")
    assert answer.json() == {"hello": "world"}
    served.set()
    await asyncio.wait_for(running, 10)
    with pytest.raises(httpx.TransportError):
        await get_once(f"http://127.0.0.1:{config.http_port}/hello")


async def test_a_worker_that_fails_fails_the_run() -> None:
    async def worker(stop: asyncio.Event) -> None:
        raise RuntimeError("broker gone")

    with pytest.raises(RuntimeError, match="broker gone"):
        await asyncio.wait_for(run_modes("all", settings(), api=hello, worker=worker), 10)


async def test_a_mode_the_service_lacks_is_refused() -> None:
    with pytest.raises(ValueError, match="no HTTP API"):
        await run_modes("api", settings(), worker=lambda stop: stop.wait())
    with pytest.raises(ValueError, match="unknown mode"):
        await run_modes("both", settings(), api=hello)


@pytest.mark.parametrize(("name", "uvloop_expected"), [("uvloop", True), ("asyncio", False)])
def test_the_services_run_on_the_event_loop_their_settings_name(name: str, uvloop_expected: bool) -> None:
    async def running_loop() -> asyncio.AbstractEventLoop:
        return asyncio.get_running_loop()

    with asyncio.Runner(loop_factory=loop_factory(HttpSettings(event_loop=name).event_loop)) as runner:
        assert isinstance(runner.run(running_loop()), uvloop.Loop) is uvloop_expected
    assert HttpSettings().event_loop == "uvloop"  # the default
