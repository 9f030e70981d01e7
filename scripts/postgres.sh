#!/usr/bin/env bash
# A local PostgreSQL cluster under .run/postgres on 127.0.0.1 (port 5433 by default), database `consular`.
# PG_DIR and PGPORT_LOCAL run a second cluster beside it (the chaos tests stop theirs).
# When DATABASE_URL is set in the environment, that server is used instead and this script only checks it.
# Usage: scripts/postgres.sh start|stop|status|reset|url
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
DIR="${PG_DIR:-$ROOT/.run/postgres}"
PORT="${PGPORT_LOCAL:-5433}"
DB=consular
USER_NAME=consular
LOCAL_URL="postgresql://$USER_NAME@127.0.0.1:$PORT/$DB"

external() { [ -n "${DATABASE_URL:-}" ] && [ "$DATABASE_URL" != "$LOCAL_URL" ]; }

bindir() {
  local d
  for d in /usr/lib/postgresql/*/bin; do [ -x "$d/initdb" ] && { echo "$d"; return; }; done
  return 1
}

install() {
  if bindir >/dev/null; then return; fi
  echo "postgres: installing Debian's postgresql package"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq postgresql >/dev/null
  # The package may start its own cluster on 5432; ours runs separately and that one is not needed.
  (command -v pg_ctlcluster >/dev/null && pg_lsclusters -h 2>/dev/null | while read -r v c _; do
     pg_ctlcluster "$v" "$c" stop || true; done) || true
}

# PostgreSQL refuses to run as root: run its commands as the `postgres` system user then, from `/` (the checkout,
# the working directory, may be a private folder that user cannot enter).
as_pg() {
  if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || useradd --system --home-dir /nonexistent --shell /usr/sbin/nologin postgres
    (cd / && runuser -u postgres -- "$@")
  else "$@"; fi
}

# Where the cluster's files really are: `$DIR` may be a link to a folder outside a private checkout, and the
# postgres user must be given that folder, never a path through the checkout it cannot traverse.
data_home() { readlink -f "$DIR"; }

ready() { "$(bindir)/pg_isready" -q -h 127.0.0.1 -p "$PORT"; }

start() {
  if external; then
    "$ROOT/.venv/bin/python" -c "import asyncio,asyncpg,os; asyncio.run(asyncpg.connect(os.environ['DATABASE_URL'], timeout=10))" \
      || { echo "postgres: DATABASE_URL does not answer" >&2; exit 1; }
    echo "postgres: using DATABASE_URL from the environment"; return
  fi
  install
  local bin; bin="$(bindir)"
  mkdir -p "$DIR"
  if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || useradd --system --shell /usr/sbin/nologin postgres
    chown postgres "$DIR"
    # A checkout under a private home (mode 700) is not reachable by the postgres user: keep the data in a
    # folder of its own then, linked from .run/postgres so that stop and reset still find it.
    if ! (cd / && runuser -u postgres -- test -w "$DIR"); then
      local alt="/var/tmp/consular-pg-$(echo "$DIR" | md5sum | cut -c1-8)"
      mkdir -p "$alt" && chown postgres "$alt" && rm -rf "$DIR" && ln -s "$alt" "$DIR"
    fi
  fi
  local home; home="$(data_home)"
  if [ ! -f "$home/data/PG_VERSION" ]; then
    as_pg "$bin/initdb" -D "$home/data" -U "$USER_NAME" --auth=trust -E UTF8 --locale=C.UTF-8 >"$home/initdb.log" 2>&1 \
      || { echo "postgres: initdb failed:" >&2; cat "$home/initdb.log" >&2; exit 1; }
  fi
  if ready; then echo "postgres: already running on 127.0.0.1:$PORT"; return; fi
  as_pg "$bin/pg_ctl" -D "$home/data" -l "$home/server.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $PORT -k /tmp -c max_connections=300 -c shared_buffers=128MB -c fsync=on -c synchronous_commit=on" \
    start >/dev/null || { echo "postgres: did not start:" >&2; tail -n 30 "$home/server.log" >&2; exit 1; }
  "$bin/psql" -h 127.0.0.1 -p "$PORT" -U "$USER_NAME" -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname='$DB'" | grep -q 1 \
    || "$bin/createdb" -h 127.0.0.1 -p "$PORT" -U "$USER_NAME" "$DB"
  echo "postgres: up on 127.0.0.1:$PORT ($LOCAL_URL)"
}

stop() {
  if external; then echo "postgres: external server, not stopped"; return; fi
  if bindir >/dev/null && [ -f "$DIR/data/postmaster.pid" ]; then
    as_pg "$(bindir)/pg_ctl" -D "$(data_home)/data" -m fast -w stop >/dev/null && echo "postgres: stopped"
  else echo "postgres: not running"; fi
}

status() {
  if external; then echo "postgres: external (DATABASE_URL)"; return; fi
  if bindir >/dev/null && ready; then echo "postgres: running on 127.0.0.1:$PORT ($LOCAL_URL)"
  else echo "postgres: not running"; return 1; fi
}

reset() { stop || true; [ -L "$DIR" ] && rm -rf "$(readlink "$DIR")"; rm -rf "$DIR"; echo "postgres: data removed"; }

case "${1:-}" in
  start) start ;; stop) stop ;; status) status ;; reset) reset ;; install) install ;; url) echo "${DATABASE_URL:-$LOCAL_URL}" ;;
  *) echo "usage: $0 start|stop|status|reset|url" >&2; exit 2 ;;
esac
