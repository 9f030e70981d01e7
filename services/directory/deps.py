"""What the directory's routers share: `Deps`, the typed dependency that reaches the app's state (set by the
lifespan of `api.create_app`), and the path parameter naming a post."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from aiokafka import AIOKafkaProducer
from fastapi import Depends, Path

from services.directory.bootstrap import Resources
from services.directory.resolve_cache import ResolveCache
from services.directory.settings import Settings
from shared.http import app_state

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


Deps = Annotated[ApiState, Depends(app_state("api"))]
