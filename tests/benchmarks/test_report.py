"""`make bench` writes its generated part again and keeps the hand-written sections of docs/benchmarks.md."""

from __future__ import annotations

from bench.run import MEMORY_HEADING, ROOT, kept_sections, with_kept_sections

OLD = f"""# Benchmark report

Written by `make bench` on an earlier day.

| bench | figure |
|---|---|
| intake | old row |

{MEMORY_HEADING}

| process | PSS idle (MiB) | PSS under load (MiB) |
|---|---|---|
| old | 1 | 2 |

## Welfare checks (run on its own)

| figure | value |
|---|---|
| p99 | 9 ms |

## Not measured

- feeds: failed

## The surge (issue 26)

Notes that nobody may lose.
"""


def test_the_generated_part_is_replaced_and_the_hand_written_sections_stay_in_order() -> None:
    generated = f"# Benchmark report\n\nWritten by `make bench` today.\n\n| new row |\n\n{MEMORY_HEADING}\n\n| new |\n"
    merged = with_kept_sections(generated, OLD)
    assert merged.startswith(generated.rstrip())
    assert "old row" not in merged and "| old | 1 | 2 |" not in merged and "feeds: failed" not in merged
    assert merged.index("## Welfare checks") < merged.index("## The surge (issue 26)")
    assert "Notes that nobody may lose." in merged and "| p99 | 9 ms |" in merged
    assert merged.count(MEMORY_HEADING) == 1


def test_the_committed_report_keeps_its_sections() -> None:
    report = (ROOT / "docs" / "benchmarks.md").read_text()
    kept = kept_sections(report)
    assert "## An incident over a crowd" in kept and MEMORY_HEADING not in kept
    assert with_kept_sections("# Benchmark report\n", "") == "# Benchmark report\n"
