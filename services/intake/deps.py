"""The FastAPI dependency every intake router uses to reach the app's resources (pool, officers, config)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from services.intake.bootstrap import Resources


async def resources(request: Request) -> Resources:
    """Async on purpose: FastAPI runs a plain `def` dependency in its thread pool, a hop per request."""
    found: Resources = request.app.state.resources
    return found


Deps = Annotated[Resources, Depends(resources)]
