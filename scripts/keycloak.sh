#!/usr/bin/env bash
# A local OpenID Connect provider for the AUTH_MODE=oidc tests and trials: Keycloak's server distribution from Maven
# Central (org.keycloak:keycloak-quarkus-dist), unpacked under .run/, in dev mode (in-memory H2, http on loopback)
# with the committed realm infra/keycloak/consular-realm.json (local test data: infra/keycloak/README.md).
# Keycloak 26 needs Java 21 or later: KEYCLOAK_JAVA_HOME, else the first such JDK found (JAVA_HOME, /usr/lib/jvm/*).
# Usage: scripts/keycloak.sh install|start [--no-wait]|wait|stop|status
#   start --no-wait: launch and return at once (make test starts it first, the tests wait for it); wait: until ready.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
RUN="$ROOT/.run"
VERSION="${KEYCLOAK_VERSION:-26.7.3}"
DIST="$RUN/keycloak-$VERSION"
DIR="$RUN/keycloak"
PORT="${KEYCLOAK_PORT:-8180}"
PIDFILE="$DIR/keycloak.pid"
LOG="$DIR/keycloak.log"
REALM_FILE="$ROOT/infra/keycloak/consular-realm.json"
READY_URL="http://127.0.0.1:$PORT/realms/consular/.well-known/openid-configuration"
WAIT_SECONDS="${KEYCLOAK_WAIT_SECONDS:-240}"

java_major() { "$1/bin/java" -version 2>&1 | sed -nE '1s/.*version "([0-9]+).*/\1/p'; }

find_java() {
  local candidate
  for candidate in "${KEYCLOAK_JAVA_HOME:-}" "${JAVA_HOME:-}" /usr/lib/jvm/*; do
    [ -n "$candidate" ] && [ -x "$candidate/bin/java" ] || continue
    if [ "$(java_major "$candidate")" -ge 21 ] 2>/dev/null; then echo "$candidate"; return; fi
  done
  return 1
}

# Maven 3.8 writes colour resets even quiet and in batch mode: its output is stripped to plain text.
plain_mvn() {
  mvn -q -B "$@" 2>&1 | sed -E 's/\x1b\[[0-9;]*[A-Za-z]//g' | { grep -v '^[[:space:]]*$' || :; }
}

install() {
  if [ -x "$DIST/bin/kc.sh" ]; then return; fi
  command -v mvn >/dev/null || { echo "keycloak: Maven (mvn) is required to fetch Keycloak" >&2; exit 1; }
  echo "keycloak: fetching org.keycloak:keycloak-quarkus-dist:$VERSION with Maven"
  local tmp; tmp="$(mktemp -d "$RUN/keycloak-fetch.XXXXXX")"
  plain_mvn dependency:copy "-Dartifact=org.keycloak:keycloak-quarkus-dist:$VERSION:zip" \
      "-DoutputDirectory=$tmp" -Dmdep.overWriteReleases=true
  if command -v unzip >/dev/null; then (cd "$tmp" && unzip -q "keycloak-quarkus-dist-$VERSION.zip")
  else  # Python's zipfile drops the modes: the scripts get theirs back
    python3 -m zipfile -e "$tmp/keycloak-quarkus-dist-$VERSION.zip" "$tmp"
    chmod +x "$tmp/keycloak-$VERSION/bin/"*.sh
  fi
  rm -rf "$DIST"
  mv "$tmp/keycloak-$VERSION" "$DIST"
  rm -rf "$tmp"
}

running() { [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; }
answers() { curl -fsS -o /dev/null --max-time 3 "$READY_URL" 2>/dev/null; }

launch() {
  mkdir -p "$RUN" "$DIR"
  if running; then echo "keycloak: already running (pid $(cat "$PIDFILE")) on http://127.0.0.1:$PORT"; return; fi
  if answers; then echo "keycloak: something else already answers on 127.0.0.1:$PORT" >&2; exit 1; fi
  local java_home
  java_home="$(find_java)" || { echo "keycloak: Java 21 or later is required (set KEYCLOAK_JAVA_HOME)" >&2; exit 1; }
  install
  mkdir -p "$DIST/data/import"
  cp "$REALM_FILE" "$DIST/data/import/"
  if [ -f "$LOG" ] && [ "$(stat -c %s "$LOG")" -gt 5000000 ]; then mv "$LOG" "$LOG.1"; fi
  echo "=== $(date -u +%FT%TZ) start" >> "$LOG"
  # The bootstrap admin is a local test value, like everything in this dev-mode server (in-memory: nothing persists).
  (cd "$DIR" && exec env JAVA_HOME="$java_home" JAVA_OPTS_KC_HEAP="-Xms64m -Xmx768m" \
       KC_BOOTSTRAP_ADMIN_USERNAME=admin KC_BOOTSTRAP_ADMIN_PASSWORD=local-test-admin \
       nohup "$DIST/bin/kc.sh" start-dev --http-host=127.0.0.1 "--http-port=$PORT" \
       "--hostname=http://127.0.0.1:$PORT" --db=dev-mem --import-realm </dev/null >>"$LOG" 2>&1) &
  echo $! > "$PIDFILE"
  date +%s > "$DIR/started-at"
  echo "keycloak: $VERSION starting (pid $(cat "$PIDFILE"), Java $(java_major "$java_home")), log $LOG"
}

wait_ready() {
  local started; started="$(cat "$DIR/started-at" 2>/dev/null || date +%s)"
  for _ in $(seq 1 "$WAIT_SECONDS"); do
    if answers; then
      echo "keycloak: up on http://127.0.0.1:$PORT/realms/consular ($(( $(date +%s) - started )) s after launch)"
      return
    fi
    running || break
    sleep 1
  done
  echo "keycloak: not ready; last lines of $LOG:" >&2
  tail -n 40 "$LOG" >&2 2>/dev/null || true
  exit 1
}

stop() {
  if running; then
    local pid; pid="$(cat "$PIDFILE")"
    kill "$pid"   # kc.sh passes TERM on to its JVM
    for _ in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
    if kill -0 "$pid" 2>/dev/null; then
      pkill -9 -P "$pid" 2>/dev/null || true   # its JVM, when kc.sh still waits on it
      kill -9 "$pid" 2>/dev/null || true
    fi
    echo "keycloak: stopped"
  else
    echo "keycloak: not running"
  fi
  rm -f "$PIDFILE"
}

status() {
  if running && answers; then echo "keycloak: running on http://127.0.0.1:$PORT (pid $(cat "$PIDFILE"))"
  elif running; then echo "keycloak: starting (pid $(cat "$PIDFILE"))"; return 1
  else echo "keycloak: not running"; return 1; fi
}

case "${1:-}" in
  install) install ;;
  start) launch; if [ "${2:-}" != "--no-wait" ]; then wait_ready; fi ;;
  wait) wait_ready ;;
  stop) stop ;;
  status) status ;;
  *) echo "usage: $0 install|start [--no-wait]|wait|stop|status" >&2; exit 2 ;;
esac
