"""One replica of the scale-out test's worker, built only from shared/: the outbox relay and an EventConsumer.

Run three of these against one schema and one topic prefix: the relays share the outbox (`FOR UPDATE SKIP
LOCKED`), the consumers share `consular.reports` as one group, and each report handled leaves one row in
`handled` (no unique key there, so a second effect of one event would show). The consumer's dedup by event id
in `processed_events`, in the same transaction, is what keeps it to one.

    python tests/deploy/scaleout_worker.py --bootstrap ... --schema ... --prefix ... --group ... --replica 1
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import asyncpg
from prometheus_client import REGISTRY

from shared.db import create_pool
from shared.events.envelope import CloudEvent, EventData
from shared.kafka.consumer import EventConsumer
from shared.kafka.outbox import OutboxRelay
from shared.kafka.producer import make_producer
from shared.logging import configure_logging, get_logger

CONSUMER_NAME = "scaleout-sink"  # the same in every replica: it is the dedup key's namespace


async def main(args: argparse.Namespace) -> None:
    configure_logging("scaleout-worker")
    log = get_logger("scaleout")
    replica = f"replica-{args.replica}"
    pool = await create_pool(args.database_url, args.schema, min_size=2, max_size=6)
    producer = make_producer(args.bootstrap, client_id=f"scaleout-{replica}")
    await producer.start()

    async def handle(event: CloudEvent, data: EventData, conn: asyncpg.Connection | None) -> None:
        assert conn is not None
        if args.source and event.source != args.source:
            return  # e.g. intake's own report.submitted for a case it opened from one of the test's reports
        await conn.execute("INSERT INTO handled(reference, replica) VALUES ($1, $2)", data.key(), replica)
        # Work that takes time, inside the transaction: a replica killed under load then leaves handled but
        # uncommitted offsets behind, which the group hands to another replica (the redelivery dedup must absorb).
        await asyncio.sleep(args.handle_ms / 1000)

    relay = OutboxRelay(pool=pool, producer=producer, schema=args.schema, batch_size=100, poll_interval=0.5)
    consumer = EventConsumer(
        name=CONSUMER_NAME, bootstrap_servers=args.bootstrap, group_id=args.group, topics=["consular.reports"],
        handler=handle, producer=producer, pool=pool, topic_prefix=args.prefix, batch_size=50,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    tasks = [asyncio.create_task(relay.run()), asyncio.create_task(consumer.run())]
    log.info("scaleout_worker_started", replica=replica, pid=os.getpid())
    await stop.wait()
    relay.stop()
    await consumer.stop()
    await asyncio.gather(*tasks, return_exceptions=True)
    await producer.stop()
    await pool.close()
    # What this replica's consumer saw, for the test's report: redeliveries dropped by the dedup.
    samples = {outcome: REGISTRY.get_sample_value(
        "consumer_events_total", {"consumer": CONSUMER_NAME, "topic": "consular.reports", "outcome": outcome}) or 0
        for outcome in ("handled", "duplicate", "dead_lettered")}
    log.info("scaleout_worker_stopped", replica=replica, **{k: int(v) for k, v in samples.items()})


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL", ""))
    parser.add_argument("--schema", required=True)
    parser.add_argument("--prefix", required=True)
    parser.add_argument("--group", required=True)
    parser.add_argument("--replica", required=True)
    parser.add_argument("--handle-ms", type=float, default=10.0, help="time each event takes to handle")
    parser.add_argument("--source", default="", help="handle only the events of this CloudEvents source")
    return parser.parse_args(argv)


if __name__ == "__main__":
    asyncio.run(main(parse()))
