"""The composition root: builds the feeds worker's adapters from its settings. Nothing is built at import."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from services.feeds.adapters.places import Places
from services.feeds.domain.rules import Policy
from services.feeds.settings import FeedsSettings
from shared.db import open_pool


@dataclass
class Resources:
    pool: asyncpg.Pool
    places: Places
    policy: Policy


def policy_of(settings: FeedsSettings) -> Policy:
    from datetime import timedelta

    return Policy(min_gdacs_alert=settings.feed_min_gdacs_alert, min_usgs_magnitude=settings.feed_min_usgs_magnitude,
                  ttl=timedelta(hours=settings.feed_incident_ttl_hours), absent_polls=settings.feed_absent_polls)


async def open_resources(settings: FeedsSettings, *, places: Places | None = None) -> Resources:
    pool = await open_pool(settings.database_url, settings.schema_name, min_size=settings.database_pool_min,
                           max_size=settings.database_pool_max)
    return Resources(pool=pool, places=places or Places(), policy=policy_of(settings))
