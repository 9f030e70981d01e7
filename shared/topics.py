"""Every Kafka topic of the platform: the one source of truth for local set-up and Kubernetes.

Partition counts: the busy keyed streams (registrations, reports, notification commands and statuses) get 6
partitions so that up to 6 consumers of a group can share them and per-key order still holds; the low-volume
streams (incidents, crisis status, routings, posts, deadlines) get 3; a dead-letter topic gets 1, since it is
read by people, not by a scaled-out group. Compacted topics keep the latest value per key (the contract marks
`travellers.registrations` and `crisis.status`; `directory.posts` is ours).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    compacted: bool = False
    internal: bool = False
    description: str = ""
    config: dict[str, str] = field(default_factory=dict)

    def kafka_config(self) -> dict[str, str]:
        config = {"cleanup.policy": "compact" if self.compacted else "delete"}
        if self.compacted:
            config["min.cleanable.dirty.ratio"] = "0.1"
        return {**config, **self.config}

    @property
    def dlq(self) -> str:
        return dlq_name(self.name)


def dlq_name(topic: str) -> str:
    return f"{topic}.dlq"


TOPICS: tuple[TopicSpec, ...] = (
    TopicSpec("travellers.registrations", 6, compacted=True,
              description="Registered travellers (external, keyed by traveller_id)."),
    TopicSpec("crisis.incidents", 3, description="Incidents reported by external systems (keyed by incident_id)."),
    TopicSpec("consular.reports", 6, description="Accepted distress reports, ours and external (keyed by reference)."),
    TopicSpec("crisis.status", 3, compacted=True, description="Crisis lifecycle, latest per crisis_id."),
    TopicSpec("notifications.status", 6, description="Delivery status of each notification."),
    TopicSpec("notifications.commands", 6, internal=True,
              description="Commands to the notifier: send one message (keyed by notification_id)."),
    TopicSpec("directory.routings", 6, internal=True,
              description="The post responsible for a case (keyed by case reference)."),
    TopicSpec("directory.posts", 3, compacted=True, internal=True,
              description="Changes to a post: hours, suspended services, temporary closure (keyed by post_id)."),
    TopicSpec("crisis.by-country", 6, internal=True,
              description="The crisis center's Faust repartition of registrations, reports and incidents by "
                          "country (keyed by country; partitions = FAUST_PARTITIONS)."),
    TopicSpec("cases.deadlines", 3, internal=True,
              description="Charter clock events of a case: deadline approaching or missed (keyed by reference)."),
    TopicSpec("privacy.requests", 3, internal=True,
              description="A person's access or erasure request, to every service holding personal data "
                          "(keyed by request_id)."),
    TopicSpec("privacy.responses", 3, internal=True,
              description="Each service's part of the answer to a privacy request: exported data or what was "
                          "erased (keyed by request_id; kept 30 days, since an export is personal data).",
              config={"retention.ms": str(30 * 24 * 3600 * 1000)}),
    TopicSpec("welfare.answers", 6, description="Answers to welfare checks and check-ins (keyed by person_id)."),
    TopicSpec("welfare.questions", 6, internal=True,
              description="Each welfare question asked, so intake reads the person's next SMS as an answer "
                          "(keyed by person_id)."),
    TopicSpec("welfare.replies", 6, internal=True,
              description="Answers the crisis center received itself (personal links), for intake to turn into "
                          "welfare.answers (keyed by person_id)."),
    TopicSpec("families.inquiries", 3, compacted=True, internal=True,
              description="How far each inquiry of a family has got (sought, matched, safe, closed), for the "
                          "dashboard's counts; no names (keyed by sought_id)."),
)

DLQ_PARTITIONS = 1
DLQ_RETENTION_DAYS = 30
"""Dead letters wait for a person (`python -m shared.cli dlq`): a month, not the broker's week."""


def all_topic_specs() -> list[TopicSpec]:
    """The topics and their dead-letter twins."""
    specs = list(TOPICS)
    specs += [TopicSpec(t.dlq, DLQ_PARTITIONS, internal=t.internal, description=f"Dead letters of {t.name}.",
                        config={"retention.ms": str(DLQ_RETENTION_DAYS * 24 * 3600 * 1000)})
              for t in TOPICS]
    return specs


def spec_for(name: str) -> TopicSpec:
    for spec in all_topic_specs():
        if spec.name == name:
            return spec
    raise KeyError(name)
