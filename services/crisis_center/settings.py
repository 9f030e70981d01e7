"""The crisis center's settings, composed from the shared fragments; built at the entry point and passed down."""

from __future__ import annotations

from collections.abc import Callable

from pydantic import Field, ValidationInfo, field_validator

from services.crisis_center.domain.activation import (
    DEFAULT_ACTIVATION_RULES,
    ActivationRules,
    ThresholdPolicy,
    parse_hotline_numbers,
    to_e164,
)
from services.crisis_center.domain.broadcasts import parse_senders
from services.crisis_center.domain.exercise import ExerciseContact, parse_test_list
from shared.settings import ServiceSettings

SOURCE = "/services/crisis_center"

#: The settings written in a notation of their own, each with the parser that reads it (a bad item fails start-up).
_PARSED: dict[str, Callable[[str], object]] = {
    "crisis_activation_rules": ActivationRules.parse, "broadcast_senders": parse_senders,
    "exercise_recipients": parse_test_list, "hotline_numbers": parse_hotline_numbers,
}


class Settings(ServiceSettings):
    http_port: int = 8003
    health_port: int = 9103  # the worker's probes
    database_schema: str = "crisis_center"
    crisis_threshold: int = Field(default=50, ge=1, description="Affected people that activate a crisis.")
    crisis_threshold_by_severity: str = Field(
        default="", description="Optional overrides, e.g. 'extreme=20,severe=35' (changeable at run time by API).")
    hotline_numbers: str = Field(default="", description="The hotline pool, comma-separated E.164 numbers.")
    crisis_general_number: str = Field(
        default="+3225014000", description="The general crisis number, given out when the pool is exhausted.")
    crisis_update_interval_seconds: float = Field(
        default=1.5, gt=0, description="Least time between crisis.updated (with the 0.5 s flush: at most 2 s old).")
    crisis_tick_seconds: float = Field(default=30.0, gt=0,
                                       description="How often ended or begun stays and threshold changes are checked.")
    dashboard_users: str = Field(default="", description="Dashboard sign-in: 'name:hash' entries.")
    notifier_url: str = Field(default="http://127.0.0.1:8004", description="The notifier, for delivery progress.")
    dashboard_token_ttl_seconds: int = Field(default=8 * 3600, ge=60, le=24 * 3600)
    faust_app_id: str = Field(default="crisis-center", description="Faust app id: consumer group, changelog names.")
    faust_store: str = Field(default="rocksdb://", description="'rocksdb://' (rocksdict) in production; "
                                                               "'memory://' for development and tests only.")
    faust_data_dir: str = ".run/crisis_center/faust"
    faust_partitions: int = Field(default=6, ge=1, description="Partitions of crisis.by-country and its tables.")
    faust_replication_factor: int = Field(default=1, ge=1,
                                          description="Replicas of changelogs and crisis.by-country (3 in production).")
    faust_standby_replicas: int = Field(default=0, ge=0, description="Standby table copies (1 in production).")
    faust_processing_guarantee: str = Field(default="at_least_once", pattern="^(exactly_once|at_least_once)$",
                                            description="exactly_once was tried: no better in the restart test.")
    crisis_joiner_batch: int = Field(
        default=1000, ge=1, description="Messages and map rows to people joining an active crisis written together "
        "(also at every commit): one transaction instead of one each.")
    crisis_registry_snapshot_seconds: float = Field(
        default=300.0, gt=0, description="How often each registry writes its travellers to a local snapshot (and 30 s "
        "after a rebuild, and at stop): a restart reads its partition from there instead of from the beginning.")
    faust_producer_linger_seconds: float = Field(
        default=0.005, ge=0, description="How long the worker's producer waits to batch records (producer_linger).")
    faust_commit_interval_seconds: float = Field(default=0.2, gt=0,
                                                 description="Transaction/commit interval: adds to detection latency.")
    faust_session_timeout_seconds: float = Field(
        default=10.0, gt=0, le=60, description="A worker that died unannounced (SIGKILL, node lost) leaves the group "
                                               "after this long; Faust's default of 60 s kept its partitions idle "
                                               "that long (heartbeats come from the consumer's own thread).")
    crisis_report_retention_days: int = Field(
        default=30, ge=1, description="Reports (reporters' identifiers) no open incident counts are forgotten by "
                                      "the worker this long after they came in (docs/privacy.md).")
    crisis_applied_offsets_every: int = Field(
        default=64, ge=1, description="Write each agent's last applied offset every this many records (gaps.py): "
                                      "at most this many records handled again after a restart.")
    public_base_url: str = Field(default="http://127.0.0.1:8003",
                                 description="Public base URL of the crisis center: the answer links of emails.")
    public_cache_seconds: float = Field(default=10.0, ge=0, le=300, description=(
        "How long the public feeds (JSON, Atom, CAP) are served from memory; a crisis change drops them at once."))
    welfare_link_days: float = Field(default=14.0, gt=0,
                                     description="Days an answer link stays valid after its round started.")
    welfare_poll_seconds: float = Field(default=1.0, gt=0, description="How often due welfare steps are looked for.")
    welfare_batch: int = Field(default=500, ge=1, le=10000,
                               description="Welfare steps taken per transaction (one question each).")
    check_in_code_minutes: int = Field(default=15, ge=1, le=120, description="How long a check-in code is valid.")
    check_in_per_hour: int = Field(default=5, ge=1, le=1000, description=(
        "Check-ins one phone number, email address or client address may start in an hour."))
    check_in_stay_days: int = Field(default=14, ge=1, le=90, description=(
        "How long a check-in's registration lasts (its departure date), unless the crisis closes first."))
    welfare_calls: bool = Field(default=True, description=(
        "Call people who answered neither the question nor the reminder (notifier's voice channel); off: they "
        "are listed for officers to phone at once."))
    crisis_activation_rules: str = Field(default=DEFAULT_ACTIVATION_RULES, description=(
        "Activation mode per incident origin and severity: comma-separated 'origin:severity=mode', first match "
        "wins, else automatic. origin: gdacs, usgs, feed (another feed id), feeds (any of the three), external "
        "(published by another system), *; severity: minor, moderate, severe, extreme, *; mode: automatic (the "
        "crisis opens when the threshold is reached) or proposed (a coordinator confirms or dismisses first). "
        "Default: feed incidents below GDACS Red (severity below extreme) are proposed."))
    feeds_source: str = Field(default="/services/feeds", description=(
        "The CloudEvents source of the feeds service: incidents from it are labelled GDACS / USGS by id prefix."))
    proposal_escalate_minutes: float = Field(default=10.0, gt=0, le=24 * 60, description=(
        "A proposal nobody confirmed or dismissed after this long is sent to the on-call coordinator by SMS."))
    proposal_poll_seconds: float = Field(default=1.0, gt=0, le=60, description=(
        "How often the worker looks for decided proposals and for proposals due to escalate."))
    oncall_coordinator_phone: str = Field(default="", description=(
        "E.164 number of the on-call coordinator (escalated proposals); empty: escalations are only logged "
        "and recorded as alerts."))
    oncall_coordinator_language: str = Field(default="en", pattern="^(fr|nl|de|en)$",
                                             description="Language of the escalation SMS.")
    broadcast_approval_minutes: int = Field(default=30, ge=1, le=24 * 60, description=(
        "A coordinator's broadcast (follow-up or all-clear) nobody else approved within this many minutes of its "
        "submission (or last edit) expires unsent."))
    broadcast_senders: str = Field(default="notifier=50", description=(
        "The SMS senders the planner counts on: comma-separated 'name=messages per second' (sender numbers or a "
        "messaging service); default one sender at the notifier's SMS_RATE_PER_SECOND default (50)."))
    broadcast_email_rate_per_second: float = Field(default=50.0, ge=0, description=(
        "The notifier's EMAIL_RATE_PER_SECOND, for the planner (0: no limit)."))
    exercise_recipients: str = Field(default="", description=(
        "The test list of exercise crises (issue 23): comma-separated E.164 numbers and email addresses, each "
        "optionally followed by ':fr', ':nl', ':de' or ':en' (their language; default en). An exercise crisis "
        "messages these people and nobody else; empty: an exercise messages nobody."))
    exercise_in_public_feeds: bool = Field(default=False, description=(
        "List active exercise crises in the public JSON and Atom feeds, marked EXERCISE (for partners testing their "
        "feed readers on an exercise day); off: they are left out. Their CAP document is always served, with the "
        "status Exercise."))
    source: str = SOURCE

    @field_validator(*_PARSED)
    @classmethod
    def _parsable(cls, value: str, info: ValidationInfo) -> str:
        _PARSED[str(info.field_name)](value)  # raises with the bad rule, sender, entry or number named
        return value

    @property
    def exercise_test_list(self) -> tuple[ExerciseContact, ...]:
        return parse_test_list(self.exercise_recipients)

    @field_validator("oncall_coordinator_phone")
    @classmethod
    def _oncall(cls, value: str) -> str:
        return to_e164(value) if value.strip() else ""

    def activation_rules(self) -> ActivationRules:
        return ActivationRules.parse(self.crisis_activation_rules)

    @field_validator("crisis_general_number")
    @classmethod
    def _general(cls, value: str) -> str:
        return to_e164(value)

    @property
    def db_schema(self) -> str:
        return self.database_schema or "crisis_center"

    @property
    def hotline_pool(self) -> tuple[str, ...]:
        return parse_hotline_numbers(self.hotline_numbers)

    def threshold_policy(self) -> ThresholdPolicy:
        overrides: dict[str, int] = {}
        for item in filter(None, (i.strip() for i in self.crisis_threshold_by_severity.split(","))):
            severity, _, value = item.partition("=")
            overrides[severity.strip()] = int(value)
        return ThresholdPolicy(self.crisis_threshold, overrides)
