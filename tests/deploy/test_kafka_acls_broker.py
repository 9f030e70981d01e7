"""The ACLs of deploy/kafka_acls.py on a real broker with the production cluster's security (tests/deploy/
secure_kafka.py: SASL_SSL, SCRAM-SHA-512, StandardAuthorizer, nothing allowed without an ACL).

The broker gets the ACLs of the generated KafkaUsers (generated/kafka-users.yaml) through Kafka's own API, and
every user is tried against every topic: it may write and read exactly what the table grants. Then the services'
own clients, built with
`client_security` from the settings a pod has: the public directory is refused `notifications.commands` and
`privacy.requests`, the notifier's consumer loop reads its commands in its group and dead-letters what it cannot
read, a wrong password, an unknown user, a plaintext client and a client that trusts another CA are refused, and
the crisis center's worker (Faust app, outbox relay) runs as its user from an incident to the messages it asks
for. About 40-60 s on two cores, most of it the broker's start."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import GroupAuthorizationFailedError, KafkaError, TopicAuthorizationFailedError

from deploy.gen import faust_internal_specs
from deploy.kafka_acls import CHANGELOGS, LEADER, USERS, user
from shared.events.envelope import CloudEvent, EventData, decode
from shared.events.notifications import COMMANDS_TOPIC, SmsPreference
from shared.kafka.consumer import EventConsumer
from shared.kafka.producer import make_producer, publish
from shared.kafka.security import client_security
from shared.topics import all_topic_specs, dlq_name
from tests.deploy.secure_kafka import (
    ADMIN,
    SecureBroker,
    admin_client,
    apply_acls,
    create_topics,
    generated_kafka_users,
    make_ca,
    start_broker,
)
from tests.support import drop_schema, new_pool, new_schema

pytestmark = pytest.mark.slow

SPECS = [*all_topic_specs(), *faust_internal_specs()]
TOPICS = sorted(spec.name for spec in SPECS)
PROBE_KEY = b'"acl-probe"'  # a JSON string key with no value: harmless to every consumer and to Faust's tables


async def within(awaitable: Any, what: str, seconds: float = 30.0) -> Any:
    """A step that must not hang the suite: a client stuck past `seconds` fails the test, naming the step."""
    try:
        return await asyncio.wait_for(awaitable, seconds)
    except TimeoutError:
        raise AssertionError(f"{what}: no answer within {seconds:.0f} s") from None


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def broker(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[SecureBroker]:
    started = time.monotonic()
    broker = await start_broker(tmp_path_factory.mktemp("secure-kafka"), [u.name for u in USERS])
    try:
        await create_topics(broker, SPECS)
        users = generated_kafka_users()
        assert {u['metadata']['name'] for u in users} == {u.name for u in USERS}
        written = await apply_acls(broker, users)  # the generated KafkaUsers, as Strimzi gets them
        assert written > 100
        # One record at the start of every topic (the leader topic aside: Faust only uses its assignment), so a
        # reader that may read it sees something.
        producer = AIOKafkaProducer(**broker.security(ADMIN), bootstrap_servers=broker.bootstrap, acks="all")
        await producer.start()
        try:
            await asyncio.gather(*(producer.send_and_wait(t, None, key=PROBE_KEY, partition=0)
                                   for t in TOPICS if t != LEADER))
        finally:
            await producer.stop()
        print(f"\nsecure broker: started in {broker.started_in:.1f} s, {len(TOPICS)} topics, {written} ACLs, "
              f"ready in {time.monotonic() - started:.1f} s")
        yield broker
    finally:
        broker.stop()


async def started_producer(broker: SecureBroker, name: str, **options: Any) -> AIOKafkaProducer:
    producer = AIOKafkaProducer(**broker.security(name), bootstrap_servers=broker.bootstrap,
                                request_timeout_ms=10000, **options)
    await producer.start()
    return producer


async def test_each_user_writes_exactly_what_the_table_grants(broker: SecureBroker) -> None:
    for spec in USERS:
        producer = await within(started_producer(broker, spec.name, acks=1, enable_idempotence=False), spec.name)
        try:
            results = await within(asyncio.gather(*(producer.send_and_wait(t, None, key=PROBE_KEY, partition=0)
                                                     for t in TOPICS), return_exceptions=True), f"{spec.name} writes")
        finally:
            await within(producer.stop(), f"{spec.name} producer stop")
        outcome = dict(zip(TOPICS, results, strict=True))
        allowed = {t for t, r in outcome.items() if not isinstance(r, BaseException)}
        assert allowed == spec.writable(), spec.name
        refused = {type(r).__name__ for r in outcome.values() if isinstance(r, BaseException)}
        assert refused <= {"TopicAuthorizationFailedError"}, (spec.name, refused)


async def readable_topics(broker: SecureBroker, name: str, topics: list[str], expected: set[str]) -> set[str]:
    """The topics whose first record `name` could fetch (no group): a refused fetch raises, or never answers. Every
    topic has a record at offset 0 and one fetch asks for all of them: once the expected ones came, a little more
    time shows any that should not."""
    consumer = AIOKafkaConsumer(**broker.security(name), bootstrap_servers=broker.bootstrap, group_id=None,
                                enable_auto_commit=False, request_timeout_ms=10000)
    await within(consumer.start(), f"{name} consumer start")
    seen: set[str] = set()
    try:
        partitions = [TopicPartition(t, 0) for t in topics]
        consumer.assign(partitions)
        for tp in partitions:
            consumer.seek(tp, 0)
        deadline = time.monotonic() + 15
        grace: float | None = None
        while time.monotonic() < (grace or deadline):
            if grace is None and expected <= seen:
                grace = time.monotonic() + 1.5
            try:
                batches = await within(consumer.getmany(timeout_ms=300), f"{name} fetch")
            except TopicAuthorizationFailedError:
                continue  # a topic it may describe (it writes there) but not read
            seen |= {tp.topic for tp, records in batches.items() if records}
    finally:
        await within(consumer.stop(), f"{name} consumer stop")
    return seen


async def test_each_user_reads_exactly_what_the_table_grants(broker: SecureBroker) -> None:
    topics = [t for t in TOPICS if t != LEADER]
    for spec in USERS:
        expected = spec.readable() - {LEADER}
        assert await readable_topics(broker, spec.name, topics, expected) == expected, spec.name
    assert set(CHANGELOGS) <= user("crisis-center").readable()


async def test_the_public_directory_cannot_command_the_notifier_nor_ask_for_personal_data(
        broker: SecureBroker) -> None:
    """Issue 19, finding 10: with the directory's credentials, as its pods have them."""
    producer = make_producer(broker.bootstrap, client_id="directory-api", security=broker.security("directory"))
    await within(producer.start(), "directory producer start")  # idempotent: a topic's Write gives a producer id
    try:
        for topic in (COMMANDS_TOPIC, "privacy.requests"):
            with pytest.raises(TopicAuthorizationFailedError):
                await within(producer.send_and_wait(topic, b"{}", key=b"x"), f"directory writes {topic}")
        await within(producer.send_and_wait("directory.routings", None, key=PROBE_KEY), "its own topic")
    finally:
        await within(producer.stop(), "directory producer stop")
    consumer = AIOKafkaConsumer("consular.reports", **broker.security("directory"), bootstrap_servers=broker.bootstrap,
                                group_id="notifier", enable_auto_commit=False)
    try:
        with pytest.raises(GroupAuthorizationFailedError):  # another service's group: refused at the first look-up
            await within(consumer.start(), "directory joins the notifier's group")
            for _ in range(50):
                await within(consumer.getmany(timeout_ms=200), "directory fetch")
    finally:
        with contextlib.suppress(Exception):
            await within(consumer.stop(), "directory consumer stop")


