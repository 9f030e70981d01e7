"""Directory benchmark: resolution p50/p99 in-process, and HTTP requests per second of `/v1/resolve` against
a trivial FastAPI endpoint served by the same uvicorn server in the same run (the ratio).

Run: `python -m bench.directory [--seconds 5] [--connections 16]` with PostgreSQL and Kafka up (the app's
lifespan opens its pool on a throw-away schema). Traffic goes to 127.0.0.1 only; every loop is bounded.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import socket
import statistics
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode

from bench.loop import run as run_loop
from bench.report import record
from services.directory.adapters.seed import load_directory
from services.directory.domain.directory import Directory
from services.directory.domain.model import SERVICES, InvalidQuery

ROOT = Path(__file__).resolve().parents[2]


def queries(directory: Directory, count: int, seed: int = 7) -> list[dict[str, object]]:
    """A mix like real traffic: a third by country, a third by country and city, a third by coordinates."""
    rng = random.Random(seed)
    countries = sorted({c for p in directory.posts.values() for c in p.accredited_to} | set(directory.eu_by_host))
    countries = [c for c in countries if c != "BE"]
    cities = [(p.country, p.city, p.lat, p.lon) for p in directory.posts.values() if p.country != "BE"]
    out: list[dict[str, object]] = []
    for i in range(count):
        service = SERVICES[i % len(SERVICES)]
        kind = i % 3
        if kind == 0:
            out.append({"service": service, "country": rng.choice(countries)})
        elif kind == 1:
            country, city, _, _ = rng.choice(cities)
            out.append({"service": service, "country": country, "city": city})
        else:
            _, _, lat, lon = rng.choice(cities)
            out.append({"service": service, "lat": round(lat + rng.uniform(-0.3, 0.3), 4),
                        "lon": round(lon + rng.uniform(-0.3, 0.3), 4)})  # fmt: skip
    return out


def _time_all(directory: Directory, qs: list[dict[str, object]]) -> tuple[list[float], list[float]]:
    """Wall-clock and CPU (this thread's) seconds per resolution: on a shared machine the CPU time leaves out
    the time other processes held the core."""
    now = datetime.now(UTC)
    wall: list[float] = []
    cpu: list[float] = []
    for q in qs:
        params = dict(q)
        service = str(params.pop("service"))
        started, started_cpu = time.perf_counter(), time.thread_time()
        with contextlib.suppress(InvalidQuery):
            directory.resolve_at(service, now, **params)  # type: ignore[arg-type]
        cpu.append(time.thread_time() - started_cpu)
        wall.append(time.perf_counter() - started)
    return sorted(wall), sorted(cpu)


def _figures(timings: list[float]) -> dict[str, float]:
    return {
        "count": len(timings),
        "p50_us": timings[len(timings) // 2] * 1e6,
        "p99_us": timings[int(len(timings) * 0.99)] * 1e6,
        "max_us": timings[-1] * 1e6,
    }


def in_process(directory: Directory, qs: list[dict[str, object]]) -> dict[str, dict[str, float]]:
    """`cold`: every distinct query once on a fresh snapshot (nothing memoised); `traffic`: the whole mix,
    where questions about the same country repeat as they do in real traffic."""
    distinct = list({tuple(sorted(q.items())): q for q in qs}.values())
    cold_wall, cold_cpu = _time_all(directory.with_posts([]), distinct)
    traffic_wall, traffic_cpu = _time_all(directory.with_posts([]), qs)
    return {
        "cold, wall clock": _figures(cold_wall),
        "cold, CPU time": _figures(cold_cpu),
        "traffic, wall clock": _figures(traffic_wall),
        "traffic, CPU time": _figures(traffic_cpu),
    }


async def _worker(host: str, port: int, paths: list[str], deadline: float, limit: int, counts: list[int]) -> None:
    """One keep-alive connection sending GETs one after another until the deadline or the request limit."""
    reader, writer = await asyncio.open_connection(host, port)
    done = errors = 0
    i = random.randrange(len(paths))
    try:
        while time.perf_counter() < deadline and done < limit:
            path = paths[i % len(paths)]
            i += 1
            writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
            status_line = await reader.readline()
            length = 0
            while True:
                line = await reader.readline()
                if line in (b"\r\n", b""):
                    break
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value.strip())
            await reader.readexactly(length)
            if not status_line.startswith(b"HTTP/1.1 200"):
                errors += 1
            done += 1
    finally:
        writer.close()
    counts.append(done)
    counts.append(-errors)


async def load(host: str, port: int, paths: list[str], seconds: float, connections: int) -> tuple[float, int]:
    counts: list[int] = []
    started = time.perf_counter()
    deadline = started + seconds
    await asyncio.gather(*(_worker(host, port, paths, deadline, 1_000_000, counts) for _ in range(connections)))
    elapsed = time.perf_counter() - started
    done = sum(c for c in counts if c > 0)
    errors = -sum(c for c in counts if c < 0)
    return done / elapsed, errors


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _wait_up(port: int, within: float = 60) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            up = (await reader.readline()).startswith(b"HTTP/1.1 200")
            writer.close()
            if up:
                return
        except OSError:
            pass
        await asyncio.sleep(0.3)
    raise RuntimeError("the benchmark server did not come up")


async def _measure(port: int, resolve_paths: list[str], seconds: float, connections: int, rounds: int) -> dict:
    await _wait_up(port)
    await load("127.0.0.1", port, ["/trivial"], 1.0, connections)  # warm-up
    await load("127.0.0.1", port, resolve_paths, 1.0, connections)
    trivial, resolve, errors = [], [], 0
    for _ in range(rounds):  # interleaved, so that noise from neighbours hits both alike
        rps, err = await load("127.0.0.1", port, ["/trivial"], seconds, connections)
        trivial.append(rps)
        errors += err
        rps, err = await load("127.0.0.1", port, resolve_paths, seconds, connections)
        resolve.append(rps)
        errors += err
    t, r = statistics.median(trivial), statistics.median(resolve)
    return {"trivial_rps": t, "resolve_rps": r, "ratio": r / t, "non_200": errors}


async def _schema(database_url: str, schema: str, *, drop: bool = False) -> None:
    from shared.db import migrate

    if not drop:
        await migrate(database_url, schema, ROOT / "services" / "directory" / "migrations")
        return
    import asyncpg

    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    finally:
        await conn.close()


def http(qs: list[dict[str, object]], seconds: float, connections: int, rounds: int) -> dict[str, float]:
    """Serve the app with uvicorn (one worker, a throw-away schema) and load both endpoints in turn."""
    env = dict(os.environ)
    env.setdefault("DATABASE_URL", "postgresql://consular@127.0.0.1:5433/consular")
    schema = f"directory_bench_{uuid.uuid4().hex[:8]}"
    run_loop(_schema(env["DATABASE_URL"], schema))
    port = _free_port()
    env.update({"DATABASE_SCHEMA": schema, "LOG_LEVEL": "WARNING", "KAFKA_TOPIC_PREFIX": "bench."})
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--factory", "bench.directory.app:create", "--host", "127.0.0.1",
         "--port", str(port), "--log-level", "warning", "--no-access-log"],
        cwd=ROOT, env=env,
    )  # fmt: skip
    try:
        paths = ["/v1/resolve?" + urlencode(q) for q in qs]
        return run_loop(_measure(port, paths, seconds, connections, rounds))
    finally:
        server.terminate()
        server.wait(timeout=30)
        run_loop(_schema(env["DATABASE_URL"], schema, drop=True))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.directory")
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each HTTP measurement")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved HTTP rounds per endpoint")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--queries", type=int, default=30000)
    parser.add_argument("--no-http", action="store_true", help="in-process figures only")
    parser.add_argument("--no-in-process", action="store_true", help="HTTP figures only")
    args = parser.parse_args(argv)
    directory = load_directory()
    qs = queries(directory, args.queries)
    print(f"load average before: {' '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} cores")
    for name, f in ({} if args.no_in_process else in_process(directory, qs)).items():
        print(
            f"in-process resolve ({name}): n={f['count']:.0f} p50={f['p50_us']:.1f}us p99={f['p99_us']:.1f}us "
            f"max={f['max_us']:.0f}us"
        )
        record("directory", f"in-process resolve p50 ({name})", f["p50_us"] / 1000, "ms")
        record("directory", f"in-process resolve p99 ({name})", f["p99_us"] / 1000, "ms", aim="< 1 ms")
    if not args.no_http:
        result = http(qs, args.seconds, args.connections, args.rounds)
        print(
            f"HTTP (1 uvicorn worker, {args.connections} keep-alive connections, median of {args.rounds}): "
            f"/trivial {result['trivial_rps']:.0f} req/s, /v1/resolve {result['resolve_rps']:.0f} req/s, "
            f"ratio {result['ratio']:.2f}, non-200 responses {result['non_200']} (422: coordinates at sea)"
        )
        record("directory", "HTTP /v1/resolve", result["resolve_rps"], "req/s", baseline=result["trivial_rps"],
               baseline_name="trivial FastAPI endpoint, same server", aim="ratio >= 0.8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
