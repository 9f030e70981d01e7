"""`python -m bench.notifier`: the fan-out benchmark (see fanout.py)."""

from bench.notifier.fanout import main

main()
