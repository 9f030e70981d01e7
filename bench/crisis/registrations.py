"""Registrations spread like real stays, for the crisis center's benchmark and `make registrations` (issue 20).

A few countries hold many travellers and the rest a long tail: the countries (ISO 3166-1 codes with a town in
the gazetteer) are ranked, a handful of the destinations Belgians travel to most first and the rest in an order
drawn from the seed, and rank r weighs 1 / r ** ZIPF_EXPONENT. Each traveller stays near one of the country's
most populous towns (drawn by population, a few km of jitter); arrivals lie around the date of generation (taken
from the clock when the generator is built) and stays last one day to a few weeks. The same seed and the same
date give the same events, ids included. Events are the CloudEvents envelope of `TravellerRegistered`, built by
hand (no model per event, so a million take seconds, not minutes); tests check every one against the model.

    python -m bench.crisis registrations [N] [PREFIX]     (make registrations N=1000000 PREFIX=bench1.)

produces N registrations onto `<PREFIX>travellers.registrations` (the prefix's topics are made if missing), keyed
by traveller id, and prints the rate (recorded for `make bench` when BENCH_RESULTS is set).
"""

from __future__ import annotations

import asyncio
import bisect
import itertools
import json
import os
import random
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cache
from typing import Any

import pycountry

from bench.loop import run as run_loop
from bench.report import record
from shared.events.travellers import TOPIC, TravellerRegistered
from shared.gazetteer import Gazetteer
from shared.kafka.admin import ensure_topics

ZIPF_EXPONENT = 1.1
TOWNS_PER_COUNTRY = 20
JITTER_DEGREES = 0.05  # about 5 km
#: Where Belgians go most (a plausible head of the distribution; the order of the tail is drawn from the seed).
HEAD = ("FR", "ES", "IT", "NL", "DE", "PT", "US", "TR", "GB", "MA", "GR", "TH", "CH", "AT", "CD")
#: Languages of the registrations, in proportion (of 100): French and Dutch alike, some English, a little German.
LANGUAGES = ("fr",) * 45 + ("nl",) * 45 + ("de",) * 2 + ("en",) * 8
STAY_DAYS = (1, 2, 3, 5, 7, 7, 10, 14, 14, 21, 30, 60)
_VERSION_4 = (0xF000 << 64 | 0xC000 << 48, 0x4000 << 64 | 0x8000 << 48)  # the bits uuid4 sets: mask, value
SOURCE = "/bench/registrations"
HEADERS = [("content-type", b"application/cloudevents+json"), ("ce_type", TravellerRegistered.TYPE.encode())]


@dataclass(frozen=True)
class Country:
    code: str
    towns: tuple[tuple[float, float], ...]  # (lat, lon), most populous first
    cumulative: tuple[float, ...]  # cumulative populations, for a weighted draw


@cache
def _countries() -> tuple[Country, ...]:
    """Every country code the services accept that has at least one town in the gazetteer, alphabetically."""
    gazetteer = Gazetteer()
    found = []
    for code in sorted({c.alpha_2 for c in pycountry.countries} | {"XK"}):
        towns = gazetteer.towns(code)[:TOWNS_PER_COUNTRY]
        if not towns:
            continue
        cumulative = tuple(itertools.accumulate(max(1, population) for _, _, population in towns))
        found.append(Country(code, tuple((p.lat, p.lon) for _, p, _ in towns), cumulative))
    return tuple(found)


def ranked_countries(seed: int) -> list[Country]:
    """The head destinations first, then the other countries in an order drawn from the seed."""
    countries = _countries()
    by_code = {c.code: c for c in countries}
    head = [by_code[code] for code in HEAD if code in by_code]
    tail = [c for c in countries if c.code not in HEAD]
    random.Random(seed).shuffle(tail)
    return head + tail


