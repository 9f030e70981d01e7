"""The broker the project starts is a real Kafka that does what the platform relies on."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from shared.topics import all_topic_specs
from tests.support import ROOT, bootstrap, consume, unique


async def test_admin_client_creates_topics_and_the_platform_topics_exist_with_their_policy() -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap())
    await admin.start()
    try:
        name = unique("smoke-")
        await admin.create_topics([NewTopic(name, 4, 1, topic_configs={"cleanup.policy": "compact"})])
        for _ in range(50):  # metadata reaches the broker's cache a moment after the creation
            described = await admin.describe_topics([name])
            if described[0]["partitions"]:
                break
            await asyncio.sleep(0.1)
        assert len(described[0]["partitions"]) == 4
        existing = set(await admin.list_topics())
        specs = all_topic_specs()
        assert {s.name for s in specs} <= existing, "make infra creates every topic and its DLQ"
        resources = [ConfigResource(ConfigResourceType.TOPIC, s.name) for s in specs]
        responses = await admin.describe_configs(resources)
        policies = {}
        for response in responses:
            for resource in response.resources:
                configs = {c[0]: c[1] for c in resource[4]}
                policies[resource[3]] = configs["cleanup.policy"]
        for spec in specs:
            assert policies[spec.name] == ("compact" if spec.compacted else "delete"), spec.name
        assert policies["travellers.registrations"] == "compact"
        assert policies["crisis.status"] == "compact"
    finally:
        await admin.close()


async def test_consumer_group_shares_partitions_between_members() -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap())
    await admin.start()
    topic = unique("smoke-group-")
    await admin.create_topics([NewTopic(topic, 4, 1)])
    await admin.close()
    group = unique("g-")
    members = [AIOKafkaConsumer(topic, bootstrap_servers=bootstrap(), group_id=group, auto_offset_reset="earliest")
               for _ in range(2)]
    for member in members:
        await member.start()
    try:
        for _ in range(40):
            assignments = [member.assignment() for member in members]
            if all(assignments) and sum(len(a) for a in assignments) == 4:
                break
            await asyncio.gather(*(m.getmany(timeout_ms=200) for m in members))
        assignments = [member.assignment() for member in members]
        assert all(assignments), "both members got partitions"
        assert not (assignments[0] & assignments[1]), "no partition is given twice"
        assert len(assignments[0] | assignments[1]) == 4
    finally:
        for member in members:
            await member.stop()


async def test_transactional_producer_with_read_committed_consumer() -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap())
    await admin.start()
    topic = unique("smoke-tx-")
    await admin.create_topics([NewTopic(topic, 1, 1)])
    await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap(), transactional_id=unique("tx-"))
    await producer.start()
    try:
        async with producer.transaction():
            await producer.send(topic, b"committed-1")
            await producer.send(topic, b"committed-2")
        await producer.begin_transaction()
        await producer.send(topic, b"aborted")
        await producer.abort_transaction()
        async with producer.transaction():
            await producer.send(topic, b"committed-3")
    finally:
        await producer.stop()
    records = await consume(topic, count=3, timeout=20)
    assert [r.value for r in records] == [b"committed-1", b"committed-2", b"committed-3"]


async def test_faust_app_with_a_table_counts_and_keeps_its_changelog() -> None:
    prefix = unique("f") + "-"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap())
    await admin.start()
    # Faust creates its own internal topics (changelogs); source topics are ours to create, as in production.
    await admin.create_topics([NewTopic(f"{prefix}words", 3, 1), NewTopic(f"{prefix}counts", 1, 1)])
    env = {**os.environ, "SMOKE_PREFIX": prefix, "SMOKE_DATADIR": f"/tmp/{prefix}data"}
    worker = subprocess.Popen([sys.executable, str(ROOT / "tests" / "infra" / "faust_smoke_app.py")], env=env,
                              cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap())
    await producer.start()
    try:
        for _ in range(120):  # the worker creates its changelog when it starts
            if f"{prefix}smoke-app-counts-changelog" in await admin.list_topics():
                break
            await asyncio.sleep(0.5)
        for key in ["a", "b", "a", "a", "b"]:
            await producer.send_and_wait(f"{prefix}words", b'"w"', key=f'"{key}"'.encode())
        records = await consume(f"{prefix}counts", count=5, timeout=90)
        final = {}
        for r in records:
            final[r.key.decode().strip('"')] = int(r.value.decode().strip('"'))
        assert final == {"a": 3, "b": 2}
        topics = await admin.list_topics()
        assert f"{prefix}smoke-app-counts-changelog" in topics, "the table is backed by a changelog topic"
        await admin.close()
    finally:
        await producer.stop()
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
    assert worker.returncode is not None
