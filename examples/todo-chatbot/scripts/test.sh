#!/usr/bin/env bash
# Runs every test of examples/todo-chatbot; exits non-zero on any failure.
#   1. backend pytest suite (real PostgreSQL) and the database entrypoint tests
#   2. frontend: lockfile check, npm run build (standalone)
#   3. browser test: real Chromium against the standalone server and the backend
# Needs scripts/setup.sh first, and:
#   HOIST_TEST_DATABASE_URL  superuser URL of a PostgreSQL 15 (a fresh database is
#                            created and dropped per run)
#   HOIST_TEST_PG_BIN        PostgreSQL 15's bin directory (initdb, pg_ctl, postgres)
# Without them the database tests skip, unless CI=true, where that is a failure.
# Optional: HOIST_BASES_DIR (offline bases from `cargo xtask bases`) adds checks in
# chroots of postgres.tar and node.tar (as root).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
python="$root/backend/.venv/bin/python"
export NEXT_TELEMETRY_DISABLED=1

missing=()
[[ -n "${HOIST_TEST_DATABASE_URL:-}" ]] || missing+=(HOIST_TEST_DATABASE_URL)
[[ -n "${HOIST_TEST_PG_BIN:-}" ]] || missing+=(HOIST_TEST_PG_BIN)
if ((${#missing[@]})); then
    if [[ "${CI:-}" == true ]]; then
        echo "test.sh: ${missing[*]} must be set when CI=true" >&2
        exit 1
    fi
    echo "test.sh: warning: ${missing[*]} not set; the database tests will be skipped" >&2
fi
if [[ ! -x "$python" || ! -d "$root/frontend/node_modules" || ! -d "$root/browser-test/node_modules" ]]; then
    echo "test.sh: run examples/todo-chatbot/scripts/setup.sh first" >&2
    exit 1
fi

timed() {
    local name=$1 start=$SECONDS
    shift
    echo "==> $name"
    "$@"
    echo "==> $name: ok ($((SECONDS - start)) s)"
}

backend_tests() { (cd "$root/backend" && "$python" -m pytest -q); }
database_tests() { (cd "$root/database" && "$python" -m pytest -q -p no:cacheprovider tests); }
lockfile_check() {
    local lock
    for lock in "$root/frontend/package-lock.json" "$root/browser-test/package-lock.json"; do
        if grep -n '"resolved"' "$lock" >&2; then
            echo "test.sh: $lock names registry hosts in resolved fields; reinstall with omit-lockfile-registry-resolved=true" >&2
            return 1
        fi
    done
}
frontend_build() { (cd "$root/frontend" && npm run build); }
browser_test() { (cd "$root/browser-test" && npm test); }

timed "backend tests" backend_tests
timed "database entrypoint tests" database_tests
timed "lockfile check" lockfile_check
timed "frontend build" frontend_build
timed "browser test" browser_test
echo "test.sh: all passed"
