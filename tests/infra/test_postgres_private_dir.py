"""Issue 27: the database comes up from a checkout inside a private directory (mode 700, like root's home), where
the `postgres` system user that runs the server (when we are root) cannot enter. It used to fail at initdb."""

from __future__ import annotations

import os
import shutil
import socket
import stat
import subprocess
import tempfile
from pathlib import Path

from tests.support import ROOT


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_postgres_starts_answers_and_stops_from_a_private_checkout() -> None:
    private = Path(tempfile.mkdtemp(prefix="consular-private-"))
    assert stat.S_IMODE(private.stat().st_mode) == 0o700
    (private / "scripts").mkdir()
    script = private / "scripts" / "postgres.sh"
    shutil.copy(ROOT / "scripts" / "postgres.sh", script)
    env = {**os.environ, "PGPORT_LOCAL": str(_free_port()), "DATABASE_URL": ""}
    env.pop("PG_DIR", None)

    def run(command: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["bash", str(script), command], cwd=private, env=env, capture_output=True, text=True,
                              timeout=120)

    try:
        started = run("start")
        assert started.returncode == 0, started.stdout + started.stderr
        assert "up on 127.0.0.1" in started.stdout
        assert run("status").returncode == 0
        stopped = run("stop")
        assert stopped.returncode == 0 and "stopped" in stopped.stdout, stopped.stdout + stopped.stderr
        assert run("status").returncode != 0
    finally:
        run("stop")
        run("reset")
        shutil.rmtree(private, ignore_errors=True)
