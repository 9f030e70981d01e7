from bench.feeds.bench_feeds import main

raise SystemExit(main())
