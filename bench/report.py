"""What every benchmark reports: one figure a line, gathered by `make bench` into one Markdown table.

A benchmark calls `record(...)` for each figure; when BENCH_RESULTS names a file (as `make bench` sets it), the
figure is appended there as a JSON line; it is always printed.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Figure:
    bench: str
    figure: str
    value: float
    unit: str
    baseline: float | None = None
    baseline_name: str = ""
    aim: str = ""

    @property
    def ratio(self) -> float | None:
        if self.baseline in (None, 0):
            return None
        return self.value / self.baseline  # type: ignore[operator]


def record(bench: str, figure: str, value: float, unit: str, *, baseline: float | None = None,
           baseline_name: str = "", aim: str = "") -> Figure:
    item = Figure(bench, figure, value, unit, baseline, baseline_name, aim)
    ratio = f"  ratio {item.ratio:.2f}" if item.ratio is not None else ""
    base = f"  (baseline {baseline_name}: {baseline:.4g})" if baseline is not None else ""
    print(f"[{bench}] {figure}: {value:.4g} {unit}{base}{ratio}  aim: {aim}", flush=True)
    path = os.environ.get("BENCH_RESULTS")
    if path:
        with open(path, "a", encoding="utf-8") as out:
            out.write(json.dumps(asdict(item)) + "\n")
    return item


def load(path: str) -> list[Figure]:
    with open(path, encoding="utf-8") as source:
        return [Figure(**json.loads(line)) for line in source if line.strip()]


def markdown(figures: list[Figure]) -> str:
    rows = ["| bench | figure | value | baseline | ratio | aim |", "|---|---|---|---|---|---|"]
    for f in figures:
        baseline = f"{f.baseline:.4g} ({f.baseline_name})" if f.baseline is not None else ""
        ratio = f"{f.ratio:.2f}" if f.ratio is not None else ""
        rows.append(f"| {f.bench} | {f.figure} | {f.value:.4g} {f.unit} | {baseline} | {ratio} | {f.aim} |")
    return "\n".join(rows) + "\n"
