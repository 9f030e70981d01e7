"""What the directory's routers share: `Deps`, the typed dependency that reaches the app's state (set by the
lifespan of `api.create_app`), and the path parameter naming a post."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from aiokafka import AIOKafkaProducer
from fastapi import Depends, Path, Request

from services.directory.bootstrap import Resources
from services.directory.resolve_cache import ResolveCache
from services.directory.settings import Settings

POST_ID = r"^be-[a-z0-9-]{3,80}$"
COUNTRY = r"^[A-Za-z]{2}$"
PostId = Annotated[str, Path(pattern=POST_ID)]


@dataclass(frozen=True)
class ApiState:
    """The pool and snapshot, the settings, /v1/resolve's cache, and a producer for readiness only (None while
    Kafka was down at start)."""

    resources: Resources
    settings: Settings
    resolve_cache: ResolveCache
    producer: AIOKafkaProducer | None


async def api_state(request: Request) -> ApiState:
    """Async on purpose: FastAPI runs a plain `def` dependency in its thread pool, a hop per request."""
    state: ApiState = request.app.state.api
    return state


Deps = Annotated[ApiState, Depends(api_state)]
