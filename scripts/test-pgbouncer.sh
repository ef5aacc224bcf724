#!/usr/bin/env bash
# Starts (or reuses) a PgBouncer in transaction mode in front of the test PostgreSQL cluster
# (scripts/test-postgres.sh, started too when needed) and prints its URL.
#   scripts/test-pgbouncer.sh          start it, print postgres://... on stdout
#   scripts/test-pgbouncer.sh stop     stop it
# It listens on 127.0.0.1:$GANTRY_PGBOUNCER_PORT (default 54339), keeps its files in
# $GANTRY_PGBOUNCER_DIR (default /tmp/gantry-test-pgbouncer), trusts its one user (postgres),
# and reaches every database of the cluster (`*`), so the tests' throwaway databases work
# through it. Debian's pgbouncer (1.18) is installed when missing: it has no prepared
# statement support in transaction mode, which is what the tests check gantry copes with.
# Safe to call from several processes at once: the whole run holds a file lock.
set -euo pipefail

dir=${GANTRY_PGBOUNCER_DIR:-/tmp/gantry-test-pgbouncer}
port=${GANTRY_PGBOUNCER_PORT:-54339}
lock=/tmp/gantry-test-pgbouncer.lock
here=$(cd "$(dirname "$0")" && pwd)

if [ -z "${GANTRY_PGBOUNCER_LOCKED:-}" ]; then
  GANTRY_PGBOUNCER_LOCKED=1 exec flock "$lock" "$0" "$@"
fi

# PgBouncer refuses to run as root: run it as the postgres user when we are root.
as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# Whether the PgBouncer of $dir runs.
running() {
  [ -f "$dir/pgbouncer.pid" ] && kill -0 "$(cat "$dir/pgbouncer.pid")" 2>/dev/null
}

if [ "${1:-start}" = stop ]; then
  if running; then kill "$(cat "$dir/pgbouncer.pid")" || true; fi
  exit 0
fi

if ! command -v pgbouncer >/dev/null && [ ! -x /usr/sbin/pgbouncer ]; then
  echo "PgBouncer is not installed; installing it from Debian's packages" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq pgbouncer >&2 || {
    apt-get update -qq >&2 && apt-get install -y -qq pgbouncer >&2
  }
fi
bin=$(command -v pgbouncer || echo /usr/sbin/pgbouncer)

upstream=$(flock /tmp/gantry-test-pg.lock "$here/test-postgres.sh")
# postgres://USER@HOST:PORT/DB
hostport=${upstream#*@}
hostport=${hostport%%/*}
pg_host=${hostport%:*}
pg_port=${hostport##*:}

if ! running; then
  mkdir -p "$dir"
  echo '"postgres" ""' >"$dir/userlist.txt"
  cat >"$dir/pgbouncer.ini" <<EOF
[databases]
* = host=$pg_host port=$pg_port

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $port
unix_socket_dir =
auth_type = trust
auth_file = $dir/userlist.txt
admin_users = postgres
pool_mode = transaction
default_pool_size = 20
max_client_conn = 1000
; sqlx sends extra_float_digits at startup, which PgBouncer does not track.
ignore_startup_parameters = extra_float_digits,options
; The tests drop their databases: let go of pools and connections to them soon.
server_idle_timeout = 10
autodb_idle_timeout = 30
log_connections = 0
log_disconnections = 0
logfile = $dir/pgbouncer.log
pidfile = $dir/pgbouncer.pid
EOF
  [ "$(id -u)" = 0 ] && chown -R postgres:postgres "$dir"
  # The daemon outlives this script: it must not inherit our caller's descriptors (the lock
  # above is on one, and a daemon holding it would block every later caller).
  for fd in /proc/$$/fd/*; do
    fd=${fd##*/}
    if [ "$fd" -gt 2 ]; then eval "exec $fd>&-" 2>/dev/null || true; fi
  done
  as_pg "$bin" -d "$dir/pgbouncer.ini" >/dev/null
fi

url="postgres://postgres@127.0.0.1:$port/postgres"
psql=$(ls -d /usr/lib/postgresql/*/bin/psql | sort -V | tail -n 1)
for _ in $(seq 1 100); do
  if "$psql" -qAtX "$url" -c 'SELECT 1' >/dev/null 2>&1; then
    echo "$url"
    exit 0
  fi
  sleep 0.1
done
echo "PgBouncer on 127.0.0.1:$port does not answer; see $dir/pgbouncer.log" >&2
exit 1
