#!/usr/bin/env bash
# A local three-node Apache Kafka cluster in KRaft mode (each node broker and controller) on loopback, for the
# scale-out test: replication factor 3, min.insync.replicas=2. Brokers 127.0.0.1:19092-19094, controllers
# 19192-19194, data under .run/kafka-cluster/node-N. It uses the jars of scripts/kafka.sh and never touches the
# single broker on 9092.
# Usage: scripts/kafka-cluster.sh install|start|stop|status|kill-broker N|start-broker N|reset|bootstrap
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
RUN="$ROOT/.run"
LIBS="$RUN/kafka-libs"
DIR="$RUN/kafka-cluster"
NODES=(1 2 3)
BROKER_BASE="${KAFKA_CLUSTER_BROKER_BASE:-19091}"        # node N listens on BASE+N
CONTROLLER_BASE="${KAFKA_CLUSTER_CONTROLLER_BASE:-19191}"
CLUSTER_ID="${KAFKA_CLUSTER_ID_SCALEOUT:-bEbBYvrDVcGnScHCvdBYdg}"
HEAP="${KAFKA_CLUSTER_HEAP:-384m}"

broker_port() { echo $((BROKER_BASE + $1)); }
controller_port() { echo $((CONTROLLER_BASE + $1)); }
pidfile() { echo "$DIR/node-$1/kafka.pid"; }
running() { [ -f "$(pidfile "$1")" ] && kill -0 "$(cat "$(pidfile "$1")")" 2>/dev/null; }
bootstrap() { local s=""; for n in "${NODES[@]}"; do s="$s${s:+,}127.0.0.1:$(broker_port "$n")"; done; echo "$s"; }
voters() { local s=""; for n in "${NODES[@]}"; do s="$s${s:+,}$n@127.0.0.1:$(controller_port "$n")"; done; echo "$s"; }

check_node() {
  case "${1:-}" in 1|2|3) ;; *) echo "kafka-cluster: node must be 1, 2 or 3" >&2; exit 2 ;; esac
}

# Prints how many brokers the cluster metadata lists when asked through node $1 (0 when it does not answer).
brokers_seen() {
  "$ROOT/.venv/bin/python" - "$(broker_port "$1")" <<'PY' 2>/dev/null || echo 0
import asyncio, sys
from aiokafka.admin import AIOKafkaAdminClient
async def main() -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=f"127.0.0.1:{sys.argv[1]}", request_timeout_ms=3000)
    try:
        await asyncio.wait_for(admin.start(), 5)
        cluster = await asyncio.wait_for(admin.describe_cluster(), 5)
        print(len(cluster["brokers"]))
    finally:
        await admin.close()
asyncio.run(main())
PY
}

java_opts() {
  local n="$1"
  echo "-Xms128m -Xmx$HEAP -XX:+UseG1GC -XX:TieredStopAtLevel=1 -Djava.awt.headless=true" \
       "-Dkafka.logs.dir=$DIR/node-$n/logs -Dlog4j2.configurationFile=$ROOT/infra/kafka-cluster/log4j2.properties"
}

install() { "$ROOT/scripts/kafka.sh" install; }

configure() {
  local n="$1" d="$DIR/node-$1"
  mkdir -p "$d/data" "$d/logs"
  sed -e "s#@NODE_ID@#$n#g" -e "s#@VOTERS@#$(voters)#g" -e "s#@KAFKA_PORT@#$(broker_port "$n")#g" \
      -e "s#@CONTROLLER_PORT@#$(controller_port "$n")#g" -e "s#@DATA_DIR@#$d/data#g" \
      "$ROOT/infra/kafka-cluster/server.properties.template" > "$d/server.properties"
  if [ ! -f "$d/data/meta.properties" ]; then
    # shellcheck disable=SC2046
    java $(java_opts "$n") -cp "$LIBS/*" kafka.tools.StorageTool format -t "$CLUSTER_ID" \
         -c "$d/server.properties" >"$d/logs/format.log" 2>&1 \
      || { echo "kafka-cluster: storage format of node $n failed:" >&2; cat "$d/logs/format.log" >&2; exit 1; }
  fi
}

launch() {
  local n="$1" d="$DIR/node-$1"
  if running "$n"; then echo "kafka-cluster: node $n already running (pid $(cat "$(pidfile "$n")"))"; return; fi
  configure "$n"
  # shellcheck disable=SC2046
  nohup java $(java_opts "$n") -cp "$LIBS/*" kafka.Kafka "$d/server.properties" >"$d/logs/stdout.log" 2>&1 &
  echo $! > "$(pidfile "$n")"
}

# Waits until node $1 answers and sees $2 brokers.
wait_for() {
  local n="$1" want="$2"
  for _ in $(seq 1 120); do
    if [ "$(brokers_seen "$n")" -ge "$want" ]; then return 0; fi
    running "$n" || break
    sleep 1
  done
  echo "kafka-cluster: node $n did not come up with $want broker(s) in view; last lines of its logs:" >&2
  tail -n 30 "$DIR/node-$n/logs/stdout.log" "$DIR/node-$n/logs/server.log" >&2 2>/dev/null || true
  return 1
}

start() {
  install
  for n in "${NODES[@]}"; do launch "$n"; done
  for n in "${NODES[@]}"; do wait_for "$n" "${#NODES[@]}" || exit 1; done
  echo "kafka-cluster: up, bootstrap $(bootstrap)"
}

stop_node() {
  local n="$1" signal="${2:-TERM}"
  if running "$n"; then
    local pid; pid="$(cat "$(pidfile "$n")")"
    kill "-$signal" "$pid" 2>/dev/null || true
    for _ in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$(pidfile "$n")"
}

stop() {
  # All at once: stopping one at a time makes the last ones move every leader around first.
  for n in "${NODES[@]}"; do
    if running "$n"; then kill "$(cat "$(pidfile "$n")")" 2>/dev/null || true; fi
  done
  for n in "${NODES[@]}"; do stop_node "$n"; done
  echo "kafka-cluster: stopped"
}

status() {
  local up=0
  for n in "${NODES[@]}"; do
    if running "$n"; then
      echo "  node $n: running (pid $(cat "$(pidfile "$n")")) on 127.0.0.1:$(broker_port "$n"), sees $(brokers_seen "$n") broker(s)"
      up=$((up + 1))
    else
      echo "  node $n: stopped"
    fi
  done
  [ "$up" -gt 0 ]
}

case "${1:-}" in
  install) install ;;
  start) start ;;
  stop) stop ;;
  status) status ;;
  bootstrap) bootstrap ;;
  kill-broker) check_node "${2:-}"; stop_node "$2" KILL; echo "kafka-cluster: node $2 killed" ;;
  start-broker)
    check_node "${2:-}"; launch "$2"; wait_for "$2" 1 || exit 1; echo "kafka-cluster: node $2 up" ;;
  reset) stop; rm -rf "$DIR"; echo "kafka-cluster: data removed" ;;
  *) echo "usage: $0 install|start|stop|status|kill-broker N|start-broker N|reset|bootstrap" >&2; exit 2 ;;
esac
