"""`make bench`: every service's benchmark, then the stack's resident memory at idle and under load, written
as one Markdown table to docs/benchmarks.md."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path

import httpx

from bench.cpu import broker_pids, postgres_pids
from bench.loop import run as run_loop
from bench.report import Figure, load, markdown, record
from shared.events.travellers import TravellerRegistered
from shared.kafka.producer import make_producer, publish

ROOT = Path(__file__).resolve().parent.parent
BENCHES = ("intake", "directory", "crisis", "notifier", "welfare", "families", "public_feeds", "feeds")
REPORT = ROOT / "docs" / "benchmarks.md"


def rss_mib(pid: int) -> float:
    """Proportional set size: pages shared between processes (PostgreSQL's shared buffers, mapped libraries) are
    split between them, so the sum over the stack is what the stack holds; plain RSS counts them once per backend."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def stack_processes() -> dict[str, list[int]]:
    """Process ids of the broker, every PostgreSQL backend of our cluster, and each service process."""
    found: dict[str, list[int]] = {}
    if broker := broker_pids():
        found["kafka broker"] = broker
    if postgres := postgres_pids():
        found["postgresql (all backends)"] = postgres
    for pidfile in sorted((ROOT / ".run" / "services").glob("*.pid")):
        found[pidfile.stem] = [int(pidfile.read_text())]
    return found


def memory(label: str) -> dict[str, float]:
    return {name: sum(rss_mib(p) for p in pids) for name, pids in stack_processes().items()}


async def load_stack(seconds: float) -> None:
    """Reports through intake's API and registrations through Kafka, at the same time."""
    token = subprocess.run([sys.executable, "-m", "shared.cli", "token", "--role", "duty_officer"],
                           capture_output=True, text=True, check=True).stdout.strip()
    body = {"kind": "lost_document", "reporter": {"full_name": "Bench Person", "phone": "+32470000000",
                                                  "language": "en", "channel": "phone"},
            "location": {"country": "NP", "city": "Kathmandu"}, "description": "bench"}
    deadline = time.monotonic() + seconds

    async def client_loop(client: httpx.AsyncClient) -> None:
        while time.monotonic() < deadline:
            await client.post("/v1/reports", json=body)

    async def registrations() -> None:
        producer = make_producer(os.environ["KAFKA_BOOTSTRAP_SERVERS"], client_id="bench-load")
        await producer.start()
        i = 0
        try:
            while time.monotonic() < deadline:
                await publish(producer, TravellerRegistered(
                    traveller_id=f"bench-{i}", full_name="Bench", email=f"b{i}@example.org", language="en",
                    country="NP", location={"lat": 27.7, "lon": 85.3}, arrival=date(2026, 1, 1),
                    departure=date(2027, 1, 1)), source="/bench")
                i += 1
        finally:
            await producer.stop()

    async with httpx.AsyncClient(base_url="http://127.0.0.1:8001", timeout=10,
                                 headers={"Authorization": f"Bearer {token}"}) as client:
        await asyncio.gather(registrations(), *(client_loop(client) for _ in range(16)))


async def stack_memory() -> tuple[dict[str, float], dict[str, float]]:
    subprocess.run([str(ROOT / "scripts" / "services.sh"), "start"], check=False)
    await asyncio.sleep(10)
    idle = memory("idle")
    peak: dict[str, float] = dict(idle)
    task = asyncio.create_task(load_stack(30))
    while not task.done():
        for name, value in memory("load").items():
            peak[name] = max(peak.get(name, 0.0), value)
        await asyncio.sleep(1)
    await task
    subprocess.run([str(ROOT / "scripts" / "services.sh"), "stop"], check=False)
    return idle, peak


def memory_rows(idle: dict[str, float], peak: dict[str, float]) -> list[str]:
    rows = ["| process | PSS idle (MiB) | PSS under load (MiB) |", "|---|---|---|"]
    rows += [f"| {name} | {idle.get(name, 0):.0f} | {peak.get(name, 0):.0f} |" for name in sorted(peak)]
    rows.append(f"| **whole stack** | **{sum(idle.values()):.0f}** | **{sum(peak.values()):.0f}** |")
    return rows


MEMORY_HEADING = "## Resident memory of the stack"
GENERATED_HEADINGS = (MEMORY_HEADING, "## Not measured")


def kept_sections(report: str) -> str:
    """The hand-written sections of a report (every `## ` section but the generated ones), to carry over when
    `make bench` writes the generated part again: they hold figures of benches run on their own, with notes."""
    kept = []
    for section in ("\n" + report).split("\n## ")[1:]:
        heading = "## " + section.splitlines()[0]
        if not heading.startswith(GENERATED_HEADINGS):
            kept.append("## " + section.rstrip() + "\n")
    return "\n".join(kept)


def with_kept_sections(generated: str, previous: str) -> str:
    kept = kept_sections(previous)
    return generated.rstrip() + "\n\n" + kept if kept else generated


def main() -> int:
    if "--memory-only" in sys.argv:  # re-measure the memory section of an existing report
        idle, peak = run_loop(stack_memory())
        report = REPORT.read_text()
        head = report.split(MEMORY_HEADING)[0]
        figure = record("stack", "resident memory at idle", sum(idle.values()), "MiB", aim="< 2048 MiB")
        row = markdown([figure]).splitlines()[-1]
        lines = [row if line.startswith("| stack | resident memory at idle") else line for line in head.splitlines()]
        REPORT.write_text(with_kept_sections(
            "\n".join(lines) + "\n\n" + MEMORY_HEADING + " (re-measured "
            + datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC") + ")\n\n" + "\n".join(memory_rows(idle, peak)) + "\n",
            report))
        print(f"memory section of {REPORT.relative_to(ROOT)} rewritten")
        return 0
    results = Path(tempfile.mkstemp(suffix=".jsonl")[1])
    env = {**os.environ, "BENCH_RESULTS": str(results)}
    failures = []
    for bench in BENCHES:
        if not (ROOT / "bench" / bench / "__main__.py").exists():
            failures.append(f"{bench}: no benchmark")
            continue
        print(f"== bench {bench}", flush=True)
        if subprocess.run([sys.executable, "-m", f"bench.{bench}"], cwd=ROOT, env=env).returncode != 0:
            failures.append(f"{bench}: failed")
    figures: list[Figure] = load(str(results))
    idle, peak = run_loop(stack_memory())
    figures.append(record("stack", "resident memory at idle", sum(idle.values()), "MiB", aim="< 2048 MiB"))
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    previous = REPORT.read_text() if REPORT.exists() else ""
    REPORT.write_text(with_kept_sections(
        f"# Benchmark report\n\nWritten by `make bench` on {now} ({os.cpu_count()} cores).\n\n"
        + markdown(figures) + "\n" + MEMORY_HEADING + "\n\n" + "\n".join(memory_rows(idle, peak)) + "\n"
        + ("\n## Not measured\n\n" + "\n".join(f"- {f}" for f in failures) + "\n" if failures else ""),
        previous))
    print(f"report written to {REPORT.relative_to(ROOT)}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
