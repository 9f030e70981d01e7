"""An idempotent producer (acks=all) and the one function that puts an event on the wire."""

from __future__ import annotations

from aiokafka import AIOKafkaProducer

from shared.events.envelope import CONTENT_TYPE, CloudEvent, EventData, encode, new_event
from shared.logging import current_traceparent


def make_producer(bootstrap_servers: str, *, client_id: str, linger_ms: int = 5) -> AIOKafkaProducer:
    """Not started: call `await producer.start()` in the lifespan that owns it."""
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap_servers,
        client_id=client_id,
        enable_idempotence=True,
        acks="all",
        linger_ms=linger_ms,
        request_timeout_ms=15000,
        retry_backoff_ms=200,
    )


def kafka_headers(event: CloudEvent) -> list[tuple[str, bytes]]:
    headers = [("content-type", CONTENT_TYPE.encode()), ("ce_type", event.type.encode())]
    if event.traceparent:
        headers.append(("traceparent", event.traceparent.encode()))
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
