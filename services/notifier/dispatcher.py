"""The dispatcher: takes queued messages from PostgreSQL, most urgent first, and sends them, once.

Never twice, in four moves:
1. *Reserve*: a batch of pending rows becomes `reserved` (by this sender) in a committed transaction before any
   provider call.
2. *Send*: at the configured rate per sender number (paced, see RateLimit), retrying 429, 5xx and refused
   connections with exponential backoff and jitter (tenacity). After an ambiguous failure (timeout, connection
   lost mid-answer) the message is looked up at Twilio before it is sent again.
3. *Record*: accepted sids are written in small batches; refusals end the message in their final state.
4. *Recover*: a reserved row whose sender stopped beating (killed) is taken over and reconciled the same way
   (looked up at Twilio; sent only if Twilio does not have it).
Provider calls run in their own tasks, never in the Kafka poll loop. A failure of the provider as a whole opens its
circuit breaker (`domain/breaker.py`, honouring `Retry-After`): messages wait for it, uncounted, and one probe at a
time finds out when it is back.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import random
import uuid
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import asyncpg
from prometheus_client import Counter, Gauge
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_random_exponential
from twilio.twiml.voice_response import VoiceResponse

from services.notifier.adapters import repository as repo
from services.notifier.adapters.email import SmtpEmail
from services.notifier.adapters.providers import Ambiguous, Rejected, Transient
from services.notifier.adapters.twilio_sms import TwilioSms
from services.notifier.domain.breaker import CircuitBreaker
from services.notifier.domain.delivery import DeliveryStatus, Observation
from services.notifier.domain.pacing import Pacer
from services.notifier.domain.policy import twilio_validity
from services.notifier.handlers import Publisher, record_observation, take_due
from services.notifier.settings import NotifierSettings
from shared.db import DATABASE_ERRORS
from shared.logging import get_logger
from shared.notifications.rendering import Renderer

log = get_logger(__name__)

_T = TypeVar("_T")

SENT = Counter("notifier_dispatch_total", "Provider calls by channel and outcome", ["channel", "outcome"])
PROVIDER_OUTAGE = Counter("notifier_provider_unavailable_total",
                          "Messages put back because the provider itself failed (never counted against them)",
                          ["channel"])
CIRCUIT_OPEN = Gauge("notifier_provider_circuit_open",
                     "1 while the provider's circuit is open (it failed as a whole; messages wait for it)",
                     ["provider"])
#: How long a message waits while another one probes whether the provider is back.
PROBE_WAIT_SECONDS = 1.0


BUFFER_SECONDS = 1.0


def buffer_low_water(*, send_concurrency: int, claim_batch: int, sms_rate_per_second: float) -> int:
    """How few claimed messages the senders' buffer may hold before more are claimed (it is filled up to twice
    that): enough for every call in flight, and at a paced rate a second of sending, so that a claim slowed down
    by the database (a crisis's commands being stored at the same time) does not leave the paced senders idle.
    Measured at 1,000/s while 100,000 commands were stored: a buffer of 128 sent 637 SMS/s meanwhile (1.07 of the
    planned time to the last one), a second's worth 991/s (1.02). Claims stay big enough to be cheap, and a crisis
    message claimed still overtakes the bulk in the buffer (a priority queue)."""
    return max(send_concurrency, min(claim_batch, 100), math.ceil(sms_rate_per_second * BUFFER_SECONDS))


class Unresolved(Exception):
    """An ambiguous send could not be looked up: leave it reserved for the recovery loop, never resend blind."""


class RateLimit:
    """Messages per second of one sender number, paced on a virtual schedule (see domain/pacing.py); 0: no limit.

    aiolimiter's AsyncLimiter was the first choice: with a bucket of 1 (no burst, so never above the limit) it
    loses the time a busy event loop wakes a waiter late and reached 0.90 of 100/s and 0.62 of 1,000/s here;
    a larger bucket bursts above the limit. The pacer keeps the schedule instead.
    """

    MARGIN = 0.998  # pace 2 per mille under the ceiling: timing jitter between us and the provider stays below it

    def __init__(self, rate_per_second: float, *, not_before: float = float("-inf")) -> None:
        """`not_before`: the event loop's time of the first slot."""
        self.pacer = Pacer(rate_per_second * self.MARGIN, not_before) if rate_per_second > 0 else None

    def set_rate(self, rate_per_second: float) -> None:
        """A new rate from the next slot on (the senders sharing the number changed); no limit stays no limit."""
        if self.pacer is not None and rate_per_second > 0:
            self.pacer.rate_per_second = rate_per_second * self.MARGIN

    async def __aenter__(self) -> None:
        if self.pacer is not None:
            delay = self.pacer.reserve(asyncio.get_running_loop().time())
            if delay > 0:
                await asyncio.sleep(delay)

    async def __aexit__(self, *exc: object) -> None:
        return None


class Dispatcher:
    def __init__(
        self,
        *,
        pool: asyncpg.Pool,
        settings: NotifierSettings,
        publisher: Publisher,
        sms: TwilioSms | None,
        email: SmtpEmail | None,
        sender_id: str | None = None,
        renderer: Renderer | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.pool = pool
        self.renderer = renderer
        self.clock = clock or _utc_now
        """The time messages are due, expire and count toward the per-number limit against (tests set it)."""
        self.settings = settings
        self.publisher = publisher
        self.sms = sms
        self.email = email
        self.sender_id = sender_id or f"sender-{uuid.uuid4().hex[:12]}"
        self.limiters: dict[str, RateLimit] = {}
        #: Live senders (replicas) the configured rates are shared among, this one included (`_share_rates`).
        self.senders_sharing = 1
        self._paced_from = float("-inf")  # the loop's time of the first paced slot (`start`)
        self.queue: asyncio.PriorityQueue[tuple[int, int, repo.Claimed, bool]] = asyncio.PriorityQueue()
        self.in_flight: set[str] = set()
        self._accepted: list[tuple[str, str]] = []
        self._wake = asyncio.Event()
        self._need_more = asyncio.Event()
        self._low_water = buffer_low_water(send_concurrency=settings.send_concurrency,
                                           claim_batch=settings.claim_batch,
                                           sms_rate_per_second=settings.sms_rate_per_second)
        self._flushed = asyncio.Event()
        self._stopping = asyncio.Event()
        self._tasks: list[asyncio.Task[Any]] = []
        self._last_beat = 0.0
        self.breakers = {provider: CircuitBreaker(base=settings.provider_outage_retry_seconds,
                                                  ceiling=settings.provider_outage_max_seconds)
                         for provider in ("twilio", "smtp")}

    # --- lifecycle ---------------------------------------------------------------------------------------------
    def limiter(self, key: str) -> RateLimit:
        """The pacing of one sender number (or of e-mail): this sender's share of the configured rate."""
        if key not in self.limiters:
            self.limiters[key] = RateLimit(self._configured_rate(key) / self.senders_sharing,
                                           not_before=self._paced_from)
        return self.limiters[key]

    def _configured_rate(self, key: str) -> float:
        return self.settings.email_rate_per_second if key == "email" else self.settings.sms_rate_per_second

    def _share_rates(self, senders: int) -> None:
        """The configured rates are per number for the whole notifier: each of the `senders` live ones (replicas)
        paces itself to its share, so that together they never exceed them."""
        senders = max(1, senders)
        if senders == self.senders_sharing:
            return
        log.info("senders_sharing_rates", senders=senders, was=self.senders_sharing)
        self.senders_sharing = senders
        for key, limit in self.limiters.items():
            limit.set_rate(self._configured_rate(key) / senders)

    def wake(self) -> None:
        self._wake.set()

    async def start(self) -> None:
        async with self.pool.acquire() as conn:
            await self._beat(conn)
        if self.senders_sharing > 1:
            # The others learn of this sender at their next heartbeat: until then they pace to the shares without
            # it, so it takes no limited slot before a beat has passed (alone, it sends at once).
            self._paced_from = asyncio.get_running_loop().time() + self.settings.heartbeat_seconds
        loops: list[Callable[[], Coroutine[Any, Any, None]]] = [
            self._heartbeat_loop, self._claim_loop, self._flush_loop, self._recover_loop]
        self._tasks = [asyncio.create_task(loop(), name=loop.__name__) for loop in loops]
        self._tasks += [asyncio.create_task(self._worker(), name=f"send-{i}")
                        for i in range(self.settings.send_concurrency)]
        log.info("dispatcher_started", sender_id=self.sender_id, concurrency=self.settings.send_concurrency,
                 sms_rate=self.settings.sms_rate_per_second)

    def tasks(self) -> list[asyncio.Task[Any]]:
        """Its loops and senders, for liveness (shared/health.py)."""
        return list(self._tasks)

    async def stop(self, grace: float = 10.0) -> None:
        """Stop taking work, let calls in flight end (up to `grace`), record them, give the rest back."""
        self._stopping.set()
        self._wake.set()
        self._need_more.set()
        unsent = []
        while not self.queue.empty():  # taken but not started: nothing was sent
            unsent.append(self.queue.get_nowait()[2])
        deadline = asyncio.get_running_loop().time() + grace
        while self.in_flight and asyncio.get_running_loop().time() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        with contextlib.suppress(*DATABASE_ERRORS):
            await self._flush()
            async with self.pool.acquire() as conn:
                for item in unsent:
                    if item.notification_id not in self.in_flight:
                        await repo.release(conn, item.notification_id, datetime.now(UTC))
                if not self.in_flight:
                    await repo.forget_sender(conn, self.sender_id)

    # --- loops -------------------------------------------------------------------------------------------------
    async def _beat(self, conn: asyncpg.Connection) -> None:
        """The heartbeat, then the rates' share: a sender stops sending once its heartbeat is dead_after/3 late
        (`_check_alive`), so those heard from within that (and a beat more, for the clocks' skew) may be sending."""
        await repo.heartbeat(conn, self.sender_id)
        self._last_beat = asyncio.get_running_loop().time()
        self._share_rates(await repo.live_senders(
            conn, self.settings.dead_after_seconds / 3 + self.settings.heartbeat_seconds))

    async def _heartbeat_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                async with self.pool.acquire() as conn:
                    await self._beat(conn)
                    await repo.prune_senders(conn, 3600)
            except DATABASE_ERRORS as exc:
                log.warning("heartbeat_failed", error=type(exc).__name__)
            await asyncio.sleep(self.settings.heartbeat_seconds)

    async def _claim_loop(self) -> None:
        """Keep between one and two rounds of work in the buffer: small enough that a crisis message claimed
        now overtakes the bulk already buffered, large enough that the senders never wait for the database."""
        while not self._stopping.is_set():
            if self.queue.qsize() >= self._low_water:
                self._need_more.clear()
                await self._need_more.wait()
                continue
            room = 2 * self._low_water - self.queue.qsize()
            try:
                async with self.pool.acquire() as conn:
                    claimed = await take_due(conn, sender_id=self.sender_id,
                                             limit=min(room, self.settings.claim_batch), now=self.clock(),
                                             per_number_hour=self.settings.max_per_number_per_hour,
                                             publisher=self.publisher)
            except DATABASE_ERRORS as exc:
                log.warning("claim_failed", error=type(exc).__name__)
                await asyncio.sleep(1)
                continue
            for item in claimed:
                self.queue.put_nowait((item.priority, item.id, item, False))
            if claimed:
                continue
            self._wake.clear()  # nothing to send: until a command comes in, or a retry falls due
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=0.2)

    async def _recover_loop(self) -> None:
        while not self._stopping.is_set():
            await asyncio.sleep(self.settings.heartbeat_seconds)
            try:
                async with self.pool.acquire() as conn:
                    orphans = await repo.claim_orphans(conn, self.sender_id, self.settings.dead_after_seconds,
                                                       self.settings.claim_batch)
            except DATABASE_ERRORS as exc:
                log.warning("recover_failed", error=type(exc).__name__)
                continue
            if orphans:
                log.info("orphans_taken_over", count=len(orphans))
            for item in orphans:
                self.queue.put_nowait((item.priority, item.id, item, True))

    async def _flush_loop(self) -> None:
        while not self._stopping.is_set():
            await asyncio.sleep(0.05)
            try:
                await self._flush()
            except DATABASE_ERRORS as exc:
                log.warning("flush_failed", error=type(exc).__name__)
                await asyncio.sleep(0.5)

    async def _flush(self) -> None:
        if not self._accepted:
            return
        batch, self._accepted = self._accepted, []
        try:
            async with self.pool.acquire() as conn, conn.transaction():
                recorded = await repo.mark_accepted(conn, batch)
        except BaseException:
            self._accepted = batch + self._accepted
            raise
        for notification_id, sid in batch:
            self.in_flight.discard(notification_id)
            if notification_id not in recorded:  # e.g. a reconciliation matched a sid that is another message's
                log.warning("accepted_not_recorded", notification_id=notification_id, provider_id=sid)
                await self._leave_for_recovery_id(notification_id)

    async def _worker(self) -> None:
        while True:
            _, _, item, orphan = await self.queue.get()
            if self.queue.qsize() < self._low_water:
                self._need_more.set()
            self.in_flight.add(item.notification_id)
            keep = False
            try:
                keep = await self._process(item, orphan)
            except Exception as exc:
                log.warning("dispatch_crashed", notification_id=item.notification_id, error=type(exc).__name__)
                await self._leave_for_recovery(item)
            finally:
                if not keep:
                    self.in_flight.discard(item.notification_id)

    # --- one message -------------------------------------------------------------------------------------------
    async def _process(self, item: repo.Claimed, orphan: bool) -> bool:
        """Send one reserved message; True when its sid waits in the accepted buffer (still in flight)."""
        if item.channel == "sms" and item.opted_out:
            await self._finish(item, Observation(DeliveryStatus.OPTED_OUT, "recipient_opted_out"), "dispatcher")
            return False
        provider = _provider(item.channel)
        breaker = self.breakers[provider]
        now = asyncio.get_running_loop().time()
        if not breaker.allow(now):  # the provider is down (or being probed): wait for it, uncounted
            await self._wait_for_provider(item, max(breaker.open_until - now, PROBE_WAIT_SECONDS))
            return False
        try:
            return await self._send_one(item, orphan, provider, breaker)
        finally:
            if breaker.probing:  # the probe got no provider-wide answer either way (its own failure, a crash)
                breaker.probe_ended()

    async def _send_one(self, item: repo.Claimed, orphan: bool, provider: str, breaker: CircuitBreaker) -> bool:
        try:
            if item.channel in ("sms", "voice"):
                sid = None
                if orphan:
                    sid = await self._reconcile(item)
                if sid is None:
                    sid = await (self._send_sms(item) if item.channel == "sms" else self._call(item))
                self._provider_answered(provider)
                self._accepted.append((item.notification_id, sid))
                SENT.labels(item.channel, "accepted").inc()
                return True
            await self._send_email(item)
        except Rejected as rejected:
            self._provider_answered(provider)
            SENT.labels(item.channel, "rejected").inc()
            await self._finish(item, rejected.observation, "provider",
                               opt_out=rejected.observation.status is DeliveryStatus.OPTED_OUT)
            return False
        except Unresolved:
            SENT.labels(item.channel, "unresolved").inc()
            await self._leave_for_recovery(item)
            return False
        except Transient as exc:
            SENT.labels(item.channel, "retry_later").inc()
            if not exc.provider_wide:
                await self._retry_later(item, str(exc))
                return False
            until = breaker.failed(asyncio.get_running_loop().time(), exc.retry_after)
            CIRCUIT_OPEN.labels(provider).set(1)
            log.warning("provider_unavailable", provider=provider, reason=str(exc)[:100], retry_after=exc.retry_after,
                        failures_in_a_row=breaker.failures_in_a_row)
            await self._wait_for_provider(item, until - asyncio.get_running_loop().time())
            return False
        except Ambiguous as exc:
            SENT.labels(item.channel, "retry_later").inc()
            await self._retry_later(item, str(exc))
            return False
        self._provider_answered(provider)
        SENT.labels("email", "accepted").inc()
        await self._finish(item, Observation(DeliveryStatus.SENT, None), "smtp")
        return False

    def _provider_answered(self, provider: str) -> None:
        """The provider took or refused a message on its own merits: it is up (the circuit closes)."""
        breaker = self.breakers[provider]
        if breaker.failures_in_a_row:
            log.info("provider_back", provider=provider, failures_in_a_row=breaker.failures_in_a_row)
            breaker.succeeded()
            CIRCUIT_OPEN.labels(provider).set(0)

    def _check_alive(self) -> None:
        """Self-fencing: a sender whose heartbeat is late may already be taken for dead; it must not send."""
        if asyncio.get_running_loop().time() - self._last_beat > self.settings.dead_after_seconds / 3:
            raise Unresolved("heartbeat late: not sending")

    def _retrying(self, attempts: int) -> AsyncRetrying:
        return AsyncRetrying(
            # a failure of the provider as a whole goes to its circuit breaker, not into a loop of retries here
            retry=retry_if_exception(lambda exc: isinstance(exc, Transient) and not exc.provider_wide),
            wait=wait_random_exponential(multiplier=self.settings.retry_base_seconds,
                                         max=self.settings.retry_max_seconds),
            stop=stop_after_attempt(attempts),
            reraise=True,
        )

    async def _with_retries(self, once: Callable[[], Coroutine[Any, Any, _T]]) -> _T:
        """The first try straight away (the common case, without tenacity's bookkeeping), then retries of this
        message's Transient failures with exponential backoff and full jitter (the provider's own failures go to
        its circuit breaker at once)."""
        try:
            return await once()
        except Transient as exc:
            if self.settings.send_attempts <= 1 or exc.provider_wide:
                raise
        await asyncio.sleep(random.uniform(0, self.settings.retry_base_seconds))
        async for attempt in self._retrying(self.settings.send_attempts - 1):
            with attempt:
                return await once()
        raise AssertionError("unreachable")

    async def _send_sms(self, item: repo.Claimed) -> str:
        assert self.sms is not None, "no SMS provider configured"
        sms = self.sms
        from_number = self.from_number(item)
        limiter = self.limiter(from_number)
        callback = f"{self.settings.status_callback_url}?nid={item.notification_id}"

        async def once() -> str:
            async with limiter:
                pass
            self._check_alive()
            left = None if item.expires_at is None else (item.expires_at - self.clock()).total_seconds()
            try:
                return await sms.send(to=item.recipient, body=item.body, status_callback=callback,
                                      from_number=from_number, validity_period=twilio_validity(left))
            except Ambiguous:
                found = await self._reconcile(item)
                if found is not None:
                    return found
                raise Transient("ambiguous answer and no such message at the provider") from None

        return await self._with_retries(once)

    async def _call(self, item: repo.Claimed) -> str:
        """A call saying the message and gathering one key, answered at intake's voice webhook (VOICE_ANSWER_URL);
        always from the duty line, whose number people know and can call back."""
        assert self.sms is not None
        sms = self.sms
        number = self.settings.duty_line_number
        limiter = self.limiter(f"voice:{number}")
        callback = f"{self.settings.status_callback_url}?nid={item.notification_id}"
        if item.template in ANSWERED_CALLS:
            twiml = call_twiml(item.body, language=item.language, answer_url=self.settings.voice_answer_url)
        else:  # a message read out (a fallback after a failed SMS or e-mail): nothing to answer
            twiml = say_twiml(item.body, language=item.language)

        async def once() -> str:
            async with limiter:
                pass
            self._check_alive()
            try:
                return await sms.call(to=item.recipient, twiml=twiml, status_callback=callback, from_number=number,
                                      ring_seconds=self.settings.call_ring_seconds)
            except Ambiguous:
                found = await self._reconcile(item)
                if found is not None:
                    return found
                raise Transient("ambiguous answer and no such call at the provider") from None

        return await self._with_retries(once)

    def from_number(self, item: repo.Claimed) -> str:
        assert self.sms is not None
        return self.settings.duty_line_number if item.sender == "duty_line" else self.sms.from_number

    async def _reconcile(self, item: repo.Claimed) -> str | None:
        """Look the message up at Twilio; Unresolved when the lookup itself keeps failing."""
        assert self.sms is not None
        try:
            async with self.pool.acquire() as conn:
                own, known = await repo.reconciliation_facts(conn, item.notification_id, item.recipient)
        except DATABASE_ERRORS as exc:
            raise Unresolved(f"database: {type(exc).__name__}") from exc
        if own is not None:  # Twilio's status callback named this message: it was sent
            return own
        try:
            async for attempt in self._retrying(4):
                with attempt:
                    if item.channel == "voice":
                        return await self.sms.find_call(to=item.recipient, since=item.claimed_at, exclude=known,
                                                        from_number=self.settings.duty_line_number)
                    return await self.sms.find(to=item.recipient, body=item.body, since=item.claimed_at,
                                               exclude=known, from_number=self.from_number(item))
        except Transient as exc:
            raise Unresolved(str(exc)) from exc
        return None

    async def _send_email(self, item: repo.Claimed) -> None:
        assert self.email is not None, "no SMTP configured"
        email = self.email

        async def once() -> None:
            async with self.limiter("email"):
                pass
            self._check_alive()
            try:
                await email.send(notification_id=item.notification_id, to=item.recipient,
                                 subject=item.subject or "", text=item.body, html=item.html)
            except Ambiguous as exc:
                # SMTP has no lookup: send again, with the same Message-ID (documented at-least-once).
                raise Transient(str(exc)) from exc

        await self._with_retries(once)

    # --- outcomes ----------------------------------------------------------------------------------------------
    async def _finish(self, item: repo.Claimed, observation: Observation, source: str, opt_out: bool = False) -> None:
        async with self.pool.acquire() as conn, conn.transaction():
            await record_observation(
                conn, observation, publisher=self.publisher, source=source, notification_id=item.notification_id,
                finish_sending=True, opt_out_address=item.recipient if opt_out else None, renderer=self.renderer,
            )

    async def _wait_for_provider(self, item: repo.Claimed, seconds: float) -> None:
        """Back to the queue until the provider's circuit closes. A failure of the provider itself (throttling, an
        outage, our credentials) never counts toward the message's dispatches: an alert is given up only for
        reasons of its own."""
        PROVIDER_OUTAGE.labels(item.channel).inc()
        async with self.pool.acquire() as conn:
            await repo.release(conn, item.notification_id, datetime.now(UTC) + timedelta(seconds=max(seconds, 0.0)),
                               uncount=True)

    async def _retry_later(self, item: repo.Claimed, why: str) -> None:
        """Back to the queue later, for a failure of this message's own; given up after `max_dispatches`."""
        if item.dispatches >= self.settings.max_dispatches:
            log.warning("dispatch_gave_up", notification_id=item.notification_id, dispatches=item.dispatches)
            await self._finish(item, Observation(DeliveryStatus.FAILED, "retries_exhausted"), "dispatcher")
            return
        delay = min(self.settings.retry_max_seconds * 2 ** item.dispatches, 600.0)
        log.info("dispatch_postponed", notification_id=item.notification_id, seconds=delay, reason=why[:100])
        async with self.pool.acquire() as conn:
            await repo.release(conn, item.notification_id, datetime.now(UTC) + timedelta(seconds=delay))

    async def _leave_for_recovery(self, item: repo.Claimed) -> None:
        await self._leave_for_recovery_id(item.notification_id)

    async def _leave_for_recovery_id(self, notification_id: str) -> None:
        """Keep it reserved but by nobody: the recovery loop reconciles it before any resend."""
        with contextlib.suppress(*DATABASE_ERRORS):
            async with self.pool.acquire() as conn:
                await conn.execute(
                    "UPDATE notifications SET claimed_by = NULL WHERE notification_id = $1 AND send_state = 'reserved'",
                    notification_id)


def _provider(channel: str) -> str:
    return "smtp" if channel == "email" else "twilio"


VOICE_LOCALES = {"fr": "fr-FR", "nl": "nl-NL", "de": "de-DE", "en": "en-GB"}  # as intake's voice line
#: Calls whose key press goes to intake's answer webhook (the welfare check); any other call only says its words.
ANSWERED_CALLS = frozenset({"welfare_call"})


def _utc_now() -> datetime:
    return datetime.now(UTC)


def say_twiml(words: str, *, language: str) -> str:
    """Say the message twice (a pause between), then hang up: a message read out, nothing to press."""
    response = VoiceResponse()
    locale = VOICE_LOCALES.get(language, "en-GB")
    for i in range(2):
        if i:
            response.pause(length=2)
        response.say(words, language=locale)
    response.hangup()
    return str(response)


def call_twiml(words: str, *, language: str, answer_url: str) -> str:
    """Say the question and gather one key (said twice if nothing is pressed); the key goes to `answer_url`."""
    response = VoiceResponse()
    locale = VOICE_LOCALES.get(language, "en-GB")
    for _ in range(2):
        gather = response.gather(num_digits=1, action=answer_url, method="POST", timeout=8)
        gather.say(words, language=locale)
    response.hangup()
    return str(response)
