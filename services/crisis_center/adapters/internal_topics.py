"""The worker's internal topics, created and visible before Faust starts.

Faust declares its changelog topics itself, while starting, and checks each table's changelog against its
source topic from the consumer's metadata snapshot; several workers starting at once under load read a
changelog that exists with no partitions yet ("PartitionsMismatch ... changelog has 0 partitions"). So
`ensure_internal_topics` creates them beforehand (compacted, partitioned like their table) and waits until the
broker's metadata lists every one with its partition count. `internal_topic_specs` is the list deployment tools
can turn into KafkaTopic resources (names, partitions, configs), so they need not know Faust's naming.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from services.crisis_center.settings import Settings
from shared.kafka.security import client_security
from shared.logging import get_logger
from shared.topics import dlq_name

log = get_logger(__name__)

BY_COUNTRY = "crisis.by-country"
SOURCE_PARTITIONS = {"travellers.registrations": 6, "consular.reports": 6, "crisis.incidents": 3}  # shared/topics.py
COUNTRY_TABLES = ("travellers", "reports", "incidents", "members")
#: The source topics read by Faust agents (travellers.registrations is the registries', adapters/registries.py).
FAUST_SOURCES = ("consular.reports", "crisis.incidents")
COMPACTED = {"cleanup.policy": "compact"}


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    config: dict[str, str] = field(default_factory=dict)


def table_partitions(settings: Settings) -> dict[str, int]:
    """Each table is partitioned like the stream that writes it (Faust writes to the event's partition)."""
    return {
        "incident_country": SOURCE_PARTITIONS["crisis.incidents"],
        **{name: settings.faust_partitions for name in COUNTRY_TABLES},
        # last offset applied per source partition (gaps.py), one table per topic a Faust agent reads
        **{applied_table(topic): n for topic, n in SOURCE_PARTITIONS.items() if topic in FAUST_SOURCES},
        applied_table(BY_COUNTRY): settings.faust_partitions,
    }


def applied_table(topic: str) -> str:
    return "applied_" + topic.replace(".", "_").replace("-", "_")


def changelog_name(settings: Settings, table: str) -> str:
    """Faust's naming (`Table._changelog_topic_name`): app id, table, no topic prefix."""
    return f"{settings.faust_app_id}-{table}-changelog"


def held_topic(settings: Settings) -> str:
    """Where the registries keep which countries' tables may hold each traveller (`adapters/registries.py`):
    named like the changelogs, since it describes what the app's tables hold."""
    return f"{settings.faust_app_id}-registry-held"


def internal_topic_specs(settings: Settings) -> list[TopicSpec]:
    """Every topic the worker needs beyond the contract's: the repartition topic, its DLQ, the changelogs, the
    registries' held travellers and Faust's leader-election topic."""
    return [
        TopicSpec(settings.topic(BY_COUNTRY), settings.faust_partitions),
        TopicSpec(settings.topic(dlq_name(BY_COUNTRY)), 1),
        *(TopicSpec(changelog_name(settings, table), n, dict(COMPACTED))
          for table, n in table_partitions(settings).items()),
        TopicSpec(held_topic(settings), SOURCE_PARTITIONS["travellers.registrations"], dict(COMPACTED)),
        TopicSpec(f"{settings.faust_app_id}-__assignor-__leader", 1),
    ]


class TopicMismatch(RuntimeError):
    """An internal topic exists with another partition count (FAUST_PARTITIONS is fixed once data exists)."""


async def ensure_internal_topics(settings: Settings, *, wait_seconds: float = 120.0) -> list[TopicSpec]:
    """Create the missing internal topics and wait until the metadata shows all of them fully partitioned."""
    specs = internal_topic_specs(settings)
    wanted = {spec.name: spec for spec in specs}
    admin = AIOKafkaAdminClient(**client_security(settings), bootstrap_servers=settings.kafka_bootstrap_servers,
                                request_timeout_ms=30000)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [NewTopic(spec.name, spec.partitions, settings.faust_replication_factor,
                            topic_configs=dict(spec.config)) for spec in specs if spec.name not in existing]
        if missing:
            with contextlib.suppress(TopicAlreadyExistsError):  # another worker was quicker
                await admin.create_topics(missing, timeout_ms=30000)
            log.info("internal_topics_requested", topics=[t.name for t in missing])
        deadline = time.monotonic() + wait_seconds
        while True:
            seen = {t["topic"]: len(t["partitions"]) for t in await admin.describe_topics(list(wanted))
                    if t["error_code"] == 0}
            wrong = {name: n for name, n in seen.items() if n and n != wanted[name].partitions}
            if wrong:
                raise TopicMismatch(f"internal topics with another partition count than configured: {wrong}")
            if all(seen.get(name) == spec.partitions for name, spec in wanted.items()):
                return specs
            if time.monotonic() > deadline:
                absent = sorted(name for name, spec in wanted.items() if seen.get(name) != spec.partitions)
                raise TimeoutError(f"internal topics not visible with their partitions: {absent}")
            await asyncio.sleep(0.2)
    finally:
        await admin.close()
