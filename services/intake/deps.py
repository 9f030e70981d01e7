"""The FastAPI dependency every intake router uses to reach the app's resources (pool, officers, config)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from services.intake.bootstrap import Resources
from shared.http import app_state

resources = app_state("resources")
"""The app's `Resources`, for code that has the request but is no route (the Twilio form check, the sign-in)."""
Deps = Annotated[Resources, Depends(resources)]
