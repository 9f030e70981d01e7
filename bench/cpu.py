"""CPU time of processes, read from /proc (Linux): where a benchmark's two cores went, per message."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TICKS = os.sysconf("SC_CLK_TCK")


def process_seconds(pid: int) -> float:
    """User + system CPU seconds of one process so far (0 once it is gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat.rpartition(")")[2].split()  # after the command name, which may hold spaces
    return (int(fields[11]) + int(fields[12])) / TICKS


def broker_pids() -> list[int]:
    """The project's own Kafka broker (`make infra`), not another one on the same machine."""
    pid_file = ROOT / ".run" / "kafka" / "kafka.pid"
    return [int(pid_file.read_text())] if pid_file.exists() else []


def postgres_pids() -> list[int]:
    """The project's own PostgreSQL server (`make infra`) and every backend and helper process it started, not
    another cluster on the same machine (a CI clone's, say)."""
    found = subprocess.run(["pgrep", "-f", str((ROOT / ".run" / "postgres").resolve())], capture_output=True,
                           text=True)
    server = [int(pid) for pid in found.stdout.split()]
    if not server:
        return []
    children = subprocess.run(["pgrep", "-P", ",".join(map(str, server))], capture_output=True, text=True)
    return server + [int(pid) for pid in children.stdout.split()]


class CpuMeter:
    """CPU seconds of named groups of processes between `start` and `stop`; the group of this process is its own
    `time.process_time()` (every thread). Groups are functions, called at both ends: a group's processes that start
    in between count from zero, those that end in between are lost (keep the window inside their lives)."""

    def __init__(self, groups: Mapping[str, Callable[[], Iterable[int]]], *, own: str | None = None) -> None:
        self._groups = dict(groups)
        self._own = own
        self._start: dict[str, float] = {}
        self._started_at = 0.0
        self.seconds: dict[str, float] = {}
        self.wall = 0.0

    def _now(self) -> dict[str, float]:
        now = {name: sum(process_seconds(pid) for pid in pids()) for name, pids in self._groups.items()}
        if self._own is not None:
            now[self._own] = time.process_time()
        return now

    def start(self) -> None:
        self._start, self._started_at = self._now(), time.monotonic()

    def stop(self) -> dict[str, float]:
        end, self.wall = self._now(), time.monotonic() - self._started_at
        self.seconds = {name: end[name] - self._start.get(name, 0.0) for name in end}
        return self.seconds

    def per_message_us(self, messages: int) -> dict[str, float]:
        """CPU microseconds per message of each group, the wall time per message as `wall`."""
        per = {name: round(1e6 * seconds / messages, 1) for name, seconds in self.seconds.items()}
        return per | {"wall": round(1e6 * self.wall / messages, 1)}
