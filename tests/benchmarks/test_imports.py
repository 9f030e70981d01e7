"""Every benchmark module imports: the benches run outside `make test`, so a name moved in the services (as
`tune_collector` was, to shared/collector.py) would otherwise break `make bench` unnoticed."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
MODULES = sorted(".".join(p.relative_to(BENCH.parent).with_suffix("").parts) for p in BENCH.rglob("*.py")
                 if p.name != "__main__.py")


def test_the_benchmarks_are_found() -> None:
    assert "bench.crisis.cold_start" in MODULES and "bench.notifier" in {m.rsplit(".", 1)[0] for m in MODULES}


@pytest.mark.parametrize("module", MODULES)
def test_each_benchmark_module_imports(module: str) -> None:
    importlib.import_module(module)