async def test_the_notifier_reads_its_commands_in_its_group_and_dead_letters_what_it_cannot_read(
        broker: SecureBroker) -> None:
    intake = make_producer(broker.bootstrap, client_id="intake-worker", security=broker.security("intake"))
    notifier = make_producer(broker.bootstrap, client_id="notifier-worker", security=broker.security("notifier"))
    await within(intake.start(), "intake producer start")
    await within(notifier.start(), "notifier producer start")
    handled: list[EventData] = []

    async def handle(_event: CloudEvent, data: EventData, _conn: Any) -> None:
        handled.append(data)

    consumer = EventConsumer(name="notifier-commands", bootstrap_servers=broker.bootstrap, group_id="notifier",
                             topics=[COMMANDS_TOPIC], handler=handle, producer=notifier,
                             security=broker.security("notifier"))
    task = asyncio.create_task(consumer.run())
    try:
        preference = SmsPreference(phone="+32470000001", opted_out=True, keyword="STOP", at=datetime.now(UTC))
        await within(publish(intake, preference, source="/services/intake"), "intake publishes a command")
        for _ in range(150):
            if handled or task.done():
                break
            await asyncio.sleep(0.1)
        assert [(type(h), getattr(h, "phone", None)) for h in handled] == [(SmsPreference, preference.phone)], \
            task.exception() if task.done() else "no command handled"
    finally:
        await within(consumer.stop(), "notifier consumer stop")
        await within(asyncio.gather(task, return_exceptions=True), "notifier consumer loop end")
        await within(intake.stop(), "intake producer stop")
        await within(notifier.stop(), "notifier producer stop")
    dlq = TopicPartition(dlq_name(COMMANDS_TOPIC), 0)
    async with admin_reader(broker, [dlq]) as reader:
        reader.seek(dlq, 0)
        letters = [r for records in (await reader.getmany(timeout_ms=3000)).values() for r in records]
    assert any(dict(r.headers).get("dlq.consumer") == b"notifier-commands" for r in letters)  # the probes
    async with admin_client(broker) as admin:
        committed = await admin.list_consumer_group_offsets("notifier")
    assert sum(o.offset for tp, o in committed.items() if tp.topic == COMMANDS_TOPIC) >= 2


