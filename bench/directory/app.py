"""The app the HTTP benchmark serves: the directory's own app, plus a trivial endpoint on the same server."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import JSONResponse

from services.directory.api import create_app
from services.directory.settings import Settings


def create() -> FastAPI:
    app = create_app(Settings())  # type: ignore[call-arg]  # from the environment (the benchmark sets it)

    @app.get("/trivial")
    async def trivial() -> JSONResponse:
        return JSONResponse({"ok": True})  # the cheapest FastAPI response, as /v1/resolve builds its own

    return app
