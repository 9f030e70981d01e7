"""Families' benchmark: one sought person against a million known people, and a PFIF import of 10,000 persons.

1. **Match.** A fresh intake schema holds N known people (default 1,000,000: registered travellers with names
   drawn from Belgian given and family names, weighted so that common names are common: about 1 in 40 is
   called Peeters or Janssens-like, thousands share a given name), with their name codes, loaded by COPY. Then
   S sought persons (a registered person's name with a typo, swapped, in capitals, with a particle spelt
   otherwise, or a name nobody has) are each matched by the real `families.seek` in a transaction: the index
   query, the scoring, the proposals written. Figures: p50 and p99 of a seek, and the candidates it scored;
   beside them the ceiling, one primary-key read of a known person (a round trip to PostgreSQL: the least any
   query-backed matcher does).
2. **Import.** A PFIF 1.4 document of P persons (default 10,000) imported by the real `import_document` (parse
   with defusedxml, one sought person each, matched at once, all in one transaction) into the same schema.
   Figure: persons per second; the ceiling is the parse alone (what any importer must do before writing).

Run: `.venv/bin/python -m bench.families [--people 1000000] [--sought 500] [--persons 10000]` (PostgreSQL up;
config/local.env).
"""

from __future__ import annotations

import argparse
import io
import os
import random
import statistics
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import asyncpg

from bench.loop import run as run_loop
from bench.report import record
from services.intake import families
from services.intake.domain import matching
from services.intake.domain.pfif import PfifPerson, parse, render
from services.intake.pfif_exchange import PfifConfig, import_document
from shared.db import create_pool, migrate

ROOT = Path(__file__).resolve().parents[2]
GIVEN = (
    "Jan", "Marie", "Pieter", "Sofie", "Thomas", "Emma", "Lucas", "Julie", "Koen", "Anna", "Wout", "Lotte",
    "Bram", "Hanne", "Arne", "Eline", "Jef", "Nathalie", "Mohamed", "Fatima", "Ahmed", "Yasmina", "Youssef",
    "Aicha", "Olivier", "Isabelle", "Philippe", "Caroline", "Laurent", "Sarah", "Nicolas", "Camille", "Pierre",
    "Chloé", "Maxime", "Léa", "Antoine", "Manon", "Hugo", "Zoë", "Mehmet", "Ayşe", "Emre", "Elif", "Piotr",
    "Katarzyna", "Tomasz", "Agnieszka", "Aleksandr", "Olga", "Dmitri", "Natalia", "Giorgos", "Eleni",
    "Jean-Pierre", "Marie-Claire", "Wim", "Els", "Bart", "Ilse", "Dirk", "Griet", "Luc", "Veerle", "Stijn",
    "Katrien", "Tom", "An", "Kris", "Sara", "Joris", "Inge", "Filip", "Hilde", "Geert", "Karin", "Steven", "Nele",
    "Kevin", "Lien"
)
FAMILY = (
    "Peeters", "Janssens", "Maes", "Jacobs", "Mertens", "Willems", "Claes", "Goossens", "Wouters", "Smet",
    "Dubois", "Lambert", "Dupont", "Martin", "Simon", "Hermans", "Broeck", "Vermeulen", "Desmet", "Leclercq",
    "Damme", "Pauwels", "Michiels", "Mohammadi", "Amrani", "Yilmaz", "Kaya", "Nowak", "Kowalski", "Ivanov",
    "Papadopoulos", "Clercq", "Velde", "Verstraete", "Aerts", "Smets", "Cools", "Declercq", "Lemmens", "Stevens",
    "Baert", "Dyck", "Dumont", "Renard", "Lejeune", "Mathieu", "Leroy", "François", "Lefebvre", "Denis",
    "Hendrickx", "Vandenberghe", "Bogaerts", "Huysmans", "Wuyts", "Verhaegen", "Backer", "D'Hondt", "Hecke",
    "Tshibangu", "Mukendi", "Benali", "Bakkali", "Öztürk", "Demir", "Çelik", "Schmitz", "Müller", "Schneider",
    "Linden", "Coppens", "Segers", "Jansen"
)
PARTICLE_FAMILIES = ("Van den Broeck", "De Smet", "Van Damme", "De Clercq", "Van de Velde", "De Backer", "Van Dyck",
                     "Van Hecke", "Van der Linden", "El Amrani")
