"""The composition root: builds the real adapters from the settings. Nothing is created at import time."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import asyncpg

from services.directory.adapters.seed import load_directory
from services.directory.adapters.snapshot import Snapshot
from services.directory.domain.directory import Directory
from services.directory.settings import Settings
from shared.db import open_pool


@dataclass
class Resources:
    pool: asyncpg.Pool
    snapshot: Snapshot


async def load_seed(settings: Settings) -> Directory:
    """The seed and the offline gazetteer (about two seconds of parsing: off the event loop)."""
    return await asyncio.to_thread(load_directory, settings.seed_dir, min_city_population=settings.min_city_population)


async def open_resources(settings: Settings) -> Resources:
    seed = await load_seed(settings)
    pool = await open_pool(settings.database_url, settings.db_schema, min_size=settings.database_pool_min,
                           max_size=settings.database_pool_max)
    snapshot = Snapshot(seed)
    await snapshot.refresh(pool)
    return Resources(pool=pool, snapshot=snapshot)
