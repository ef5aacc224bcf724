#!/usr/bin/env bash
# Starts (or reuses) a throwaway PostgreSQL cluster for the tests and prints its URL.
#   scripts/test-postgres.sh          start it, print postgres://... on stdout
#   scripts/test-postgres.sh stop     stop it
#   scripts/test-postgres.sh crash    stop it in immediate mode, as a crash would (no
#                                     checkpoint; the next start recovers from the WAL)
# The cluster lives in $GANTRY_PG_DIR (default /tmp/gantry-test-pg) on port $GANTRY_PG_PORT
# (default 54329), trusts local connections, and runs without fsync: it holds test data only.
# GANTRY_PG_DURABLE=1 starts it with fsync, synchronous_commit and full_page_writes on (as a
# production cluster runs), for the benchmark's figures; use its own GANTRY_PG_DIR and port.
set -euo pipefail

dir=${GANTRY_PG_DIR:-/tmp/gantry-test-pg}
port=${GANTRY_PG_PORT:-54329}

bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
if [ -z "$bin" ]; then
  echo "PostgreSQL is not installed; installing it from Debian's packages" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2 && apt-get install -y -qq postgresql >&2
  bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
fi

# PostgreSQL refuses to run as root: run its tools as the postgres user when we are root.
as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

if [ "${1:-start}" = stop ]; then
  as_pg "$bin/pg_ctl" -D "$dir" -m fast stop >&2 || true
  exit 0
fi
if [ "${1:-start}" = crash ]; then
  as_pg "$bin/pg_ctl" -D "$dir" -m immediate -w stop >&2
  exit 0
fi

durability="-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
if [ "${GANTRY_PG_DURABLE:-0}" = 1 ]; then
  durability="-c fsync=on -c synchronous_commit=on -c full_page_writes=on"
fi

if ! as_pg "$bin/pg_ctl" -D "$dir" status >/dev/null 2>&1; then
  if [ ! -f "$dir/PG_VERSION" ]; then
    mkdir -p "$dir"
    [ "$(id -u)" = 0 ] && chown postgres:postgres "$dir"
    as_pg "$bin/initdb" -D "$dir" -U postgres -A trust --no-sync >/dev/null
  fi
  # The server outlives this script: it must not inherit our caller's descriptors (test.sh
  # holds a flock lock on one, and a server holding it would block every later caller).
  for fd in /proc/$$/fd/*; do
    fd=${fd##*/}
    if [ "$fd" -gt 2 ]; then eval "exec $fd>&-" 2>/dev/null || true; fi
  done
  as_pg "$bin/pg_ctl" -D "$dir" -l "$dir/server.log" -w -t 30 \
    -o "-p $port -k /tmp -c listen_addresses=127.0.0.1 $durability -c max_connections=400" \
    start >/dev/null
fi
echo "postgres://postgres@127.0.0.1:$port/postgres"
