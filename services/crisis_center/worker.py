r"""The Faust worker: who is in which incident area, and when an incident becomes a crisis.

Topology (co-partitioning: a table is only ever written while handling an event of the partition it belongs to):

    travellers.registrations (6, key traveller_id) --registries (plain aiokafka, adapters/registries.py)--+
        only travellers inside an open incident's area, and later changes of those sent on                 |
    consular.reports (6, key reference) ------------route_reports-----------------------------------------+->
    crisis.incidents (3, key incident_id) ----------route_incidents (table incident_country (3))----------+
        crisis.by-country (key country) --country agent--> tables travellers, reports, incidents, members
                                     \--> PostgreSQL (crises, hotline pool) + outbox -> crisis.status,
                                                                                     notifications.commands

Everything about one country goes through one partition of `crisis.by-country`, so an incident's agent sees
locally every traveller who may count and every report of its country. The registries hold every registration,
partitioned like their topic, and send on only the travellers who may count (issue 20: a registration used to
cross two Faust hops). The database arbitrates what is global: one crisis per incident (unique index, crisis id
derived from the incident id) and hotline numbers (advisory lock + unique index). A Faust agent that raises loses
its event, so every agent catches and dead-letters with the reason.

`CrisisWorker` in its roles: the registries, the Faust app and its topics and tables (`Streams`), the routing
agents, the counting agent (`country`) with its timers, and the effects executor (the engine's effects to
PostgreSQL).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import faust
from faust.types import TableT, TopicT
from prometheus_client import Counter, Histogram
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_delay, wait_exponential

from services.crisis_center import handlers
from services.crisis_center.adapters import table_store
from services.crisis_center.adapters.delivery import DeliveringProducer, InFlight, seek_again_after_resume
from services.crisis_center.adapters.gaps import AppliedOffsets, GapFiller, handle_in_order
from services.crisis_center.adapters.internal_topics import (
    BY_COUNTRY,
    COUNTRY_TABLES,
    applied_table,
    ensure_internal_topics,
    table_partitions,
)
from services.crisis_center.adapters.registries import Registries
from services.crisis_center.adapters.translate import (
    Places,
    incident_close_command,
    incident_command,
    report_command,
)
from services.crisis_center.domain.activation import ThresholdPolicy, UpdateThrottle, incident_origin
from services.crisis_center.domain.commands import (
    ProposalDecided,
    Tick,
    decode_command,
    encode_command,
)
from services.crisis_center.domain.engine import (
    Activate,
    CloseCrisis,
    Continue,
    CountChanged,
    CountryEngine,
    Effect,
    Notify,
    PeopleChanged,
    ProposalSettled,
    Propose,
    Recipient,
    Unwatched,
    Watched,
)
from services.crisis_center.joiners import JoinerBatch
from services.crisis_center.settings import Settings
from shared.db import DATABASE_UNREACHABLE, create_pool
from shared.events.envelope import decode, describe_failure
from shared.events.incidents import IncidentClosed, IncidentReported, IncidentUpdated
from shared.events.registry import parse_data
from shared.events.reports import ReportSubmitted
from shared.kafka.dlq import dead_letter_headers
from shared.kafka.outbox import OutboxRelay
from shared.kafka.producer import make_producer
from shared.kafka.security import client_security, faust_credentials
from shared.logging import get_logger
from shared.loop_lag import LoopLagMonitor
from shared.topics import dlq_name

log = get_logger(__name__)

EVENTS = Counter("crisis_worker_events_total", "Events handled by the crisis worker", ["agent", "outcome"])
HANDLE_SECONDS = Histogram("crisis_worker_handle_seconds", "Time to handle one command", ["op"])
TRANSIENT = DATABASE_UNREACHABLE

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


class PolicyCache:
    """The threshold policy from the database (coordinators change it), re-read at most every `ttl` seconds."""

    def __init__(self, defaults: ThresholdPolicy, ttl: float = 2.0) -> None:
        self.defaults = defaults
        self._ttl = ttl
        self._value = defaults
        self._read_at = float("-inf")

    @property
    def current(self) -> ThresholdPolicy:
        return self._value

    async def get(self, pool: asyncpg.Pool) -> ThresholdPolicy:
        if time.monotonic() - self._read_at >= self._ttl:
            self._value = await handlers.load_policy(pool=pool, defaults=self.defaults)
            self._read_at = time.monotonic()
        return self._value


class CrisisApp(faust.App):
    """A Faust app whose commits wait for what the handled events produced, and that reads again from the
    committed offsets once a rebalance has ended (see `delivery`, gap 3)."""

    in_flight: InFlight
    seek_again: asyncio.Future[None] | None = None  # held here: a task nobody references can be collected

    def _new_producer(self) -> DeliveringProducer:
        return DeliveringProducer(self.transport, loop=self.loop, beacon=self.beacon, in_flight=self.in_flight)

    def on_rebalance_end(self) -> None:
        super().on_rebalance_end()
        self.seek_again = asyncio.ensure_future(seek_again_after_resume(self, self.consumer_generation_id))


#: The topics the agents read, each with its dead-letter topic and its table of applied offsets.
SOURCES = ("consular.reports", "crisis.incidents", BY_COUNTRY)


@dataclass(frozen=True)
class Streams:
    """The Faust app's topics and tables (raw bytes on the wire), handed to the methods that declare its agents."""

    reports: TopicT
    incidents: TopicT
    by_country: TopicT
    dead_letters: Mapping[str, TopicT]  # by source topic
    incident_country: TableT  # route_incidents': partitioned like crisis.incidents
    country_tables: Mapping[str, TableT]  # the country agent's (COUNTRY_TABLES), like crisis.by-country
    applied: Mapping[str, AppliedOffsets]  # by source topic (adapters/gaps.py)


