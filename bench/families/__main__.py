"""`python -m bench.families`: the families' matching and PFIF import benchmark (see match.py)."""

from bench.families.match import main

main()
