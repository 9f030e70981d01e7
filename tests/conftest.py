"""Session-wide set-up: local defaults, the test tiers, and a loud failure when a test needs the broker or the
database and they are not there.

Tiers (docs/CONVENTIONS.md, "Test tiers"): every test that needs infrastructure (Kafka, PostgreSQL, a Keycloak, a
browser, service processes) is marked `integration` at collection, those under tests/e2e `e2e` as well and those
driving Chromium `browser`. The rest (domain rules, parsers, models, settings) needs nothing running:
`pytest tests -m "not integration"` runs it with Kafka and PostgreSQL stopped. The infrastructure is checked once,
before the first test that needs it, not at session start.
"""

from __future__ import annotations

import asyncio
import inspect
import threading
import types
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest
from aiokafka.admin import AIOKafkaAdminClient

from tests.support import (
    CREATED_PREFIXES,
    ROOT,
    bootstrap,
    database_url,
    delete_topics_with_prefixes,
    load_local_env,
    new_pool,
    new_topic_prefix,
)

load_local_env()

TESTS = ROOT / "tests"

#: Names whose use in a test, a fixture or a test helper they call means the broker or the database: the helpers of
#: tests/support.py and the clients themselves. Over-marking only moves a test to the slower tier; a miss shows as
#: a connection error in `-m "not integration"` run with the infrastructure stopped (how the tiers were checked).
INFRASTRUCTURE_NAMES = frozenset({
    "new_schema", "new_pool", "new_topic_prefix", "drop_schema", "delete_topics_with_prefixes", "bootstrap",
    "database_url", "consume", "consume_events", "ensure_topics", "create_pool", "migrate", "open_resources",
    "make_producer", "asyncpg", "AIOKafkaProducer", "AIOKafkaConsumer", "AIOKafkaAdminClient",
})
#: Local infrastructure a test starts through its script (its own PostgreSQL, Keycloak, a broker).
INFRASTRUCTURE_SCRIPTS = ("postgres.sh", "kafka.sh", "keycloak.sh")
#: Fixtures of tests/ui/conftest.py that launch Chromium.
BROWSER_FIXTURES = frozenset({"browser"})

_needs_infrastructure: dict[types.CodeType, bool] = {}


def _code_objects(code: types.CodeType) -> Iterator[types.CodeType]:
    yield code
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield from _code_objects(const)


def _test_helpers(value: object) -> list[types.CodeType]:
    """The code of a function, or of the methods of a class, defined in the test tree (not in the code tested)."""
    if not getattr(value, "__module__", "").startswith("tests"):
        return []
    if isinstance(value, type):
        return [c for member in vars(value).values() for c in _test_helpers(inspect.unwrap(member))
                if isinstance(member, (types.FunctionType, staticmethod, classmethod, property))]
    code = getattr(inspect.unwrap(value), "__code__", None)  # type: ignore[arg-type]
    return [code] if isinstance(code, types.CodeType) else []


def _touches_infrastructure(function: object) -> bool:
    """Whether a test or fixture function, or a test helper it names (followed through the test tree), uses the
    broker, the database or an infrastructure script."""
    function = inspect.unwrap(function)  # type: ignore[arg-type]
    code = getattr(function, "__code__", None)
    if not isinstance(code, types.CodeType):
        return False
    namespace: dict[str, object] = getattr(function, "__globals__", {})
    pending, seen = [code], set[types.CodeType]()
    while pending:
        current = pending.pop()
        if current in seen:
            continue
        seen.add(current)
        if _needs_infrastructure.get(current):
            return True
        for inner in _code_objects(current):
            names = set(inner.co_names) | set(inner.co_freevars)
            if names & INFRASTRUCTURE_NAMES:
                _needs_infrastructure[code] = True
                return True
            if any(isinstance(c, str) and c.endswith(INFRASTRUCTURE_SCRIPTS) for c in inner.co_consts):
                _needs_infrastructure[code] = True
                return True
            for name in names:
                pending += _test_helpers(namespace.get(name))
    _needs_infrastructure[code] = False
    return False


def _fixture_functions(item: pytest.Item) -> Iterator[object]:
    info = getattr(item, "_fixtureinfo", None)
    if info is None:
        return
    for name in item.fixturenames:  # type: ignore[attr-defined]
        for definition in info.name2fixturedefs.get(name, ()):
            if definition.argname != "_delete_the_module_topics":  # acts only after tests that made topics
                yield definition.func


def _tier_markers(item: pytest.Item) -> list[str]:
    path = Path(str(item.path)).resolve()
    parts = path.relative_to(TESTS).parts if path.is_relative_to(TESTS) else ()
    marks: list[str] = []
    if parts and parts[0] == "e2e" and item.get_closest_marker("chaos") is None:
        marks.append("e2e")
    if BROWSER_FIXTURES & set(getattr(item, "fixturenames", ())):
        marks.append("browser")
    if (marks or (parts and parts[0] in ("e2e", "infra"))
            or item.get_closest_marker("chaos") is not None
            or _touches_infrastructure(getattr(item, "function", None))
            or any(_touches_infrastructure(f) for f in _fixture_functions(item))):
        marks.append("integration")
    return marks


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        for name in _tier_markers(item):
            if item.get_closest_marker(name) is None:
                item.add_marker(name)


async def _infrastructure_problem() -> str | None:
    """Why the tests that need them cannot run: the database or the broker does not answer (None: both do)."""
    try:
        conn = await asyncpg.connect(database_url(), timeout=10)
        await conn.close()
    except (OSError, asyncpg.PostgresError) as exc:
        return f"PostgreSQL at DATABASE_URL does not answer ({exc}); start it: make infra"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap(), request_timeout_ms=5000)
    try:
        await asyncio.wait_for(admin.start(), 15)
        await admin.close()
    except Exception as exc:
        return f"Kafka at KAFKA_BOOTSTRAP_SERVERS does not answer ({exc!r}); start it: make infra"
    return None


_infrastructure_checked = False


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Before the first test that needs the broker and the database (and only then), check that both answer; stop
    the run with the reason if not (the tests would each fail on a timeout)."""
    global _infrastructure_checked
    if _infrastructure_checked or item.get_closest_marker("integration") is None:
        return
    _infrastructure_checked = True
    problem: list[str | None] = []
    # In a thread of its own: it must not touch the event loop the async tests share in this one.
    worker = threading.Thread(target=lambda: problem.append(asyncio.run(_infrastructure_problem())))
    worker.start()
    worker.join()
    reason = problem[0] if problem else "the infrastructure check itself failed (its traceback is above)"
    if reason is not None:
        pytest.exit(reason, returncode=3)


@pytest.fixture(scope="module", autouse=True)
def _delete_the_module_topics() -> Iterator[None]:
    """After each test module, delete the topics its tests created under fresh prefixes."""
    before = len(CREATED_PREFIXES)
    yield
    created = CREATED_PREFIXES[before:]
    if created:
        # In a thread of its own: the tests' event loop may still be running in this one.
        worker = threading.Thread(target=lambda: asyncio.run(delete_topics_with_prefixes(created)))
        worker.start()
        worker.join(timeout=60)


@pytest.fixture(scope="module")
async def prefix() -> str:
    """Topics under a fresh prefix, for a module's tests (folders that want them per test define their own)."""
    return await new_topic_prefix()


@pytest.fixture(scope="module")
async def pool(schema: str) -> AsyncIterator[asyncpg.Pool]:
    """A pool on the module's `schema` (a folder's conftest defines it, e.g. with tests.support.schema_fixture)."""
    pool = await new_pool(schema)
    yield pool
    await pool.close()
