"""`python -m bench.directory`: see bench_directory.py."""

import sys

from bench.directory.bench_directory import main

sys.exit(main())
