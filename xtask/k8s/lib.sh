# shellcheck shell=bash disable=SC2034 # the settings are used by the scripts that source this
# Shared settings and helpers for the test cluster scripts (sourced, not run).
# Every host change the cluster makes is named here, so that down.sh and
# check-clean.sh undo and verify exactly the same set.

set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

STATE=${HOIST_K8S_STATE:-/var/lib/hoist-k8s}
CACHE=${HOIST_K8S_CACHE:-/var/cache/hoist/k8s}
KUBECONFIG_PATH=$STATE/kubeconfig
LOGS=$STATE/logs
RUN=$STATE/run
PKI=$STATE/pki

NODE_NAME=hoist-node
BRIDGE=hoist0
POD_CIDR=10.244.0.0/24
BRIDGE_IP=10.244.0.1 # gateway of the pod bridge: node IP, API relay, DNS
SERVICE_CIDR=10.96.0.0/16
API_SERVICE_IP=10.96.0.1
API_PORT=6443
ETCD_PORT=12379 # not 2379, so that a system etcd can never be mistaken for ours
CONTAINERD_SOCK=$STATE/containerd/containerd.sock
PAUSE_IMAGE=k8s.gcr.io/pause:3.2
# The CI's anonymous registry (plain HTTP), which the cluster's containerd
# pulls from as a remote cluster pulls from its registry (node-config.sh).
REGISTRY=${HOIST_K8S_REGISTRY:-127.0.0.1:5000}

# The kubelet's container runtime: `containerd` (CRI, the default) or
# `docker` (dockershim on a Docker daemon of the node's own, as Minikube's
# node has). `up --runtime` records it in $STATE/runtime for the other scripts.
RUNTIME_FILE=$STATE/runtime
# The node's Docker daemon in docker mode: its socket, data root (images and
# containers, kept across down/up like containerd's) and exec root (runtime
# state, removed by down). It runs its containers on our containerd.
NODE_DOCKER=$STATE/docker
DOCKER_SOCK=$NODE_DOCKER/docker.sock
DOCKER_DATA=$NODE_DOCKER/root
DOCKER_EXEC=$NODE_DOCKER/exec
# A bridge of its own for the node dockerd's default network, which no pod
# uses (dockershim gives sandboxes no Docker network; CNI wires them to
# $BRIDGE). With `--bridge none` instead, dockerd deletes any link named
# docker0 at start: the CI dockerd's bridge.
NODE_DOCKER_BRIDGE=hoistd0
NODE_DOCKER_BRIDGE_IP=10.244.255.1/30
# The pod docker mode keeps on the node (kube-system), as a real node always
# runs some: hoist's detection sees the node's daemon by its pod containers.
RESIDENT_POD=hoist-node-resident
# Where `up` writes the node daemon's endpoint (unix://...) for tests
# (HOIST_E2E_DOCKER_HOST, see `cargo xtask k8s env`); removed by down.
DOCKER_HOST_FILE=$STATE/docker-host
IPT_COMMENT=hoist-k8s
# The storage stand-in (storage-provisioner.sh): Minikube's class name, our
# provisioner's, and where the volumes' directories live (kept across down/up,
# like etcd's data, since the volume objects are).
STORAGE_CLASS=standard
PROVISIONER=hoist.dev/hostpath
VOLUMES=$STATE/volumes

# Apt packages the cluster needs at run time and to build Kubernetes.
RUNTIME_PACKAGES=(etcd-server containerd runc containernetworking-plugins dnsmasq-base socat
  conntrack iptables iproute2 openssl jq umoci)
BUILD_PACKAGES=(dpkg-dev golang-1.19-go golang-github-modern-go-reflect2-dev rsync jq gcc libc6-dev)

# Sysctls kubelet or kube-proxy change; their values before `up` are saved in
# $STATE/sysctl.orig and restored by `down`.
SYSCTLS=(net.ipv4.conf.all.route_localnet net.ipv4.ip_forward net.bridge.bridge-nf-call-iptables
  vm.overcommit_memory vm.panic_on_oom kernel.panic kernel.panic_on_oops
  kernel.keys.root_maxkeys kernel.keys.root_maxbytes)

# Components in start order; down stops them in reverse. `dockerd` (the
# node's daemon) runs in docker mode only, see components().
ALL_COMPONENTS=(etcd kube-apiserver api-relay kube-controller-manager kube-scheduler containerd
  dockerd kubelet kube-proxy dnsmasq dns-feeder storage-provisioner)

