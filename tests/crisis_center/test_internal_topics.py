"""The worker's internal topics exist, compacted and fully partitioned, before Faust starts (real broker)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from services.crisis_center.adapters.internal_topics import (
    changelog_name,
    ensure_internal_topics,
    internal_topic_specs,
)
from services.crisis_center.worker import CrisisWorker
from tests.crisis_center.conftest import THRESHOLD, Env, db_crisis, drop_topics, make_settings, quake, registration
from tests.support import bootstrap, eventually, new_topic_prefix


async def describe(names: list[str]) -> tuple[dict[str, int], dict[str, str]]:
    """Partitions per topic, and each topic's cleanup.policy, as the broker reports them."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap(), request_timeout_ms=30000)
    await admin.start()
    try:
        partitions = {t["topic"]: len(t["partitions"]) for t in await admin.describe_topics(names)
                      if t["error_code"] == 0}
        responses = await admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, name, {"cleanup.policy": ""}) for name in names])
        policies = {resource[3]: dict((entry[0], entry[1]) for entry in resource[4]).get("cleanup.policy", "")
                    for response in responses for resource in response.resources}
        return partitions, policies
    finally:
        await admin.close()


async def test_specs_name_faust_changelogs_with_their_tables_partitions(tmp_path: Path) -> None:
    settings = make_settings("p.", "unused", tmp_path, faust_partitions=4, faust_app_id="crisis-x")
    specs = {spec.name: spec for spec in internal_topic_specs(settings)}
    worker = CrisisWorker(settings)  # Faust's own view of its changelog topics
    for table in worker.app.tables.values():
        spec = specs[table.changelog_topic.get_topic_name()]
        assert spec.partitions == table.partitions and spec.config == {"cleanup.policy": "compact"}
    assert specs["p.crisis.by-country"].partitions == 4
    assert changelog_name(settings, "members") == "crisis-x-members-changelog"


async def test_concurrent_ensures_leave_every_topic_partitioned_before_the_app_starts(tmp_path: Path) -> None:
    prefix = await new_topic_prefix()
    settings = make_settings(prefix, "unused", tmp_path)
    try:
        # Two workers starting at once: both create, one wins each topic, both wait for the metadata.
        first, second = await asyncio.gather(ensure_internal_topics(settings), ensure_internal_topics(settings))
        assert first == second == internal_topic_specs(settings)
        partitions, policies = await describe([spec.name for spec in first])
        assert partitions == {spec.name: spec.partitions for spec in first}
        for spec in first:
            assert policies[spec.name] == spec.config.get("cleanup.policy", "delete")
    finally:
        await drop_topics(prefix, settings.faust_app_id)


async def test_two_workers_start_at_once(env: Env) -> None:
    """The start-up that used to fail with PartitionsMismatch: two workers of one group, started together."""
    workers = [env.worker(), env.worker()]
    try:
        await asyncio.gather(*(w.start() for w in workers))
        await asyncio.wait_for(asyncio.gather(*(w.recovered() for w in workers)), timeout=180)
        assert all(not w.app.should_stop for w in workers)
    finally:
        await asyncio.gather(*(w.stop() for w in workers), return_exceptions=True)


async def test_two_workers_started_at_once_share_the_work(env: Env) -> None:
    """Once stalled after the second rebalance (records cleared from the stream buffers: delivery.py, gap 3)."""
    workers = [env.worker(), env.worker()]
    await asyncio.gather(*(w.start() for w in workers))
    try:
        await asyncio.wait_for(asyncio.gather(*(w.recovered() for w in workers)), timeout=180)
        await env.send(quake())
        for n in range(THRESHOLD):
            await env.send(registration(n))
        crisis = await eventually(lambda: db_crisis(env), timeout=120)
        assert crisis["affected_count"] == THRESHOLD
    finally:
        await asyncio.gather(*(w.stop() for w in workers), return_exceptions=True)
