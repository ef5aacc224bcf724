#!/usr/bin/env bash
# Starts two local Docker registries for the pull tests and fills them:
#   - an open one on 127.0.0.1:${GANTRY_TEST_REGISTRY_PORT:-5055};
#   - one with htpasswd auth on 127.0.0.1:${GANTRY_TEST_AUTH_REGISTRY_PORT:-5056}
#     (user `gantry`, password `gantry-test-password`).
# Each gets `gantry-test-busybox:v1` (the local test image, scripts/build-test-image.sh).
# A Docker engine trusts registries on 127.0.0.0/8 without TLS, so no engine setting changes.
#
# Installs Debian's `docker-registry` and `apache2-utils` (htpasswd) with apt-get when missing.
# The registries run as background processes with their config, storage and logs under
# ${GANTRY_TEST_REGISTRY_DIR:-/tmp/gantry-test-registry}; they outlive this script and are
# reused by the next call (idempotent). `scripts/test-registry.sh --stop` stops them.
#
# Prints, on stdout, what the tests read (as shell assignments, for `eval` or `export`):
#   GANTRY_TEST_REGISTRY=127.0.0.1:5055
#   GANTRY_TEST_AUTH_REGISTRY=127.0.0.1:5056
#   GANTRY_TEST_REGISTRY_USER=gantry
#   GANTRY_TEST_REGISTRY_PASSWORD=gantry-test-password
# Everything else goes to stderr.
set -euo pipefail

DIR="${GANTRY_TEST_REGISTRY_DIR:-/tmp/gantry-test-registry}"
OPEN_PORT="${GANTRY_TEST_REGISTRY_PORT:-5055}"
AUTH_PORT="${GANTRY_TEST_AUTH_REGISTRY_PORT:-5056}"
USER_NAME="gantry"
PASSWORD="gantry-test-password"
IMAGE="gantry-test-busybox:latest"
TAG="v1"
START_TIMEOUT_S="${GANTRY_TEST_REGISTRY_START_TIMEOUT:-20}"

log() { echo "test-registry: $*" >&2; }

stop_one() {
    local pidfile="$DIR/$1/pid"
    if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
        kill "$(cat "$pidfile")"
        log "stopped the $1 registry"
    fi
    rm -f "$pidfile"
}

if [ "${1:-}" = "--stop" ]; then
    stop_one open
    stop_one auth
    exit 0
fi

if ! docker version >/dev/null 2>&1; then
    log "no Docker engine answers"
    exit 1
fi

install_missing() {
    local missing=()
    command -v docker-registry >/dev/null 2>&1 || missing+=(docker-registry)
    command -v htpasswd >/dev/null 2>&1 || missing+=(apache2-utils)
    [ ${#missing[@]} -eq 0 ] && return 0
    log "installing ${missing[*]}"
    local sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    $sudo apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >&2
}

# The HTTP status of the registry's API root: 200 when open, 401 when it asks for a login.
api_status() {
    curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$1/v2/" || true
}

# Writes the config of registry $1 on port $2 (with htpasswd auth when $3 = auth).
write_config() {
    local name="$1" port="$2" mode="$3"
    mkdir -p "$DIR/$name/data"
    {
        echo "version: 0.1"
        echo "log:"
        echo "  level: info"
        echo "storage:"
        echo "  filesystem:"
        echo "    rootdirectory: $DIR/$name/data"
        echo "  delete:"
        echo "    enabled: true"
        echo "http:"
        echo "  addr: 127.0.0.1:$port"
        if [ "$mode" = auth ]; then
            echo "auth:"
            echo "  htpasswd:"
            echo "    realm: gantry-test"
            echo "    path: $DIR/$name/htpasswd"
        fi
    } >"$DIR/$name/config.yml"
    if [ "$mode" = auth ]; then
        htpasswd -Bbn "$USER_NAME" "$PASSWORD" >"$DIR/$name/htpasswd" 2>/dev/null
    fi
}

# Starts registry $1 on port $2 unless it already answers $3 (the expected status).
start_one() {
    local name="$1" port="$2" expect="$3" mode="$4"
    if [ "$(api_status "$port")" = "$expect" ]; then
        return 0
    fi
    write_config "$name" "$port" "$mode"
    # Without the lock (fd 9): the registry outlives this script and must not hold it.
    setsid docker-registry serve "$DIR/$name/config.yml" >"$DIR/$name/log" 2>&1 </dev/null 9>&- &
    echo $! >"$DIR/$name/pid"
    local deadline=$((SECONDS + START_TIMEOUT_S))
    until [ "$(api_status "$port")" = "$expect" ]; do
        if [ $SECONDS -ge $deadline ] || ! kill -0 "$(cat "$DIR/$name/pid")" 2>/dev/null; then
            log "the $name registry did not start on 127.0.0.1:$port; its log:"
            tail -20 "$DIR/$name/log" >&2 || true
            exit 1
        fi
        sleep 0.2
    done
    log "started the $name registry on 127.0.0.1:$port (pid $(cat "$DIR/$name/pid"))"
}

# Pushes the test image to registry 127.0.0.1:$1 as gantry-test-busybox:$TAG, then removes
# the local tag again (the engine keeps only the image it had). Needs DOCKER_CONFIG set when
# the registry asks for a login.
push_to() {
    local target="127.0.0.1:$1/gantry-test-busybox:$TAG"
    docker tag "$IMAGE" "$target"
    local ok=0
    docker push "$target" >&2 || ok=$?
    docker rmi "$target" >/dev/null
    if [ $ok -ne 0 ]; then
        log "could not push $target"
        exit 1
    fi
}

# The engine says whether a registry already holds the tag (a manifest HEAD, no pull).
has_tag() {
    local auth=()
    [ "${2:-}" = auth ] && auth=(-u "$USER_NAME:$PASSWORD")
    [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "${auth[@]}" \
        -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
        -I "http://127.0.0.1:$1/v2/gantry-test-busybox/manifests/$TAG")" = 200 ]
}

mkdir -p "$DIR"
exec 9>"$DIR/lock"
flock 9
install_missing
if ! docker image inspect "$IMAGE" >/dev/null 2>&1; then
    "$(dirname "$0")/build-test-image.sh" >&2
fi
start_one open "$OPEN_PORT" 200 open
start_one auth "$AUTH_PORT" 401 auth
if ! has_tag "$OPEN_PORT"; then
    push_to "$OPEN_PORT"
fi
if ! has_tag "$AUTH_PORT" auth; then
    # A login of its own, so the user's Docker config is never touched.
    export DOCKER_CONFIG="$DIR/push-docker-config"
    mkdir -p "$DOCKER_CONFIG"
    echo "$PASSWORD" | docker login -u "$USER_NAME" --password-stdin "127.0.0.1:$AUTH_PORT" >&2
    push_to "$AUTH_PORT"
    unset DOCKER_CONFIG
fi
echo "GANTRY_TEST_REGISTRY=127.0.0.1:$OPEN_PORT"
echo "GANTRY_TEST_AUTH_REGISTRY=127.0.0.1:$AUTH_PORT"
echo "GANTRY_TEST_REGISTRY_USER=$USER_NAME"
echo "GANTRY_TEST_REGISTRY_PASSWORD=$PASSWORD"
