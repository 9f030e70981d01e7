"""What the notifier's routers share: `Deps`, the typed dependency that reaches the app's state (set by the lifespan
of `api.create_app`), and `Coordinator`, the role the progress routes require."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from services.notifier.bootstrap import Resources
from services.notifier.settings import NotifierSettings
from shared.auth import Principal, require_roles

Coordinator = Annotated[Principal, Depends(require_roles("coordinator", "admin"))]


@dataclass(frozen=True)
class ApiState:
    """The pool, renderer and publisher, and the settings (Twilio's token and our public base URL)."""

    resources: Resources
    settings: NotifierSettings


async def api_state(request: Request) -> ApiState:
    """Async on purpose: FastAPI runs a plain `def` dependency in its thread pool, a hop per request."""
    state: ApiState = request.app.state.api
    return state


Deps = Annotated[ApiState, Depends(api_state)]
