"""The composition root: builds the real adapters from the settings. Nothing is created at import time."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import asyncpg
from twilio.request_validator import RequestValidator

from services.intake.adapters.officer_cache import OfficerCache
from services.intake.domain.voice import OfficeHours
from services.intake.handlers import IntakeConfig
from services.intake.settings import Settings
from shared.db import open_pool


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Resources:
    """What every handler reaches (the API's routes through `deps.Deps`): the pool, the officers' cache, the
    settings and the clock (tests set it to place a call or a deadline at any time)."""

    pool: asyncpg.Pool
    officers: OfficerCache
    config: IntakeConfig
    validator: RequestValidator
    settings: Settings
    office_hours: OfficeHours
    now: Callable[[], datetime] = field(default=utc_now)


def intake_config(settings: Settings) -> IntakeConfig:
    return IntakeConfig(source=settings.source, topic_prefix=settings.kafka_topic_prefix,
                        complex_reply_days=settings.complex_reply_days, survey_link_base=settings.survey_link_base
                        or settings.public_base_url.rstrip("/") + "/public/survey",
                        cipher=settings.field_cipher(), check_ins_per_hour=settings.check_in_per_hour,
                        check_in_stay_days=settings.check_in_stay_days)


async def open_resources(settings: Settings, *, now: Callable[[], datetime] = utc_now) -> Resources:
    return Resources(
        settings=settings, office_hours=OfficeHours.parse(settings.office_hours), now=now,
        pool=await open_pool(settings.database_url, settings.db_schema, min_size=settings.database_pool_min,
                             max_size=settings.database_pool_max),
        officers=OfficerCache(ttl_seconds=settings.officer_cache_seconds),
        config=intake_config(settings),
        validator=RequestValidator(settings.twilio_auth_token.get_secret_value()),
    )
