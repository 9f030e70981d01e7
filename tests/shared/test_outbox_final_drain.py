"""`OutboxRelay.final_drain`, a worker's last step: a failure to publish what is left is logged, never raised."""

from __future__ import annotations

from typing import Any

import pytest

from shared.kafka import outbox
from shared.kafka.outbox import OutboxRelay


class _Unreachable:
    """A pool whose database has gone: every connection attempt fails."""

    def acquire(self) -> Any:
        raise OSError("connection refused")


class _Log:
    def __init__(self) -> None:
        self.warnings: list[tuple[str, dict[str, Any]]] = []

    def warning(self, event: str, **fields: Any) -> None:
        self.warnings.append((event, fields))


async def test_a_failed_final_drain_is_logged_not_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    log = _Log()
    monkeypatch.setattr(outbox, "log", log)
    relay = OutboxRelay(pool=_Unreachable(), producer=None, schema="intake")  # type: ignore[arg-type]
    await relay.final_drain()
    assert log.warnings == [("final_drain_failed", {"error": "OSError"})]
