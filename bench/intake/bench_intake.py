"""Reports per second to durable acceptance, at 64 concurrent clients, against the ceiling of asyncpg alone.

1. The API (`python -m services.intake api`, its own process, a fresh schema) takes `POST /v1/reports` from
   64 concurrent HTTP clients (aiohttp, keep-alive), each with its own Idempotency-Key. A 201 means the case,
   its clocks, its acknowledgement command and its `report.submitted` event are committed: durable acceptance.
2. The ceiling: 64 concurrent asyncpg tasks inserting the same rows the request writes at minimum, a report
   and an outbox row in one transaction, through a pool of the API's size.

The API is measured as one process, then as `--api-processes` processes (2 by default: the deployment's
minimum replicas, deploy/k8s) sharing the same number of database connections, the clients taking them in turn.

Prints throughput, p50 and p99 latency of each, and the ratios. Environment: config/local.env defaults.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import asyncpg

from bench.cpu import CpuMeter, postgres_pids
from bench.loop import run as run_loop
from bench.report import record
from shared.auth import JwtConfig, mint_token
from shared.db import create_pool, migrate, seed

ROOT = Path(__file__).resolve().parents[2]

BODY = {
    "kind": "lost_document",
    "reporter": {"full_name": "Bench Reporter", "phone": "+32470123456", "email": "bench@example.org",
                 "language": "fr", "channel": "web"},
    "location": {"country": "MA", "city": "Rabat"},
    "description": "Passeport perdu à la gare",
}


def load_env() -> None:
    for line in (ROOT / "config" / "local.env").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            os.environ.setdefault(key, value)


@dataclass
class Result:
    name: str
    count: int
    seconds: float
    latencies: list[float]
    errors: int
    cpu_us: dict[str, float] = field(default_factory=dict)
    """CPU microseconds per measured call of each group of processes (bench/cpu.py), `wall` beside them."""

    @property
    def rate(self) -> float:
        return self.count / self.seconds

    def quantile(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

    def line(self) -> str:
        return (f"{self.name:<36} {self.rate:8.0f} /s   p50 {self.quantile(0.5):6.1f} ms   "
                f"p99 {self.quantile(0.99):6.1f} ms   ({self.count} in {self.seconds:.1f} s, {self.errors} errors)"
                f"\n{'':<36} CPU us per report: {self.cpu_us}")


async def drive(name: str, op: Callable[[], Awaitable[bool]], *, clients: int, warmup: float,
                duration: float, cpu: Mapping[str, Callable[[], Iterable[int]]]) -> Result:
    """`clients` loops calling `op` back to back; only calls that start after the warm-up are measured, and the CPU
    of `cpu`'s processes (and of this one, as `client`) from the warm-up's end to the last call's."""
    meter = CpuMeter({**cpu, "postgres": postgres_pids}, own="client")
    asyncio.get_running_loop().call_later(warmup, meter.start)
    latencies: list[float] = []
    errors = 0
    start = time.perf_counter() + warmup
    stop = start + duration

    async def loop() -> None:
        nonlocal errors
        while (began := time.perf_counter()) < stop:
            ok = await op()
            if began >= start:
                if ok:
                    latencies.append(time.perf_counter() - began)
                else:
                    errors += 1

    await asyncio.gather(*(loop() for _ in range(clients)))
    meter.stop()
    return Result(name, len(latencies), duration, latencies, errors, meter.per_message_us(max(len(latencies), 1)))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def wait_ready(url: str, within: float = 60) -> None:
    deadline = time.monotonic() + within
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            try:
                async with session.get(url) as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.3)
    raise RuntimeError(f"{url} not ready in {within}s")


async def bench_api(schema: str, *, clients: int, warmup: float, duration: float, pool_size: int,
                    processes: int) -> Result:
    """`processes` API processes (the deployment's replicas), each on its own port with its own pool; the clients
    take them in turn, as a Kubernetes Service spreads connections."""
    ports = [free_port() for _ in range(processes)]
    servers = []
    for port in ports:
        env = {**os.environ, "DATABASE_SCHEMA": schema, "HTTP_PORT": str(port), "LOG_LEVEL": "WARNING",
               "DATABASE_POOL_MIN": str(pool_size), "DATABASE_POOL_MAX": str(pool_size),
               "KAFKA_TOPIC_PREFIX": f"bench-{schema}."}
        servers.append(await asyncio.create_subprocess_exec(sys.executable, "-m", "services.intake", "api", cwd=ROOT,
                                                            env=env, stdout=asyncio.subprocess.DEVNULL))
    try:
        for port in ports:
            await wait_ready(f"http://127.0.0.1:{port}/healthz")
        auth = os.environ["JWT_SECRET"]
        token = mint_token(JwtConfig(auth, "be.diplomatie.consular", "consular-platform"), subject="bench",
                           roles=["duty_officer"], ttl_seconds=3600)
        payload = json.dumps(BODY).encode()
        connector = aiohttp.TCPConnector(limit=clients)
        urls = [f"http://127.0.0.1:{port}/v1/reports" for port in ports]
        turn = iter(range(10**12))
        async with aiohttp.ClientSession(connector=connector) as session:

            async def post() -> bool:
                headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json",
                           "Idempotency-Key": uuid.uuid4().hex}
                async with session.post(urls[next(turn) % processes], data=payload, headers=headers) as response:
                    await response.read()
                    return response.status == 201

            name = "API POST /v1/reports" + (f" ({processes} processes)" if processes > 1 else "")
            pids = [server.pid for server in servers]
            return await drive(name, post, clients=clients, warmup=warmup, duration=duration, cpu={"api": lambda: pids})
    finally:
        for server in servers:
            server.terminate()
        for server in servers:
            await asyncio.wait_for(server.wait(), 20)


