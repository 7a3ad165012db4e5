#!/usr/bin/env bash
# Starts (or finds already running) the real services the tests use, and
# writes the variables that locate them to "$HOIST_CI_STATE/env".
# Sourced by .ci/run; developers can run it by hand and then
# `source /var/lib/hoist-ci/env` before `cargo xtask test`.
set -euo pipefail

HOIST_CI_STATE="${HOIST_CI_STATE:-/var/lib/hoist-ci}"
mkdir -p "$HOIST_CI_STATE"
ENV_FILE="$HOIST_CI_STATE/env"

wait_for() { # wait_for SECONDS DESCRIPTION COMMAND...
  local seconds=$1 what=$2; shift 2
  for _ in $(seq 1 $((seconds * 5))); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.2
  done
  echo "error: $what did not come up within ${seconds}s" >&2
  return 1
}

# --- dockerd -----------------------------------------------------------------
if ! docker -H unix:///var/run/docker.sock version >/dev/null 2>&1; then
  nohup dockerd >"$HOIST_CI_STATE/dockerd.log" 2>&1 &
  wait_for 60 "dockerd (log: $HOIST_CI_STATE/dockerd.log)" docker -H unix:///var/run/docker.sock version
fi

# --- OCI registries: anonymous on :5000, basic auth on :5001, and on :5002 a ---
# --- Docker Hub mirror (anonymous) that .ci/setup.sh seeds ----------------------
start_registry() { # start_registry NAME PORT [HTPASSWD]
  local name=$1 port=$2 htpasswd=${3:-}
  local dir="$HOIST_CI_STATE/registry-$name"
  mkdir -p "$dir/data"
  {
    echo "version: 0.1"
    echo "log: {level: warn}"
    echo "storage: {filesystem: {rootdirectory: $dir/data}, delete: {enabled: true}}"
    echo "http: {addr: 127.0.0.1:$port}"
    if [[ -n $htpasswd ]]; then
      echo "auth: {htpasswd: {realm: hoist-test, path: $htpasswd}}"
    fi
  } >"$dir/config.yml"
  if ! curl -fs -o /dev/null -w '' "http://127.0.0.1:$port/v2/" && ! curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/v2/" | grep -q 401; then
    nohup docker-registry serve "$dir/config.yml" >"$dir/log" 2>&1 &
    wait_for 30 "registry $name on 127.0.0.1:$port (log: $dir/log)" \
      bash -c "curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:$port/v2/ | grep -qE '200|401'"
  fi
}
start_registry anon 5000

AUTH_DIR="$HOIST_CI_STATE/registry-auth"
mkdir -p "$AUTH_DIR"
if [[ ! -s "$AUTH_DIR/password" ]]; then
  # A throwaway password made on this machine; never committed anywhere.
  head -c 18 /dev/urandom | base64 | tr -d '/+=' >"$AUTH_DIR/password"
fi
REGISTRY_PASSWORD=$(cat "$AUTH_DIR/password")
htpasswd -Bbc "$AUTH_DIR/htpasswd" hoist "$REGISTRY_PASSWORD" >/dev/null 2>&1
start_registry auth 5001 "$AUTH_DIR/htpasswd"

# No machine of ours reaches Docker Hub: the reference app's public bases
# (python:3.11-slim-bookworm, ...) come from this mirror, which holds
# Debian-built stand-ins under those names (`cargo xtask bases --seed-mirror`).
MIRROR=127.0.0.1:5002
start_registry mirror "${MIRROR#*:}"

# --- PostgreSQL 15: a throwaway cluster on 127.0.0.1:55432 --------------------
PG_BIN=/usr/lib/postgresql/15/bin
PG_DIR="$HOIST_CI_STATE/postgres"
PG_PORT=55432
if ! "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT"; then
  if [[ ! -s "$PG_DIR/data/PG_VERSION" ]]; then
    rm -rf "$PG_DIR" && mkdir -p "$PG_DIR"
    chown postgres "$PG_DIR"
    runuser -u postgres -- "$PG_BIN/initdb" -D "$PG_DIR/data" -U postgres --auth=trust -E UTF8 >/dev/null
  fi
  runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/log" -w \
    -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -k /tmp" start >/dev/null
fi
wait_for 30 "PostgreSQL on 127.0.0.1:$PG_PORT (log: $PG_DIR/log)" "$PG_BIN/pg_isready" -h 127.0.0.1 -p "$PG_PORT"

cat >"$ENV_FILE" <<ENV
export HOIST_TEST_DOCKER_HOST=unix:///var/run/docker.sock
export HOIST_TEST_REGISTRY=127.0.0.1:5000
export HOIST_TEST_REGISTRY_AUTH=127.0.0.1:5001
export HOIST_TEST_REGISTRY_AUTH_USER=hoist
export HOIST_TEST_REGISTRY_AUTH_PASSWORD=$REGISTRY_PASSWORD
export HOIST_TEST_DATABASE_URL=postgresql://postgres@127.0.0.1:$PG_PORT/postgres
export HOIST_TEST_PG_BIN=$PG_BIN
export HOIST_REGISTRY_MIRRORS=docker.io=$MIRROR
ENV
echo "services ready; variables in $ENV_FILE"
