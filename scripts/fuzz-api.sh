#!/usr/bin/env bash
# API fuzzing: schemathesis against the real `gantry serve`, driven by the server's own OpenAPI
# document. No 5xx, every response (status, content type, headers, body) as the document says,
# and the server healthy afterwards; exits non-zero on any failure.
#
#   1. installs the pinned schemathesis and openapi-spec-validator into a venv of their own
#      (under /tmp, never the system's Python);
#   2. starts `gantry serve` on 127.0.0.1 with a throwaway SQLite database (or
#      GANTRY_FUZZ_DATABASE_URL), an API token and a worker join token, unless
#      GANTRY_FUZZ_AUTH=off;
#   3. validates /api/openapi.json with openapi-spec-validator;
#   4. registers a worker, so worker routes have a real id and token (scripts/fuzz_hooks.py
#      gives every request the token its route takes, and keeps long polls short);
#   5. runs schemathesis with a fixed seed and a time budget;
#   6. checks that /healthz and /readyz still answer 200 and the server log holds no panic.
#
# Settings (environment): GANTRY_BIN (the server binary; default: `cargo build -p gantry` and
# target/debug/gantry), GANTRY_FUZZ_DATABASE_URL or GANTRY_FUZZ_POSTGRES=1 (a throwaway database
# in GANTRY_TEST_POSTGRES_URL's cluster), GANTRY_FUZZ_AUTH (on|off),
# GANTRY_FUZZ_SEED, GANTRY_FUZZ_MAX_EXAMPLES (per operation and phase),
# GANTRY_FUZZ_MAX_TIME (seconds for the whole run; schemathesis fills it), GANTRY_FUZZ_MIN_ANSWERS
# (fewer answers from the server fail the run), GANTRY_FUZZ_LOG (a file to log every answer
# to). Extra arguments go to `schemathesis run`.
#
# Exits 77 when no usable Python (3.11+ with venv, as schemathesis needs) or no PyPI can be had: the caller decides
# whether that is a skip (scripts/test.sh, unless GANTRY_REQUIRE_FUZZ=1) or a failure.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

SCHEMATHESIS_VERSION=4.32.5
SPEC_VALIDATOR_VERSION=0.9.0
SEED=${GANTRY_FUZZ_SEED:-14}
MAX_EXAMPLES=${GANTRY_FUZZ_MAX_EXAMPLES:-30}
MAX_TIME=${GANTRY_FUZZ_MAX_TIME:-120}
MIN_ANSWERS=${GANTRY_FUZZ_MIN_ANSWERS:-300}
AUTH=${GANTRY_FUZZ_AUTH:-on}
SKIP=77

# 1. The tools, in a venv named after their versions (a new pin gets a new venv).
venv=/tmp/gantry-fuzz-venv-$SCHEMATHESIS_VERSION-$SPEC_VALIDATOR_VERSION
# A Python that can make a venv: the one on PATH or Debian's; Debian keeps venv support in
# python3-venv, installed here when missing (as root, with apt-get).
usable() { [ -n "$1" ] && "$1" -c 'import sys, venv, ensurepip; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; }
find_python() {
  for candidate in "$(command -v python3 || true)" /usr/bin/python3; do
    if usable "$candidate"; then
      echo "$candidate"
      return 0
    fi
  done
  return 1
}
if ! python=$(find_python) && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
      --no-install-recommends python3-venv; } >/dev/null 2>&1 || true
  python=$(find_python) || true
fi
if [ -z "${python:-}" ]; then
  echo "fuzz-api: no python3 (3.11 or later, with venv and ensurepip): cannot install schemathesis" >&2
  exit $SKIP
fi
# One install at a time (the two databases' runs start together); the lock is let go at once.
install_tools() {
  (
    flock 9
    if [ -x "$venv/bin/schemathesis" ] && [ -f "$venv/.installed" ]; then
      exit 0
    fi
    rm -rf "$venv"
    # (set -e does not apply inside a function called from `if`: each step is chained.)
    "$python" -m venv "$venv" &&
      "$venv/bin/pip" install --quiet --disable-pip-version-check \
        "schemathesis==$SCHEMATHESIS_VERSION" "openapi-spec-validator==$SPEC_VALIDATOR_VERSION" &&
      touch "$venv/.installed"
  ) 9>/tmp/gantry-fuzz-venv.lock
}
if ! install_tools; then
  echo "fuzz-api: could not install schemathesis $SCHEMATHESIS_VERSION from PyPI" >&2
  rm -rf "$venv"
  exit $SKIP
fi

# 2. The server.
if [ -z "${GANTRY_BIN:-}" ]; then
  cargo build -p gantry
  GANTRY_BIN=$PWD/target/debug/gantry
