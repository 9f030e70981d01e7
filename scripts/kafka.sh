#!/usr/bin/env bash
# A single-node Apache Kafka broker in KRaft mode, from Maven Central's jars, data under .run/kafka.
# KAFKA_DIR (data and logs), KAFKA_PORT and KAFKA_CONTROLLER_PORT run a second broker beside it (the chaos tests).
# Usage: scripts/kafka.sh install|start|stop|status|reset
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
RUN="$ROOT/.run"
LIBS="$RUN/kafka-libs"
DIR="${KAFKA_DIR:-$RUN/kafka}"
KAFKA_PORT="${KAFKA_PORT:-9092}"
CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-9093}"
CLUSTER_ID="${KAFKA_CLUSTER_ID:-bE1gIumC0nsu1arP1atfrm}"   # fixed: the data folder can be reused across starts
HEAP="${KAFKA_HEAP:-1g}"
PIDFILE="$DIR/kafka.pid"
PY="${PYTHON:-$ROOT/.venv/bin/python}"   # PYTHON: e.g. a worktree without a .venv of its own

# Maven 3.8 writes colour resets even quiet and in batch mode: its output is stripped to plain text.
plain_mvn() {
  mvn -q -B "$@" 2>&1 | sed -E 's/\x1b\[[0-9;]*[A-Za-z]//g' | { grep -v '^[[:space:]]*$' || :; }
}

install() {
  if ls "$LIBS"/kafka_2.13-*.jar >/dev/null 2>&1; then return; fi
  command -v mvn >/dev/null || { echo "kafka: Maven (mvn) is required to fetch Kafka's jars" >&2; exit 1; }
  echo "kafka: fetching Apache Kafka's jars with Maven into $LIBS"
  plain_mvn -f "$ROOT/infra/kafka/pom.xml" dependency:copy-dependencies -DincludeScope=runtime \
      -DoutputDirectory="$LIBS"
}

running() { [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; }

answers() {
  "$PY" - "$KAFKA_PORT" <<'PY' >/dev/null 2>&1
import asyncio, sys
from aiokafka.admin import AIOKafkaAdminClient
async def main() -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=f"127.0.0.1:{sys.argv[1]}", request_timeout_ms=3000)
    await asyncio.wait_for(admin.start(), 5)
    await asyncio.wait_for(admin.list_topics(), 5)
    await admin.close()
asyncio.run(main())
PY
}

start() {
  install
  mkdir -p "$DIR/data" "$DIR/logs"
  if running; then echo "kafka: already running (pid $(cat "$PIDFILE")) on 127.0.0.1:$KAFKA_PORT"; return; fi
  sed -e "s#@KAFKA_PORT@#$KAFKA_PORT#g" -e "s#@CONTROLLER_PORT@#$CONTROLLER_PORT#g" -e "s#@DATA_DIR@#$DIR/data#g" \
      "$ROOT/infra/kafka/server.properties.template" > "$DIR/server.properties"
  # An idle broker gives back heap it no longer needs (periodic G1 cycles, at most 30% of the heap kept free):
  # the stack's memory at idle is one of the benchmark's aims.
  local java_opts=(-Xms128m "-Xmx$HEAP" -XX:+UseG1GC -XX:G1PeriodicGCInterval=30000 -XX:MinHeapFreeRatio=10
                   -XX:MaxHeapFreeRatio=30 -Djava.awt.headless=true "-Dkafka.logs.dir=$DIR/logs"
                   "-Dlog4j2.configurationFile=$ROOT/infra/kafka/log4j2.properties")
  if [ ! -f "$DIR/data/meta.properties" ]; then
    java "${java_opts[@]}" -cp "$LIBS/*" kafka.tools.StorageTool format -t "$CLUSTER_ID" \
         -c "$DIR/server.properties" >"$DIR/logs/format.log" 2>&1 \
      || { echo "kafka: storage format failed:" >&2; cat "$DIR/logs/format.log" >&2; exit 1; }
  fi
  nohup java "${java_opts[@]}" -cp "$LIBS/*" kafka.Kafka "$DIR/server.properties" \
        >"$DIR/logs/stdout.log" 2>&1 &
  echo $! > "$PIDFILE"
  for _ in $(seq 1 180); do
    if answers; then echo "kafka: up on 127.0.0.1:$KAFKA_PORT (pid $(cat "$PIDFILE"))"; return; fi
    if ! running; then break; fi
    sleep 1
  done
  echo "kafka: the broker did not come up; last lines of its logs:" >&2
  tail -n 40 "$DIR/logs/stdout.log" "$DIR/logs/server.log" >&2 2>/dev/null || true
  exit 1
}

stop() {
  if running; then
    local pid; pid="$(cat "$PIDFILE")"
    kill "$pid"
    for _ in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
    kill -9 "$pid" 2>/dev/null || true
    echo "kafka: stopped"
  else
    echo "kafka: not running"
  fi
  rm -f "$PIDFILE"
}

status() {
  if running && answers; then echo "kafka: running on 127.0.0.1:$KAFKA_PORT (pid $(cat "$PIDFILE"))"
  else echo "kafka: not running"; return 1; fi
}

reset() { stop; rm -rf "$DIR/data" "$DIR/logs"; echo "kafka: data removed"; }

case "${1:-}" in
  install) install ;; start) start ;; stop) stop ;; status) status ;; reset) reset ;;
  *) echo "usage: $0 install|start|stop|status|reset" >&2; exit 2 ;;
esac
