"""Intake's benchmark: `python -m bench.intake`."""
