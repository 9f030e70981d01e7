"""Scan captured logs (strings or log files) for personal data and secrets: for the in-process flows here and for
the multi-process e2e runs (point `leaks_in_files` at their log files)."""

from __future__ import annotations

import io
import json
import logging
import os
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from pydantic import BaseModel, SecretStr

#: Environment variables that hold secrets in some deployment, whether or not a Settings class reads them.
SECRET_ENV = ("JWT_SECRET", "TWILIO_AUTH_TOKEN", "SMTP_PASSWORD", "FIELD_ENCRYPTION_KEY", "FIELD_KEYS",
              "INTAKE_FIELD_KEYS", "DASHBOARD_USERS")


def secret_values(*settings: BaseModel) -> set[str]:
    """Every SecretStr of the given Settings objects, and the secret environment variables that are set."""
    found = {os.environ[name] for name in SECRET_ENV if os.environ.get(name)}
    for model in settings:
        for name in type(model).model_fields:
            value = getattr(model, name)
            if isinstance(value, SecretStr) and value.get_secret_value():
                found.add(value.get_secret_value())
    return {value for value in found if len(value) >= 6}


def variants(value: str) -> set[str]:
    """A value as it may be logged: as given, JSON-escaped, and a phone number without its '+'."""
    out = {value, json.dumps(value)[1:-1]}
    if re.fullmatch(r"\+\d{7,15}", value):
        out.add(value[1:])
    return out


def leaks(text: str, values: Iterable[str]) -> list[str]:
    """The values (personal data, secrets) that occur in `text`, case-insensitively."""
    lowered = text.lower()
    return sorted({value for value in values if any(v.lower() in lowered for v in variants(value))})


def leaks_in_files(paths: Iterable[Path], values: Iterable[str]) -> dict[str, list[str]]:
    """Per log file, the values found in it (files that leak nothing are left out)."""
    wanted = list(values)
    found = {}
    for path in paths:
        hits = leaks(path.read_text(errors="replace"), wanted)
        if hits:
            found[str(path)] = hits
    return found


@contextmanager
def captured_logs(service: str = "test") -> Iterator[io.StringIO]:
    """structlog (configured as every service configures it) and stdlib logging written to one buffer while the
    block runs; the previous structlog configuration is restored after."""
    import structlog

    from shared.logging import configure_logging

    buffer = io.StringIO()
    saved = structlog.get_config()
    configure_logging(service)
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(file=buffer), cache_logger_on_first_use=False)
    handler = logging.StreamHandler(buffer)
    logging.getLogger().addHandler(handler)
    try:
        yield buffer
    finally:
        logging.getLogger().removeHandler(handler)
        structlog.configure(**saved)
