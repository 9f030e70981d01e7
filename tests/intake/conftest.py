"""Fixtures of intake's integration tests: a fresh schema, topics under a fresh prefix, the app, the worker."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from twilio.request_validator import RequestValidator

from services.intake.api import create_app
from services.intake.bootstrap import open_resources
from services.intake.settings import Settings
from services.intake.worker import Worker
from tests.support import bootstrap, database_url, schema_fixture, started_worker

PUBLIC_BASE = "https://intake.test"


def make_settings(schema: str, prefix: str = "", **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": database_url(), "database_schema": schema, "kafka_bootstrap_servers": bootstrap(),
        "kafka_topic_prefix": prefix, "public_base_url": PUBLIC_BASE, "database_pool_min": 1,
        "database_pool_max": 5, "deadline_poll_seconds": 0.5, "jwt_secret": os.environ["JWT_SECRET"],
        "twilio_account_sid": os.environ["TWILIO_ACCOUNT_SID"], "twilio_auth_token": os.environ["TWILIO_AUTH_TOKEN"],
    }
    values.update(overrides)
    return Settings(**values)


class Clock:
    """A settable clock for the voice line's office hours."""

    def __init__(self) -> None:
        self.at = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.at


schema = schema_fixture("intake")  # `prefix` and `pool` (on this schema): tests/conftest.py


@pytest.fixture(scope="module")
def settings(schema: str, prefix: str) -> Settings:
    return make_settings(schema, prefix)


@pytest.fixture(scope="module")
def clock() -> Clock:
    return Clock()


@pytest.fixture(scope="module")
async def client(settings: Settings, clock: Clock) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, clock=clock)
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url=PUBLIC_BASE) as client:
        yield client


@pytest.fixture(scope="module")
async def worker(settings: Settings) -> AsyncIterator[Worker]:
    async with started_worker(Worker, open_resources, settings, client_id="intake-test-worker") as (worker, _):
        yield worker


@pytest.fixture(scope="module")
def sign() -> Callable[[str, dict[str, str]], dict[str, str]]:
    validator = RequestValidator(os.environ["TWILIO_AUTH_TOKEN"])

    def sign(path: str, params: dict[str, str]) -> dict[str, str]:
        return {"X-Twilio-Signature": validator.compute_signature(PUBLIC_BASE + path, params)}

    return sign
