"""Notifier fan-out benchmark against the local Twilio server.

1. raw: plain aiohttp POSTs to the server's Messages endpoint (same concurrency), the ceiling of this machine;
2. fan-out, no limit: N SendNotification commands on Kafka, the real worker process (consume, render, store,
   dispatch through twilio-python); the commands are stored first (their intake rate is reported), then the
   dispatcher is let go and its rate measured at the server (first to last message created); `--end-to-end`
   adds a run where consuming and sending overlap;
3. fan-out with limits (100/s, 1,000/s): achieved rate / limit.

The fan-outs run `--workers` worker processes (2 by default: the deployment's minimum replicas), which share the
per-number rates (docs/notifier.md); `--workers 1` gives the figures of sessions before 15.

Run: `.venv/bin/python bench/notifier/fanout.py --messages 100000` (Kafka and PostgreSQL up; config/local.env).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
import asyncpg
from aiokafka import AIOKafkaConsumer

from bench.cpu import CpuMeter, postgres_pids
from bench.loop import run as run_loop
from bench.report import record
from bench.topics import drop_topics
from services.notifier.adapters.twilio_sms import TwilioSms
from shared.db import migrate
from shared.events.envelope import encode, new_event
from shared.events.notifications import COMMANDS_TOPIC, Recipient, SendNotification, notification_id_for
from shared.kafka.admin import ensure_topics
from shared.kafka.producer import kafka_headers, make_producer

ROOT = Path(__file__).resolve().parents[2]
SID, TOKEN = "AC" + "0" * 31 + "9", "bench-token-7c1d"


def load_env() -> None:
    for line in (ROOT / "config" / "local.env").read_text().splitlines():
        if line.strip() and not line.startswith("#") and "=" in line:
            key, value = line.strip().split("=", 1)
            os.environ.setdefault(key, value)


class DevServer:
    def __init__(self, port: int) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.proc: subprocess.Popen[bytes] | None = None

    async def start(self, http: aiohttp.ClientSession) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "services.notifier.dev.twilio_server", "--port", str(self.port),
             "--account-sid", SID, "--auth-token", TOKEN, "--no-callbacks"], cwd=ROOT,
            stdout=subprocess.DEVNULL)
        for _ in range(100):
            try:
                async with http.get(f"{self.url}/healthz") as resp:
                    if resp.status == 200:
                        return
            except aiohttp.ClientError:
                await asyncio.sleep(0.1)
        raise RuntimeError("dev server did not start")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.send_signal(signal.SIGINT)
            self.proc.wait(10)

    async def reset(self, http: aiohttp.ClientSession) -> None:
        async with http.delete(f"{self.url}/_dev/messages") as resp:
            await resp.read()

    async def stats(self, http: aiohttp.ClientSession) -> dict[str, Any]:
        async with http.get(f"{self.url}/_dev/stats") as resp:
            result: dict[str, Any] = await resp.json()
            return result


@contextlib.asynccontextmanager
async def running_server(port: int) -> AsyncIterator[DevServer]:
    """The local Twilio server on `port` (config/local.env loaded first), stopped when the block ends."""
    load_env()
    server = DevServer(port)
    async with aiohttp.ClientSession() as http:
        await server.start(http)
    try:
        yield server
    finally:
        server.stop()


BODY = "Belgian Foreign Affairs - Flood. If you are in the area: get to safety. Help: +32 2 501 10 00"


def server_meter(server: DevServer, **groups: Callable[[], Iterable[int]]) -> CpuMeter:
    """The CPU of the Twilio server, of this process (the client) and of `groups`, for a window of a run."""
    assert server.proc is not None
    pid = server.proc.pid
    return CpuMeter({"server": lambda: [pid], **groups}, own="client")


async def raw_rate(server: DevServer, n: int, concurrency: int) -> tuple[float, dict[str, float]]:
    """Plain POSTs, no library, no database: the server's ceiling on this machine. The form's common part (sender,
    text) is urlencoded once and the number put in front (aiohttp's FormData costs more than the rest of the
    request), the Authorization header computed once: the least a client must do per message. With the CPU
    microseconds per message of the client and the server."""
    headers = {"Authorization": "Basic " + base64.b64encode(f"{SID}:{TOKEN}".encode()).decode(),
               "Content-Type": "application/x-www-form-urlencoded"}
    url = f"{server.url}/2010-04-01/Accounts/{SID}/Messages.json"
    counter = iter(range(n))
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as http:
        await server.reset(http)

        same_for_all = urlencode({"From": "+3225010000", "Body": BODY})

        async def one_worker() -> None:
            for i in counter:
                data = f"To=%2B3249{i:07d}&{same_for_all}"
                async with http.post(url, data=data, headers=headers) as resp:
                    await resp.read()
                    assert resp.status == 201, resp.status

        meter = server_meter(server)
        meter.start()
        await asyncio.gather(*(one_worker() for _ in range(concurrency)))
        meter.stop()
        stats = await server.stats(http)
    return (stats["messages"] - 1) / stats["window_seconds"], meter.per_message_us(n)


async def library_rate(server: DevServer, n: int, concurrency: int) -> tuple[float, dict[str, float]]:
    """The notifier's own Twilio adapter (twilio-python's `messages.create_async` on its HTTP client), no Kafka,
    no database: what the library costs beside the raw POSTs (with the CPU per message, as `raw_rate`)."""
    sms = TwilioSms(account_sid=SID, auth_token=TOKEN, api_base=server.url, from_number="+3225010000",
                    timeout=30, pool_size=concurrency)
    counter = iter(range(n))
    try:
        async with aiohttp.ClientSession() as http:
            await server.reset(http)

            async def one_worker() -> None:
                for i in counter:
                    await sms.send(to=f"+3249{i:07d}", body=BODY, status_callback=None)

            meter = server_meter(server)
            meter.start()
            await asyncio.gather(*(one_worker() for _ in range(concurrency)))
            meter.stop()
            stats = await server.stats(http)
    finally:
        await sms.close()
    return (stats["messages"] - 1) / stats["window_seconds"], meter.per_message_us(n)


async def prepare(n: int, prefix: str, schema: str) -> None:
    database_url = os.environ["DATABASE_URL"]
    await migrate(database_url, schema, ROOT / "services" / "notifier" / "migrations")
    await ensure_topics(os.environ["KAFKA_BOOTSTRAP_SERVERS"], prefix=prefix)
    producer = make_producer(os.environ["KAFKA_BOOTSTRAP_SERVERS"], client_id="bench-notifier", linger_ms=20)
    await producer.start()
    try:
        crisis_id = f"bench-{uuid.uuid4().hex[:8]}"
        futures = []
        for i in range(n):
            phone = f"+3247{i:07d}"
            purpose = f"crisis:{crisis_id}:alert"
            command = SendNotification(
                notification_id=notification_id_for(purpose, "sms", phone), purpose=purpose, channel="sms",
                recipient=Recipient(phone=phone), language=("fr", "nl", "de", "en")[i % 4], template="crisis_alert",
                params={"crisis_title": "Flood", "hotline_number": "+3225011000"}, priority="crisis",
                crisis_id=crisis_id)
            event = new_event(command, source="/bench/notifier")
            futures.append(await producer.send(prefix + command.TOPIC, encode(event), key=command.key().encode(),
                                               headers=kafka_headers(event)))
            if len(futures) >= 5000:
                await asyncio.gather(*futures)
                futures = []
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


def worker_process(server: DevServer, prefix: str, schema: str, rate: float, concurrency: int,
                   consumers: int) -> subprocess.Popen[bytes]:
    env = dict(os.environ)
    env.update(DATABASE_SCHEMA=schema, KAFKA_TOPIC_PREFIX=prefix, TWILIO_API_BASE=server.url,
               TWILIO_ACCOUNT_SID=SID, TWILIO_AUTH_TOKEN=TOKEN, SMS_RATE_PER_SECOND=str(rate),
               SEND_CONCURRENCY=str(concurrency), COMMAND_CONSUMERS=str(consumers), LOG_LEVEL="WARNING",
               DATABASE_POOL_MAX="20", CLAIM_BATCH="500",
               HEALTH_PORT="0")  # the workers' probes on ports of their own: two on one port left one without
    return subprocess.Popen([sys.executable, "-m", "services.notifier", "worker"], cwd=ROOT, env=env)


async def raw_consume_rate(prefix: str, n: int) -> float:
    """The baseline of storing commands: the same topic read by a bare aiokafka consumer (no decoding, no database),
    records per second from the first to the last."""
    consumer = AIOKafkaConsumer(prefix + COMMANDS_TOPIC, bootstrap_servers=os.environ["KAFKA_BOOTSTRAP_SERVERS"],
                                group_id=None, auto_offset_reset="earliest", enable_auto_commit=False,
                                isolation_level="read_committed")
    await consumer.start()
    seen, first, last = 0, 0.0, 0.0
    try:
        while seen < n:
            batches = await consumer.getmany(timeout_ms=1000, max_records=500)
            for records in batches.values():
                if records and not first:
                    first = time.monotonic()
                seen += len(records)
            last = time.monotonic()
    finally:
        await consumer.stop()
    return (n - 1) / (last - first)


async def stored_window_rate(pool: asyncpg.Pool) -> float:
    """Commands stored per second between the starts of the first and the last transaction that stored some (the
    last one's rows left out; the worker's start and group join left out, as in the raw consume)."""
    first, last, in_last = await pool.fetchrow(
        "SELECT min(created_at), max(created_at), count(*) FILTER (WHERE created_at = (SELECT max(created_at)"
        " FROM notifications)) FROM notifications")
    total = await pool.fetchval("SELECT count(*) FROM notifications")
    return float((total - in_last) / max((last - first).total_seconds(), 1e-3))


async def wait_done(pool: asyncpg.Pool, n: int, limit_seconds: float) -> None:
    deadline = time.monotonic() + limit_seconds
    while time.monotonic() < deadline:
        left = await pool.fetchval(
            "SELECT count(*) FROM notifications WHERE send_state NOT IN ('accepted', 'done')")
        total = await pool.fetchval("SELECT count(*) FROM notifications")
        if total == n and left == 0:
            return
        await asyncio.sleep(0.5)
    raise TimeoutError(f"fan-out of {n} not done in {limit_seconds}s")


async def fanout(server: DevServer, n: int, rate: float, concurrency: int, consumers: int,
                 dispatch_only: bool, raw_consume: bool = False, workers: int = 1) -> dict[str, Any]:
    """One fan-out of n messages by `workers` worker processes (replicas); the rate at the server (messages created
    per second, first to last)."""
    prefix = f"b{uuid.uuid4().hex[:8]}."
    schema = f"notifier_b{uuid.uuid4().hex[:8]}"
    await prepare(n, prefix, schema)
    raw = await raw_consume_rate(prefix, n) if raw_consume else 0.0
    pool = await asyncpg.create_pool(os.environ["DATABASE_URL"], min_size=1, max_size=2,
                                     server_settings={"search_path": schema})
    assert pool is not None
    async with aiohttp.ClientSession() as http:
        await server.reset(http)
        if dispatch_only:
            # Store every command first with sending paused (rate far below 1/s would do; here: hold the rows).
            await pool.execute("CREATE OR REPLACE FUNCTION hold() RETURNS trigger LANGUAGE plpgsql AS $$"
                               " BEGIN NEW.next_attempt_at := 'infinity'; RETURN NEW; END $$")
            await pool.execute("CREATE TRIGGER hold BEFORE INSERT ON notifications"
                               " FOR EACH ROW EXECUTE FUNCTION hold()")
        started = time.monotonic()
        procs = [worker_process(server, prefix, schema, rate, concurrency, consumers) for _ in range(workers)]
        meter = server_meter(server, workers=lambda: [proc.pid for proc in procs],
                             postgres=postgres_pids)
        cpu: dict[str, dict[str, float]] = {}
        try:
            ingest = ingest_with_start = 0.0
            if dispatch_only:
                # The CPU of storing from the first row stored on (the workers' start and group join left out).
                while not (stored_before := await pool.fetchval("SELECT count(*) FROM notifications")):  # noqa: ASYNC110
                    await asyncio.sleep(0.02)
                meter.start()
                while await pool.fetchval("SELECT count(*) FROM notifications") < n:  # noqa: ASYNC110
                    await asyncio.sleep(0.2)
                ingest_with_start = n / (time.monotonic() - started)
                meter.stop()
                cpu["storing"] = meter.per_message_us(n - stored_before)
                ingest = await stored_window_rate(pool)
                await pool.execute("DROP TRIGGER hold ON notifications")
                meter.start()
                await pool.execute("UPDATE notifications SET next_attempt_at = now()")
            await wait_done(pool, n, limit_seconds=max(600, 3 * n / max(rate, 50)))
            meter.stop()
            cpu["sending"] = meter.per_message_us(n)
            stats = await server.stats(http)
            while await pool.fetchval("SELECT count(*) FROM outbox"):  # noqa: ASYNC110 (the `queued` status events)
                await asyncio.sleep(0.2)
        finally:
            for proc in procs:
                proc.send_signal(signal.SIGTERM)
            for proc in procs:
                proc.wait(120)
    await pool.execute(f"DROP SCHEMA {schema} CASCADE")
    await drop_topics(prefix)
    await pool.close()
    achieved = (stats["messages"] - 1) / stats["window_seconds"]
    return {"messages": stats["messages"], "rate": achieved, "ingest_rate": ingest,
            "ingest_rate_with_start": ingest_with_start, "raw_consume_rate": raw, "cpu_us_per_message": cpu}


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    results: dict[str, Any] = {}
    by = f" ({args.workers} worker processes)" if args.workers > 1 else ""
    async with running_server(args.port) as server:
        raw, results["raw_post_cpu_us"] = await raw_rate(server, args.messages, args.concurrency)
        results["raw_post_rate"] = round(raw, 1)
        print(f"raw POST rate: {raw:.0f}/s over {args.messages}; CPU us per message: {results['raw_post_cpu_us']}",
              flush=True)
        library, results["library_cpu_us"] = await library_rate(server, args.messages, args.concurrency)
        results["library_rate"] = round(library, 1)
        print(f"Twilio adapter alone: {library:.0f}/s, ratio {library / raw:.2f}; CPU us per message:"
              f" {results['library_cpu_us']}", flush=True)
        record("notifier", "Twilio adapter alone (no Kafka, no database)", library, "msg/s", baseline=raw,
               baseline_name="raw HTTP POSTs to the same server")
        if args.end_to_end:
            end_to_end = await fanout(server, args.messages, 0, args.concurrency, args.consumers,
                                      dispatch_only=False, workers=args.workers)
            results["fanout_end_to_end"] = end_to_end
            results["ratio_end_to_end"] = round(end_to_end["rate"] / raw, 3)
            print(f"fan-out end to end, no limit: {end_to_end['rate']:.0f}/s, ratio {end_to_end['rate'] / raw:.2f}",
                  flush=True)
        dispatch = await fanout(server, args.messages, 0, args.concurrency, args.consumers, dispatch_only=True,
                                raw_consume=True, workers=args.workers)
        results["fanout_dispatch_only"] = dispatch
        print(f"fan-out dispatch only, no limit: {dispatch['rate']:.0f}/s, ratio {dispatch['rate'] / raw:.2f}"
              f" (commands stored at {dispatch['ingest_rate']:.0f}/s, {dispatch['ingest_rate_with_start']:.0f}/s"
              f" counting the worker's start; raw consume {dispatch['raw_consume_rate']:.0f}/s)", flush=True)
        for phase, per_message in dispatch["cpu_us_per_message"].items():
            print(f"  CPU us per message, {phase}: {per_message}", flush=True)
        results["ratio_dispatch_only"] = round(dispatch["rate"] / raw, 3)
        record("notifier", f"fan-out of {args.messages} SMS, no limit{by}", dispatch["rate"], "msg/s", baseline=raw,
               baseline_name="raw HTTP POSTs to the same server", aim="ratio >= 0.7")
        record("notifier", f"commands stored from Kafka{by}", dispatch["ingest_rate"], "msg/s",
               baseline=dispatch["raw_consume_rate"], baseline_name="raw aiokafka consume of the same topic",
               aim=">= 10000 msg/s")
        if args.no_limits:
            return results
        for limit, n in ((100, args.limited_100), (1000, args.limited_1000)):
            limited = await fanout(server, n, limit, args.concurrency, args.consumers, dispatch_only=True,
                                   workers=args.workers)
            results[f"limit_{limit}"] = limited | {"achieved_over_limit": round(limited["rate"] / limit, 4)}
            record("notifier", f"achieved rate at a limit of {limit}/s{by}", limited["rate"], "msg/s", baseline=limit,
                   baseline_name="configured limit", aim="0.95 <= ratio <= 1")
            print(f"limit {limit}/s over {n}: achieved {limited['rate']:.1f}/s = {limited['rate'] / limit:.4f}",
                  flush=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--limited-100", type=int, default=3_000, help="messages of the 100/s run")
    parser.add_argument("--limited-1000", type=int, default=20_000, help="messages of the 1,000/s run")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--consumers", type=int, default=6)
    parser.add_argument("--workers", type=int, default=2,
                        help="worker processes, as replicas (deploy/k8s runs at least 2): they share the per-number "
                             "rates; 1 for the figures of sessions before 15")
    parser.add_argument("--port", type=int, default=8190)
    parser.add_argument("--no-limits", action="store_true", help="skip the runs at 100/s and 1,000/s")
    parser.add_argument("--end-to-end", action="store_true",
                        help="also a run where the worker consumes and sends at once (bounded by the consumer)")
    parser.add_argument("--json", default="", help="also write the figures to this file")
    args = parser.parse_args()
    results = run_loop(main_async(args))
    print(json.dumps(results, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
