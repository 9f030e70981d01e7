"""A minimal Faust app with a changelog-backed table, run as a worker by the broker smoke test.

It counts words per key in a table and, on every event, publishes the key's new count to an output topic.
"""

from __future__ import annotations

import os
import sys

import faust

PREFIX = os.environ["SMOKE_PREFIX"]

app = faust.App(
    f"{PREFIX}smoke-app",
    broker=f"kafka://{os.environ['KAFKA_BOOTSTRAP_SERVERS']}",
    store="memory://",
    topic_partitions=3,
    topic_replication_factor=1,
    web_enabled=False,
    datadir=os.environ.get("SMOKE_DATADIR", "/tmp/faust-smoke"),
)
words = app.topic(f"{PREFIX}words", key_type=str, value_type=str, partitions=3)
counts_out = app.topic(f"{PREFIX}counts", key_type=str, value_type=str, partitions=1)
counts = app.Table("counts", default=int, partitions=3)


@app.agent(words)
async def count(stream: faust.StreamT[str]) -> None:
    async for key, _word in stream.items():
        counts[key] += 1
        await counts_out.send(key=key, value=str(counts[key]))


if __name__ == "__main__":
    sys.argv = [sys.argv[0], "worker", "--loglevel", "warn", "--without-web"]
    app.main()
