"""structlog JSON logging, configured once per process, with a correlation id from the W3C `traceparent`.

The correlation id lives in a context variable; HTTP middleware and Kafka consumers bind it at the boundary,
producers copy it into the `traceparent` header and the CloudEvent's `traceparent` attribute.
Keys that may carry personal data are dropped by a processor as a safety net; code logs ids, not people.
"""

from __future__ import annotations

import logging
import secrets
import sys
from collections.abc import MutableMapping
from contextvars import ContextVar
from typing import Any

import structlog

_traceparent: ContextVar[str | None] = ContextVar("traceparent", default=None)

PERSONAL_KEYS = frozenset({
    "full_name", "name", "phone", "email", "to", "from_", "body", "description", "date_of_birth", "address",
    "recipient", "reporter", "subject", "password", "token", "authorization", "secret", "jwt_secret",
})


def new_traceparent() -> str:
    return f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-01"


def current_traceparent() -> str:
    """The traceparent in force, or a new one bound for the rest of this context."""
    value = _traceparent.get()
    if value is None:
        value = new_traceparent()
        bind_traceparent(value)
    return value


def bind_traceparent(value: str | None) -> None:
    if not value or not _valid(value):
        value = new_traceparent()
    _traceparent.set(value)
    structlog.contextvars.bind_contextvars(correlation_id=value.split("-")[1])


def child_traceparent(parent: str | None) -> str:
    """Same trace, new span: what a consumer uses for the events it produces in turn."""
    if parent and _valid(parent):
        return f"00-{parent.split('-')[1]}-{secrets.token_hex(8)}-01"
    return new_traceparent()


def _valid(value: str) -> bool:
    parts = value.split("-")
    return len(parts) == 4 and len(parts[1]) == 32 and len(parts[2]) == 16


def _drop_personal(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key in PERSONAL_KEYS.intersection(event_dict):
        event_dict[key] = "[redacted]"
    return event_dict


def configure_logging(service: str, level: str = "INFO") -> None:
    logging.basicConfig(format="%(message)s", stream=sys.stdout, level=getattr(logging, level.upper(), logging.INFO))
    for noisy in ("aiokafka", "kafka", "faust", "mode", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            _drop_personal,
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(getattr(logging, level.upper(), logging.INFO)),
        logger_factory=structlog.PrintLoggerFactory(),
        cache_logger_on_first_use=True,
    )
    structlog.contextvars.bind_contextvars(service=service)


def get_logger(name: str | None = None) -> structlog.stdlib.BoundLogger:
    logger: structlog.stdlib.BoundLogger = structlog.get_logger(name)
    return logger
