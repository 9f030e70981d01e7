from bench.intake.bench_intake import main

raise SystemExit(main())
