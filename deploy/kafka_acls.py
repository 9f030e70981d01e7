"""Who may do what on Kafka: one SCRAM-SHA-512 user per service and its ACLs, the one table of them.

    python -m deploy.kafka_acls            # print the table (the block in docs/deploy.md, "Kafka security")

`deploy/gen.py` turns `USERS` into Strimzi `KafkaUser` resources (deploy/k8s/base/generated/kafka-users.yaml);
tests/deploy/test_kafka_acls.py checks the table against the code (each service's consumers, consumer groups and
the events it publishes) and applies it to a broker with authorization on, so the ACLs proven there are these.

Least privilege, by topic: a service may read what its consumers subscribe to (and the group-less readers it
has), write what it publishes, and the dead-letter twin of each topic it consumes; nothing else. No user may
delete or alter topics, nor create any but the crisis center's own Faust topics, by name (KafkaTopic resources
make every topic, through Strimzi's topic operator; Faust still asks to create its changelogs and leader topic
when it starts, and without Create the broker answers "not authorized" instead of "already exists"). No user has
a transactional id: the crisis center's Faust app runs `at_least_once` (an `exactly_once` switch would need a
TransactionalId ACL on the `crisis-center-` prefix). The idempotent producers need nothing more: since Kafka 3.0
the Write ACL on a topic is enough for a producer id.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any

from services.crisis_center.adapters.internal_topics import BY_COUNTRY, held_topic, internal_topic_specs
from services.crisis_center.settings import Settings as CrisisSettings
from shared.topics import TOPICS, all_topic_specs, dlq_name

KAFKA_CLUSTER = "consular-kafka"
PART_OF = "consular-platform"
# The crisis center's Faust app id: its consumer group and the prefix of the topics it makes (deploy/gen.py too).
FAUST_APP_ID = "crisis-center"

READ, WRITE, DESCRIBE, CREATE = "Read", "Write", "Describe", "Create"


def faust_internal_topics() -> tuple[tuple[str, ...], str]:
    """The crisis center's changelogs (one per Faust table) and its leader-election topic, as the worker names them
    (services/crisis_center/adapters/internal_topics.py: the same listing makes their KafkaTopics)."""
    settings = CrisisSettings.model_construct(faust_app_id=FAUST_APP_ID, kafka_topic_prefix="")
    names = [spec.name for spec in internal_topic_specs(settings)]
    changelogs = tuple(n for n in names if n.endswith("-changelog"))
    (leader,) = [n for n in names if n.endswith("__leader")]
    return changelogs, leader


CHANGELOGS, LEADER = faust_internal_topics()
#: Where the crisis center's registries keep which tables may hold a traveller (read back at every assignment).
HELD = held_topic(CrisisSettings.model_construct(faust_app_id=FAUST_APP_ID, kafka_topic_prefix=""))


@dataclass(frozen=True)
class KafkaUserSpec:
    name: str
    """The KafkaUser, the SCRAM principal (`User:<name>`) and the Secret Strimzi writes its password into."""
    description: str
    service: str | None = None
    """The package under services/ whose pods connect as this user; None: not a pod of ours."""
    pods: tuple[str, ...] = ("api", "worker")
    """Its Deployments (`<service>-<pod>`), for the docs."""
    consumes: tuple[str, ...] = ()
    """Topics read by a consumer group (or Faust agent) that dead-letters: Read, and Write on `<topic>.dlq`."""
    reads: tuple[str, ...] = ()
    """Topics read without a group or dead letters (a live feed, a look-up, Faust's own topics): Read."""
    writes: tuple[str, ...] = ()
    """Topics published to (outbox relay, tombstones, Faust's forwards and changelogs): Write."""
    groups: tuple[str, ...] = ()
    """Consumer groups: Read (join, fetch and commit offsets)."""
    declares: tuple[str, ...] = ()
    """Topics the service asks to create at start although a KafkaTopic made them (Faust declares its changelogs
    and leader topic): Create, so that the broker answers "already exists" rather than "not authorized"."""

    def topic_operations(self) -> dict[str, set[str]]:
        """Each topic with its operations; Describe goes with Read and Write (metadata, offsets)."""
        ops: dict[str, set[str]] = {}
        for topic in (*self.consumes, *self.reads):
            ops.setdefault(topic, {DESCRIBE}).add(READ)
        for topic in (*self.writes, *self.dead_letters()):
            ops.setdefault(topic, {DESCRIBE}).add(WRITE)
        for topic in self.declares:
            ops.setdefault(topic, {DESCRIBE}).add(CREATE)
        return ops

    def dead_letters(self) -> tuple[str, ...]:
        return tuple(dlq_name(t) for t in self.consumes)

    def readable(self) -> set[str]:
        return {t for t, ops in self.topic_operations().items() if READ in ops}

    def writable(self) -> set[str]:
        return {t for t, ops in self.topic_operations().items() if WRITE in ops}


USERS: tuple[KafkaUserSpec, ...] = (
    KafkaUserSpec(
        "intake", "Intake: cases, reports, travellers, the charter clock, privacy requests (the coordinator).",
        service="intake",
        consumes=("consular.reports", "notifications.status", "directory.routings", "crisis.status",
                  "travellers.registrations", "cases.deadlines", "welfare.questions", "welfare.replies",
                  "privacy.requests", "privacy.responses"),
        writes=("consular.reports", "notifications.commands", "travellers.registrations", "cases.deadlines",
                "welfare.answers", "families.inquiries", "privacy.requests", "privacy.responses"),
        groups=("intake", "intake-privacy")),
    KafkaUserSpec(
        "directory", "Directory: routes each report to its post; publishes post changes. Its API is public.",
        service="directory",
        consumes=("consular.reports", "privacy.requests"),
        writes=("directory.routings", "directory.posts", "privacy.responses"),
        groups=("directory", "directory-privacy")),
    KafkaUserSpec(
        "crisis-center", "Crisis center: the Faust worker, the welfare desk, the live feed of its API.",
        service="crisis_center",
        consumes=("travellers.registrations", "consular.reports", "crisis.incidents", BY_COUNTRY,
                  "welfare.answers", "families.inquiries", "privacy.requests"),
        reads=("crisis.status", *CHANGELOGS, LEADER, HELD),
        writes=(BY_COUNTRY, *CHANGELOGS, HELD, "crisis.status", "notifications.commands", "travellers.registrations",
                "welfare.questions", "welfare.replies", "privacy.responses",
                "crisis.incidents"),  # a manual crisis's incident, for the worker to count its people
        groups=(FAUST_APP_ID, f"{FAUST_APP_ID}-registry", "crisis_center-privacy", "crisis-center-welfare",
                "crisis-center-inquiries"),
        declares=(*CHANGELOGS, LEADER, HELD)),
    KafkaUserSpec(
        "notifier", "Notifier: sends what notifications.commands asks, reports each delivery.",
        service="notifier",
        consumes=("notifications.commands", "privacy.requests"),
        writes=("notifications.status", "privacy.responses"),
        groups=("notifier", "notifier-privacy")),
    KafkaUserSpec(
        "feeds", "Feeds: reads the public alert feeds (GDACS, USGS) and reports their incidents.",
        service="feeds", pods=("worker",),
        writes=("crisis.incidents",)),
    KafkaUserSpec(
        "external-feeds", "External systems (registrations, incident feeds, partner reports): publish only.",
        writes=("travellers.registrations", "crisis.incidents", "consular.reports")),
    KafkaUserSpec(
        "dead-letters", "People at the dead-letter desk (`python -m shared.cli dlq list|show|replay`): read every "
                        "dead-letter topic, send a record back to the topic it came from.",
        reads=tuple(spec.name for spec in all_topic_specs() if spec.name.endswith(".dlq")),
        writes=tuple(spec.name for spec in TOPICS)),
)


def user(name: str) -> KafkaUserSpec:
    for spec in USERS:
        if spec.name == name:
            return spec
    raise KeyError(name)


def user_of_service(package: str) -> KafkaUserSpec:
    found = [u for u in USERS if u.service == package]
    if len(found) != 1:
        raise LookupError(f"services.{package} needs one KafkaUser in deploy/kafka_acls.py USERS (found {len(found)}):"
                          " what it consumes, reads, writes and its consumer groups")
    return found[0]


# --------------------------------------------------------------------------------------------------- manifests
OPERATION_ORDER = (DESCRIBE, READ, WRITE, CREATE)


def acl_rules(spec: KafkaUserSpec) -> list[dict[str, Any]]:
    """Strimzi `simple` authorization rules: literal resources only (no prefix, no wildcard)."""
    rules = [{"resource": {"type": "topic", "name": topic, "patternType": "literal"},
              "operations": [op for op in OPERATION_ORDER if op in ops]}
             for topic, ops in sorted(spec.topic_operations().items())]
    rules += [{"resource": {"type": "group", "name": group, "patternType": "literal"}, "operations": [READ]}
              for group in sorted(spec.groups)]
    return rules


def kafka_user(spec: KafkaUserSpec) -> dict[str, Any]:
    return {
        "apiVersion": "kafka.strimzi.io/v1beta2",
        "kind": "KafkaUser",
        "metadata": {
            "name": spec.name,
            "labels": {"strimzi.io/cluster": KAFKA_CLUSTER, "app.kubernetes.io/part-of": PART_OF},
            "annotations": {"description": spec.description},
        },
        "spec": {
            "authentication": {"type": "scram-sha-512"},
            "authorization": {"type": "simple", "acls": acl_rules(spec)},
        },
    }


def kafka_users_documents() -> list[dict[str, Any]]:
    return [kafka_user(spec) for spec in USERS]


# ------------------------------------------------------------------------------------------------------ docs
DOCS_BEGIN = "<!-- kafka-acls: generated by `python -m deploy.gen` from deploy/kafka_acls.py -->"
DOCS_END = "<!-- /kafka-acls -->"


def _topics(names: set[str]) -> str:
    changelogs = sorted(n for n in names if n in CHANGELOGS)
    shown = sorted(n for n in names if n not in CHANGELOGS)
    text = ", ".join(f"`{n}`" for n in shown)
    if changelogs:
        text += f", its {len(changelogs)} changelogs (`{FAUST_APP_ID}-<table>-changelog`)"
    return text or "none"


def docs_table() -> str:
    """The Markdown table of docs/deploy.md ("Kafka security"), rewritten by `python -m deploy.gen`."""
    lines = [DOCS_BEGIN, "", "| KafkaUser (Secret) | used by | reads (Read) | writes (Write) | consumer groups | "
                             "may ask to create (Create) |",
             "| --- | --- | --- | --- | --- | --- |"]
    for spec in USERS:
        name = spec.service.replace("_", "-") if spec.service else ""
        used_by = ", ".join(f"`{name}-{pod}`" for pod in spec.pods) if spec.service else "no pod of ours"
        dead = set(spec.dead_letters())
        writes = _topics(spec.writable() - dead) + (" and the `.dlq` of each topic it consumes" if dead else "")
        groups = ", ".join(f"`{g}`" for g in spec.groups) or "none"
        creates = _topics(set(spec.declares)) if spec.declares else "none"
        lines.append(f"| `{spec.name}` | {used_by} | {_topics(spec.readable())} | {writes} | {groups} | {creates} |")
    return "\n".join([*lines, "", DOCS_END])


def with_docs_table(text: str) -> str:
    """`text` (docs/deploy.md) with its generated block replaced by the current table."""
    start, end = text.index(DOCS_BEGIN), text.index(DOCS_END) + len(DOCS_END)
    return text[:start] + docs_table() + text[end:]


if __name__ == "__main__":
    print(docs_table())
    sys.exit(0)
