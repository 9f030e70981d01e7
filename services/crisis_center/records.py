"""What every use case writes besides its own rows: where its events go, and the coordinators' audit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from services.crisis_center.adapters import repository


@dataclass(frozen=True, slots=True)
class Publishing:
    """Where events go: the outbox source and the topic prefix (tests isolate topics with it)."""

    source: str
    topic_prefix: str = ""


async def audit(conn: asyncpg.Connection, *, actor: str, action: str, target: str | None, at: datetime,
                detail: dict[str, Any] | None = None) -> None:
    await repository.insert_audit(conn, at=at, actor=actor, action=action, target=target, detail=detail or {})
