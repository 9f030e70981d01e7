"""Fixtures of the directory's tests: the seed loaded once per session (it is immutable)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.directory.adapters.seed import load_directory
from services.directory.domain.directory import Directory

#: A fixed moment for resolutions (Saturday 28 November 2026, noon UTC): validity dates are judged on it.
NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="session")
def directory() -> Directory:
    return load_directory()
