"""The notifier worker: consumers of `notifications.commands`, the dispatcher, the outbox relay, in one process.

The consumers only store (render, deduplicate, record `queued`; a polled batch of commands in one transaction):
provider calls happen in the dispatcher's own tasks, so a slow Twilio never holds the Kafka poll loop past
max_poll_interval_ms.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaProducer

from services.notifier import privacy
from services.notifier.adapters.email import SmtpEmail
from services.notifier.adapters.twilio_sms import TwilioSms
from services.notifier.bootstrap import Resources, make_email, make_sms
from services.notifier.dispatcher import Dispatcher
from services.notifier.handlers import accept_command, accept_commands, sms_preference
from services.notifier.retention import remove_message_bodies
from services.notifier.settings import NotifierSettings
from shared.events.envelope import CloudEvent, EventData
from shared.events.notifications import COMMANDS_TOPIC, SendNotification, SmsPreference
from shared.kafka.consumer import EventConsumer, PermanentError
from shared.kafka.outbox import OutboxRelay
from shared.kafka.security import client_security
from shared.periodic import PeriodicJob

CONSUMER_NAME = "notifier-commands"


class Worker:
    def __init__(self, settings: NotifierSettings, resources: Resources, producer: AIOKafkaProducer, *,
                 sender_id: str | None = None, sms: TwilioSms | None = None, email: SmtpEmail | None = None,
                 clock: Callable[[], datetime] | None = None) -> None:
        self.settings = settings
        self.clock = clock or (lambda: datetime.now(UTC))
        """When commands are accepted (validity starts) and messages are due: tests set it."""
        self.resources = resources
        self.producer = producer
        self._sender_id = sender_id
        self._sms, self._email = sms, email
        self.dispatcher: Dispatcher | None = None
        self.consumers: list[EventConsumer] = []
        self.relay: OutboxRelay | None = None
        self._tasks: list[asyncio.Task[Any]] = []
        self.retention: PeriodicJob | None = None

    async def handle(self, _event: CloudEvent, data: EventData, conn: Any) -> None:
        if isinstance(data, SmsPreference):
            await sms_preference(conn, data)
            return
        if not isinstance(data, SendNotification):
            raise PermanentError(f"not a command the notifier knows: {type(data).__name__}")
        await accept_command(conn, data, renderer=self.resources.renderer, publisher=self.resources.publisher,
                             now=self.clock())
        self._wake_dispatcher()

    async def handle_batch(self, events: list[tuple[CloudEvent, EventData]], conn: Any) -> None:
        """The new events of one polled batch, in one transaction (the consumer deduplicated them by event id): runs
        of commands stored in a few statements each, a preference between them applied in its place. Anything else
        raises, and the consumer handles the batch again event by event, dead-lettering the one at fault."""
        run: list[SendNotification] = []
        for _event, data in events:
            if isinstance(data, SendNotification):
                run.append(data)
                continue
            if not isinstance(data, SmsPreference):
                raise PermanentError(f"not a command the notifier knows: {type(data).__name__}")
            await self._accept(conn, run)
            run = []
            await sms_preference(conn, data)
        await self._accept(conn, run)
        self._wake_dispatcher()

    async def _accept(self, conn: Any, commands: list[SendNotification]) -> None:
        if commands:
            await accept_commands(conn, commands, renderer=self.resources.renderer,
                                  publisher=self.resources.publisher, now=self.clock())

    def _wake_dispatcher(self) -> None:
        if self.dispatcher is not None:
            asyncio.get_running_loop().call_later(0.02, self.dispatcher.wake)  # after the commit, roughly

    async def start(self) -> None:
        settings = self.settings
        self._sms = self._sms or make_sms(settings)
        self._email = self._email or make_email(settings)
        self.dispatcher = Dispatcher(pool=self.resources.pool, settings=settings, publisher=self.resources.publisher,
                                     sms=self._sms, email=self._email, sender_id=self._sender_id,
                                     renderer=self.resources.renderer, clock=lambda: self.clock())
        await self.dispatcher.start()
        self.relay = OutboxRelay(pool=self.resources.pool, producer=self.producer, schema=settings.schema_name)
        self._tasks.append(asyncio.create_task(self.relay.run(), name="outbox-relay"))
        security = client_security(settings)
        for i in range(settings.command_consumers):
            consumer = EventConsumer(
                name=CONSUMER_NAME, bootstrap_servers=settings.kafka_bootstrap_servers,
                group_id=f"{settings.kafka_topic_prefix}notifier", topics=[COMMANDS_TOPIC], handler=self.handle,
                producer=self.producer, pool=self.resources.pool, topic_prefix=settings.kafka_topic_prefix,
                security=security, batch_handler=self.handle_batch, batch_size=settings.command_batch,
            )
            self.consumers.append(consumer)
            self._tasks.append(asyncio.create_task(consumer.run(), name=f"commands-{i}"))
        answering = privacy.make_consumer(bootstrap_servers=settings.kafka_bootstrap_servers,
                                          topic_prefix=settings.kafka_topic_prefix, pool=self.resources.pool,
                                          producer=self.producer, security=security)
        self.consumers.append(answering)
        self._tasks.append(asyncio.create_task(answering.run(), name="privacy-requests"))
        self.retention = PeriodicJob("notifier-retention", lambda: remove_message_bodies(
            self.resources.pool, keep_days=settings.message_body_retention_days),
            interval_seconds=settings.retention_interval_seconds)
        self._tasks.append(asyncio.create_task(self.retention.run(), name="notifier-retention"))

    def tasks(self) -> list[asyncio.Task[Any]]:
        """Every long-running task (consumers, relay, retention, the dispatcher's), for liveness."""
        return [*self._tasks, *(self.dispatcher.tasks() if self.dispatcher is not None else [])]

    async def stop(self) -> None:
        for consumer in self.consumers:
            await consumer.stop()
        if self.retention is not None:
            self.retention.stop()
        if self.dispatcher is not None:
            await self.dispatcher.stop()
        if self.relay is not None:
            self.relay.stop()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.relay is not None:
            await self.relay.final_drain()
        if self._sms is not None:
            await self._sms.close()