SYLLABLES = ("ba", "ke", "lo", "mi", "du", "ra", "vo", "te", "ni", "go", "ze", "pa", "sul", "dor", "wim", "ker",
             "mans", "berg", "broek", "hout", "dael", "vel", "lier", "rot", "zee", "hof", "gem", "lin", "ghe", "man")
COUNTRIES = ("NP", "TH", "MA", "TR", "ES", "FR", "US", "ID", "KE", "PE")


def family_names() -> list[str]:
    return sorted(set(FAMILY) | set(PARTICLE_FAMILIES))


def population(n: int, seed: int = 7) -> list[tuple[str, str, str]]:
    """(person_id, full_name, country): family names Zipf-weighted, with a numbered surname suffix for most people
    so that, as in a real registry, most full names are rare and a few are shared by thousands."""
    rng = random.Random(seed)
    families_ = family_names()
    weights = [1 / (rank + 1) for rank in range(len(families_))]
    people = []
    for i in range(n):
        given = rng.choice(GIVEN)
        family = rng.choices(families_, weights)[0]
        if rng.random() < 0.9:  # most people have a family name of their own (a registry of 1M has ~100k names)
            family = family + rng.choice(SYLLABLES) + rng.choice(SYLLABLES) + rng.choice(SYLLABLES)
        people.append((f"p{i}", f"{given} {family}", rng.choice(COUNTRIES)))
    return people


def variant(name: str, rng: random.Random) -> str:
    """How a family writes the name: a typo, swapped, capitals, another particle spelling, or unchanged."""
    given, _, family = name.partition(" ")
    pick = rng.randrange(5)
    if pick == 0 and len(family) > 4:
        i = rng.randrange(1, len(family) - 1)
        return f"{given} {family[:i]}{family[i + 1:]}"
    if pick == 1:
        return f"{family.upper()} {given}"
    if pick == 2:
        return f"{given} {family.replace(' ', '')}"
    if pick == 3:
        return f"{given}  {family.lower()}"
    return name


