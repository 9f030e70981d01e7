from bench.crisis.bench_crisis import main

raise SystemExit(main())
