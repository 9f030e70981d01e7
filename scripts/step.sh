#!/usr/bin/env bash
# One step of `make run` / `make infra`: the command's output goes to .run/logs/LOG.log and one line tells how it
# went and how long it took; the log is shown only when the step fails (then the step's exit status is returned).
#   ok   database      0.3 s  already running on 127.0.0.1:5433
#   FAIL database      2.1 s  (log: .run/logs/postgres.log)   ... followed by the log's last lines
# --show also passes the output through as it comes (the services' addresses).
# Usage: scripts/step.sh [--show] LABEL LOG -- COMMAND [ARG...]
set -uo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
LOGS="${STEP_LOG_DIR:-$ROOT/.run/logs}"
show=0
if [ "${1:-}" = "--show" ]; then show=1; shift; fi
[ $# -ge 4 ] && [ "$3" = "--" ] || { echo "usage: $0 [--show] LABEL LOG -- COMMAND [ARG...]" >&2; exit 2; }
label="$1"; log="$LOGS/$2.log"; shift 3
mkdir -p "$LOGS"
started=$(date +%s%N)
if [ "$show" = 1 ]; then
  "$@" 2>&1 | tee "$log"; status=${PIPESTATUS[0]}
else
  "$@" >"$log" 2>&1; status=$?
fi
ms=$(( ($(date +%s%N) - started) / 1000000 ))
took="$((ms / 1000)).$(( (ms % 1000) / 100 ))"
if [ "$status" = 0 ]; then
  detail=""
  # The step's own last word ("postgres: already running on ...", less its name), unless it was just shown.
  # Colour codes (Maven's, npm's) are stripped: the line stays plain text.
  [ "$show" = 1 ] || detail="$(sed -E 's/\x1b\[[0-9;]*[A-Za-z]//g' "$log" | grep -v '^[[:space:]]*$' | tail -n 1 \
    | sed -E 's/^[a-z-]+: //' | cut -c1-90)"
  printf 'ok   %-12s %5s s  %s\n' "$label" "$took" "$detail" | sed 's/ *$//'
else
  printf 'FAIL %-12s %5s s  (log: %s)\n' "$label" "$took" "${log#"$ROOT"/}" >&2
  [ "$show" = 1 ] || tail -n 40 "$log" >&2
fi
exit "$status"