async def load(pool: asyncpg.Pool, people: list[tuple[str, str, str]]) -> float:
    started = time.perf_counter()
    known = io.BytesIO("".join(f"{pid}\t{name}\t{country}\t{country}\n" for pid, name, country in people).encode())
    codes_cache: dict[str, list[tuple[str, int]]] = {}
    lines = []
    for pid, name, _ in people:
        codes = codes_cache.get(name)
        if codes is None:
            codes = codes_cache[name] = matching.indexed_codes(name)
        lines.extend(f"{code}\t{pid}\t{word}\n" for code, word in codes)
    async with pool.acquire() as conn:
        await conn.copy_to_table("known_people", source=known, columns=["person_id", "full_name", "country", "place"],
                                 timeout=600)
        await conn.copy_to_table("known_people_codes", source=io.BytesIO("".join(lines).encode()),
                                 columns=["code", "person_id", "word"], timeout=600)
        await conn.execute("VACUUM ANALYZE known_people", timeout=600)  # as autovacuum would: index-only scans
        await conn.execute("VACUUM ANALYZE known_people_codes", timeout=600)
    return time.perf_counter() - started


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def match_figures(pool: asyncpg.Pool, people: list[tuple[str, str, str]], sought: int) -> None:
    rng = random.Random(11)
    config = PfifConfig(domain="bench.example", source_name="bench", source="/bench")
    seeks: list[float] = []
    candidates: list[int] = []
    found = 0
    for i in range(sought):
        pid, name, country = rng.choice(people)
        name = variant(name, rng) if i % 10 else f"Nobody Nowhere{uuid.uuid4().hex[:6]}"
        async with pool.acquire() as conn, conn.transaction():
            sought_id = await conn.fetchval(
                "INSERT INTO sought_people (pfif_record_id, full_name, country) VALUES ($1, $2, $3)"
                " RETURNING sought_id", f"bench.example/s{i}", name, country)
            await conn.execute("INSERT INTO sought_people_codes (code, sought_id) SELECT unnest($1::text[]), $2",
                               matching.blocking_codes(name), sought_id)
            started = time.perf_counter()
            proposed = await families.seek(conn, sought_id, source=config.source)
            seeks.append(time.perf_counter() - started)
        candidates.append(len(await pool.fetch("SELECT 1 FROM matches WHERE sought_id = $1", sought_id)))
        found += any(p == pid for p, _ in proposed)
    reads: list[float] = []
    async with pool.acquire() as conn:
        for _ in range(sought):
            started = time.perf_counter()
            await conn.fetchrow("SELECT * FROM known_people WHERE person_id = $1", rng.choice(people)[0])
            reads.append(time.perf_counter() - started)
    n = len(people)
    record("families", f"match 1 sought vs {n:,} known, p50", percentile(seeks, 0.5) * 1000, "ms",
           baseline=percentile(reads, 0.5) * 1000, baseline_name="one primary-key read", aim="< 50 ms p99")
    record("families", f"match 1 sought vs {n:,} known, p99", percentile(seeks, 0.99) * 1000, "ms",
           baseline=percentile(reads, 0.99) * 1000, baseline_name="one primary-key read", aim="< 50 ms p99")
    record("families", "matches proposed per seek, mean", statistics.mean(candidates), "matches")
    record("families", "sought persons found among their own proposals", found / (sought - sought // 10) * 100, "%",
           aim="the variants of a registered name are found")


async def import_figure(pool: asyncpg.Pool, persons: int) -> None:
    rng = random.Random(5)
    at = datetime(2026, 1, 1, tzinfo=UTC)
    document = render([PfifPerson(person_record_id=f"pf.redcross.example/b{uuid.uuid4().hex}",
                                  full_name=f"{rng.choice(GIVEN)} {rng.choice(family_names())}{i:x}",
                                  entry_date=at, source_date=at, source_name="Red Cross")
                       for i in range(persons)])
    started = time.perf_counter()
    parsed = parse(document, max_bytes=len(document) + 1, max_records=persons + 1)
    parse_seconds = time.perf_counter() - started
    config = PfifConfig(domain="bench.example", source_name="bench", source="/bench")
    started = time.perf_counter()
    async with pool.acquire() as conn, conn.transaction():
        result = await import_document(conn, parse(document, max_bytes=len(document) + 1,
                                                   max_records=persons + 1), crisis_id="bench", config=config)
    seconds = time.perf_counter() - started
    assert result.persons_written == persons == len(parsed.persons)
    record("families", f"PFIF import of {persons:,} persons (parse, write; the request's time)", persons / seconds,
           "persons/s", baseline=persons / parse_seconds, baseline_name="parse alone", aim="10,000 persons")
    started = time.perf_counter()
    while await families.match_imported(pool, batch=50, source=config.source):
        pass
    seconds = time.perf_counter() - started
    record("families", f"matching of the {persons:,} imported persons (the worker, one process)", persons / seconds,
           "persons/s", aim="seconds after the import")


async def run(args: argparse.Namespace) -> None:
    database_url = os.environ["DATABASE_URL"]
    schema = f"intake_bf{uuid.uuid4().hex[:8]}"
    await migrate(database_url, schema, ROOT / "services" / "intake" / "migrations")
    pool = await create_pool(database_url, schema, min_size=1, max_size=4)
    try:
        people = population(args.people)
        seconds = await load(pool, people)
        print(f"loaded {len(people):,} known people in {seconds:.1f} s", flush=True)
        await match_figures(pool, people, args.sought)
        await import_figure(pool, args.persons)
    finally:
        await pool.close()
        conn = await asyncpg.connect(database_url)
        await conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
        await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--people", type=int, default=1_000_000)
    parser.add_argument("--sought", type=int, default=500)
    parser.add_argument("--persons", type=int, default=10_000)
    run_loop(run(parser.parse_args()))