# The runtime the cluster was last started with (containerd when never).
recorded_runtime() {
  local r
  r=$(cat "$RUNTIME_FILE" 2>/dev/null || true)
  echo "${r:-containerd}"
}

# The components of a cluster on runtime $1 (default: the recorded one).
components() {
  local runtime=${1:-$(recorded_runtime)} c
  for c in "${ALL_COMPONENTS[@]}"; do
    [[ $c == dockerd && $runtime != docker ]] && continue
    echo "$c"
  done
}

source_version() {
  apt-cache showsrc kubernetes 2>/dev/null | awk '/^Version:/ {print $2; exit}'
}

# The cached binaries of the newest source version apt knows, or of whatever
# was built last when apt has no deb-src yet.
bin_dir() {
  local v
  v=$(cat "$STATE/version" 2>/dev/null || true)
  [[ -n $v ]] || v=$(source_version)
  echo "$CACHE/$v/bin"
}

now() { date +%s.%N; }
elapsed() { awk -v s="$1" -v e="$(now)" 'BEGIN {printf "%.1f", e - s}'; }

pid_of() {
  local f=$RUN/$1.pid
  [[ -f $f ]] || return 1
  local pid
  pid=$(cat "$f")
  [[ -d /proc/$pid ]] || return 1
  echo "$pid"
}

running() { pid_of "$1" >/dev/null; }

# Starts a long-running component in its own session, logging to $LOGS.
start() {
  local name=$1
  shift
  mkdir -p "$LOGS" "$RUN"
  if running "$name"; then return 0; fi
  setsid "$@" >>"$LOGS/$name.log" 2>&1 </dev/null &
  echo $! >"$RUN/$name.pid"
}

# Waits up to $2 seconds for command "${@:3}" to succeed.
wait_for() {
  local what=$1 timeout=$2
  shift 2
  local deadline=$((SECONDS + timeout))
  until "$@" >/dev/null 2>&1; do
    if ((SECONDS >= deadline)); then
      echo "error: $what not ready after ${timeout}s; see $LOGS" >&2
      return 1
    fi
    sleep 0.5
  done
}

kubectl_() { "$(bin_dir)/kubectl" --kubeconfig "$KUBECONFIG_PATH" "$@"; }
ctr_() { ctr_ns k8s.io "$@"; }
# ctr_ns NAMESPACE ARGS...: k8s.io is CRI's, moby the node dockerd's.
ctr_ns() {
  local ns=$1
  shift
  ctr --address "$CONTAINERD_SOCK" --namespace "$ns" "$@"
}
# The node's Docker daemon (docker mode).
docker_() { docker --host "unix://$DOCKER_SOCK" "$@"; }

# Processes whose command line names our containerd socket: its shims, which
# outlive containerd itself. Printed as pids; never matched by name alone.
our_shims() {
  local p
  for p in /proc/[0-9]*; do
    tr '\0' ' ' 2>/dev/null <"$p/cmdline" | grep -qF -- "-address $CONTAINERD_SOCK " &&
      echo "${p#/proc/}"
  done
  return 0
}

# Mount points under the state dir, deepest first.
our_mounts() {
  awk -v s="$STATE/" 'index($5, s) == 1 {print $5}' /proc/self/mountinfo | sort -r
}

# iptables rules added by up.sh carry this comment.
our_rules() {
  iptables -S FORWARD 2>/dev/null | grep -F -- "--comment $IPT_COMMENT" || true
}

# Chains kube-proxy and the CNI plugins create.
foreign_chains() {
  local t
  for t in filter nat mangle; do
    iptables -t "$t" -S 2>/dev/null | awk -v t="$t" '$1 == "-N" && ($2 ~ /^KUBE-/ || $2 ~ /^CNI-/) {print t ": " $2}'
  done
}

# Processes in the kubelet's pod cgroups: containers, whatever survived.
pod_processes() {
  local d
  for d in $(kubepods_cgroups); do
    find "$d" -name cgroup.procs -exec cat {} + 2>/dev/null
  done | sort -un
}

kubepods_cgroups() {
  local d
  for d in /sys/fs/cgroup/*/kubepods /sys/fs/cgroup/kubepods; do
    [[ -d $d ]] && echo "$d"
  done
  return 0
}
