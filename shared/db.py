"""asyncpg pool per service schema, and the plain-SQL migrations runner.

Each service owns one schema; its pool sets `search_path` to it, so SQL in a service names its tables bare.
Migrations are `NNNN_name.sql` files applied in order, each in its own transaction, recorded in
`<schema>.schema_migrations`; the shared tables (`shared/sql/`: outbox, processed_events) are applied first.
Migrations create schema only; local data lives in `services/<name>/seeds/` and is applied by `seed`.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import asyncpg
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_exponential

SHARED_SQL = Path(__file__).parent / "sql"
_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")

#: The database cannot be reached, or dropped the connection: the same call can succeed a moment later.
DATABASE_UNREACHABLE: tuple[type[Exception], ...] = (
    OSError, TimeoutError, asyncpg.PostgresConnectionError, asyncpg.InterfaceError, asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError, asyncpg.AdminShutdownError,
)
#: Any failure of a database call: for periodic jobs that log it and try again at their next round.
DATABASE_ERRORS: tuple[type[Exception], ...] = (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError)


def check_schema_name(schema: str) -> str:
    if not _SCHEMA_NAME.match(schema):
        raise ValueError(f"invalid schema name {schema!r}")
    return schema


async def _init_connection(conn: asyncpg.Connection) -> None:
    for json_type in ("json", "jsonb"):
        await conn.set_type_codec(json_type, encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


async def _keep_session(_: asyncpg.Connection) -> None:
    """No reset on release: for pools whose users change no session state (saves a round trip per use)."""


async def create_pool(
    database_url: str, schema: str, *, min_size: int = 2, max_size: int = 10, reset_on_release: bool = True
) -> asyncpg.Pool:
    pool = await asyncpg.create_pool(
        database_url,
        reset=None if reset_on_release else _keep_session,
        min_size=min_size,
        max_size=max_size,
        server_settings={"search_path": check_schema_name(schema), "application_name": schema},
        init=_init_connection,
        command_timeout=30,
    )
    assert pool is not None
    return pool


async def open_pool(database_url: str, schema: str, *, min_size: int, max_size: int,
                    attempts: int = 8) -> asyncpg.Pool:
    """`create_pool`, retried for a while (about 20 s): a service started just before its database waits for it."""
    async for attempt in AsyncRetrying(stop=stop_after_attempt(attempts), wait=wait_exponential(max=5), reraise=True,
                                       retry=retry_if_exception_type((*DATABASE_UNREACHABLE, asyncpg.PostgresError))):
        with attempt:
            return await create_pool(database_url, schema, min_size=min_size, max_size=max_size)
    raise AssertionError("unreachable")


def migration_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.glob("*.sql") if re.match(r"^\d{4}_", p.name))


async def migrate(database_url: str, schema: str, migrations_dir: Path | None) -> list[str]:
    """Apply the shared and the service's migrations not yet applied; returns the names applied now."""
    check_schema_name(schema)
    conn: asyncpg.Connection = await asyncpg.connect(database_url)
    applied_now: list[str] = []
    try:
        await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
        await conn.execute(f"SET search_path TO {schema}")
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        files = [("shared/" + p.name, p) for p in migration_files(SHARED_SQL)]
        if migrations_dir is not None:
            files += [(p.name, p) for p in migration_files(migrations_dir)]
        # One runner at a time per schema (a Job and a developer may race).
        await conn.execute("SELECT pg_advisory_lock(hashtext($1))", schema)
        done = {r["name"] for r in await conn.fetch("SELECT name FROM schema_migrations")}
        for name, path in files:
            if name in done:
                continue
            async with conn.transaction():
                await conn.execute(path.read_text())
                await conn.execute("INSERT INTO schema_migrations(name) VALUES ($1)", name)
            applied_now.append(name)
        await conn.execute("SELECT pg_advisory_unlock(hashtext($1))", schema)
    finally:
        await conn.close()
    return applied_now


async def seed(database_url: str, schema: str, files: list[Path]) -> list[str]:
    """Apply local seed files (data only `make run`, the demo or the tests need) to a migrated schema.

    Never part of `migrate`: production runs the migrations alone. Each file must be idempotent itself (insert
    only what is missing), since seeding runs at every `make run`.
    """
    check_schema_name(schema)
    conn: asyncpg.Connection = await asyncpg.connect(database_url)
    try:
        await conn.execute(f"SET search_path TO {schema}")
        await conn.execute("SELECT pg_advisory_lock(hashtext($1))", schema)
        for path in files:
            async with conn.transaction():
                await conn.execute(path.read_text())
        await conn.execute("SELECT pg_advisory_unlock(hashtext($1))", schema)
    finally:
        await conn.close()
    return [p.name for p in files]


def seed_files(directory: Path) -> list[Path]:
    return sorted(directory.glob("*.sql")) if directory.is_dir() else []


async def ping(pool: asyncpg.Pool) -> bool:
    try:
        async with pool.acquire(timeout=2) as conn:
            return bool(await conn.fetchval("SELECT 1", timeout=2) == 1)
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError):
        return False


def row_to_dict(row: asyncpg.Record | None) -> dict[str, Any] | None:
    return dict(row) if row is not None else None
