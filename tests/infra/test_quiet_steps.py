"""Issue 27: `make run` and `make infra` print one line per step with its duration; a step's output goes to its log
and is shown only when the step fails (scripts/step.sh)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from tests.support import ROOT

STEP = ROOT / "scripts" / "step.sh"
OK_LINE = re.compile(r"^ok   (?P<label>.{12}) +(?P<seconds>\d+\.\d) s(  (?P<detail>.*))?$")


def run_step(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(STEP), *args], capture_output=True, text=True, timeout=60,
                          env={"PATH": "/usr/bin:/bin", "STEP_LOG_DIR": str(tmp_path)})


def test_a_step_that_succeeds_prints_one_line_and_keeps_its_output_in_the_log(tmp_path: Path) -> None:
    noisy = "echo 'Collecting x'; echo '!! Please be careful with folders' >&2; echo 'postgres: up on 127.0.0.1:5433'"
    done = run_step(tmp_path, "database", "postgres", "--", "bash", "-c", noisy)
    assert done.returncode == 0 and done.stderr == ""
    lines = done.stdout.splitlines()
    assert len(lines) == 1, done.stdout
    line = OK_LINE.match(lines[0])
    assert line is not None, lines[0]
    assert line["label"].strip() == "database" and line["detail"] == "up on 127.0.0.1:5433"
    assert float(line["seconds"]) >= 0
    log = (tmp_path / "postgres.log").read_text()
    assert "Collecting x" in log and "Please be careful" in log


def test_colour_codes_never_reach_the_line(tmp_path: Path) -> None:
    """Maven prints bare colour resets even with -q: the line stays plain text."""
    coloured = r"printf 'kafka: jars in place\n\033[0m\033[0m\n\033[1;32mkafka: 12 jars\033[0m\n\033[0m'"
    done = run_step(tmp_path, "kafka jars", "kafka-install", "--", "bash", "-c", coloured)
    line = OK_LINE.match(done.stdout.splitlines()[0])
    assert line is not None and line["detail"] == "12 jars", done.stdout
    assert "\x1b" not in done.stdout


def test_a_failing_step_shows_its_log_and_returns_its_status(tmp_path: Path) -> None:
    failed = run_step(tmp_path, "migrations", "migrate", "--", "bash", "-c", "echo 'relation x does not exist'; exit 3")
    assert failed.returncode == 3 and failed.stdout == ""
    first, *rest = failed.stderr.splitlines()
    assert re.match(r"^FAIL migrations +\d+\.\d s  \(log: .*migrate\.log\)$", first), first
    assert rest == ["relation x does not exist"]


def test_show_passes_the_output_through_then_the_line(tmp_path: Path) -> None:
    shown = run_step(tmp_path, "--show", "services", "services-start", "--", "printf", "  intake-api: http://x\n")
    assert shown.returncode == 0
    output, line = shown.stdout.splitlines()
    assert output == "  intake-api: http://x"
    match = OK_LINE.match(line)
    assert match is not None and match["label"].strip() == "services" and not match["detail"]


def test_make_run_and_infra_go_through_steps() -> None:
    makefile = (ROOT / "Makefile").read_text()
    for label, command in (("venv", "scripts/venv.sh"), ('"kafka jars"', "scripts/kafka.sh install"),
                           ("database", "scripts/postgres.sh start"), ("broker", "scripts/kafka.sh start"),
                           ("topics", "shared.cli topics"), ("migrations", "shared.cli migrate"),
                           ("seed", "shared.cli seed"), ("--show services", "scripts/services.sh start")):
        assert re.search(rf"\$\(STEP\) {re.escape(label)} \S+ -- .*{re.escape(command)}", makefile), label
    assert "pip install" not in makefile  # pip runs in scripts/venv.sh, quiet, under its step