async def test_no_user_may_make_a_topic_nor_remake_one_but_the_faust_topics_it_declares(broker: SecureBroker) -> None:
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    for spec in USERS:
        admin = AIOKafkaAdminClient(**broker.security(spec.name), bootstrap_servers=broker.bootstrap)
        await within(admin.start(), f"{spec.name} admin start")
        try:
            for topic in (f"rogue-{spec.name}", "notifications.commands", LEADER):
                response = await within(admin.create_topics([NewTopic(topic, 1, 1)]), f"{spec.name} creates {topic}")
                ((name, code, *_),) = response.topic_errors
                expected = 36 if spec.name == "crisis-center" and topic == LEADER else 29  # exists / refused
                assert (name, code) == (topic, expected), spec.name
        finally:
            await within(admin.close(), f"{spec.name} admin close")


@pytest.mark.parametrize("who", ["wrong password", "unknown user", "plaintext", "another CA"])
async def test_whoever_is_not_a_user_of_the_table_is_refused(broker: SecureBroker, who: str,
                                                            tmp_path: Path) -> None:
    security = {
        "wrong password": lambda: broker.security("notifier", password="not-the-password"),
        "unknown user": lambda: {**broker.security("notifier"), "sasl_plain_username": "mallory"},
        "plaintext": lambda: {"security_protocol": "PLAINTEXT"},
        "another CA": lambda: client_security(broker.settings("notifier",
                                                              kafka_ssl_cafile=str(make_ca(tmp_path).ca_file))),
    }[who]()
    producer = AIOKafkaProducer(**security, bootstrap_servers=broker.bootstrap, request_timeout_ms=5000)
    with pytest.raises((KafkaError, OSError)):
        await asyncio.wait_for(producer.start(), 30)
    with contextlib.suppress(Exception):
        await producer.stop()


