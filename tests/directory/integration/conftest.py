"""Fixtures of the directory's integration tests: a fresh schema, topics under a fresh prefix, the app."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from services.directory.api import create_app
from services.directory.settings import Settings
from tests.support import bootstrap, database_url, drop_schema, new_pool, new_schema, new_topic_prefix


def make_settings(schema: str, prefix: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": database_url(),
        "database_schema": schema,
        "kafka_bootstrap_servers": bootstrap(),
        "kafka_topic_prefix": prefix,
        "database_pool_min": 1,
        "database_pool_max": 4,
        "overrides_refresh_seconds": 0.2,
        "jwt_secret": os.environ["JWT_SECRET"],
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture(scope="module")
async def schema() -> AsyncIterator[str]:
    name = await new_schema("directory")
    yield name
    await drop_schema(name)


@pytest.fixture(scope="module")
async def prefix() -> str:
    return await new_topic_prefix()


@pytest.fixture(scope="module")
async def pool(schema: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await new_pool(schema)
    yield pool
    await pool.close()


@pytest.fixture(scope="module")
def settings(schema: str, prefix: str) -> Settings:
    return make_settings(schema, prefix)


@pytest.fixture(scope="module")
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture(scope="module")
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://directory.test") as client:
        yield client
