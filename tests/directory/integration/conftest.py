"""Fixtures of the directory's integration tests: a fresh schema, topics under a fresh prefix, the app."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from services.directory.api import create_app
from services.directory.settings import Settings
from tests.support import bootstrap, database_url, schema_fixture


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


schema = schema_fixture("directory")  # `prefix` and `pool` (on this schema): tests/conftest.py


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
