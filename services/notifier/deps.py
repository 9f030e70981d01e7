"""What the notifier's routers share: `Deps`, the typed dependency that reaches the app's state (set by the lifespan
of `api.create_app`), and `Coordinator`, the role the progress routes require."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends

from services.notifier.bootstrap import Resources
from services.notifier.settings import NotifierSettings
from shared.auth import Principal, require_roles
from shared.http import app_state

Coordinator = Annotated[Principal, Depends(require_roles("coordinator", "admin"))]


@dataclass(frozen=True)
class ApiState:
    """The pool, renderer and publisher, and the settings (Twilio's token and our public base URL)."""

    resources: Resources
    settings: NotifierSettings


Deps = Annotated[ApiState, Depends(app_state("api"))]
