"""What the crisis center's routers share: `Deps`, the typed dependency that reaches the app's state (set by the
lifespan of `api.create_app`), and `Coordinator`, the role the coordinators' routes require."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated

import asyncpg
from fastapi import Depends, Path

from services.crisis_center import broadcasts, check_in
from services.crisis_center.bootstrap import Resources
from services.crisis_center.domain import broadcasts as broadcast_rules
from services.crisis_center.domain import stream_ticket
from services.crisis_center.domain.welfare import link_key
from services.crisis_center.public_cache import PublicCache
from services.crisis_center.records import Publishing
from services.crisis_center.settings import Settings
from shared.auth import Principal, require_roles
from shared.gazetteer import Gazetteer
from shared.http import app_state

Coordinator = Annotated[Principal, Depends(require_roles("coordinator"))]
CrisisId = Annotated[str, Path(min_length=1, max_length=200)]


@dataclass(frozen=True)
class ApiState:
    """The resources (pool, feed, relay), the settings, the clock and what the routers derive from the settings
    once: where events go, the public feeds' cache, a broadcast's planning, the check-in rules, the towns of the
    check-in map, the key of the welfare answer links and that of the stream tickets."""

    resources: Resources
    settings: Settings
    now: Callable[[], datetime]
    publishing: Publishing
    public_cache: PublicCache
    planning: broadcasts.Planning
    check_in_rules: check_in.CheckInRules
    gazetteer: Gazetteer
    welfare_link_key: bytes
    stream_ticket_key: bytes

    @property
    def pool(self) -> asyncpg.Pool:
        return self.resources.pool


def api_state(settings: Settings, resources: Resources, *, now: Callable[[], datetime],
              public_cache: PublicCache) -> ApiState:
    return ApiState(
        resources=resources, settings=settings, now=now,
        publishing=Publishing(settings.source, settings.kafka_topic_prefix), public_cache=public_cache,
        planning=broadcasts.Planning(broadcast_rules.parse_senders(settings.broadcast_senders),
                                     settings.broadcast_email_rate_per_second),
        check_in_rules=check_in.CheckInRules(
            code_key=check_in.code_key(settings.jwt_secret.get_secret_value()),
            code_valid_for=timedelta(minutes=settings.check_in_code_minutes),
            per_hour=settings.check_in_per_hour, stay_days=settings.check_in_stay_days),
        gazetteer=Gazetteer(), welfare_link_key=link_key(settings.jwt_secret.get_secret_value()),
        stream_ticket_key=stream_ticket.ticket_key(settings.jwt_secret.get_secret_value()))


Deps = Annotated[ApiState, Depends(app_state("api"))]