async def bench_ceiling(schema: str, *, clients: int, warmup: float, duration: float, pool_size: int) -> Result:
    pool = await create_pool(os.environ["DATABASE_URL"], schema, min_size=pool_size, max_size=pool_size)
    await pool.execute(
        "CREATE TABLE ceiling_reports (reference text PRIMARY KEY, kind text, status text, channel text,"
        " language text, reporter jsonb, location jsonb, description text, received_at timestamptz,"
        " reply_due_by timestamptz, officer_id int)")
    reporter = BODY["reporter"]
    payload = json.dumps({"specversion": "1.0", "type": "be.diplomatie.report.submitted", "data": BODY}).encode()
    counter = iter(range(1, 10**9))

    async def insert() -> bool:
        reference = f"BE-2026-{next(counter):06d}"
        now = datetime.now(UTC)
        async with pool.acquire() as conn, conn.transaction():
            await conn.execute(
                "INSERT INTO ceiling_reports VALUES ($1, $2, 'received', 'web', 'fr', $3, $4, $5, $6, $6, 1)",
                reference, BODY["kind"], reporter, BODY["location"], BODY["description"], now)
            await conn.execute(
                "INSERT INTO outbox(event_id, topic, key, payload, headers) VALUES ($1, $2, $3, $4, $5::jsonb)",
                str(uuid.uuid4()), "bench.consular.reports", reference, payload, "{}")
        return True

    try:
        return await drive("asyncpg ceiling (2 inserts)", insert, clients=clients, warmup=warmup, duration=duration,
                           cpu={})
    finally:
        await pool.close()


async def run(args: argparse.Namespace) -> int:
    load_env()
    schema = f"intake_bench_{uuid.uuid4().hex[:8]}"
    await migrate(os.environ["DATABASE_URL"], schema, ROOT / "services" / "intake" / "migrations")
    await seed(os.environ["DATABASE_URL"], schema, [ROOT / "services" / "intake" / "seeds" / "10_officers.sql"])
    try:
        api = await bench_api(schema, clients=args.clients, warmup=args.warmup, duration=args.duration,
                              pool_size=args.pool, processes=1)
        replicas = None
        if args.api_processes > 1:
            replicas = await bench_api(schema, clients=args.clients, warmup=args.warmup, duration=args.duration,
                                       pool_size=-(-args.pool // args.api_processes), processes=args.api_processes)
        ceiling = await bench_ceiling(schema, clients=args.clients, warmup=args.warmup, duration=args.duration,
                                      pool_size=args.pool)
    finally:
        conn = await asyncpg.connect(os.environ["DATABASE_URL"])
        await conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        await conn.close()
    print(f"intake benchmark: {args.clients} concurrent clients, {args.pool} database connections in all,"
          f" {args.duration:.0f} s measured")
    for result in (api, replicas, ceiling):
        if result is not None:
            print(result.line())
    for result, label in ((api, "one API process"), (replicas, f"{args.api_processes} API processes")):
        if result is None:
            continue
        print(f"{label}: ratio to the ceiling {result.rate / ceiling.rate:.2f} (aim >= 0.5),"
              f" p99 {result.quantile(0.99) / ceiling.quantile(0.99):.2f}x the ceiling's (aim <= 1.5x)")
        record("intake", f"reports/s to durable acceptance ({args.clients} clients, {label})", result.rate, "/s",
               baseline=ceiling.rate, baseline_name="asyncpg ceiling, same rows", aim="ratio >= 0.5")
        record("intake", f"API latency p50 ({label})", result.quantile(0.5), "ms", baseline=ceiling.quantile(0.5),
               baseline_name="ceiling p50")
        record("intake", f"API latency p99 ({label})", result.quantile(0.99), "ms",
               baseline=ceiling.quantile(0.99), baseline_name="ceiling p99", aim="ratio <= 1.5")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.intake", description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--duration", type=float, default=15.0, help="seconds measured per run")
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--pool", type=int, default=10,
                        help="database connections of the API (shared among its processes) and of the ceiling")
    parser.add_argument("--api-processes", type=int, default=2,
                        help="also measure this many API processes (deploy/k8s runs at least 2 replicas); 1: skip")
    return run_loop(run(parser.parse_args(argv)))
