#!/usr/bin/env bash
# Starts a throwaway PostgreSQL server for the test suite (installing
# Debian's postgresql package when it is missing) and prints the DSN to
# export as PORTAL_TEST_POSTGRES_DSN. Idempotent: a running server is
# reused. Stop it with: scripts/pgtest.sh stop
set -euo pipefail
DIR=${PGTEST_DIR:-/tmp/portal-pgtest}
PORT=${PGTEST_PORT:-55432}

pgbin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1; }
if [ -z "$(pgbin)" ]; then
  echo "installing postgresql" >&2
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql >&2
fi
BIN=$(pgbin)

# PostgreSQL refuses to run as root: run it as the postgres system user.
as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

if [ "${1:-}" = stop ]; then
  as_pg "$BIN/pg_ctl" -D "$DIR" -m fast stop >&2 || true
  exit 0
fi

if ! as_pg "$BIN/pg_ctl" -D "$DIR" status >/dev/null 2>&1; then
  if [ ! -f "$DIR/PG_VERSION" ]; then
    mkdir -p "$DIR"
    [ "$(id -u)" = 0 ] && chown postgres:postgres "$DIR"
    as_pg "$BIN/initdb" -D "$DIR" -U portal --auth=trust -E UTF8 >/dev/null
  fi
  # Tests create a database each; fsync off makes that fast and costs
  # nothing for a throwaway server.
  as_pg "$BIN/pg_ctl" -D "$DIR" -l "$DIR/server.log" -w \
    -o "-p $PORT -k /tmp -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300" start >&2
fi
echo "postgres://portal@127.0.0.1:$PORT/postgres?sslmode=disable"