fi
work=$(mktemp -d /tmp/gantry-fuzz.XXXXXX)
server_pid=
fuzz_db=
cleanup() {
  if [ -n "$server_pid" ]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  if [ -n "$fuzz_db" ]; then
    psql "$admin" -qc "DROP DATABASE IF EXISTS $fuzz_db" >/dev/null 2>&1 || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
port=$("$venv/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
base=http://127.0.0.1:$port
database_url=${GANTRY_FUZZ_DATABASE_URL:-sqlite://$work/gantry.db}
# GANTRY_FUZZ_POSTGRES=1: a throwaway database in the cluster at GANTRY_TEST_POSTGRES_URL.
fuzz_db=
if [ "${GANTRY_FUZZ_POSTGRES:-0}" = 1 ]; then
  admin=${GANTRY_TEST_POSTGRES_URL:?GANTRY_FUZZ_POSTGRES=1 needs GANTRY_TEST_POSTGRES_URL}
  fuzz_db=gantry_fuzz_$$_$RANDOM
  psql "$admin" -qc "CREATE DATABASE $fuzz_db" >/dev/null
  database_url=${admin%/*}/$fuzz_db
fi
server_args=(serve --bind "127.0.0.1:$port" --database-url "$database_url")
if [ "$AUTH" = on ]; then
  export GANTRY_FUZZ_API_TOKEN=fuzz-api-token-0123456789
  export GANTRY_FUZZ_JOIN_TOKEN=fuzz-join-token-0123456789
  server_args+=(--api-token "$GANTRY_FUZZ_API_TOKEN" --worker-token "$GANTRY_FUZZ_JOIN_TOKEN")
fi
RUST_LOG=${RUST_LOG:-warn} "$GANTRY_BIN" "${server_args[@]}" >"$work/server.log" 2>&1 &
server_pid=$!

# Python speaks HTTP here, so the script needs no curl.
http() { # METHOD PATH [BODY [TOKEN]] -> prints "STATUS BODY"
  "$venv/bin/python" - "$1" "$base$2" "${3:-}" "${4:-}" <<'EOF'
import sys, urllib.request, urllib.error
method, url, body, token = sys.argv[1:5]
request = urllib.request.Request(url, method=method, data=body.encode() if body else None)
if body:
    request.add_header("Content-Type", "application/json")
if token:
    request.add_header("Authorization", f"Bearer {token}")
try:
    with urllib.request.urlopen(request, timeout=10) as answer:
        print(answer.status, answer.read().decode())
except urllib.error.HTTPError as e:
    print(e.code, e.read().decode())
except OSError as e:
    print(0, e)
EOF
}
deadline=$((SECONDS + 60))
until [ "$(http GET /readyz | cut -d' ' -f1)" = 200 ]; do
  if ! kill -0 "$server_pid" 2>/dev/null || [ $SECONDS -ge $deadline ]; then
    echo "fuzz-api: the server did not become ready:" >&2
    cat "$work/server.log" >&2
    exit 1
  fi
  sleep 0.2
done

# 3. The document itself.
http GET /api/openapi.json | cut -d' ' -f2- >"$work/openapi.json"
"$venv/bin/openapi-spec-validator" "$work/openapi.json"

# 4. A worker of the script's own.
export GANTRY_FUZZ_WORKER_ID=fuzz-worker
registration=$(http POST /api/workers/register \
  '{"workerId":"fuzz-worker","hostname":"fuzz","cpuCores":8,"ramTotalMb":16384,"ramFreeMb":16384,"maxParallelJobs":8,"executor":"process"}' \
  "${GANTRY_FUZZ_JOIN_TOKEN:-}")
if [ "${registration%% *}" != 200 ]; then
  echo "fuzz-api: could not register the fuzz worker: $registration" >&2
  exit 1
fi
GANTRY_FUZZ_WORKER_TOKEN=$(printf '%s' "${registration#* }" |
  "$venv/bin/python" -c 'import json, sys; print(json.load(sys.stdin).get("token") or "")')
export GANTRY_FUZZ_WORKER_TOKEN

# 5. The fuzzing, from the throwaway folder: schemathesis keeps a cache of the failures it saw
# in its working folder and replays them next time, and each run here starts clean.
set +e
(cd "$work" && SCHEMATHESIS_HOOKS=fuzz_hooks PYTHONPATH=$repo/scripts "$venv/bin/schemathesis" run \
  "$base/api/openapi.json" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance \
  --seed "$SEED" \
  --max-examples "$MAX_EXAMPLES" \
  --max-time "$MAX_TIME" \
  --generation-database none \
  --request-timeout 10 \
  --suppress-health-check too_slow \
  --workers 1 \
  --no-color \
  "$@")
fuzz_status=$?
set -e

# What the fuzzing reached: answers by route and status, from the server's own metrics. A run
# that reached the server only a few times (data generation starved on a loaded machine) would
# pass while testing nothing, so it fails instead.
reached=$(http GET /metrics | "$venv/bin/python" -c '
import re, sys
counts = re.findall(r"gantry_http_request_duration_seconds_count\{(.*?)\} (\d+)", sys.stdin.read())
rows = []
for labels, n in counts:
    fields = dict(re.findall(r"(\w+)=\"(.*?)\"", labels))
    rows.append((fields.get("route", "?"), fields.get("method", "?"), fields.get("status", "?"), int(n)))
print("fuzz-api: answers by route and status:", file=sys.stderr)
for route, method, status, n in sorted(rows):
    print(f"  {method:7} {route:34} {status} x{n}", file=sys.stderr)
print(sum(n for *_, n in rows))
' || echo 0)
echo "fuzz-api: the server answered $reached requests" >&2

# 6. Still healthy, and no handler panicked.
healthy=0
for path in /healthz /readyz; do
  answer=$(http GET $path)
  if [ "${answer%% *}" != 200 ]; then
    echo "fuzz-api: $path answers $answer after the fuzzing" >&2
    healthy=1
  fi
done
if grep -q "panicked" "$work/server.log"; then
  echo "fuzz-api: the server panicked:" >&2
  grep -B2 -A10 "panicked" "$work/server.log" >&2
  healthy=1
fi
if [ "$reached" -lt "$MIN_ANSWERS" ]; then
  echo "fuzz-api: only $reached answers, fewer than $MIN_ANSWERS: the run tested too little to pass" >&2
  healthy=1
fi
if [ $fuzz_status -ne 0 ] || [ $healthy -ne 0 ]; then
  echo "fuzz-api: FAILED (schemathesis exit $fuzz_status; server log: $(wc -l <"$work/server.log") lines)" >&2
  tail -n 40 "$work/server.log" >&2
  exit 1
fi
echo "fuzz-api: passed (seed $SEED, $MAX_EXAMPLES examples per operation, at most ${MAX_TIME}s)"
