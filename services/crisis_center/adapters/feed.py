"""Live crisis changes for the dashboard: one Kafka reader of `crisis.status` fanned out to SSE subscribers."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from aiokafka import AIOKafkaConsumer

from shared.events.envelope import InvalidEvent, decode
from shared.logging import get_logger

log = get_logger(__name__)


class CrisisFeed:
    """Reads `crisis.status` from its end (no consumer group: every API replica sees every change) and hands
    each change to every subscriber's queue; a slow subscriber loses its oldest items, not the others' ones."""

    def __init__(self, *, bootstrap_servers: str, topic: str, queue_size: int = 256,
                 enrich: Callable[[dict[str, Any]], Awaitable[dict[str, Any]]] | None = None,
                 security: Mapping[str, Any] | None = None) -> None:
        self._security = dict(security or {})
        self._enrich = enrich
        self._bootstrap = bootstrap_servers
        self._topic = topic
        self._queue_size = queue_size
        self._subscribers: set[asyncio.Queue[dict[str, Any]]] = set()
        self._task: asyncio.Task[None] | None = None
        self._consumer: AIOKafkaConsumer | None = None
        self.ready = asyncio.Event()

    async def start(self) -> None:
        consumer = AIOKafkaConsumer(self._topic, **self._security, bootstrap_servers=self._bootstrap, group_id=None,
                                    auto_offset_reset="latest", enable_auto_commit=False)
        await consumer.start()
        self._consumer = consumer
        for _ in range(100):  # without a group, the assignment is every partition, once metadata is in
            if consumer.assignment():
                break
            await consumer.getmany(timeout_ms=100)
        partitions = list(consumer.assignment())
        if partitions:
            await consumer.seek_to_end(*partitions)
            for tp in partitions:  # resolve the end offsets now: no change after `start` is missed
                await consumer.position(tp)
        self.ready.set()
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._consumer is not None:
            await self._consumer.stop()

    def subscribe(self) -> asyncio.Queue[dict[str, Any]]:
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(self._queue_size)
        self._subscribers.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[dict[str, Any]]) -> None:
        self._subscribers.discard(queue)

    async def _run(self) -> None:
        assert self._consumer is not None
        while True:
            batches = await self._consumer.getmany(timeout_ms=1000)
            for records in batches.values():
                for record in records:
                    try:
                        event = decode(record.value)
                    except InvalidEvent:
                        continue
                    crisis = event.data
                    if self._enrich is not None:
                        try:
                            crisis = await self._enrich(crisis)
                        except Exception as exc:  # the wire data is still worth sending
                            log.warning("feed_enrich_failed", error=type(exc).__name__)
                    self.publish({"type": event.type.rsplit(".", 1)[-1], "crisis": crisis})

    def publish(self, item: dict[str, Any]) -> None:
        for queue in list(self._subscribers):
            if queue.full():
                with contextlib.suppress(asyncio.QueueEmpty):
                    queue.get_nowait()
            queue.put_nowait(item)


def sse(event: str, data: Any) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data, default=str, separators=(',', ':'))}\n\n".encode()
