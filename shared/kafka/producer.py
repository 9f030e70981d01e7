"""An idempotent producer (acks=all) and the one function that puts an event on the wire."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import InvalidProducerEpoch, OutOfOrderSequenceNumber, ProducerFenced, UnknownProducerId

from shared.events.envelope import CONTENT_TYPE, CloudEvent, EventData, encode, new_event
from shared.logging import current_traceparent, get_logger

log = get_logger(__name__)


#: Delivery errors after which the producer's idempotent session is broken for good: the broker no longer accepts
#: its sequence numbers (it lost or fenced its producer state, e.g. after a restart), so every later batch to the
#: partition fails the same way until the producer starts afresh with a new producer id.
SESSION_BROKEN: tuple[type[BaseException], ...] = (OutOfOrderSequenceNumber, UnknownProducerId, ProducerFenced,
                                                    InvalidProducerEpoch)


class HealingProducer(AIOKafkaProducer):
    """An idempotent producer that replaces its own insides when its idempotent session broke.

    Two ways it breaks, both seen after a broker restart in the chaos test:
    - aiokafka's sender task ends for good on a fatal error such as `OutOfOrderSequenceNumber`, and every later
      `send` raises the same error;
    - the sender lives on but a batch fails with `OutOfOrderSequenceNumber` (the broker lost the producer's
      sequence state): every later batch to that partition fails the same way, and an outbox relay retried the
      same rows for minutes.
    The next `send` after either closes the producer and starts it afresh (a new producer id). Safe for
    at-least-once: outbox rows are deleted only after acknowledgement and consumers deduplicate by event id.
    """

    def __init__(self, **settings: Any) -> None:
        self._settings = settings
        self._heal_lock = asyncio.Lock()
        self._broken: BaseException | None = None
        self.restarts = 0
        super().__init__(**settings)

    def sender_died(self) -> BaseException | None:
        task = self._sender.sender_task
        if task is None or not task.done() or task.cancelled():
            return None
        return task.exception()

    def _session_error(self) -> BaseException | None:
        return self.sender_died() or self._broken

    def _watch_delivery(self, delivery: asyncio.Future[Any]) -> None:
        if not delivery.cancelled() and isinstance(delivery.exception(), SESSION_BROKEN):
            self._broken = delivery.exception()

    async def send(self, *args: Any, **kwargs: Any) -> Any:
        if self._session_error() is not None:
            await self._heal()
        delivery = await super().send(*args, **kwargs)
        delivery.add_done_callback(self._watch_delivery)
        return delivery

    async def _heal(self) -> None:
        async with self._heal_lock:
            error = self._session_error()
            if error is None:  # another caller healed it meanwhile
                return
            log.warning("kafka_producer_restarted", error=type(error).__name__, restarts=self.restarts + 1)
            with contextlib.suppress(Exception):
                await super().stop()
            super().__init__(**self._settings)  # fresh client, accumulator, sender and producer id
            self._broken = None
            await super().start()
            self.restarts += 1


def make_producer(bootstrap_servers: str, *, client_id: str, linger_ms: int = 5,
                  security: Mapping[str, Any] | None = None) -> AIOKafkaProducer:
    """Not started: call `await producer.start()` in the lifespan that owns it. `security`: the process's
    `shared.kafka.security.client_security(settings)` (TLS, SASL); omitted, PLAINTEXT."""
    return HealingProducer(
        **(security or {}),
        bootstrap_servers=bootstrap_servers,
        client_id=client_id,
        enable_idempotence=True,
        acks="all",
        linger_ms=linger_ms,
        request_timeout_ms=15000,
        retry_backoff_ms=200,
    )


def kafka_headers(event: CloudEvent) -> list[tuple[str, bytes]]:
    return event_headers(event.type, event.traceparent)


def event_headers(event_type: str, traceparent: str | None) -> list[tuple[str, bytes]]:
    """The Kafka headers of an event of `event_type`: its content type and type, and the trace it belongs to."""
    headers = [("content-type", CONTENT_TYPE.encode()), ("ce_type", event_type.encode())]
    if traceparent:
        headers.append(("traceparent", traceparent.encode()))
    return headers


async def publish(
    producer: AIOKafkaProducer,
    data: EventData,
    *,
    source: str,
    topic_prefix: str = "",
    event_id: str | None = None,
) -> CloudEvent:
    """Send one event and wait for the broker's acknowledgement."""
    event = new_event(data, source=source, event_id=event_id, traceparent=current_traceparent())
    await producer.send_and_wait(
        topic_prefix + data.TOPIC, encode(event), key=data.key().encode(), headers=kafka_headers(event)
    )
    return event
