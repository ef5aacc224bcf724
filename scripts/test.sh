#!/usr/bin/env bash
# The full test suite, from a fresh machine: starts what the tests need, then runs them.
#   - a throwaway PostgreSQL cluster (scripts/test-postgres.sh), so the repository suite,
#     the route tests and the scenarios run on SQLite AND PostgreSQL;
#   - the local busybox test image (scripts/build-test-image.sh) and two local registries
#     holding it (scripts/test-registry.sh), when a Docker engine answers;
#   - headless Chromium and chromedriver for the dashboard's browser test;
#   - then `cargo test --workspace`;
#   - then, with no arguments given, the scenarios, the repository suite and the claim race once
#     more on PostgreSQL reached through PgBouncer in transaction mode
#     (scripts/test-pgbouncer.sh, docs/pgbouncer.md), and the API fuzzing (scripts/fuzz-api.sh)
#     on both databases.
# Tests that need a part this machine lacks skip loudly; GANTRY_REQUIRE_POSTGRES=1,
# GANTRY_REQUIRE_DOCKER=1, GANTRY_REQUIRE_BROWSER=1 and GANTRY_REQUIRE_FUZZ=1 (set by .ci/run)
# turn those skips into failures.
set -euo pipefail
cd "$(dirname "$0")/.."

GANTRY_TEST_POSTGRES_URL=$(flock /tmp/gantry-test-pg.lock scripts/test-postgres.sh) || {
  echo "could not start PostgreSQL for the tests" >&2
  if [ "${GANTRY_REQUIRE_POSTGRES:-0}" = 1 ]; then exit 1; fi
  unset GANTRY_TEST_POSTGRES_URL
}
[ -n "${GANTRY_TEST_POSTGRES_URL:-}" ] && export GANTRY_TEST_POSTGRES_URL

if docker info >/dev/null 2>&1; then
  if [ -x scripts/build-test-image.sh ]; then
    scripts/build-test-image.sh
  fi
  # The local registries of the pull tests (the tests find them through the same script).
  if ! scripts/test-registry.sh >/dev/null; then
    echo "could not start the test registries: the pull tests will be skipped" >&2
    if [ "${GANTRY_REQUIRE_DOCKER:-0}" = 1 ]; then exit 1; fi
  fi
elif [ "${GANTRY_REQUIRE_DOCKER:-0}" = 1 ]; then
  echo "GANTRY_REQUIRE_DOCKER=1 but no Docker engine answers" >&2
  exit 1
else
  echo "no Docker engine answers: the Docker tests will be skipped" >&2
fi

# The dashboard's browser test drives Debian's headless Chromium.
scripts/install-browser-deps.sh || {
  echo "could not install chromium and chromedriver: the browser test will be skipped" >&2
  if [ "${GANTRY_REQUIRE_BROWSER:-0}" = 1 ]; then exit 1; fi
}

# End-to-end tests start the real agent binary; the bench's smoke test starts the real server
# binary (beside gantry-bench in target/debug).
cargo build -p gantry -p gantry-worker
export GANTRY_WORKER_BIN="$PWD/target/debug/gantry-worker"

cargo test --workspace "$@"
[ "$#" = 0 ] || exit 0

if [ -n "${GANTRY_TEST_POSTGRES_URL:-}" ]; then
  if pgbouncer_url=$(scripts/test-pgbouncer.sh); then
    GANTRY_TEST_PGBOUNCER_URL=$pgbouncer_url cargo test -p gantry --test integration -- \
      scenarios:: repo_suite:: claim_race --skip on_sqlite --skip agent_e2e
  else
    echo "could not start PgBouncer: the run through it is skipped" >&2
    if [ "${GANTRY_REQUIRE_POSTGRES:-0}" = 1 ]; then exit 1; fi
  fi
fi

# The API fuzzing (scripts/fuzz-api.sh), on each database, alone after the tests: beside them
# its CPU load would starve their sub-second timers. Skipped loudly where no Python or PyPI can
# be had (exit 77), unless GANTRY_REQUIRE_FUZZ=1.
for database in sqlite postgres; do
  if [ $database = postgres ] && [ -z "${GANTRY_TEST_POSTGRES_URL:-}" ]; then
    echo "SKIPPED fuzz-api on PostgreSQL: no PostgreSQL" >&2
    continue
  fi
  status=0
  GANTRY_BIN="$PWD/target/debug/gantry" GANTRY_FUZZ_MAX_TIME=${GANTRY_FUZZ_MAX_TIME:-75} \
    GANTRY_FUZZ_POSTGRES=$([ $database = postgres ] && echo 1 || echo 0) \
    scripts/fuzz-api.sh || status=$?
  if [ $status -eq 77 ] && [ "${GANTRY_REQUIRE_FUZZ:-0}" != 1 ]; then
    echo "SKIPPED fuzz-api on $database: no Python or PyPI for schemathesis" >&2
  elif [ $status -ne 0 ]; then
    echo "fuzz-api on $database FAILED (exit $status)" >&2
    exit 1
  fi
done
