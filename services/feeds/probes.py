"""The worker's probes (shared/health.py) with each feed's last read in the /readyz body (`feeds`).

A feed that fails does not make the worker unready: nothing a restart or a rerouting could mend. Its state is
shown here and counted in /metrics (`feed_fetches_total`, `feed_failures_in_row`) for alerting.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from starlette.types import Receive, Scope, Send

from shared.health import HealthServer


class FeedsHealthServer(HealthServer):
    def __init__(self, *, details: Callable[[], dict[str, Any]], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._details = details

    async def app(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope.get("path") == "/readyz":
            checks = await self.readiness()
            ready = bool(checks) and all(checks.values())
            body = json.dumps({"ready": ready, "checks": checks, "feeds": self._details()}).encode()
            await send({"type": "http.response.start", "status": 200 if ready else 503,
                        "headers": [(b"content-type", b"application/json"),
                                    (b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": body})
            return
        await super().app(scope, receive, send)
