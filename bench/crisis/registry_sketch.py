"""What a registry partitioned like `travellers.registrations` would cost per record (issue 20, the case for the
new data flow in docs/crisis_center.md): `python -m bench.crisis registry-sketch [N]`.

Not the worker: a measurement of the least the proposed design must do, to decide on it with figures. One process
reads the registrations with aiokafka `getmany` and, for each record, does what the worker's routing and counting
agents do for it today, minus Faust and the re-key: decode the envelope, validate the registration, translate it
(`traveller_command`: coordinates, time zone, identifiers), keep it in its source partition's registry (a dict, and
an index by country) and check it against the open incidents of its country (one circle over Paris here). Beside
it, in the same run: the issue's baseline (getmany, decode and validate only). Also the registry's resident memory
per 1,000 travellers and the time to write and read back a snapshot of it (pickle), which is what a restart from
local state would read instead of the changelogs.

N defaults to 200,000 (CRISIS_SKETCH_N); the registrations come from `bench.crisis.registrations`.
"""

from __future__ import annotations

import gc
import os
import pickle
import sys
import time
import uuid
from collections import defaultdict
from datetime import UTC, date, datetime

from bench.crisis.bench_crisis import _env, consume_rate, decode_validate
from bench.crisis.cold_start import rss_mib
from bench.crisis.registrations import fill, loadavg
from bench.loop import run as run_loop
from bench.report import record
from bench.topics import drop_topics
from services.crisis_center.adapters.translate import Places, traveller_command
from services.crisis_center.domain.geo import stay_covers
from shared.events.envelope import decode
from shared.events.registry import parse_data
from shared.events.travellers import TOPIC
from shared.geo import Area, Point
from shared.kafka.admin import ensure_topics

N = int(os.environ.get("CRISIS_SKETCH_N", "200000"))
#: What the registry keeps of a traveller: country, lat, lon, time zone, arrival, departure, phone, email,
#: language, identifiers (the worker's table keeps the same fields, as a JSON-like dict).
Kept = tuple[str, float | None, float | None, str | None, date, date, str | None, str | None, str, tuple[str, ...]]


class Registry:
    """One source partition's travellers, by id and by country, and the members of each open incident."""

    def __init__(self, incidents: dict[str, list[tuple[str, Area]]], now: datetime, places: Places) -> None:
        self.travellers: dict[str, Kept] = {}
        self.by_country: defaultdict[str, set[str]] = defaultdict(set)
        self.members: defaultdict[str, set[str]] = defaultdict(set)
        self._incidents = incidents
        self._now = now
        self._places = places

    def add(self, value: bytes) -> None:
        data = parse_data(decode(value), topic=TOPIC)
        command = traveller_command(data, self._places)  # type: ignore[arg-type]
        kept: Kept = (command.country, command.lat, command.lon, command.tz, command.arrival, command.departure,
                      command.phone, command.email, command.language, tuple(command.identifiers))
        previous = self.travellers.get(command.traveller_id)
        if previous is not None and previous[0] != command.country:
            self.by_country[previous[0]].discard(command.traveller_id)
        self.travellers[command.traveller_id] = kept
        self.by_country[command.country].add(command.traveller_id)
        point = Point(command.lat, command.lon) if command.lat is not None and command.lon is not None else None
        for incident_id, area in self._incidents.get(command.country, ()):
            if stay_covers(command.arrival, command.departure, self._now, command.tz) and area.contains(
                    point, command.country):
                self.members[incident_id].add(command.traveller_id)


async def run(n: int) -> None:
    _env()
    bootstrap = os.environ["KAFKA_BOOTSTRAP_SERVERS"]
    prefix = f"sketch{uuid.uuid4().hex[:8]}."
    await ensure_topics(bootstrap, prefix=prefix)
    try:
        await fill(bootstrap, prefix, n)
        topic = prefix + TOPIC
        print(f"[crisis] registry sketch over {n:,} registrations, load average {loadavg()}", flush=True)
        least = await consume_rate(topic, n, decode_validate)
        places = Places()
        places.tz(Point(50.85, 4.35))  # the time zone finder's files, loaded before the clock starts
        incidents = {"FR": [("paris", Area.from_dict({"country": "FR", "circle": {
            "lat": 48.85, "lon": 2.35, "radius_km": 50}}))]}
        gc.collect()
        before = rss_mib()
        registries: dict[int, Registry] = {}

        def add(partition: int, value: bytes) -> None:
            registry = registries.get(partition)
            if registry is None:
                registry = registries[partition] = Registry(incidents, datetime.now(UTC), places)
            registry.add(value)

        rate = await consume_rate(topic, n, add)
        gc.collect()
        per_thousand = (rss_mib() - before) / n * 1000
        members = sum(len(r.members["paris"]) for r in registries.values())
        started = time.perf_counter()
        snapshot = pickle.dumps({p: r.travellers for p, r in registries.items()}, protocol=pickle.HIGHEST_PROTOCOL)
        written = time.perf_counter() - started
        started = time.perf_counter()
        pickle.loads(snapshot)  # noqa: S301 - the bytes this process wrote just above
        read = time.perf_counter() - started
    finally:
        await drop_topics(prefix)
    print(f"[crisis] sketch {rate:,.0f}/s beside getmany + decode + validate {least:,.0f}/s "
          f"(ratio {rate / least:.2f}); {members:,} in the Paris circle; {per_thousand:.2f} MiB per 1,000 "
          f"travellers; snapshot {len(snapshot) / 2**20:.0f} MiB written in {written:.2f} s, read in {read:.2f} s;"
          f" load average {loadavg()}", flush=True)
    record("crisis", "registry sketch: decoded, validated, translated, kept, matched per second", rate, "events/s",
           baseline=least, baseline_name="getmany + decode + validate, one process", aim=">= 0.5x baseline")
    record("crisis", "registry sketch: resident memory per 1,000 travellers", per_thousand, "MiB",
           aim="<= 1 MiB (1 GiB at 1,000,000)")
    record("crisis", f"registry sketch: snapshot of {n:,} read back", read, "s")


def main() -> int:
    run_loop(run(int(sys.argv[2]) if len(sys.argv) > 2 else N))
    return 0