def declare_streams(app: faust.App, s: Settings) -> Streams:
    raw: dict[str, Any] = {"key_type": bytes, "value_type": bytes, "key_serializer": "raw", "value_serializer": "raw"}
    reports = app.topic(s.topic("consular.reports"), **raw)
    incidents = app.topic(s.topic("crisis.incidents"), **raw)
    by_country = app.topic(s.topic(BY_COUNTRY), partitions=s.faust_partitions, **raw)
    dead_letters = {t: app.topic(s.topic(dlq_name(t)), **raw) for t in SOURCES}
    partitions = table_partitions(s)  # like the stream that writes each; changelogs made beforehand
    incident_country = app.Table("incident_country", partitions=partitions["incident_country"])
    country_tables = {name: app.Table(name, partitions=partitions[name]) for name in COUNTRY_TABLES}
    applied = {topic: AppliedOffsets(app.Table(applied_table(topic), partitions=partitions[applied_table(topic)]),
                                     every=s.crisis_applied_offsets_every)
               for topic in SOURCES}
    return Streams(reports=reports, incidents=incidents, by_country=by_country,
                   dead_letters=dead_letters, incident_country=incident_country,
                   country_tables=country_tables, applied=applied)


class CrisisWorker:
    """Builds the Faust app around explicit resources; `start()`/`stop()` run it inside the caller's loop."""

    def __init__(self, settings: Settings, *, clock: Clock = utc_now, store: str | None = None) -> None:
        self.settings = settings
        self.clock = clock
        self.publishing = handlers.Publishing(settings.source, settings.kafka_topic_prefix)
        self.policy = PolicyCache(settings.threshold_policy())
        self.throttle: UpdateThrottle[str] = UpdateThrottle(timedelta(seconds=settings.crisis_update_interval_seconds))
        self._pending_counts: dict[str, tuple[int, dict[str, int]]] = {}
        self.rules = settings.activation_rules()
        # The watch list's rows: the last one written per incident, and count changes held back by the throttle.
        self.watch_throttle: UpdateThrottle[str] = UpdateThrottle(
            timedelta(seconds=settings.crisis_update_interval_seconds))
        self._watched: dict[str, Watched] = {}
        self._pending_watch: dict[str, Watched] = {}
        self._pool: asyncpg.Pool | None = None
        self._relay: OutboxRelay | None = None
        self._relay_task: asyncio.Task[None] | None = None
        self.loop_lag = LoopLagMonitor("crisis_worker")  # a handler that computes too long shows here
        self._places = Places()
        self.registries = Registries(settings, self._places)
        self.app: CrisisApp = self._build_app(store or settings.faust_store)

    # resources ----------------------------------------------------------------------------------------------
    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise RuntimeError("the worker is not started")
        return self._pool

    async def start(self) -> None:
        await ensure_internal_topics(self.settings)
        self._pool = await create_pool(self.settings.database_url, self.settings.db_schema,
                                       min_size=1, max_size=self.settings.database_pool_max)
        producer = make_producer(self.settings.kafka_bootstrap_servers, client_id="crisis-center-relay",
                                 security=client_security(self.settings))
        await producer.start()
        self._relay = OutboxRelay(pool=self._pool, producer=producer, schema=self.settings.db_schema)
        self._relay_producer = producer
        self._relay_task = asyncio.create_task(self._relay.run())
        await self.policy.get(self._pool)
        self.loop_lag.start()
        # The registries read while Faust starts (about 2 s of waiting for the broker): what they send on waits
        # on `crisis.by-country` for the country agent.
        await asyncio.gather(self.app.start(), self.registries.start())

    def tasks(self) -> list[asyncio.Task[None]]:
        """The relay's and the registries' tasks, for liveness (the Faust app supervises its agents itself)."""
        return [t for t in (self._relay_task, self.registries.task) if t is not None]

    async def recovered(self) -> None:
        """Wait until the tables are recovered from their changelogs and the agents run."""
        await self.app.tables.recovery.completed.wait()  # type: ignore[attr-defined]

    async def stop(self) -> None:
        if self.app.seek_again is not None:
            self.app.seek_again.cancel()  # a seek racing the consumer's stop is of no use
        await self.registries.stop()
        await self.app.stop()
        await self.loop_lag.stop()
        await self.gaps.stop()
        if self._relay is not None and self._relay_task is not None:
            self._relay.stop()
            await asyncio.gather(self._relay_task, return_exceptions=True)
            await self._relay_producer.stop()
        if self._pool is not None:
            await self._pool.close()

    # the Faust app: its topics and tables ----------------------------------------------------------------------
    def _build_app(self, store: str) -> CrisisApp:
        s = self.settings
        app = self._new_app(store)
        app.in_flight = self.in_flight = InFlight()
        self.joiners = JoinerBatch(self._write_joiners, max_recipients=s.crisis_joiner_batch)
        self.in_flight.before_commit.append(self.joiners.flush)
        self.streams = streams = declare_streams(app, s)
        self.gaps = GapFiller(s.kafka_bootstrap_servers, security=client_security(s))
        self.tables = dict(streams.country_tables)
        self.engine = CountryEngine(**self.tables,  # type: ignore[arg-type]
                                    report_retention=timedelta(days=s.crisis_report_retention_days))
        routing = self._declare_routing(app, streams)
        counting = self._declare_counting(app, streams)
        self._forget_on_rebalance(app, streams)
        self._agents = (*routing, *counting)
        return app

    def _new_app(self, store: str) -> CrisisApp:
        s = self.settings
        table_store.install()  # rocksdb:// without a full garbage collection at each rebalance
        Path(s.faust_data_dir).mkdir(parents=True, exist_ok=True)
        return CrisisApp(
            s.faust_app_id,
            broker=";".join(f"kafka://{b.strip()}" for b in s.kafka_bootstrap_servers.split(",")),
            broker_credentials=faust_credentials(s),  # TLS and SCRAM as the crisis center's KafkaUser, or None
            store=store,
            datadir=s.faust_data_dir,
            topic_partitions=s.faust_partitions,
            topic_replication_factor=s.faust_replication_factor,
            table_standby_replicas=s.faust_standby_replicas,
            web_enabled=False,
            consumer_auto_offset_reset="earliest",
            producer_acks=-1,
            # Changelog writes and forwarded commands wait this long to leave in batches: one request for a slice's
            # thousand writes instead of a thousand (issue 26), at the price of a few milliseconds of latency.
            producer_linger=s.faust_producer_linger_seconds,
            stream_wait_empty=True,  # finish what was fetched before a rebalance
            # at_least_once with commits that wait for the changelog and forwarded records (adapters/delivery.py).
            processing_guarantee=s.faust_processing_guarantee,
            broker_commit_interval=s.faust_commit_interval_seconds,
            broker_session_timeout=s.faust_session_timeout_seconds,
            table_cleanup_interval=3600.0,
        )

    def _forget_on_rebalance(self, app: CrisisApp, streams: Streams) -> None:
        async def _rebalanced(sender: Any, *args: Any, **kwargs: Any) -> None:
            """Partitions moved: the in-memory affected sets may be stale; rebuild them from the tables."""
            self.engine.forget_caches()
            self.joiners.forget()
            for offsets in streams.applied.values():
                offsets.forget()
            self._watched.clear()  # rows of partitions gained are written again at their next change or tick

        app.on_partitions_revoked.connect(_rebalanced)  # type: ignore[arg-type]
        app.on_partitions_assigned.connect(_rebalanced)  # type: ignore[arg-type]
        app.on_rebalance_complete.connect(_rebalanced)  # type: ignore[arg-type]  # tables recovered

    async def _in_order(self, topic: str, event: Any, handle: Callable[[Any], Any]) -> None:
        """Handle the event after any record its agent skipped, shielded: not cut short by a stop."""
        await self.in_flight.run(handle_in_order(event, handle, self.streams.applied[topic], self.gaps))

    async def _forward(self, key: str, command: Any) -> Awaitable[Any]:
        """Sends a command to the country's partition; awaiting what it returns waits for its delivery."""
        return await self.streams.by_country.send(key=key.encode(), value=encode_command(command))

    async def _dead_letter(self, topic: str, event: faust.EventT, reason: str) -> None:
        EVENTS.labels(topic, "dead_lettered").inc()
        log.warning("dead_lettered", topic=topic, partition=event.message.partition,
                    offset=event.message.offset, reason=reason[:300])
        original: Any = event.message.headers or []
        headers = dead_letter_headers(original.items() if isinstance(original, dict) else original,
                                      reason=reason, topic=topic, partition=event.message.partition,
                                      offset=event.message.offset, consumer="crisis_center")
        await self.streams.dead_letters[topic].send(key=event.message.key, value=event.message.value, headers=headers)

    # routing: the source topics -> crisis.by-country, keyed by country ------------------------------------------
    def _declare_routing(self, app: CrisisApp, streams: Streams) -> tuple[Any, ...]:
        @app.agent(streams.reports, name="route_reports")
        async def route_reports(stream: faust.StreamT[bytes]) -> AsyncIterator[None]:
            async for event in stream.events():
                await self._in_order("consular.reports", event, self._route_report)
                yield None  # one result per event: `test_context().put` waits for it

        @app.agent(streams.incidents, name="route_incidents")
        async def route_incidents(stream: faust.StreamT[bytes]) -> AsyncIterator[None]:
            async for event in stream.events():
                await self._in_order("crisis.incidents", event, self._route_incident)
                yield None  # one result per event: `test_context().put` waits for it

        return route_reports, route_incidents

    async def _route_report(self, event: Any) -> None:
        try:
            data = parse_data(decode(event.message.value), topic="consular.reports")
            if isinstance(data, ReportSubmitted):
                command = report_command(data, self._places)
                await self._forward(command.country, command)
            EVENTS.labels("route_reports", "ok").inc()
        except Exception as exc:
            await self._dead_letter("consular.reports", event, describe_failure(exc))

    async def _route_incident(self, event: Any) -> None:
        s = self.settings
        incident_country = self.streams.incident_country
        try:
            envelope = decode(event.message.value)
            data = parse_data(envelope, topic="crisis.incidents")
            if isinstance(data, IncidentReported | IncidentUpdated):
                command = incident_command(data, incident_origin(envelope.source, data.incident_id,
                                                                 s.feeds_source, own_source=s.source))
                country = data.area.country
                previous = incident_country.get(data.incident_id)
                if previous is not None and previous != country:
                    raise ValueError(f"an incident's country cannot change (was {previous}, now {country});"
                                     " report a new incident")
                if previous is None:
                    incident_country[data.incident_id] = country
                await self._forward(country, command)
            elif isinstance(data, IncidentClosed):
                previous = incident_country.get(data.incident_id)
                if previous is None:
                    raise ValueError("incident.closed for an incident never reported")
                await self._forward(previous, incident_close_command(data))
            EVENTS.labels("route_incidents", "ok").inc()
        except Exception as exc:
            await self._dead_letter("crisis.incidents", event, describe_failure(exc))

    # counting: the country agent and its timers ----------------------------------------------------------------
    def _declare_counting(self, app: CrisisApp, streams: Streams) -> tuple[Any, ...]:
        s = self.settings

        @app.agent(streams.by_country, name="country")
        async def country(stream: faust.StreamT[bytes]) -> AsyncIterator[None]:
            async for event in stream.events():
                await self._in_order(BY_COUNTRY, event, self._count)
                yield None  # one result per event: `test_context().put` waits for it

        @app.timer(interval=max(0.5, s.crisis_update_interval_seconds / 4))
        async def flush_counts() -> None:
            """Publish the counts the throttle held back, once their interval has passed."""
            await self._flush_counts()

        @app.timer(interval=2.0)
        async def refresh_policy() -> None:
            """Coordinators change thresholds in the database; the agent reads the copy kept here."""
            await self._refresh_policy()

        @app.timer(interval=s.proposal_poll_seconds, on_leader=True)
        async def proposals() -> None:
            """Coordinators' decisions to the country agent; proposals pending too long to the on-call coordinator."""
            await self._poll_proposals(streams.by_country)

        @app.timer(interval=s.crisis_tick_seconds, on_leader=True)
        async def tick() -> None:
            """Stays end and begin without events; thresholds change: one tick per partition."""
            value = encode_command(Tick(at=self.clock()))
            for partition in range(s.faust_partitions):
                await streams.by_country.send(key=b"tick", value=value, partition=partition)

        return country, flush_counts, refresh_policy, proposals, tick

    async def _count(self, event: Any) -> None:
        try:
            command = decode_command(event.message.value or b"")
            started = time.perf_counter()
            now = self.clock()
            # The policy is refreshed by a timer (no database round trip per event); the handling runs
            # shielded and every commit waits for it (adapters/delivery.py), so a stop never cuts it short.
            policy = self.policy.current
            self._hear_back(event.message.partition)
            if isinstance(command, Tick):
                await self._sync_closed(event.message.partition)
            effects = self.engine.handle(command, now=now, policy=policy,
                                         partition=event.message.partition, rules=self.rules)
            await self._carry_out_all(effects, now, event.message.partition)
            HANDLE_SECONDS.labels(command.op).observe(time.perf_counter() - started)
            EVENTS.labels("country", "ok").inc()
        except Exception as exc:
            await self._dead_letter(BY_COUNTRY, event, describe_failure(exc))

    async def _flush_counts(self) -> None:
        if self._pool is None:
            return
        for incident_id in self.watch_throttle.due(utc_now()):  # a rate limit: real time, not the clock
            watched = self._pending_watch.pop(incident_id, None)
            if watched is not None:
                try:
                    await self._write_watch(watched, self.clock())
                except TRANSIENT as exc:
                    log.warning("watch_flush_failed", incident_id=incident_id, error=type(exc).__name__)
                    self._pending_watch.setdefault(incident_id, watched)
                    self.watch_throttle.offer(incident_id, utc_now())
        for crisis_id in self.throttle.due(self.clock()):
            pending = self._pending_counts.pop(crisis_id, None)
            if pending is not None:
                try:
                    await handlers.record_count(pool=self.pool, crisis_id=crisis_id, count=pending[0],
                                                by_source=pending[1], now=self.clock(),
                                                publishing=self.publishing)
                except TRANSIENT as exc:
                    log.warning("count_flush_failed", crisis_id=crisis_id, error=type(exc).__name__)
                    self._pending_counts.setdefault(crisis_id, pending)
                    self.throttle.offer(crisis_id, self.clock())

    async def _refresh_policy(self) -> None:
        if self._pool is not None:
            try:
                await self.policy.get(self._pool)
            except TRANSIENT as exc:
                log.warning("policy_refresh_failed", error=type(exc).__name__)

    async def _poll_proposals(self, by_country: faust.TopicT) -> None:
        """Coordinators decide in the database (the API): each decision not yet carried out goes to the country
        agent, which holds the people to alert; proposals left pending too long go to the on-call coordinator."""
        s = self.settings
        if self._pool is None:
            return
        try:
            for row in await handlers.decisions_to_apply(pool=self.pool):
                decided = ProposalDecided(incident_id=row["incident_id"], round=row["round"],
                                          decision=row["status"], actor=row["decided_by"] or "unknown")
                await by_country.send(key=row["country"].encode(), value=encode_command(decided))
            await handlers.escalate_due_proposals(
                pool=self.pool, now=self.clock(), after_minutes=s.proposal_escalate_minutes,
                phone=s.oncall_coordinator_phone, language=s.oncall_coordinator_language,
                dashboard_url=f"{s.public_base_url.rstrip('/')}/dashboard", publishing=self.publishing)
        except TRANSIENT as exc:
            log.warning("proposals_poll_failed", error=type(exc).__name__)

    # effects ------------------------------------------------------------------------------------------------
    async def _with_retry(self, call: Callable[[], Any]) -> Any:
        """Infrastructure hiccups are retried for a while before the event is dead-lettered."""
        async for attempt in AsyncRetrying(retry=retry_if_exception_type(TRANSIENT), stop=stop_after_delay(30),
                                           wait=wait_exponential(multiplier=0.2, max=5), reraise=True):
            with attempt:
                return await call()
        return None  # unreachable

    async def _write_watch(self, watched: Watched, now: datetime) -> None:
        await self._with_retry(lambda: handlers.record_watch(pool=self.pool, watched=watched, now=now))
        self._watched[watched.incident.incident_id] = watched

    async def _watch(self, watched: Watched, now: datetime) -> None:
        """Write the row when the incident's facts, threshold or mode changed; a count change at most once per
        CRISIS_UPDATE_INTERVAL_SECONDS (the rest is held, then flushed by `flush_counts`)."""
        incident_id = watched.incident.incident_id
        last = self._watched.get(incident_id)
        if last == watched:
            self._pending_watch.pop(incident_id, None)
            return
        only_count = last is not None and (last.incident, last.threshold, last.mode) == (
            watched.incident, watched.threshold, watched.mode)
        if only_count and not self.watch_throttle.offer(incident_id, utc_now()):
            self._pending_watch[incident_id] = watched
            return
        self._pending_watch.pop(incident_id, None)
        self.watch_throttle.sent(incident_id, utc_now())
        await self._write_watch(watched, now)

    async def _sync_closed(self, partition: int) -> None:
        held = self.engine.active_crises(partition)
        closed = await self._with_retry(
            lambda: handlers.active_closed_among(pool=self.pool, crisis_ids=[c for _, c in held]))
        for incident_id, crisis_id in held:
            if crisis_id in closed:
                self.engine.crisis_closed(incident_id)
                self.throttle.forget(crisis_id)

    async def _carry_out_all(self, effects: list[Effect], now: datetime, partition: int) -> None:
        for effect in effects:
            await self._carry_out(effect, now, partition)
        if self.joiners.size >= self.joiners.max_recipients:
            await self.joiners.flush()  # a slice of a large rescan: written now, the next slice waits for it

    async def _write_joiners(self, crisis_id: str, recipients: Sequence[Recipient],
                             people: Sequence[PeopleChanged]) -> bool:
        return bool(await self._with_retry(lambda: handlers.write_joiners(
            pool=self.pool, crisis_id=crisis_id, recipients=recipients, people=people, publishing=self.publishing,
            now=self.clock())))

    def _hear_back(self, partition: int) -> None:
        """Tell the engine what the joiner batches wrote for this partition (called while handling its event)."""
        reports = self.joiners.take_reports(partition)
        for incident_id, recipients in reports.notified:
            self.engine.notified(incident_id, recipients)
        for incident_id in reports.closed:
            self.engine.crisis_closed(incident_id)

    async def _carry_out(self, effect: Effect, now: datetime, partition: int) -> None:
        engine = self.engine
        if isinstance(effect, Activate):
            activation: handlers.Activation | None = await self._with_retry(
                lambda: handlers.activate_for_incident(
                    pool=self.pool, activate=effect, pool_numbers=self.settings.hotline_pool,
                    general_number=self.settings.crisis_general_number, now=now, publishing=self.publishing))
            if activation is None:  # an incident named like a manual crisis's, without that crisis
                engine.crisis_closed(effect.incident.incident_id)
                return
            crisis = activation.crisis
            engine.activated(effect.incident.incident_id, crisis_id=crisis.crisis_id,
                             hotline_number=crisis.hotline_number, count=effect.count,
                             still_active=crisis.status == "active")
            engine.notified(effect.incident.incident_id, effect.recipients)
            self.throttle.sent(crisis.crisis_id, now)
        elif isinstance(effect, CountChanged):
            if self.throttle.offer(effect.crisis_id, now):
                self._pending_counts.pop(effect.crisis_id, None)
                still = await self._with_retry(lambda: handlers.record_count(
                    pool=self.pool, crisis_id=effect.crisis_id, count=effect.count,
                    by_source={k: v for k, v in effect.by_source.items()}, now=now, publishing=self.publishing))
                if not still:
                    engine.crisis_closed(effect.incident_id)
            else:
                self._pending_counts[effect.crisis_id] = (effect.count, {k: v for k, v in effect.by_source.items()})
        elif isinstance(effect, Notify):
            self.joiners.add(effect.crisis_id, effect.incident_id, partition, recipients=effect.recipients)
        elif isinstance(effect, PeopleChanged):
            self.joiners.add(effect.crisis_id, effect.incident_id, partition, people=effect)
        elif isinstance(effect, Continue):
            await self._forward(effect.country, effect.command)  # same key: the same partition, after this event
        elif isinstance(effect, Propose):
            await self._with_retry(lambda: handlers.raise_proposal(pool=self.pool, propose=effect, now=now))
            engine.proposed(effect.incident.incident_id, effect.round)
        elif isinstance(effect, ProposalSettled):
            await self._with_retry(lambda: handlers.settle_proposal(
                pool=self.pool, incident_id=effect.incident_id, round=effect.round, now=now))
        elif isinstance(effect, Watched):
            await self._watch(effect, now)
        elif isinstance(effect, Unwatched):
            self._watched.pop(effect.incident_id, None)
            self._pending_watch.pop(effect.incident_id, None)
            self.watch_throttle.forget(effect.incident_id)
            await self._with_retry(lambda: handlers.unwatch(pool=self.pool, incident_id=effect.incident_id, now=now))
        elif isinstance(effect, CloseCrisis):
            await self._with_retry(lambda: handlers.close_crisis(
                pool=self.pool, crisis_id=effect.crisis_id, actor="system:incident.closed", now=now,
                publishing=self.publishing))
            self.throttle.forget(effect.crisis_id)
            self._pending_counts.pop(effect.crisis_id, None)