class Generator:
    """Registrations, deterministic for a seed and a date (`today`, from the clock when not given)."""

    def __init__(self, *, seed: int = 20, today: date | None = None,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.seed = seed
        self.now = clock()
        self.today = today or self.now.date()
        self.countries = ranked_countries(seed)
        self.cumulative = list(itertools.accumulate(
            1 / rank ** ZIPF_EXPONENT for rank in range(1, len(self.countries) + 1)))
        self._time = self.now.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")

    def share(self, code: str) -> float:
        """The expected share of registrations in a country."""
        for rank, country in enumerate(self.countries):
            if country.code == code:
                previous = self.cumulative[rank - 1] if rank else 0.0
                return (self.cumulative[rank] - previous) / self.cumulative[-1]
        return 0.0

    def events(self, n: int, *, start: int = 0) -> Iterator[tuple[bytes, bytes]]:
        """(key, value) of registrations start .. start + n - 1: traveller ids `reg-<seed>-<i>`."""
        rng = random.Random(f"{self.seed}:{start}")
        total = self.cumulative[-1]
        countries, cumulative = self.countries, self.cumulative
        dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
        days = [self.today + timedelta(days=d) for d in range(-30, 15)]  # arrivals: a month ago to two weeks ahead
        mask, version = _VERSION_4
        for i in range(start, start + n):
            country = countries[bisect.bisect(cumulative, rng.random() * total)]
            town = country.towns[bisect.bisect(country.cumulative, rng.random() * country.cumulative[-1])]
            lat = round(min(90.0, max(-90.0, town[0] + rng.uniform(-JITTER_DEGREES, JITTER_DEGREES))), 5)
            lon = round(min(180.0, max(-180.0, town[1] + rng.uniform(-JITTER_DEGREES, JITTER_DEGREES))), 5)
            arrival = days[int(rng.random() * len(days))]
            departure = arrival + timedelta(days=STAY_DAYS[int(rng.random() * len(STAY_DAYS))])
            traveller_id = f"reg-{self.seed}-{i}"
            data: dict[str, object] = {
                "traveller_id": traveller_id, "full_name": f"Traveller {i}",
                "language": LANGUAGES[int(rng.random() * len(LANGUAGES))], "country": country.code,
                "location": {"lat": lat, "lon": lon},
                "arrival": arrival.isoformat(), "departure": departure.isoformat()}
            if rng.random() < 0.8:
                data["phone"] = f"+32{470 + int(rng.random() * 30)}{int(rng.random() * 1_000_000):06d}"
            else:
                data["email"] = f"traveller{i}@example.org"
            h = f"{rng.getrandbits(128) & ~mask | version:032x}"
            envelope = {"specversion": "1.0", "id": f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}",
                        "source": SOURCE, "type": TravellerRegistered.TYPE, "time": self._time,
                        "datacontenttype": "application/json", "data": data}
            yield traveller_id.encode(), dumps(envelope).encode()


async def produce(bootstrap: str, topic: str, events: Iterator[tuple[bytes, bytes]], *,
                  linger_ms: int = 20, in_flight: int = 64) -> int:
    """Send every event, keyed, onto the partition the default partitioner gives its key (as any producer would
    place it); the number sent. Records go in whole batches (aiokafka's `create_batch`/`send_batch`: no future
    per record), up to `in_flight` batches unacknowledged at a time."""
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True,
                                linger_ms=linger_ms, request_timeout_ms=60000)
    await producer.start()
    sent = 0
    try:
        partitions = sorted(await producer.partitions_for(topic))
        partitioner = producer._partitioner  # the one the producer itself would use
        batches: dict[int, Any] = {}
        pending: list[asyncio.Future[Any]] = []

        async def ship(partition: int) -> None:
            pending.append(await producer.send_batch(batches.pop(partition), topic, partition=partition))
            if len(pending) >= in_flight:
                await asyncio.gather(*pending)
                pending.clear()

        for key, value in events:
            partition = partitioner(key, partitions, partitions)
            batch = batches.get(partition)
            if batch is None:
                batch = batches[partition] = producer.create_batch()
            if batch.append(key=key, value=value, timestamp=None, headers=HEADERS) is None:
                await ship(partition)
                batch = batches[partition] = producer.create_batch()
                batch.append(key=key, value=value, timestamp=None, headers=HEADERS)
            sent += 1
        for partition in list(batches):
            await ship(partition)
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return sent


async def fill(bootstrap: str, prefix: str, n: int, *, seed: int = 20) -> float:
    """Produce n registrations onto `<prefix>travellers.registrations`; the rate in events per second."""
    started = time.perf_counter()
    sent = await produce(bootstrap, prefix + TOPIC, Generator(seed=seed).events(n))
    return sent / (time.perf_counter() - started)


def loadavg() -> str:
    with open("/proc/loadavg", encoding="ascii") as source:
        return " ".join(source.read().split()[:3])


def main(argv: list[str]) -> int:
    from bench.crisis.bench_crisis import _env

    _env()
    n = int(argv[0]) if argv else 1_000_000
    prefix = argv[1] if len(argv) > 1 else os.environ.get("KAFKA_TOPIC_PREFIX", "")
    seed = int(os.environ.get("REGISTRATIONS_SEED", "20"))
    bootstrap = os.environ["KAFKA_BOOTSTRAP_SERVERS"]
    run_loop(ensure_topics(bootstrap, prefix=prefix))  # a new prefix needs its topics (with their partitions)
    started = time.perf_counter()
    rate = run_loop(fill(bootstrap, prefix, n, seed=seed))
    print(f"{n} registrations produced onto {prefix}{TOPIC} in {time.perf_counter() - started:.1f} s "
          f"(seed {seed}, load average {loadavg()})", flush=True)
    record("crisis", f"generator: registrations produced per second ({n:,}, make registrations)", rate,
           "events/s", aim="1,000,000 in about 60 s or less")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
