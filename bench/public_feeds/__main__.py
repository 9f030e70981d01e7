"""`python -m bench.public_feeds`: the public crisis feeds under a crowd while a coordinator works (issue 19).

The crisis center's API runs as its own process (a fresh schema, three active crises). First a coordinator works
alone for `--seconds`: the crisis list, a crisis, its welfare counts, one after another with a 50 ms pause, as
a person clicking through the dashboard; that is the baseline. Then the same coordinator again while `--crowd`
clients fetch the public JSON, Atom and CAP feeds back to back (bounded: each waits for its answer). Figures: the
coordinator's p50 and p99 alone and under the crowd (aim: p99 under 200 ms), and the crowd's requests per second.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
import uuid

import aiohttp

from bench.intake.bench_intake import ROOT, Result, free_port, load_env, wait_ready
from bench.loop import run as run_loop
from bench.report import record
from bench.topics import drop_topics
from shared.auth import JwtConfig, mint_token
from shared.db import migrate
from shared.kafka.admin import ensure_topics

CRISES = [
    {"title": "Floods in Valencia", "kind": "flood", "severity": "severe",
     "area": {"country": "ES", "circle": {"lat": 39.47, "lon": -0.38, "radius_km": 40}}},
    {"title": "Earthquake near Pokhara", "kind": "earthquake", "severity": "extreme",
     "area": {"country": "NP", "circle": {"lat": 28.2, "lon": 83.98, "radius_km": 80}}},
    {"title": "Unrest in the capital", "kind": "unrest", "severity": "moderate", "area": {"country": "HT"}},
]


async def coordinator(session: aiohttp.ClientSession, base: str, token: str, ids: list[str],
                      seconds: float) -> Result:
    headers = {"Authorization": f"Bearer {token}"}
    paths = ["/v1/crises?status=active"] + [p for i in ids for p in (f"/v1/crises/{i}", f"/v1/crises/{i}/welfare")]
    latencies: list[float] = []
    errors = 0
    stop = time.perf_counter() + seconds
    while time.perf_counter() < stop:
        for path in paths:
            began = time.perf_counter()
            async with session.get(base + path, headers=headers) as response:
                await response.read()
                if response.status == 200:
                    latencies.append(time.perf_counter() - began)
                else:
                    errors += 1
            await asyncio.sleep(0.05)
    return Result("coordinator", len(latencies), seconds, latencies, errors)


async def crowd(session: aiohttp.ClientSession, base: str, ids: list[str], clients: int, seconds: float) -> Result:
    paths = ["/public/crises", "/public/crises.atom"] + [f"/public/crises/{i}.cap" for i in ids]
    latencies: list[float] = []
    errors = 0
    stop = time.perf_counter() + seconds

    async def loop(offset: int) -> None:
        nonlocal errors
        n = offset
        while time.perf_counter() < stop:
            began = time.perf_counter()
            async with session.get(base + paths[n % len(paths)]) as response:
                await response.read()
                if response.status == 200:
                    latencies.append(time.perf_counter() - began)
                else:
                    errors += 1
            n += 1

    await asyncio.gather(*(loop(i) for i in range(clients)))
    return Result("public feeds", len(latencies), seconds, latencies, errors)


async def run(args: argparse.Namespace) -> None:
    load_env()
    schema = f"crisis_bp{uuid.uuid4().hex[:8]}"
    prefix = f"bp{uuid.uuid4().hex[:8]}."
    await ensure_topics(os.environ["KAFKA_BOOTSTRAP_SERVERS"], prefix=prefix)
    await migrate(os.environ["DATABASE_URL"], schema, ROOT / "services" / "crisis_center" / "migrations")
    port = free_port()
    env = {**os.environ, "DATABASE_SCHEMA": schema, "HTTP_PORT": str(port), "LOG_LEVEL": "WARNING",
           "KAFKA_TOPIC_PREFIX": prefix}
    server = await asyncio.create_subprocess_exec(sys.executable, "-m", "services.crisis_center", "api", cwd=ROOT,
                                                  env=env, stdout=asyncio.subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        await wait_ready(base + "/healthz")
        token = mint_token(JwtConfig(os.environ["JWT_SECRET"], "be.diplomatie.consular", "consular-platform"),
                           subject="bench", roles=["coordinator"], ttl_seconds=3600)
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=args.crowd + 8)) as session:
            ids = []
            for crisis in CRISES:
                async with session.post(base + "/v1/crises", json=crisis,
                                        headers={"Authorization": f"Bearer {token}"}) as response:
                    assert response.status == 201, await response.text()
                    ids.append((await response.json())["crisis_id"])
            alone = await coordinator(session, base, token, ids, args.seconds)
            loaded, public = await asyncio.gather(coordinator(session, base, token, ids, args.seconds),
                                                  crowd(session, base, ids, args.crowd, args.seconds))
    finally:
        server.terminate()
        await server.wait()
        await drop_topics(prefix)
    for result in (alone, loaded, public):
        print(result.line(), flush=True)
    record("public_feeds", "coordinator p99 alone", alone.quantile(0.99), "ms")
    record("public_feeds", f"coordinator p99 while {args.crowd} clients read the public feeds",
           loaded.quantile(0.99), "ms", baseline=alone.quantile(0.99), baseline_name="coordinator alone",
           aim="< 200 ms")
    record("public_feeds", "coordinator p50 under the crowd", loaded.quantile(0.5), "ms",
           baseline=alone.quantile(0.5), baseline_name="coordinator alone")
    record("public_feeds", f"public feed requests served ({args.crowd} clients)", public.rate, "req/s")
    record("public_feeds", "public feed p99", public.quantile(0.99), "ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--crowd", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=30)
    run_loop(run(parser.parse_args()))


main()
