"""Welfare benchmark: a round to 100,000 people, and the answers coming back.

1. **Round.** A crisis with N contacts (one phone each); the coordinator's `POST /v1/crises/{id}/welfare-checks`
   through the crisis center's app; the welfare desk takes the due steps (the real code, in this process), the
   outbox relay publishes the commands, the real notifier worker (a process) stores and sends them through
   twilio-python to the local Twilio server at `SMS_RATE_PER_SECOND`. Figure: time from the request to the last
   question created at the server, beside the rate's lower bound N / rate (no implementation can do better).
   Also: how long the desk took to hand every question to the outbox.
2. **Answers.** M `welfare.answered` events on the topic; the ceiling is a raw aiokafka consumer reading them (no
   work); the figure is the welfare desk's consumer (decode, validate, deduplicate, latest answer per person and
   the end of their chase in PostgreSQL) until the dashboard's counts show them all.

Run: `.venv/bin/python -m bench.welfare [--people 100000] [--rate 1000] [--answers 50000]` (Kafka and PostgreSQL
up; config/local.env).
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import signal
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import aiohttp
import asyncpg
import httpx
from aiokafka import AIOKafkaConsumer

from bench.loop import run as run_loop
from bench.notifier.fanout import ROOT, SID, DevServer, load_env, worker_process
from bench.report import record
from bench.topics import drop_topics
from services.crisis_center import handlers
from services.crisis_center.api import create_app
from services.crisis_center.settings import Settings
from services.crisis_center.welfare_desk import WelfareDesk
from shared.auth import JwtConfig, mint_token
from shared.db import create_pool, migrate
from shared.events.envelope import encode, new_event
from shared.events.welfare import WelfareAnswered
from shared.geo import Area
from shared.kafka.admin import ensure_topics
from shared.kafka.producer import kafka_headers, make_producer

LANGUAGES = ("fr", "nl", "de", "en")


async def crisis_with_contacts(pool: asyncpg.Pool, settings: Settings, n: int) -> str:
    crisis = await handlers.activate_manually(
        pool=pool, title="Bench earthquake", kind="earthquake", severity="severe",
        area=Area.from_dict({"country": "NP", "circle": {"lat": 27.7, "lon": 85.3, "radius_km": 60}}),
        actor="bench", pool_numbers=["+3225011000"], general_number="+3225014000", threshold=50,
        now=datetime.now(UTC), publishing=handlers.Publishing(settings.source, settings.kafka_topic_prefix))
    rows = io.BytesIO("".join(f"{crisis.crisis_id}\tbench-{i}\t+3247{i:07d}\t{LANGUAGES[i % 4]}\tregistration\t"
                              f"{datetime.now(UTC).isoformat()}\n" for i in range(n)).encode())
    async with pool.acquire() as conn:
        await conn.copy_to_table("crisis_contacts", source=rows,
                                 columns=["crisis_id", "person_id", "phone", "language", "source", "added_at"])
        await conn.execute("DELETE FROM outbox")  # the activation's own event: not part of the figure
    return crisis.crisis_id


async def round_figure(args: argparse.Namespace, server: DevServer) -> None:
    prefix = f"bw{uuid.uuid4().hex[:8]}."
    crisis_schema, notifier_schema = f"crisis_bw{uuid.uuid4().hex[:8]}", f"notifier_bw{uuid.uuid4().hex[:8]}"
    database_url = os.environ["DATABASE_URL"]
    await ensure_topics(os.environ["KAFKA_BOOTSTRAP_SERVERS"], prefix=prefix)
    await migrate(database_url, crisis_schema, ROOT / "services" / "crisis_center" / "migrations")
    await migrate(database_url, notifier_schema, ROOT / "services" / "notifier" / "migrations")
    settings = Settings(database_schema=crisis_schema, kafka_topic_prefix=prefix, welfare_poll_seconds=0.2,
                        welfare_batch=args.batch)  # type: ignore[call-arg]
    pool = await create_pool(database_url, crisis_schema, min_size=1, max_size=8)
    crisis_id = await crisis_with_contacts(pool, settings, args.people)
    notifier = worker_process(server, prefix, notifier_schema, args.rate, args.concurrency, 6)
    desk = WelfareDesk(settings, pool=pool)
    app = create_app(settings)  # its lifespan runs the outbox relay, as the API process does
    token = mint_token(JwtConfig(settings.jwt_secret.get_secret_value(), settings.jwt_issuer,
                                 settings.jwt_audience), subject="bench", roles=["coordinator"], ttl_seconds=3600)
    try:
        async with aiohttp.ClientSession() as http:
            await server.reset(http)
            await asyncio.sleep(5)  # the notifier worker joins its group
            async with app.router.lifespan_context(app), httpx.AsyncClient(
                    transport=httpx.ASGITransport(app=app), base_url="http://bench") as client:
                started_at = datetime.now(UTC)
                started = time.monotonic()
                response = await client.post(f"/v1/crises/{crisis_id}/welfare-checks",
                                             headers={"Authorization": f"Bearer {token}"},
                                             json={"escalate_after_minutes": 60})
                assert response.status_code == 202, response.text
                request_seconds = time.monotonic() - started
                steps = asyncio.create_task(desk.run_steps())
                while await pool.fetchval(  # noqa: ASYNC110 (polling the database)
                        "SELECT count(*) FROM welfare_questions WHERE step = 'asked'") < args.people:
                    await asyncio.sleep(0.2)
                handed = time.monotonic() - started
                deadline = time.monotonic() + max(900, 3 * args.people / args.rate)
                while (await server.stats(http))["messages"] < args.people:
                    if time.monotonic() > deadline:
                        raise TimeoutError("the round was not sent in time")
                    await asyncio.sleep(0.5)
                stats = await server.stats(http)
                await desk.stop()
                await steps
        last = datetime.fromisoformat(stats["last_created"])
        total = (last - started_at).total_seconds()
        bound = args.people / args.rate
        print(f"round of {args.people}: request {request_seconds:.2f} s, all handed to the outbox after "
              f"{handed:.1f} s, last question at the provider after {total:.1f} s (bound {bound:.1f} s)", flush=True)
        record("welfare", f"round of {args.people} at {args.rate:.0f} SMS/s: request to last question sent",
               total, "s", baseline=bound, baseline_name="recipients / rate", aim="ratio <= 1.1")
        record("welfare", f"round of {args.people}: request to every question in the outbox", handed, "s")
        record("welfare", f"round of {args.people}: the coordinator's request (202)", request_seconds * 1000, "ms")
    finally:
        notifier.send_signal(signal.SIGTERM)
        notifier.wait(60)
        await pool.execute(f"DROP SCHEMA {crisis_schema} CASCADE")
        await pool.execute(f"DROP SCHEMA {notifier_schema} CASCADE")
        await drop_topics(prefix)
        await pool.close()


async def answers_figure(args: argparse.Namespace) -> None:
    prefix = f"bw{uuid.uuid4().hex[:8]}."
    schema = f"crisis_bw{uuid.uuid4().hex[:8]}"
    database_url = os.environ["DATABASE_URL"]
    bootstrap = os.environ["KAFKA_BOOTSTRAP_SERVERS"]
    await ensure_topics(bootstrap, prefix=prefix)
    await migrate(database_url, schema, ROOT / "services" / "crisis_center" / "migrations")
    settings = Settings(database_schema=schema, kafka_topic_prefix=prefix)  # type: ignore[call-arg]
    pool = await create_pool(database_url, schema, min_size=1, max_size=8)
    crisis_id = await crisis_with_contacts(pool, settings, args.answers)
    topic = prefix + "welfare.answers"
    producer = make_producer(bootstrap, client_id="bench-welfare", linger_ms=20)
    await producer.start()
    try:
        sent = []
        now = datetime.now(UTC)
        for i in range(args.answers):
            answer = WelfareAnswered(crisis_id=crisis_id, person_id=f"bench-{i}", channel="sms", at=now,
                                     answer=("safe", "needs_help", "unclear")[i % 3])  # type: ignore[arg-type]
            event = new_event(answer, source="/bench/welfare")
            sent.append(await producer.send(topic, encode(event), key=answer.key().encode(),
                                            headers=kafka_headers(event)))
            if len(sent) >= 5000:
                await asyncio.gather(*sent)
                sent = []
        await asyncio.gather(*sent)
    finally:
        await producer.stop()

    raw_rate = await raw_consume(bootstrap, topic, args.answers)
    desk = WelfareDesk(settings, pool=pool)
    started = time.monotonic()
    await desk.start()
    try:
        while await pool.fetchval(  # noqa: ASYNC110 (polling the database)
                "SELECT count(*) FROM welfare_status WHERE crisis_id = $1", crisis_id) < args.answers:
            await asyncio.sleep(0.2)
        seconds = time.monotonic() - started
    finally:
        await desk.stop()
    counts = await pool.fetchval("SELECT count(*) FROM welfare_status")
    rate = args.answers / seconds
    print(f"answers: {counts} counted in {seconds:.1f} s = {rate:.0f}/s; raw consume {raw_rate:.0f}/s", flush=True)
    record("welfare", f"answers from welfare.answers to the counts ({args.answers})", rate, "answers/s",
           baseline=raw_rate, baseline_name="raw aiokafka consume of the same topic")
    await pool.execute(f"DROP SCHEMA {schema} CASCADE")
    await pool.close()
    await drop_topics(prefix)


async def raw_consume(bootstrap: str, topic: str, n: int) -> float:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest",
                                enable_auto_commit=False)
    await consumer.start()
    try:
        seen, started = 0, time.monotonic()
        while seen < n:
            batches = await consumer.getmany(timeout_ms=500, max_records=5000)
            seen += sum(len(records) for records in batches.values())
        return n / (time.monotonic() - started)
    finally:
        await consumer.stop()


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    load_env()
    os.environ.setdefault("TWILIO_ACCOUNT_SID", SID)
    if not args.answers_only:
        server = DevServer(args.port)
        async with aiohttp.ClientSession() as http:
            await server.start(http)
        try:
            await round_figure(args, server)
        finally:
            server.stop()
    await answers_figure(args)
    return {}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--people", type=int, default=100_000)
    parser.add_argument("--rate", type=float, default=1000.0, help="the notifier's SMS_RATE_PER_SECOND")
    parser.add_argument("--answers", type=int, default=50_000)
    parser.add_argument("--batch", type=int, default=500, help="WELFARE_BATCH")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--port", type=int, default=8191)
    parser.add_argument("--answers-only", action="store_true", help="only the answers figure")
    run_loop(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
