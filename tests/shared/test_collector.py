"""shared/collector.py: the collector's thresholds for worker processes, set by every Kafka worker's entry point.

Each case runs in a process of its own: tuning the collector of the test session would change every other test.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from shared.collector import GC_THRESHOLDS
from tests.support import free_port

ROOT = Path(__file__).resolve().parents[2]

# A worker that, once stopped, reports the collector as `run_kafka_worker` left it after the start.
_RUN_A_WORKER = """
import asyncio, gc, json, os
import asyncpg
from shared.runner import run_kafka_worker
from shared.settings import ProcessSettings

class Resources:
    def __init__(self, pool): self.pool = pool

class Worker:
    seen = None
    async def start(self): asyncio.get_running_loop().call_later(0.2, stop.set)
    async def stop(self): Worker.seen = {"thresholds": gc.get_threshold(), "frozen": gc.get_freeze_count()}
    def tasks(self): return []

async def resources():
    return Resources(await asyncpg.create_pool(os.environ["DATABASE_URL"], min_size=1, max_size=1))

async def main():
    global stop
    stop = asyncio.Event()
    before = gc.get_threshold()
    await run_kafka_worker(ProcessSettings(), stop, name="probe", open_resources=resources,
                           build=lambda resources, producer: Worker())
    print(json.dumps({"before": before, **Worker.seen}))

asyncio.run(main())
"""


def run_python(code: str, **env: str) -> dict[str, object]:
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env={**os.environ, **env}, capture_output=True,
                          text=True, timeout=60, check=True)
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def test_tuning_sets_the_thresholds_and_freezes_what_exists() -> None:
    seen = run_python("import gc, json; from shared.collector import tune_collector; before = gc.get_threshold();"
                      " tune_collector();"
                      " print(json.dumps({'before': before, 'thresholds': gc.get_threshold(),"
                      " 'frozen': gc.get_freeze_count()}))")
    assert seen["before"] != list(GC_THRESHOLDS)
    assert seen["thresholds"] == list(GC_THRESHOLDS)
    assert isinstance(seen["frozen"], int) and seen["frozen"] > 1000  # the modules imported so far, at least


def test_every_kafka_workers_process_runs_with_the_tuned_collector() -> None:
    seen = run_python(_RUN_A_WORKER, HEALTH_PORT=str(free_port()), LOG_LEVEL="WARNING")
    assert seen["before"] != list(GC_THRESHOLDS)
    assert seen["thresholds"] == list(GC_THRESHOLDS)
    assert isinstance(seen["frozen"], int) and seen["frozen"] > 1000
