#!/usr/bin/env bash
# Starts, stops and lists the platform's processes (config/processes), logs under .run/logs.
# Usage: scripts/services.sh start|stop|status|restart NAME|kill NAME
set -uo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
RUN="$ROOT/.run/services"
LOGS="$ROOT/.run/logs"
PY="$ROOT/.venv/bin/python"
mkdir -p "$RUN" "$LOGS"

entries() { grep -v '^\s*#' "$ROOT/config/processes" | grep -v '^\s*$'; }
field() { echo "$1" | cut -d'|' -f"$2" | sed 's/^ *//; s/ *$//'; }
module_exists() { local mod="${1%% *}"; [ -f "$ROOT/$(echo "$mod" | tr . /).py" ] || [ -f "$ROOT/$(echo "$mod" | tr . /)/__main__.py" ]; }
alive() { [ -f "$RUN/$1.pid" ] && kill -0 "$(cat "$RUN/$1.pid")" 2>/dev/null; }

start_one() {
  local line="$1" name cmd port
  name="$(field "$line" 1)"; cmd="$(field "$line" 2)"; port="$(field "$line" 3)"
  module_exists "$cmd" || return 0
  if alive "$name"; then echo "  $name: already running"; return 0; fi
  # shellcheck disable=SC2086
  # exec: the recorded pid is the service's own, so that stop and kill reach it (not a wrapping shell).
  (cd "$ROOT" && exec nohup "$PY" -m $cmd </dev/null >>"$LOGS/$name.log" 2>&1) &
  echo $! >"$RUN/$name.pid"
  if [ "$port" != "-" ]; then
    for _ in $(seq 1 60); do
      (exec 3<>/dev/tcp/127.0.0.1/"$port") 2>/dev/null && break
      alive "$name" || break
      sleep 0.5
    done
  fi
  if alive "$name"; then
    if [ "$port" != "-" ]; then echo "  $name: http://127.0.0.1:$port  ($(field "$line" 4))"
    else echo "  $name: running  ($(field "$line" 4))"; fi
  else
    echo "  $name: FAILED to start, see $LOGS/$name.log" >&2; return 1
  fi
}

stop_one() {
  local name="$1"
  if alive "$name"; then
    local pid; pid="$(cat "$RUN/$name.pid")"
    kill "$pid" 2>/dev/null
    for _ in $(seq 1 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    kill -9 "$pid" 2>/dev/null
    echo "  $name: stopped"
  fi
  rm -f "$RUN/$name.pid"
}

case "${1:-}" in
  start)
    echo "services (logs in .run/logs):"
    failed=0
    while IFS= read -r line; do start_one "$line" || failed=1; done < <(entries)
    exit $failed ;;
  stop) while IFS= read -r line; do stop_one "$(field "$line" 1)"; done < <(entries) ;;
  status)
    while IFS= read -r line; do
      name="$(field "$line" 1)"
      if alive "$name"; then echo "  $name: running (pid $(cat "$RUN/$name.pid"))"
      elif module_exists "$(field "$line" 2)"; then echo "  $name: stopped"; fi
    done < <(entries) ;;
  restart) stop_one "$2"; start_one "$(entries | grep "^$2 ")" ;;
  kill) alive "$2" && kill -9 "$(cat "$RUN/$2.pid")"; rm -f "$RUN/$2.pid" ;;
  *) echo "usage: $0 start|stop|status|restart NAME|kill NAME" >&2; exit 2 ;;
esac
