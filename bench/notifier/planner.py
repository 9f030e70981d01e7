"""The send planner against the real send (issue 23): planned vs measured time to the last recipient.

For N SMS recipients and one sender at R messages per second, the plan's time is what the crisis centre's planner
says (`plan()` in services/crisis_center/domain/broadcasts.py: SMS count / summed sender rates). The measured time
is that of the real notifier (worker process: consume, store, render, pace, send through twilio-python to the local
Twilio-compatible server), from the first command stored (the earliest `notifications.created_at`) to the last
message created at the server. The N commands are on Kafka before the worker starts, as an approved broadcast's are
once the crisis centre has enqueued them; consuming, storing and sending overlap, as in a real send.

Run: `.venv/bin/python -m bench.notifier.planner --rate 1000 --messages 100000` (Kafka and PostgreSQL up;
config/local.env). Each run is recorded with bench.report.record (aim: measured within 5% of planned).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg

from bench.loop import run as run_loop
from bench.notifier.fanout import DevServer, prepare, running_server, wait_done, worker_process
from bench.report import record
from bench.topics import drop_topics
from services.crisis_center.domain.broadcasts import LANGUAGES, Contact, parse_senders, plan
from shared.notifications.rendering import Renderer

PARAMS = {"crisis_title": "Flood", "hotline_number": "+3225011000"}  # those of fanout.prepare's commands


def planned_seconds(n: int, rate: float) -> tuple[float, dict[str, Any]]:
    """The planner's time to the last recipient for n people with a phone (languages as fanout.prepare assigns
    them: fr, nl, de, en in turn), one sender at `rate`, and the SMS text the notifier renders for them."""
    renderer = Renderer()
    texts = {lang: renderer.render("crisis_alert", lang, PARAMS, channel="sms").sms for lang in LANGUAGES}
    contacts = [Contact(("fr", "nl", "de", "en")[i % 4], phone=True, email=False) for i in range(n)]
    result = plan(contacts, texts, senders=parse_senders(f"bench={rate:g}"), email_rate_per_second=0)
    return result.current.seconds_to_last, {"sms": sum(result.recipients["sms"].values()),
                                            "segments": result.sms_segments,
                                            "with_two_more_senders": result.more_senders[1].seconds_to_last}


async def measured_send(server: DevServer, n: int, rate: float, concurrency: int, consumers: int) -> dict[str, Any]:
    """One real send of n SMS at `rate`: seconds from the first command stored to the last message created."""
    prefix = f"b{uuid.uuid4().hex[:8]}."
    schema = f"notifier_b{uuid.uuid4().hex[:8]}"
    await prepare(n, prefix, schema)
    pool = await asyncpg.create_pool(os.environ["DATABASE_URL"], min_size=1, max_size=2,
                                     server_settings={"search_path": schema})
    assert pool is not None
    async with aiohttp.ClientSession() as http:
        await server.reset(http)
        started = time.monotonic()
        proc = worker_process(server, prefix, schema, rate, concurrency, consumers)
        try:
            await wait_done(pool, n, limit_seconds=max(600, 3 * n / max(rate, 50)))
            elapsed = time.monotonic() - started
            stats = await server.stats(http)
            first_stored, all_stored = await pool.fetchrow(
                "SELECT min(created_at), max(created_at) FROM notifications")
            # The pace in each phase (sent_at: when a message was claimed to be sent, up to the senders' buffer
            # ahead of the call, two seconds at 1,000/s): while commands were still being stored, and after.
            during, after, first_claim, last_claim = await pool.fetchrow(
                "SELECT count(*) FILTER (WHERE sent_at <= $1), count(*) FILTER (WHERE sent_at > $1),"
                " min(sent_at), max(sent_at) FROM notifications", all_stored)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(120)
    await pool.execute(f"DROP SCHEMA {schema} CASCADE")
    await drop_topics(prefix)
    await pool.close()
    first_sent = datetime.fromisoformat(stats["first_created"])
    last_sent = datetime.fromisoformat(stats["last_created"])
    return {"messages": stats["messages"], "seconds": (last_sent - first_stored).total_seconds(),
            "first_stored_to_first_sent": (first_sent - first_stored).total_seconds(),
            "first_to_last_sent": stats["window_seconds"],
            "all_stored_after": (all_stored - first_stored).total_seconds(),
            "rate_while_storing": round(during / max((all_stored - first_claim).total_seconds(), 1e-3), 1),
            "rate_after_storing": round(after / max((last_claim - all_stored).total_seconds(), 1e-3), 1),
            "worker_start_to_done": round(elapsed, 1)}


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    results: dict[str, Any] = {}
    async with running_server(args.port) as server:
        for rate, n in zip(args.rate, args.messages, strict=True):
            planned, detail = planned_seconds(n, rate)
            measured = await measured_send(server, n, rate, args.concurrency, args.consumers)
            ratio = measured["seconds"] / planned
            results[f"{n}_at_{rate:g}"] = {"planned_seconds": planned, **detail, **measured,
                                            "measured_over_planned": round(ratio, 4)}
            record("notifier", f"planner: time to the last of {n:,} SMS at {rate:g}/s, measured"
                   f" ({args.concurrency} in flight)",
                   measured["seconds"], "s", baseline=planned, baseline_name="plan()'s time to the last recipient",
                   aim="0.95 <= ratio <= 1.05")
            print(f"{n} SMS at {rate:g}/s, {args.concurrency} in flight: planned {planned:.1f} s,"
                  f" measured {measured['seconds']:.1f} s"
                  f" (ratio {ratio:.4f}; first stored to first sent {measured['first_stored_to_first_sent']:.2f} s,"
                  f" all stored after {measured['all_stored_after']:.1f} s)", flush=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--rate", type=float, nargs="+", default=[1000.0, 100.0],
                        help="sender rates, messages per second (one run each)")
    parser.add_argument("--messages", type=int, nargs="+", default=[100_000, 10_000],
                        help="recipients of each run (as many as --rate)")
    # SEND_CONCURRENCY: at least the rate times the provider's answer time (Little's law). The local Twilio
    # server answers in a few ms when idle but in tens of ms under this load: 32 in flight capped 1,000/s.
    parser.add_argument("--concurrency", type=int, default=128)
    parser.add_argument("--consumers", type=int, default=6)
    parser.add_argument("--port", type=int, default=8191)
    parser.add_argument("--json", default="", help="also write the figures to this file")
    args = parser.parse_args()
    if len(args.rate) != len(args.messages):
        parser.error("--rate and --messages need as many values each")
    results = run_loop(main_async(args))
    print(json.dumps(results, indent=2, default=str))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2, default=str))


if __name__ == "__main__":
    main()
