#!/usr/bin/env bash
# Prepares everything examples/todo-chatbot's tests need. Idempotent.
#   - backend/.venv: the backend's pinned runtime and test dependencies
#   - frontend/node_modules: npm ci
#   - browser-test/node_modules: playwright-core (drives /usr/bin/chromium;
#     never downloads a browser)
# System packages (not installed here): python3 with venv, node >= 18.18 with npm,
# postgresql-15, chromium.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export NEXT_TELEMETRY_DISABLED=1

step() { printf '==> %s\n' "$*"; }

step "backend test venv"
if [[ ! -x "$root/backend/.venv/bin/python" ]]; then
    python3 -m venv "$root/backend/.venv"
fi
"$root/backend/.venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    -r "$root/backend/requirements.txt" -r "$root/backend/requirements-test.txt"

step "frontend: npm ci"
(cd "$root/frontend" && npm ci --no-audit --no-fund)

step "browser test: npm ci (playwright-core)"
(cd "$root/browser-test" && npm ci --no-audit --no-fund)

if [[ ! -x "${CHROMIUM:-/usr/bin/chromium}" ]]; then
    echo "setup.sh: note: ${CHROMIUM:-/usr/bin/chromium} is missing; the browser test needs it (apt-get install -y chromium)" >&2
fi
step "done"
