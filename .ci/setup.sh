#!/usr/bin/env bash
# Installs what hoist's tests and demo need on Debian bookworm as root, starts
# the real services they use (dockerd, registries, PostgreSQL), builds the
# offline base images and seeds the Docker Hub mirror with the reference
# app's bases. Run by .ci/run and by `cargo xtask demo`; idempotent:
# a second run reuses what is installed, running and cached. Prints one
# timing line per step. `--with-fuzz` also installs cargo-fuzz (the test
# suite's fuzz targets need it; the demo does not). `--with-k8s` also builds
# the test cluster's Kubernetes binaries (xtask/k8s/build.sh, cached under
# /var/cache/hoist/k8s), in the background from the first step on, so that
# on a fresh machine their build overlaps the base images' downloads.
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

# The stand-ins of the reference app's public bases, under their public names,
# in the mirror that HOIST_REGISTRY_MIRRORS (docker.io=HOST:PORT) names.
seed_mirror() {
  cargo xtask bases --seed-mirror "${HOIST_REGISTRY_MIRRORS#docker.io=}" python node postgres
}

# The fuzz suite of `cargo xtask test` runs the config crate's targets with it.
install_cargo_fuzz() {
  if command -v cargo-fuzz >/dev/null 2>&1; then
    cargo fuzz --version
  else
    cargo install --locked cargo-fuzz
  fi
}

WITH_FUZZ=0 WITH_K8S=0
for arg in "$@"; do
  case $arg in
    --with-fuzz) WITH_FUZZ=1 ;;
    --with-k8s) WITH_K8S=1 ;;
    *) echo "usage: setup.sh [--with-fuzz] [--with-k8s]" >&2; exit 2 ;;
  esac
done

step "apt packages" install_packages
# After the host's apt installs (build.sh installs its own build packages),
# before everything else: the longest step on a fresh machine.
if ((WITH_K8S)); then
  mkdir -p "$HOIST_CI_STATE"
  K8S_BUILD_LOG=$HOIST_CI_STATE/k8s-build.log
  bash xtask/k8s/build.sh ensure </dev/null >"$K8S_BUILD_LOG" 2>&1 &
  K8S_BUILD=$!
  K8S_BUILD_STARTED=$(date +%s)
fi
step "helm, kubectl, kubernetes-validate" bash .ci/tools.sh
if ((WITH_FUZZ)); then step "cargo-fuzz" install_cargo_fuzz; fi
export PATH="$HOIST_TOOLS/bin:$PATH"
step "services: dockerd, registries, PostgreSQL" start_services
# shellcheck source=/dev/null
source "$HOIST_CI_STATE/env"
step "offline base images" build_bases
step "Docker Hub mirror: the reference app's bases" seed_mirror
if ((WITH_K8S)); then
  wait_k8s_build() {
    local rc=0
    wait "$K8S_BUILD" || rc=$?
    sed 's/^/  /' "$K8S_BUILD_LOG"
    echo "  ($(( $(date +%s) - K8S_BUILD_STARTED ))s since it started alongside the steps above)"
    return "$rc"
  }
  step "kubernetes binaries" wait_k8s_build
fi
