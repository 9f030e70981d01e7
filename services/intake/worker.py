"""Intake's background work: the Kafka consumers, the outbox relay and the charter-clock scheduler."""

from __future__ import annotations

import asyncio
import contextlib

import asyncpg
from aiokafka import AIOKafkaProducer

from services.intake import (
    crises,
    deadlines,
    families,
    handlers,
    inbound,
    messages,
    opening,
    privacy,
    routing,
    travellers,
    welfare,
)
from services.intake.adapters.mail_in import start_inbox
from services.intake.bootstrap import Resources
from services.intake.retention import RetentionPolicy, run_retention
from services.intake.settings import Settings
from shared.events.crisis import CrisisActivated, CrisisClosed, CrisisUpdated
from shared.events.deadlines import DeadlineApproaching, DeadlineMissed
from shared.events.directory import CaseRouted
from shared.events.envelope import CloudEvent, EventData
from shared.events.notifications import NotificationStatus
from shared.events.reports import ReportSubmitted
from shared.events.travellers import TravellerCancelled, TravellerRegistered
from shared.events.welfare import WelfareAsked, WelfareReplied
from shared.kafka.consumer import EventConsumer, Handler, PermanentError
from shared.kafka.outbox import OutboxRelay
from shared.kafka.security import client_security
from shared.logging import get_logger
from shared.periodic import PeriodicJob

log = get_logger(__name__)

TOPICS = ("consular.reports", "notifications.status", "directory.routings", "crisis.status",
          "travellers.registrations", "cases.deadlines", "welfare.questions", "welfare.replies")


def retention_policy(settings: Settings) -> RetentionPolicy:
    return RetentionPolicy(traveller_days=settings.traveller_retention_days, case_days=settings.case_retention_days,
                           days_by_kind=(("detention", settings.detention_retention_days),
                                         ("missing_person", settings.missing_person_retention_days)),
                           families_days=settings.families_retention_days,
                           idempotency_key_days=settings.idempotency_key_days)


def warning_config(settings: Settings) -> deadlines.WarningConfig:
    return deadlines.WarningConfig(staff_language=settings.staff_language, team_lead_email=settings.team_lead_email,
                                   console_url=settings.public_base_url.rstrip("/") + "/console")


def make_handler(resources: Resources, warnings: deadlines.WarningConfig | None = None) -> Handler:
    warnings = warnings or deadlines.WarningConfig()

    async def handle(event: CloudEvent, data: EventData, conn: asyncpg.Connection | None) -> None:
        if conn is None:
            raise PermanentError("intake's consumer needs a database connection")
        if isinstance(data, ReportSubmitted):
            await opening.external_report(event, data, conn, officers=resources.officers, config=resources.config)
        elif isinstance(data, NotificationStatus):
            await messages.notification_status(data, conn)
        elif isinstance(data, CaseRouted):
            await routing.case_routed(data, conn, officers=resources.officers)
        elif isinstance(data, CrisisActivated | CrisisUpdated | CrisisClosed):
            await crises.crisis_status(data, conn)
        elif isinstance(data, TravellerRegistered | TravellerCancelled):
            await travellers.traveller_registration(data, conn, config=resources.config)
        elif isinstance(data, WelfareAsked):
            await welfare.welfare_asked(data, conn)
        elif isinstance(data, WelfareReplied):
            await welfare.welfare_replied(event, data, conn, officers=resources.officers, config=resources.config)
        elif isinstance(data, DeadlineApproaching | DeadlineMissed):
            await deadlines.deadline_warning(event, data, conn, config=resources.config, warnings=warnings)
        # other types on these topics are not ours to handle

    return handle


class _PollingLoop:
    """Runs `_round` until stopped: again at once when it returns None (it did work; more may be waiting), else after
    the seconds it returns; a database or network error is logged as `error_event` and the round tried again in a
    second."""

    error_event = ""

    def __init__(self) -> None:
        self._stopping = asyncio.Event()

    def stop(self) -> None:
        self._stopping.set()

    async def _round(self) -> float | None:
        raise NotImplementedError

    async def run(self) -> None:
        while not self._stopping.is_set():
            try:
                wait = await self._round()
                if wait is None:
                    continue
            except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.warning(self.error_event, error=type(exc).__name__)
                wait = 1.0
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=wait)


