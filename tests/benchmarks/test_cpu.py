"""bench/cpu.py: the CPU of processes per message, which the notifier's bench prints to say where the cores went."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import asyncpg

from bench.cpu import CpuMeter, broker_pids, postgres_pids, process_seconds


def spin(seconds: float) -> None:
    until = time.process_time() + seconds
    while time.process_time() < until:
        pass


_SPIN_ON_REQUEST = ("import sys, time\nsys.stdin.readline()\nt = time.process_time() + 0.3\n"
                    "while time.process_time() < t: pass\nprint('done', flush=True)\ntime.sleep(30)")


def test_a_busy_child_is_charged_its_cpu_and_an_idle_one_none() -> None:
    busy = subprocess.Popen([sys.executable, "-c", _SPIN_ON_REQUEST], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    idle = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    assert busy.stdin is not None and busy.stdout is not None
    try:
        time.sleep(0.3)  # both interpreters started: their start-up is before the window
        meter = CpuMeter({"busy": lambda: [busy.pid], "idle": lambda: [idle.pid]}, own="client")
        meter.start()
        busy.stdin.write("go\n")
        busy.stdin.flush()
        spin(0.2)
        assert busy.stdout.readline().strip() == "done"
        seconds = meter.stop()
    finally:
        busy.kill()
        idle.kill()
        busy.wait()
        idle.wait()
    assert seconds["busy"] >= 0.25
    assert seconds["idle"] < 0.05
    assert seconds["client"] >= 0.19
    per = meter.per_message_us(1000)
    assert per["client"] == round(1e6 * seconds["client"] / 1000, 1)
    assert per["wall"] >= 1e6 * 0.3 / 1000  # the window lasted at least the child's spin


def test_a_process_that_is_gone_counts_for_nothing() -> None:
    assert process_seconds(2**22 + 1) == 0.0  # above the kernel's largest pid: never a process
    assert process_seconds(os.getpid()) > 0


async def test_the_projects_own_database_and_broker_are_found() -> None:
    """The processes of `make infra` (this checkout's .run/), whatever else runs on the machine."""
    conn = await asyncpg.connect(os.environ["DATABASE_URL"])
    try:
        backend = await conn.fetchval("SELECT pg_backend_pid()")
        assert backend in postgres_pids()
    finally:
        await conn.close()
    broker = broker_pids()
    assert len(broker) == 1
    with open(f"/proc/{broker[0]}/comm") as comm:
        assert comm.read().strip() == "java"
