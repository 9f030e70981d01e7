"""The register of processing (docs/privacy.md) stays true: every personal column of every service's real schema
(marked by a `COMMENT ON COLUMN ... IS 'personal: ...'` in its migrations) and every event field marked PERSONAL
is listed there, everything listed exists, and a column or field whose name looks personal must say which it is."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from pydantic import BaseModel

from shared.events.registry import EVENT_MODELS
from tests.support import ROOT, database_url, drop_schema, new_schema

SERVICES = ("intake", "directory", "crisis_center", "notifier", "feeds")
REGISTER = ROOT / "docs" / "privacy.md"
COLUMN_ROW = re.compile(r"^\|\s*`(?P<service>[a-z_]+)\.(?P<table>[a-z_]+)\.(?P<column>[a-z_]+)`\s*\|", re.M)
FIELD_ROW = re.compile(r"^\|\s*`(?P<topic>[a-z][a-z.\-]*): (?P<field>[A-Za-z]+(?:\.[a-z_]+)+)`\s*\|", re.M)
LOOKS_PERSONAL = frozenset({"name", "phone", "email", "address", "birth", "description", "body", "recipient",
                            "location", "lat", "lon", "city", "reporter", "subject", "note", "actor", "principal",
                            "html", "traveller", "dedup", "params", "changed", "activated", "closed", "updated"})
#: Instants and flags say when, not who (`closed_at`, `updated_by` is text and checked).
NOT_CHECKED_TYPES = frozenset({"timestamp with time zone", "timestamp without time zone", "boolean"})


def looks_personal(name: str) -> bool:
    """By its words; `..._at` names an instant (`closed_at`), not a person."""
    words = name.lower().split("_")
    return words[-1] != "at" and bool(LOOKS_PERSONAL.intersection(words))


# --- the register --------------------------------------------------------------------------------------------

NOT_PERSONAL_HEADING = "## Looks personal, is not"


def _sections(text: str) -> tuple[str, str]:
    personal, _, not_personal = text.partition(NOT_PERSONAL_HEADING)
    return personal, not_personal


def registered_columns(text: str) -> set[tuple[str, str, str]]:
    return {(m["service"], m["table"], m["column"]) for m in COLUMN_ROW.finditer(_sections(text)[0])}


def registered_fields(text: str) -> set[tuple[str, str]]:
    return {(m["topic"], m["field"]) for m in FIELD_ROW.finditer(_sections(text)[0])}


def not_personal_fields(text: str) -> set[tuple[str, str]]:
    return {(m["topic"], m["field"]) for m in FIELD_ROW.finditer(_sections(text)[1])}


def test_the_register_parses() -> None:
    text = REGISTER.read_text()
    assert len(registered_columns(text)) > 20 and len(registered_fields(text)) > 10
    assert registered_columns("| `intake.reports.description` | x |\n") == {("intake", "reports", "description")}
    assert registered_fields("| `consular.reports: ReportSubmitted.subject.date_of_birth` | x |\n") == {
        ("consular.reports", "ReportSubmitted.subject.date_of_birth")}


# --- the database --------------------------------------------------------------------------------------------

UNCHECKED: set[tuple[str, str, str]] = set()


@pytest.fixture(scope="module")
async def columns() -> AsyncIterator[dict[tuple[str, str, str], str | None]]:
    """(service, table, column) -> comment, from information_schema of a freshly migrated schema per service."""
    found: dict[tuple[str, str, str], str | None] = {}
    conn = await asyncpg.connect(database_url())
    schemas = []
    try:
        for service in SERVICES:
            schema = await new_schema(service)
            schemas.append(schema)
            rows = await conn.fetch(
                "SELECT c.table_name, c.column_name, c.data_type,"
                " col_description(format('%I.%I', c.table_schema, c.table_name)::regclass, c.ordinal_position)"
                " AS comment FROM information_schema.columns c JOIN information_schema.tables t"
                " ON t.table_schema = c.table_schema AND t.table_name = c.table_name"
                " WHERE c.table_schema = $1 AND t.table_type = 'BASE TABLE' AND c.table_name <> 'schema_migrations'",
                schema)
            for row in rows:
                found[(service, row["table_name"], row["column_name"])] = row["comment"]
                if row["data_type"] in NOT_CHECKED_TYPES:
                    UNCHECKED.add((service, row["table_name"], row["column_name"]))
        yield found
    finally:
        await conn.close()
        for schema in schemas:
            await drop_schema(schema)


def _personal(comment: str | None) -> bool:
    return comment is not None and comment.startswith("personal:")


async def test_every_personal_column_is_in_the_register(columns: dict[tuple[str, str, str], str | None]) -> None:
    personal = {key for key, comment in columns.items() if _personal(comment)}
    missing = personal - registered_columns(REGISTER.read_text())
    assert not missing, f"personal columns missing from docs/privacy.md: {sorted('.'.join(k) for k in missing)}"


async def test_every_registered_column_exists_and_is_marked(columns: dict[tuple[str, str, str], str | None]) -> None:
    for key in registered_columns(REGISTER.read_text()):
        assert key in columns, f"docs/privacy.md lists {'.'.join(key)}, which no migration creates"
        assert _personal(columns[key]), f"{'.'.join(key)} is registered but its comment does not say 'personal:'"


async def test_columns_that_look_personal_say_which_they_are(
        columns: dict[tuple[str, str, str], str | None]) -> None:
    undecided = [".".join(key) for key, comment in columns.items() if looks_personal(key[2]) and key not in UNCHECKED
                 and not (comment or "").startswith(("personal:", "not personal:"))]
    assert not undecided, ("add COMMENT ON COLUMN ... IS 'personal: why' (and a row in docs/privacy.md) or "
                           f"'not personal: why' to: {sorted(undecided)}")


# --- the events ----------------------------------------------------------------------------------------------

def _walk(model: type[BaseModel], path: str) -> Iterator[tuple[str, bool]]:
    """(dotted path, marked personal) of every field, nested models included."""
    for name, info in model.model_fields.items():
        extra: Any = info.json_schema_extra
        marked = isinstance(extra, dict) and extra.get("personal_data") is True
        here = f"{path}.{name}"
        yield here, marked
        for nested in _models_in(info.annotation):
            yield from _walk(nested, here)


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in getattr(annotation, "__args__", ()) for m in _models_in(arg)]


def event_fields() -> dict[tuple[str, str], bool]:
    return {(model.TOPIC, path): marked for model in EVENT_MODELS for path, marked in _walk(model, model.__name__)}


def test_every_personal_event_field_is_in_the_register() -> None:
    marked = {key for key, personal in event_fields().items() if personal}
    assert marked, "no event field is marked PERSONAL: the walk is broken"
    missing = marked - registered_fields(REGISTER.read_text())
    assert not missing, f"PERSONAL event fields missing from docs/privacy.md: {sorted(missing)}"


def test_every_registered_event_field_exists() -> None:
    fields = event_fields()
    text = REGISTER.read_text()
    for key in registered_fields(text) | not_personal_fields(text):
        assert key in fields, f"docs/privacy.md lists {key}, which no event model has"


def _ancestors(path: str) -> list[str]:
    parts = path.split(".")
    return [".".join(parts[:i]) for i in range(2, len(parts) + 1)]


def test_event_fields_that_look_personal_say_which_they_are() -> None:
    """Personal (marked or registered, itself or a parent) or listed under 'Looks personal, is not'."""
    text = REGISTER.read_text()
    fields = event_fields()
    personal = registered_fields(text) | {key for key, marked in fields.items() if marked}
    undecided = [key for key in fields if looks_personal(key[1].rsplit(".", 1)[-1])
                 and not any((key[0], p) in personal for p in _ancestors(key[1]))
                 and key not in not_personal_fields(text)]
    assert not undecided, f"mark PERSONAL and register, or list as not personal: {sorted(undecided)}"


def test_a_new_personal_column_without_a_row_fails(tmp_path: Path) -> None:
    """The check itself: a register without one row misses exactly that column."""
    text = REGISTER.read_text()
    without = "\n".join(line for line in text.splitlines() if "`intake.reports.description`" not in line)
    assert ("intake", "reports", "description") in registered_columns(text)
    assert ("intake", "reports", "description") not in registered_columns(without)
