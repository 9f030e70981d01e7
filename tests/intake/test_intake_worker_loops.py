"""The worker's polling loops (charter-clock scheduler, PFIF import matcher): what one round returns and how the loop
goes on after it (again at once, after a wait, after an error), without a database."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from services.intake import worker
from services.intake.handlers import IntakeConfig
from services.intake.worker import DeadlineScheduler, ImportMatcher, _PollingLoop


class _Log:
    def __init__(self) -> None:
        self.warnings: list[tuple[str, dict[str, Any]]] = []

    def warning(self, event: str, **fields: Any) -> None:
        self.warnings.append((event, fields))


class _Scripted(_PollingLoop):
    error_event = "scripted_error"

    def __init__(self, script: list[float | Exception | None]) -> None:
        super().__init__()
        self.script, self.rounds = script, 0

    async def _round(self) -> float | None:
        self.rounds += 1
        step = self.script.pop(0)
        if not self.script:
            self.stop()
        if isinstance(step, Exception):
            raise step
        return step


async def test_the_loop_goes_on_at_once_after_work_after_a_wait_otherwise_and_logs_an_error(
        monkeypatch: pytest.MonkeyPatch) -> None:
    log = _Log()
    monkeypatch.setattr(worker, "log", log)
    loop = _Scripted([None, 0.01, None, OSError("database down")])
    await asyncio.wait_for(loop.run(), timeout=30)
    assert loop.rounds == 4
    assert log.warnings == [("scripted_error", {"error": "OSError"})]


async def test_a_stopped_loop_runs_no_round() -> None:
    loop = _Scripted([None])
    loop.stop()
    await asyncio.wait_for(loop.run(), timeout=30)
    assert loop.rounds == 0


@pytest.mark.parametrize(("fired", "next_in", "wait"), [
    (2, None, None),  # fired some: more may be due at once
    (0, None, 30.0),  # nothing scheduled: the poll interval
    (0, 3.0, 3.0),  # the next deadline comes before the poll
    (0, -1.0, 0.05),  # overdue by the time it was read: a short pause, never a busy loop
])
async def test_a_scheduler_round_waits_until_the_next_deadline_or_the_poll(
        monkeypatch: pytest.MonkeyPatch, fired: int, next_in: float | None, wait: float | None) -> None:
    async def fire_due_deadlines(**_: Any) -> int:
        return fired

    async def seconds_to_next_deadline(**_: Any) -> float | None:
        return next_in

    monkeypatch.setattr(worker.deadlines, "fire_due_deadlines", fire_due_deadlines)
    monkeypatch.setattr(worker.deadlines, "seconds_to_next_deadline", seconds_to_next_deadline)
    scheduler = DeadlineScheduler(pool=None, config=IntakeConfig(source="/intake"), poll_seconds=30.0)  # type: ignore[arg-type]
    assert await scheduler._round() == wait
    assert scheduler.error_event == "deadline_scheduler_error"


@pytest.mark.parametrize(("matched", "wait"), [(True, None), (False, 0.5)])
async def test_an_import_matcher_round_goes_on_while_it_matches(
        monkeypatch: pytest.MonkeyPatch, matched: bool, wait: float | None) -> None:
    async def match_imported(*_: Any, **__: Any) -> bool:
        return matched

    monkeypatch.setattr(worker.families, "match_imported", match_imported)
    matcher = ImportMatcher(pool=None, config=IntakeConfig(source="/intake"), poll_seconds=0.5)  # type: ignore[arg-type]
    assert await matcher._round() == wait
    assert matcher.error_event == "import_matcher_error"