class DeadlineScheduler(_PollingLoop):
    """Fires due clock instants; state lives in the `deadlines` table, so a restart loses and repeats nothing."""

    error_event = "deadline_scheduler_error"

    def __init__(self, *, pool: asyncpg.Pool, config: handlers.IntakeConfig, poll_seconds: float) -> None:
        super().__init__()
        self._pool = pool
        self._config = config
        self._poll = poll_seconds

    async def _round(self) -> float | None:
        if await deadlines.fire_due_deadlines(pool=self._pool, config=self._config) > 0:
            return None
        seconds = await deadlines.seconds_to_next_deadline(pool=self._pool)
        return max(self._poll if seconds is None else min(self._poll, seconds), 0.05)


class ImportMatcher(_PollingLoop):
    """Matches the persons imported from PFIF, a batch per transaction, as soon as they are written."""

    error_event = "import_matcher_error"

    def __init__(self, *, pool: asyncpg.Pool, config: handlers.IntakeConfig, poll_seconds: float,
                 batch: int = 50) -> None:
        super().__init__()
        self._pool, self._config, self._poll, self._batch = pool, config, poll_seconds, batch

    async def _round(self) -> float | None:
        if await families.match_imported(self._pool, batch=self._batch, source=self._config.source,
                                         topic_prefix=self._config.topic_prefix):
            return None
        return self._poll


class Worker:
    def __init__(self, settings: Settings, resources: Resources, producer: AIOKafkaProducer) -> None:
        security = client_security(settings)
        self.consumer = EventConsumer(
            name="intake", bootstrap_servers=settings.kafka_bootstrap_servers,
            group_id=f"{settings.kafka_topic_prefix}intake", topics=list(TOPICS),
            handler=make_handler(resources, warning_config(settings)),
            producer=producer, pool=resources.pool, topic_prefix=settings.kafka_topic_prefix,
            on_tombstone=travellers.registration_tombstone, security=security)
        self.privacy = privacy.make_consumer(
            bootstrap_servers=settings.kafka_bootstrap_servers, topic_prefix=settings.kafka_topic_prefix,
            source=settings.source, pool=resources.pool, producer=producer, cipher=resources.config.cipher,
            security=security)
        self.relay = OutboxRelay(pool=resources.pool, producer=producer, schema=settings.db_schema)
        self.scheduler = DeadlineScheduler(pool=resources.pool, config=resources.config,
                                           poll_seconds=settings.deadline_poll_seconds)
        self.import_matcher = ImportMatcher(pool=resources.pool, config=resources.config,
                                            poll_seconds=settings.deadline_poll_seconds)
        policy = retention_policy(settings)
        self.retention = PeriodicJob("intake-retention", lambda: run_retention(
            pool=resources.pool, producer=producer, policy=policy, topic_prefix=settings.kafka_topic_prefix),
            interval_seconds=settings.retention_interval_seconds)
        self._tasks: list[asyncio.Task[None]] = []
        self._settings, self._resources = settings, resources
        self.inbox: asyncio.Server | None = None

    async def _deliver_email(self, sender: str, name: str | None, subject: str, text: str,
                             message_id: str | None) -> None:
        resources = self._resources
        reference, opened = await inbound.inbound_email(
            sender=sender, sender_name=name, subject=subject, body=text, message_id=message_id, pool=resources.pool,
            officers=resources.officers, config=resources.config)
        log.info("inbound_email", reference=reference, opened=opened)

    def tasks(self) -> list[asyncio.Task[None]]:
        """The long-running tasks, for liveness (shared/health.py)."""
        return list(self._tasks)

    async def start(self) -> None:
        if self._settings.inbound_smtp_port:
            self.inbox = await start_inbox(self._deliver_email, host=self._settings.inbound_smtp_host,
                                           port=self._settings.inbound_smtp_port,
                                           inbox=self._settings.inbound_email_address)
        await self.consumer.start()
        await self.privacy.start()
        self._tasks = [asyncio.create_task(self.consumer.run(), name="intake-consumer"),
                       asyncio.create_task(self.privacy.run(), name="intake-privacy"),
                       asyncio.create_task(self.relay.run(), name="intake-outbox-relay"),
                       asyncio.create_task(self.scheduler.run(), name="intake-deadlines"),
                       asyncio.create_task(self.retention.run(), name="intake-retention"),
                       asyncio.create_task(self.import_matcher.run(), name="intake-import-matcher")]

    async def stop(self) -> None:
        if self.inbox is not None:
            self.inbox.close()
        self.relay.stop()
        self.scheduler.stop()
        self.retention.stop()
        self.import_matcher.stop()
        await self.consumer.stop()
        await self.privacy.stop()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def wait(self) -> None:
        await asyncio.gather(*self._tasks)
