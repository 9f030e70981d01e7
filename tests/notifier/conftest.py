"""Fixtures of the notifier's integration tests: the local Twilio server and SMTP sink in the test process, a fresh
schema and topic prefix, the notifier API under uvicorn (Twilio must reach it for callbacks) and the worker."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import asyncpg
import pytest
import uvicorn
from aiokafka import AIOKafkaProducer
from twilio.request_validator import RequestValidator

from services.notifier.api import create_app
from services.notifier.bootstrap import open_resources
from services.notifier.dev.smtp_sink import SmtpSink, free_port
from services.notifier.dev.twilio_server import ServerConfig, TwilioDevServer, build_app
from services.notifier.settings import NotifierSettings
from services.notifier.worker import Worker
from shared.events.notifications import OfficerCard, Recipient, SendNotification, notification_id_for
from shared.kafka.producer import make_producer, publish
from tests.support import (
    bootstrap,
    database_url,
    new_pool,
    new_topic_prefix,
    schema_fixture,
    serve_stand_in,
    unique,
)

SOURCE = "/tests/notifier"
OFFICER = OfficerCard(name="Anne Peeters", role="Consular officer", phone="+3225018111", email="anne@example.be")


def ack_params(reference: str, reply_due_by: str = "2026-12-12") -> dict[str, Any]:
    """A `case_acknowledgement`'s params (its model: shared/events/notifications.py CaseAcknowledgementParams)."""
    return {"reference": reference, "officer": OFFICER.model_dump(), "reply_due_by": reply_due_by}


def case_message_params(reference: str, message: str) -> dict[str, Any]:
    return {"reference": reference, "message": message, "officer": OFFICER.model_dump()}


@dataclass
class TwilioFake:
    url: str
    server: TwilioDevServer
    http: aiohttp.ClientSession

    async def configure(self, **config: Any) -> None:
        async with self.http.put(f"{self.url}/_dev/config", json=config) as resp:
            assert resp.status == 200, await resp.text()

    def sent_to(self, number: str) -> list[dict[str, Any]]:
        return [m for m in self.server.messages.values() if m["to"] == number]


@pytest.fixture
async def twilio() -> AsyncIterator[TwilioFake]:
    config = ServerConfig(account_sid=os.environ["TWILIO_ACCOUNT_SID"], auth_token=os.environ["TWILIO_AUTH_TOKEN"],
                          callback_delay_seconds=0.02)
    app, server = build_app(config)
    async with serve_stand_in(app) as (url, http):
        yield TwilioFake(url, server, http)


@pytest.fixture
def smtp() -> Iterator[SmtpSink]:
    sink = SmtpSink("127.0.0.1", 0)
    sink.start()
    try:
        yield sink
    finally:
        sink.stop()


schema = schema_fixture("notifier", scope="function")


@pytest.fixture
async def prefix() -> str:
    return await new_topic_prefix()


def make_settings(*, schema: str, prefix: str, twilio_url: str, smtp_port: int, api_port: int,
                  **overrides: Any) -> NotifierSettings:
    values: dict[str, Any] = dict(
        database_url=database_url(), database_schema=schema, kafka_bootstrap_servers=bootstrap(),
        kafka_topic_prefix=prefix, twilio_api_base=twilio_url, public_base_url=f"http://127.0.0.1:{api_port}",
        smtp_host="127.0.0.1", smtp_port=smtp_port, http_port=api_port, sms_rate_per_second=500,
        send_timeout_seconds=1.5, heartbeat_seconds=0.5, dead_after_seconds=4.0, retry_base_seconds=0.05,
        retry_max_seconds=0.5, command_consumers=1, database_pool_min=1, database_pool_max=10,
        provider_outage_retry_seconds=0.2, provider_outage_max_seconds=1.0,
    )
    values.update(overrides)
    return NotifierSettings(**values)


@pytest.fixture
async def settings(schema: str, prefix: str, twilio: TwilioFake, smtp: SmtpSink) -> NotifierSettings:
    return make_settings(schema=schema, prefix=prefix, twilio_url=twilio.url, smtp_port=smtp.port,
                         api_port=free_port())


@pytest.fixture
async def api(settings: NotifierSettings) -> AsyncIterator[str]:
    """The notifier API on a real port: Twilio (the local server) posts status callbacks to it."""
    # A graceful stop that cannot hang the suite: a callback still in flight at teardown once kept the
    # New-Year moved-clock run waiting for ever.
    config = uvicorn.Config(create_app(settings), host="127.0.0.1", port=settings.http_port, log_level="warning",
                            access_log=False, lifespan="on", timeout_graceful_shutdown=5)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    try:
        yield settings.public_base_url
    finally:
        server.should_exit = True
        await task


@pytest.fixture
async def producer() -> AsyncIterator[AIOKafkaProducer]:
    producer = make_producer(bootstrap(), client_id="tests-notifier")
    await producer.start()
    yield producer
    await producer.stop()


@dataclass
class Running:
    worker: Worker
    pool: asyncpg.Pool
    settings: NotifierSettings
    producer: AIOKafkaProducer
    sent: list[str] = field(default_factory=list)

    async def command(self, **fields: Any) -> SendNotification:
        """Publish a SendNotification (its id derived like the senders do) and return it."""
        recipient = fields.pop("recipient")
        channel = fields.setdefault("channel", "sms")
        address = recipient.email if channel == "email" else recipient.phone
        fields.setdefault("notification_id", notification_id_for(fields["purpose"], channel, str(address)))
        command = SendNotification(recipient=recipient, **fields)
        await publish(self.producer, command, source=SOURCE, topic_prefix=self.settings.kafka_topic_prefix)
        self.sent.append(command.notification_id)
        return command

    async def row(self, notification_id: str) -> asyncpg.Record | None:
        return await self.pool.fetchrow("SELECT * FROM notifications WHERE notification_id = $1", notification_id)

    async def status(self, notification_id: str) -> str | None:
        return await self.pool.fetchval("SELECT status FROM notifications WHERE notification_id = $1",
                                        notification_id)

    async def statuses(self, notification_id: str) -> list[str]:
        rows = await self.pool.fetch("SELECT status FROM status_history WHERE notification_id = $1 ORDER BY id",
                                     notification_id)
        return [r["status"] for r in rows]


@asynccontextmanager
async def run_worker(settings: NotifierSettings, producer: AIOKafkaProducer, **options: Any) -> AsyncIterator[Running]:
    """The worker on resources of its own (`options`: Worker's keywords, e.g. its clock), started, and a pool of the
    test's on its schema; stopped and closed after."""
    resources = await open_resources(settings)
    worker = Worker(settings, resources, producer, **options)
    await worker.start()
    pool = await new_pool(settings.schema_name)
    try:
        yield Running(worker, pool, settings, producer)
    finally:
        await worker.stop()
        await resources.pool.close()
        await pool.close()


@pytest.fixture
async def running(settings: NotifierSettings, api: str, producer: AIOKafkaProducer) -> AsyncIterator[Running]:
    async with run_worker(settings, producer) as running:
        yield running


def sms_recipient(phone: str | None = None, email: str | None = None) -> Recipient:
    return Recipient(phone=phone or f"+3247{unique('')[:7].translate(str.maketrans('abcdef', '123456'))}",
                     email=email)


def sign(url: str, params: dict[str, str], token: str | None = None) -> dict[str, str]:
    validator = RequestValidator(token or os.environ["TWILIO_AUTH_TOKEN"])
    return {"X-Twilio-Signature": validator.compute_signature(url, params)}
