"""Schema migrations create schema only: production runs them, so any row they wrote would land there too.
Local data (placeholder officers, an on-call rota) lives in `services/<name>/seeds/`, applied by `make run`."""

from __future__ import annotations

import asyncpg
import pytest

from shared.cli import SERVICES
from tests.support import database_url, drop_schema, new_schema


@pytest.mark.parametrize("service", SERVICES)
async def test_a_freshly_migrated_schema_is_empty(service: str) -> None:
    schema = await new_schema(service, seeded=False)
    conn = await asyncpg.connect(database_url())
    try:
        tables = [r["tablename"] for r in await conn.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = $1 AND tablename <> 'schema_migrations'", schema)]
        assert tables, "the migrations created no table"
        filled = {t: n for t in tables if (n := await conn.fetchval(f'SELECT count(*) FROM {schema}."{t}"'))}
        assert filled == {}, f"migrations of {service} wrote rows: {filled}"
    finally:
        await conn.close()
        await drop_schema(schema)


async def test_the_local_seed_gives_intake_officers_and_a_rota_once() -> None:
    from shared.cli import seeds_dir
    from shared.db import seed, seed_files

    schema = await new_schema("intake", seeded=False)
    conn = await asyncpg.connect(database_url())
    try:
        for _ in range(2):  # `make run` seeds at every start: a second run adds nothing
            await seed(database_url(), schema, seed_files(seeds_dir("intake")))
        assert await conn.fetchval(f"SELECT count(*) FROM {schema}.officers") == 4
        rota = await conn.fetch(f"SELECT starts_at, ends_at FROM {schema}.on_call_roster")
        now = await conn.fetchval("SELECT now()")
        assert len(rota) == 1 and rota[0]["starts_at"] <= now < rota[0]["ends_at"]
    finally:
        await conn.close()
        await drop_schema(schema)
