"""The feeds worker's benchmark: `python -m bench.feeds`."""
