#!/usr/bin/env bash
# Installs what hoist's tests and demo need on Debian bookworm as root, starts
# the real services they use (dockerd, registries, PostgreSQL) and builds the
# offline base images. Run by .ci/run and by `cargo xtask demo`; idempotent:
# a second run reuses what is installed, running and cached. Prints one
# timing line per step. `--with-fuzz` also installs cargo-fuzz (the test
# suite's fuzz targets need it; the demo does not).
set -euo pipefail

cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
export HOIST_CI_STATE=${HOIST_CI_STATE:-/var/lib/hoist-ci}
export HOIST_TOOLS=${HOIST_TOOLS:-/opt/hoist-tools}
export HOIST_BASES_DIR=${HOIST_BASES_DIR:-/var/cache/hoist/bases}

free_disk() { # the space left on the filesystem that holds the checkout
  df -h --output=avail . | tail -n 1 | tr -d ' '
}

step() { # step NAME COMMAND...: run a step and print how long it took
  local name=$1; shift
  local started; started=$(date +%s)
  echo "::: $name"
  local rc=0
  "$@" || rc=$?
  echo "::: $name took $(( $(date +%s) - started ))s$( ((rc)) && echo " and FAILED (exit $rc)"); $(free_disk) free"
  return "$rc"
}

APT_PACKAGES=(
  # Real services and the tools that check our output.
  docker.io docker-registry apache2-utils skopeo umoci mmdebstrap postgresql
  # Browser tests of the reference app.
  chromium
  # Helpers used by scripts and tests.
  curl jq rsync busybox-static
  # The backend test runs the app on Debian's own python3 on a read-only root.
  python3
)

install_packages() {
  local missing=()
  for package in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
  done
  if (( ${#missing[@]} )); then
    apt-get update -q
    apt-get install -y -q "${missing[@]}"
  else
    echo "all ${#APT_PACKAGES[@]} packages already installed"
  fi
}

start_services() {
  bash .ci/services.sh
}

build_bases() {
  cargo xtask bases
}

# The fuzz suite of `cargo xtask test` runs the config crate's targets with it.
install_cargo_fuzz() {
  if command -v cargo-fuzz >/dev/null 2>&1; then
    cargo fuzz --version
  else
    cargo install --locked cargo-fuzz
  fi
}

step "apt packages" install_packages
step "helm, kubectl, kubernetes-validate" bash .ci/tools.sh
if [[ ${1:-} == --with-fuzz ]]; then step "cargo-fuzz" install_cargo_fuzz; fi
export PATH="$HOIST_TOOLS/bin:$PATH"
step "services: dockerd, registries, PostgreSQL" start_services
# shellcheck source=/dev/null
source "$HOIST_CI_STATE/env"
step "offline base images" build_bases
