"""Browser tests of the dashboard and the console: a real headless Chromium (Debian's `chromium`, driven by
Playwright for Python) against the real services run with uvicorn on free ports, the real broker and database."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from tests.support import ROOT

CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
VIEWPORT = {"width": 1280, "height": 720}


@contextlib.asynccontextmanager
async def serve(app: Any, port: int) -> AsyncIterator[str]:
    """The app under uvicorn on 127.0.0.1:port in this event loop; its lifespan runs as in production."""
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False, lifespan="on",
                            timeout_graceful_shutdown=2)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
            raise RuntimeError("uvicorn stopped before it started")
        await asyncio.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 15)


def chromium_installed() -> bool:
    return Path(CHROMIUM).exists()


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Any]:
    # `make test` installs both (the `browser` target); a missing browser is a failure, not a skip.
    from playwright.async_api import async_playwright

    assert chromium_installed(), f"no Chromium at {CHROMIUM}: run `make browser` (apt-get install chromium)"
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            await browser.close()


@contextlib.asynccontextmanager
async def watched_page(browser: Any) -> AsyncIterator[Any]:
    """A page in a context of its own; the test fails on a JavaScript error or a server failure (5xx) seen there."""
    context = await browser.new_context(viewport=VIEWPORT, locale="en-GB", service_workers="block")
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("response", lambda r: errors.append(f"{r.status} {r.request.method} {r.url}") if r.status >= 500 else None)
    try:
        yield page
    finally:
        await context.close()
    assert not errors, f"JavaScript errors or server failures on the page: {errors}"


def screenshot_path(name: str) -> str:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return str(SCREENSHOTS / f"{name}.png")


@pytest.fixture(scope="module")
async def page(browser: Any, system: Any) -> AsyncIterator[Any]:
    """The page a module's tests share (watched_page), opened once the module's `system` runs and closed before it
    stops. Modules whose page starts signed in, or whose service is not a `system`, define their own."""
    async with watched_page(browser) as page:
        yield page