async def test_the_crisis_center_worker_runs_as_its_user(broker: SecureBroker, tmp_path: Path) -> None:
    """The registries (their group and held topic), the Faust app (routing, tables and their changelogs, the country
    agent) and the outbox relay, with the crisis center's credentials: an incident and two people in it give a
    crisis and its messages."""
    from services.crisis_center.worker import CrisisWorker
    from tests.crisis_center.conftest import make_settings, quake, registration

    schema = await new_schema("crisis_center")
    pool = await new_pool(schema)
    secure = broker.settings("crisis-center")
    settings = make_settings(
        "", schema, tmp_path, kafka_bootstrap_servers=broker.bootstrap, faust_app_id="crisis-center",
        faust_partitions=6, crisis_threshold=2, crisis_tick_seconds=600.0,
        **{name: getattr(secure, name) for name in ("kafka_security_protocol", "kafka_sasl_mechanism",
                                                   "kafka_sasl_username", "kafka_sasl_password",
                                                   "kafka_ssl_cafile")})
    feeds = make_producer(broker.bootstrap, client_id="external-feed", security=broker.security("external-feeds"))
    await feeds.start()
    worker = CrisisWorker(settings)
    try:
        await within(worker.start(), "crisis center worker start", 90)
        await within(worker.recovered(), "crisis center tables recovered", 60)
        for data in (quake(), registration(1), registration(2)):
            await publish(feeds, data, source="/external/feeds")
        found = await read_until(broker, {"crisis.status": "be.diplomatie.crisis.activated",
                                          COMMANDS_TOPIC: "be.diplomatie.notification.send"}, timeout=60)
        assert found[COMMANDS_TOPIC].source == settings.source
        assert await pool.fetchval("SELECT count(*) FROM crises WHERE status = 'active'") == 1
    finally:
        await within(worker.stop(), "crisis center worker stop", 60)
        await within(feeds.stop(), "feeds producer stop")
        await pool.close()
        await drop_schema(schema)
    changelog = TopicPartition("crisis-center-travellers-changelog", 0)
    async with admin_reader(broker, [TopicPartition(changelog.topic, p) for p in range(6)]) as reader:
        ends = await reader.end_offsets(list(reader.assignment()))
        assert sum(ends.values()) >= 3  # the probe, and the worker's own writes as the crisis center


async def read_until(broker: SecureBroker, wanted: dict[str, str], *, timeout: float) -> dict[str, CloudEvent]:
    """The first event of each wanted type on its topic (every partition, from the start), read as admin."""
    found: dict[str, CloudEvent] = {}
    consumer = AIOKafkaConsumer(*wanted, **broker.security(ADMIN), bootstrap_servers=broker.bootstrap,
                                group_id=None, auto_offset_reset="earliest")
    await consumer.start()
    try:
        deadline = time.monotonic() + timeout
        while len(found) < len(wanted) and time.monotonic() < deadline:
            for tp, records in (await consumer.getmany(timeout_ms=500)).items():
                for record in records:
                    if record.value is None:
                        continue
                    event = decode(record.value)
                    if event.type == wanted[tp.topic]:
                        found.setdefault(tp.topic, event)
    finally:
        await consumer.stop()
    assert set(found) == set(wanted), f"not seen within {timeout} s: {set(wanted) - set(found)}"
    return found


class admin_reader:
    def __init__(self, broker: SecureBroker, partitions: list[TopicPartition]) -> None:
        self.consumer = AIOKafkaConsumer(**broker.security(ADMIN), bootstrap_servers=broker.bootstrap,
                                         group_id=None)
        self.partitions = partitions

    async def __aenter__(self) -> AIOKafkaConsumer:
        await self.consumer.start()
        self.consumer.assign(self.partitions)
        return self.consumer

    async def __aexit__(self, *_: object) -> None:
        await self.consumer.stop()
