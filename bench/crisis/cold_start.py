"""Cold start and restart of the crisis worker (issue 20, goal 2): `python -m bench.crisis cold-start`.

1. A fresh topic set is filled with CRISIS_COLD_N registrations (default 1,000,000) spread like real stays, by
   `python -m bench.crisis registrations` in a child process (what `make registrations` runs), so this process
   holds none of them.
2. Cold start: a CrisisWorker with no local state (an empty data dir) and a new consumer group (a new app id)
   starts in this process, with one incident open (a circle over Paris, its threshold out of reach); the figure
   is the time from `start()` until every registration is counted: held by the registries, every partition read
   to its end and decided, and each traveller sent on in the country agent's table. Aim: at most 60 s at
   1,000,000.
3. Resident memory (VmRSS of this process) once all are counted, beside this process's own before the worker
   started (interpreter, libraries, the bench: the rest is the worker's). Aim: at most 1 GiB at 1,000,000.
4. Restart: the worker is stopped and a new one starts on the same data dir, app id and changelogs; the figure
   is the time from `start()` until its tables are recovered and it counts what the first one had counted (the
   registries read their partitions again: they keep no local snapshot).
   Aim: at most 15 s.

Each wait has a hard limit (CRISIS_COLD_TIMEOUT, default 300 s; CRISIS_RESTART_TIMEOUT, default 120 s): a slow
worker gives "not reached in X s, counted K of N", recorded as the limit, instead of hanging the bench.
The store is CRISIS_COLD_STORE (default `rocksdb://`, production's; `memory://` recovers from the changelogs at
restart). The worker runs in this process and event loop, as the production entry point runs it (with
`tune_collector`); on a machine shared with others the figures are indicative: the load average is printed.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path

from aiokafka import AIOKafkaProducer

from bench.crisis.bench_crisis import (
    ROOT,
    Settling,
    _env,
    drop,
    handled,
    open_paris_incident,
    schema_for,
    settings_for,
)
from bench.crisis.registrations import loadavg
from bench.loop import run as run_loop
from bench.report import record
from bench.topics import drop_topics
from services.crisis_center.settings import Settings
from services.crisis_center.worker import HANDLE_SECONDS, CrisisWorker
from shared.collector import tune_collector
from shared.kafka.admin import ensure_topics

N = int(os.environ.get("CRISIS_COLD_N", "1000000"))
COLD_TIMEOUT = float(os.environ.get("CRISIS_COLD_TIMEOUT", "300"))
RESTART_TIMEOUT = float(os.environ.get("CRISIS_RESTART_TIMEOUT", "120"))
STORE = os.environ.get("CRISIS_COLD_STORE", "rocksdb://")
COLD_AIM, RESTART_AIM, MEMORY_AIM = 60.0, 15.0, 1024.0


def rss_mib(field: str = "VmRSS") -> float:
    """This process's resident memory (`VmRSS`) or its peak (`VmHWM`), from /proc/self/status."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


def counted(worker: CrisisWorker) -> int:
    """Registrations the worker holds: the registries' (exact and cheap: in memory)."""
    return handled(worker)


def _handled_seconds(op: str) -> tuple[float, float]:
    """(count, seconds) of the worker's handling histogram for one kind of command, in this process."""
    count = total = 0.0
    for metric in HANDLE_SECONDS.collect():
        for sample in metric.samples:
            if sample.labels.get("op") == op and sample.name.endswith("_count"):
                count += sample.value
            elif sample.labels.get("op") == op and sample.name.endswith("_sum"):
                total += sample.value
    return count, total


async def wait_for_count(worker: CrisisWorker, n: int, limit: float,
                         held: list[float] | None = None) -> tuple[float | None, int]:
    """Seconds until the worker counts n travellers (None past `limit` seconds) and the last count seen; `held`
    gets the seconds until the registries held all n and had decided for each (before the country agent counted
    those they sent on). `Settling` walks the country agent's table only once its offsets say it is done."""
    started = time.perf_counter()
    seen, said = 0, started
    async with Settling(worker) as settling:
        while True:
            seen = counted(worker)
            if held is not None and not held and seen >= n and worker.registries.caught_up():
                held.append(time.perf_counter() - started)
            done = seen >= n and await settling.check(n)
            after = time.perf_counter()
            if done:
                return after - started, seen
            if after - started >= limit:
                return None, seen
            if after - said >= 15:
                print(f"[crisis] {after - started:.0f} s: {seen:,} of {n:,} counted, load average {loadavg()}",
                      flush=True)
                said = after
            await asyncio.sleep(0.02)


async def fill(prefix: str, n: int) -> float:
    """Seconds to produce n registrations from a child process (interpreter start included)."""
    started = time.perf_counter()
    child = await asyncio.create_subprocess_exec(sys.executable, "-m", "bench.crisis", "registrations", str(n),
                                                 prefix, cwd=ROOT)
    if await child.wait() != 0:
        raise RuntimeError(f"the generator failed with exit status {child.returncode}")
    return time.perf_counter() - started


