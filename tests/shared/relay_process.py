"""An outbox relay in a process of its own, so that a test can kill it with SIGKILL in the middle of a batch."""

from __future__ import annotations

import asyncio
import os

from shared.db import create_pool
from shared.kafka.outbox import OutboxRelay
from shared.kafka.producer import make_producer


async def main() -> None:
    pool = await create_pool(os.environ["DATABASE_URL"], os.environ["RELAY_SCHEMA"], min_size=1, max_size=2)
    producer = make_producer(os.environ["KAFKA_BOOTSTRAP_SERVERS"], client_id="relay-under-test")
    await producer.start()
    print("started", flush=True)
    relay = OutboxRelay(pool=pool, producer=producer, schema=os.environ["RELAY_SCHEMA"],
                        batch_size=int(os.environ["RELAY_BATCH"]))
    while True:
        await relay.drain_once()
        await asyncio.sleep(0.05)


asyncio.run(main())
