#!/usr/bin/env bash
# The date-sensitive test tiers with the clock moved, to prove the suite does not depend on the day it runs.
# libfaketime (Debian's package) moves the clock of the test process, of every service process it starts and of a
# PostgreSQL cluster of its own (port 5434, data under .run/postgres-moved); the Kafka broker keeps the real clock
# (it accepts future record timestamps: infra/kafka/server.properties.template).
#
# Usage: scripts/moved-clock.sh ahead|new-year [pytest arguments]
#   ahead     about 400 days ahead of now
#   new-year  23:59 on the coming 31 December, Brussels time (the run crosses midnight into the new year)
# Needs the broker of `make infra` running. Default tiers: tests/intake tests/crisis_center tests/notifier.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PY="$ROOT/.venv/bin/python"
MODE="${1:-}"; shift || true
PORT="${MOVED_PGPORT:-5434}"
PG_DIR_MOVED="$ROOT/.run/postgres-moved"

# The thread-safe build: the plain one, called from the threads of asyncio's executor, Faust and PostgreSQL, now and
# then froze the monotonic clock (seen: a crisis-worker test waiting for ever, 2 runs in 7; with this one 8 in 8).
library() {
  local lib
  for lib in /usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1 /usr/lib/*/faketime/libfaketimeMT.so.1; do
    [ -f "$lib" ] && { echo "$lib"; return; }
  done
  return 1
}

if ! library >/dev/null; then
  echo "moved-clock: installing Debian's libfaketime"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libfaketime >/dev/null
fi
LIB="$(library)"

case "$MODE" in
  ahead) OFFSET="+400d" ;;
  new-year)
    # Seconds from now to 23:59:00 on the coming 31 December in Brussels (this year's, or next year's in the last
    # minute of a year).
    OFFSET="+$("$PY" - <<'PY'
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo
brussels = ZoneInfo("Europe/Brussels")
now = datetime.now(brussels)
target = datetime(now.year, 12, 31, 23, 59, tzinfo=brussels)
if target <= now:
    target = datetime(now.year + 1, 12, 31, 23, 59, tzinfo=brussels)
print(int((target - now) / timedelta(seconds=1)))
PY
)s" ;;
  *) echo "usage: $0 ahead|new-year [pytest arguments]" >&2; exit 2 ;;
esac

# The monotonic clock moves by the same offset: left alone (FAKETIME_DONT_FAKE_MONOTONIC), libfaketime's
# clock_nanosleep turns Python's time.sleep into EINVAL.
export LD_PRELOAD="$LIB" FAKETIME="$OFFSET" FAKETIME_DONT_RESET=1
MOVED_URL="postgresql://consular@127.0.0.1:$PORT/consular"
echo "moved-clock: $MODE (FAKETIME=$FAKETIME): the tests' clock reads $(date -u +%FT%TZ)"

pg() { env -u DATABASE_URL PG_DIR="$PG_DIR_MOVED" PGPORT_LOCAL="$PORT" "$ROOT/scripts/postgres.sh" "$@"; }
# A cluster already running would keep the clock it started with: start it afresh under this run's clock.
pg stop >/dev/null 2>&1 || true
trap 'pg stop >/dev/null 2>&1 || true' EXIT
pg start
clock="$("$ROOT/.venv/bin/python" -c "
import asyncio, asyncpg
async def main():
    conn = await asyncpg.connect('$MOVED_URL')
    print((await conn.fetchval('SELECT now()')).isoformat())
    await conn.close()
asyncio.run(main())")"
echo "moved-clock: PostgreSQL's clock reads $clock"

export DATABASE_URL="$MOVED_URL"
"$PY" -m shared.cli migrate >/dev/null
"$PY" -m shared.cli seed >/dev/null
tiers=(tests/intake tests/crisis_center tests/notifier)
for arg in "$@"; do case "$arg" in tests/*) tiers=() ;; esac; done   # paths given: those instead
cd "$ROOT"
"$PY" -m pytest -p no:cacheprovider "$@" "${tiers[@]}"