def outcome(name: str, seconds: float | None, seen: int, n: int, limit: float, aim: float) -> None:
    if seconds is None:
        print(f"[crisis] {name}: not reached in {limit:.0f} s, counted {seen} of {n}", flush=True)
    record("crisis", f"{name} ({n:,} registrations)" + ("" if seconds is not None else
                                                        f": NOT REACHED in {limit:.0f} s, {seen:,} counted"),
           seconds if seconds is not None else limit, "s", aim=f"<= {aim:.0f} s at 1,000,000")


async def with_paris_incident(bootstrap: str, settings: Settings) -> None:
    """The incident the start counts in (bench_crisis.PARIS: about 9 % of the registrations)."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        await open_paris_incident(producer, settings)
    finally:
        await producer.stop()


async def run(n: int) -> None:
    _env()
    bootstrap = os.environ["KAFKA_BOOTSTRAP_SERVERS"]
    prefix = f"cold{uuid.uuid4().hex[:8]}."
    data_dir = tempfile.mkdtemp(prefix="crisis-cold-")
    await ensure_topics(bootstrap, prefix=prefix)
    schema = await schema_for(prefix)
    settings = settings_for(prefix, schema, data_dir).model_copy(update={"crisis_threshold": 10**9})
    print(f"[crisis] cold start: {n:,} registrations on {prefix}travellers.registrations, store {STORE}, "
          f"load average {loadavg()}", flush=True)
    worker: CrisisWorker | None = None
    try:
        fill_seconds = await fill(prefix, n)  # the child records the generator's rate
        await with_paris_incident(bootstrap, settings)
        print(f"[crisis] filled in {fill_seconds:.1f} s, the child's start included", flush=True)
        before = rss_mib()
        print(f"[crisis] load average before the worker starts: {loadavg()}", flush=True)

        # 2. cold start: empty data dir, new consumer group
        worker = CrisisWorker(settings, store=STORE)
        started = time.perf_counter()
        await asyncio.wait_for(worker.start(), timeout=COLD_TIMEOUT)
        tune_collector()  # as the worker's entry point does once started
        start_seconds = time.perf_counter() - started
        held: list[float] = []
        seconds, seen = await wait_for_count(worker, n, COLD_TIMEOUT - start_seconds, held)
        if seconds is not None:
            seconds = time.perf_counter() - started
        outcome("cold start: every registration counted", seconds, seen, n, COLD_TIMEOUT, COLD_AIM)
        if held:
            sent_on = len(worker.engine.travellers)
            record("crisis", f"cold start: every registration held and decided by the registries ({n:,})",
                   start_seconds + held[0], "s")
            print(f"[crisis] the registries held all {n:,} after {start_seconds + held[0]:.1f} s (`start()` returned "
                  f"after {start_seconds:.1f} s: Faust starts while the registries read); the country agent then "
                  f"counted the {sent_on:,} they sent on (inside the Paris incident)", flush=True)
            batches = _handled_seconds("travellers.batch")
            print(f"[crisis] the country agent's handling of {batches[0]:,.0f} travellers.batch commands took "
                  f"{batches[1]:.1f} s (engine and effects, no Faust machinery)", flush=True)

        # 3. memory with every registration counted
        after, peak = rss_mib(), rss_mib("VmHWM")
        record("crisis", f"resident memory with the worker ({seen:,} travellers counted)", after, "MiB",
               baseline=before, baseline_name="this process before the worker started",
               aim=f"<= {MEMORY_AIM:.0f} MiB at 1,000,000")
        print(f"[crisis] resident memory: {before:.0f} MiB before the worker, {after:.0f} MiB after "
              f"(the worker's share about {after - before:.0f} MiB), peak {peak:.0f} MiB; "
              f"load average {loadavg()}", flush=True)

        # 4. restart on the same data dir, app id and changelogs
        await worker.stop()
        worker = None
        worker = CrisisWorker(settings, store=STORE)
        started = time.perf_counter()
        again: float | None = None
        try:
            await asyncio.wait_for(worker.start(), timeout=RESTART_TIMEOUT)
            await asyncio.wait_for(worker.recovered(), timeout=RESTART_TIMEOUT - (time.perf_counter() - started))
            again, seen_again = await wait_for_count(worker, seen, RESTART_TIMEOUT - (time.perf_counter() - started))
        except TimeoutError:
            seen_again = counted(worker)
        if again is not None:
            again = time.perf_counter() - started
        outcome("restart: tables recovered, every registration counted", again, seen_again, seen, RESTART_TIMEOUT,
                RESTART_AIM)
        print(f"[crisis] load average at the end: {loadavg()}", flush=True)
    except TimeoutError:
        print(f"[crisis] the first worker did not start within {COLD_TIMEOUT:.0f} s; load average {loadavg()}",
              flush=True)
        raise
    finally:
        if worker is not None:
            try:
                await worker.stop()
            except Exception as exc:  # a worker cut short in its start: clean up all the same
                print(f"[crisis] stopping the worker: {type(exc).__name__}: {exc}", flush=True)
        await drop(schema)
        await drop_topics(prefix, settings.faust_app_id)
        shutil.rmtree(data_dir, ignore_errors=True)


def main() -> int:
    run_loop(run(N))
    return 0
