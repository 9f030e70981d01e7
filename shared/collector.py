"""Python's cyclic garbage collector, tuned for the long-running worker processes.

At its defaults (700, 10, 10) the collector runs a young collection every 700 allocations and a full one often:
- the crisis worker ran a full collection of its heap 27 times in an 8 s surge of 20,000 people, up to 318 ms each
  (about 2 s each at 100,000), the largest stall of its event loop;
- the notifier worker, storing commands in batches of 500 (thousands of short-lived objects each), stored 9,091 and
  9,202 commands a second at the defaults and 10,617 and 11,215 with these thresholds (session 16, interleaved
  runs of `python -m bench.notifier --workers 1`).

Most of what a worker allocates is freed by reference counting: young collections every 50,000 allocations, the
middle one every 10 of those (a larger middle generation took 0.7 s to scan in the crisis worker), full ones rare;
and what exists once the worker has started (modules, clients, the Faust app) is frozen out of every collection.
"""

from __future__ import annotations

import gc

GC_THRESHOLDS = (50_000, 10, 1_000)


def tune_collector() -> None:
    """For a worker's process, once it has started: `GC_THRESHOLDS`, and what exists now frozen out of every
    collection. Called by the processes' entry points, never by a worker's `start` (tests start many workers in
    one process)."""
    gc.set_threshold(*GC_THRESHOLDS)
    gc.freeze()
