"""The benches run on the event loop the services run on (uvloop unless EVENT_LOOP=asyncio, shared/runner.py), so
that a baseline measured in the bench's own process has the same advantage as the service beside it."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Coroutine
from typing import Any, TypeVar

from shared.runner import loop_factory

T = TypeVar("T")


def run(main: Coroutine[Any, Any, T]) -> T:
    with asyncio.Runner(loop_factory=loop_factory(os.environ.get("EVENT_LOOP", "uvloop"))) as runner:
        return runner.run(main)
