import sys

from bench.loop import run as run_loop

if sys.argv[1:2] == ["registrations"]:
    from bench.crisis.registrations import main as registrations

    raise SystemExit(registrations(sys.argv[2:]))
elif sys.argv[1:2] == ["cold-start"]:
    from bench.crisis.cold_start import main
elif sys.argv[1:2] == ["surge"]:
    from bench.crisis.bench_surge import main
elif sys.argv[1:2] == ["people-map"]:
    from bench.crisis.people_map import main as people_map

    raise SystemExit(run_loop(people_map(int(sys.argv[2]) if len(sys.argv) > 2 else 100_000)))
else:
    from bench.crisis.bench_crisis import main

raise SystemExit(main())
