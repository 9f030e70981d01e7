"""`python -m bench.welfare`: the welfare round and answers benchmark (see round.py)."""

from bench.welfare.round import main

main()
