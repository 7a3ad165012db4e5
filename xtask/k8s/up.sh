#!/bin/bash
# Starts the single-node test cluster; see docs/TEST-CLUSTER.md.
# Idempotent: a cluster that is already up is reported and left alone.
#   up.sh [--runtime containerd|docker]
source "$(dirname "$0")/lib.sh"

runtime=containerd
while (($#)); do
  case $1 in
    --runtime) runtime=${2:-}; shift 2 || shift ;;
    --runtime=*) runtime=${1#--runtime=}; shift ;;
    *) echo "error: unknown argument $1; usage: up.sh [--runtime containerd|docker]" >&2; exit 2 ;;
  esac
done
case $runtime in
  containerd | docker) ;;
  *) echo "error: unknown runtime '$runtime'; use --runtime containerd or --runtime docker" >&2; exit 2 ;;
esac
mapfile -t COMPONENTS < <(components "$runtime")

phase_start=0
phase() {
  [[ $phase_start == 0 ]] || echo "  done in $(elapsed "$phase_start")s"
  phase_start=$(now)
  [[ -z ${1:-} ]] || echo "==> $1"
}
total_start=$(now)

# Ready=True with a heartbeat no older than $1 (UTC, RFC 3339): a node
# status left in etcd by an earlier run says Ready until it times out.
node_ready_since() {
  kubectl_ get node "$NODE_NAME" \
    -o jsonpath='{range .status.conditions[?(@.type=="Ready")]}{.status} {.lastHeartbeatTime}{end}' 2>/dev/null |
    awk -v since="$1" '$1 == "True" && $2 >= since {ok = 1} END {exit !ok}'
}

# A cluster running on the other runtime is not switched under its users.
current=$(recorded_runtime)
if [[ $current != "$runtime" ]]; then
  for c in "${ALL_COMPONENTS[@]}"; do
    if running "$c"; then
      echo "error: the test cluster is running on $current ($c is up); run \`cargo xtask k8s down\` first, then \`cargo xtask k8s up --runtime $runtime\`" >&2
      exit 1
    fi
  done
fi
all_running=1
for c in "${COMPONENTS[@]}"; do running "$c" || all_running=0; done
if ((all_running)) && node_ready_since "$(date -u -d '-1 min' +%Y-%m-%dT%H:%M:%SZ)"; then
  echo "cluster already up on $runtime; kubeconfig: $KUBECONFIG_PATH"
  exit 0
fi

# --- packages -------------------------------------------------------------
phase "packages"
mkdir -p "$STATE" "$CACHE"
missing=()
for p in "${RUNTIME_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >"$CACHE/apt.log" 2>&1 ||
    { echo "error: apt-get install ${missing[*]} failed; see $CACHE/apt.log" >&2; exit 1; }
fi
# Debian's etcd-server package starts a system etcd where an init system runs
# it; ours has its own data dir and port, but two etcds would waste memory.
if command -v systemctl >/dev/null && systemctl is-active -q etcd 2>/dev/null; then
  systemctl disable --now etcd
fi

# --- binaries -------------------------------------------------------------
phase "kubernetes binaries"
bash "$HERE/build.sh" ensure
version=$(cat "$CACHE/current")
echo "$version" >"$STATE/version"
BIN=$(bin_dir)
echo "  $BIN ($("$BIN/kube-apiserver" --version))"

mkdir -p "$STATE" "$LOGS" "$RUN" "$PKI" "$STATE/etcd" "$STATE/cni/net.d" "$STATE/cni/ipam" \
  "$STATE/containerd" "$STATE/kubelet" "$STATE/dns"
echo "$runtime" >"$RUNTIME_FILE"

# --- host network ---------------------------------------------------------
phase "host network"
if [[ ! -f $STATE/sysctl.orig ]]; then
  for s in "${SYSCTLS[@]}"; do
    v=$(sysctl -n "$s" 2>/dev/null) && echo "$s=$v"
  done >"$STATE/sysctl.orig"
fi
sysctl -qw net.ipv4.ip_forward=1 net.bridge.bridge-nf-call-iptables=1
# The bridge exists before any pod, so that the API relay, the kubelet and
# the DNS server can bind its address; the CNI bridge plugin adopts it.
if ! ip link show "$BRIDGE" >/dev/null 2>&1; then
  ip link add "$BRIDGE" type bridge
  ip addr add "$BRIDGE_IP/${POD_CIDR#*/}" dev "$BRIDGE"
fi
ip link set "$BRIDGE" up
# ClusterIPs that kube-proxy does not rewrite must not leave the machine.
ip route replace "$SERVICE_CIDR" dev "$BRIDGE"
# Docker sets the FORWARD policy to DROP; pod traffic crosses FORWARD
# because bridged frames go through iptables (br_netfilter).
for dir in -s -d; do
  iptables -C FORWARD "$dir" "$POD_CIDR" -m comment --comment "$IPT_COMMENT" -j ACCEPT 2>/dev/null ||
    iptables -I FORWARD 1 "$dir" "$POD_CIDR" -m comment --comment "$IPT_COMMENT" -j ACCEPT
done

# --- certificates ---------------------------------------------------------
phase "certificates"
bash "$HERE/pki.sh"

# --- control plane --------------------------------------------------------
phase "etcd"
start etcd etcd --name hoist --data-dir "$STATE/etcd" \
  --listen-client-urls "http://127.0.0.1:$ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
  --listen-peer-urls "http://127.0.0.1:$((ETCD_PORT + 1))" \
  --initial-advertise-peer-urls "http://127.0.0.1:$((ETCD_PORT + 1))" \
  --initial-cluster "hoist=http://127.0.0.1:$((ETCD_PORT + 1))" \
  --listen-metrics-urls "http://127.0.0.1:$((ETCD_PORT + 2))"
wait_for etcd 30 curl -sf "http://127.0.0.1:$ETCD_PORT/health"

phase "kube-apiserver"
start kube-apiserver "$BIN/kube-apiserver" \
  --etcd-servers "http://127.0.0.1:$ETCD_PORT" \
  --bind-address 127.0.0.1 --secure-port "$API_PORT" --insecure-port 0 \
  --advertise-address "$BRIDGE_IP" \
  --service-cluster-ip-range "$SERVICE_CIDR" \
  --client-ca-file "$PKI/ca.crt" \
  --tls-cert-file "$PKI/apiserver.crt" --tls-private-key-file "$PKI/apiserver.key" \
  --kubelet-client-certificate "$PKI/apiserver-kubelet-client.crt" \
  --kubelet-client-key "$PKI/apiserver-kubelet-client.key" \
  --service-account-key-file "$PKI/sa.pub" --service-account-signing-key-file "$PKI/sa.key" \
  --service-account-issuer https://kubernetes.default.svc.cluster.local \
  --kubelet-preferred-address-types InternalIP \
  --authorization-mode Node,RBAC --enable-admission-plugins NodeRestriction \
  --allow-privileged=true --profiling=false
wait_for kube-apiserver 90 kubectl_ get --raw /readyz
# Pods reach the API at its advertise address on the bridge.
start api-relay socat "TCP-LISTEN:$API_PORT,bind=$BRIDGE_IP,fork,reuseaddr" "TCP:127.0.0.1:$API_PORT"

phase "controller-manager and scheduler"
start kube-controller-manager "$BIN/kube-controller-manager" \
  --kubeconfig "$STATE/controller-manager.kubeconfig" \
  --authentication-kubeconfig "$STATE/controller-manager.kubeconfig" \
  --authorization-kubeconfig "$STATE/controller-manager.kubeconfig" \
  --bind-address 127.0.0.1 --port 0 --leader-elect=false \
  --service-account-private-key-file "$PKI/sa.key" --root-ca-file "$PKI/ca.crt" \
  --cluster-signing-cert-file "$PKI/ca.crt" --cluster-signing-key-file "$PKI/ca.key" \
  --use-service-account-credentials=true --service-cluster-ip-range "$SERVICE_CIDR"
start kube-scheduler "$BIN/kube-scheduler" \
  --kubeconfig "$STATE/scheduler.kubeconfig" \
  --authentication-kubeconfig "$STATE/scheduler.kubeconfig" \
  --authorization-kubeconfig "$STATE/scheduler.kubeconfig" \
  --bind-address 127.0.0.1 --port 0 --leader-elect=false
wait_for "the default service account" 60 kubectl_ -n default get serviceaccount default

# --- node -----------------------------------------------------------------
phase "containerd"
bash "$HERE/node-config.sh"
start containerd containerd --config "$STATE/containerd/config.toml"
wait_for containerd 30 ctr_ version
if [[ $runtime == containerd ]] && ! ctr_ images check "name==$PAUSE_IMAGE" 2>/dev/null | grep -q complete; then
  tmp=$(mktemp -d)
  umoci init --layout "$tmp/oci"
  umoci new --image "$tmp/oci:${PAUSE_IMAGE##*:}"
  umoci insert --image "$tmp/oci:${PAUSE_IMAGE##*:}" "$BIN/pause" /pause
  umoci config --image "$tmp/oci:${PAUSE_IMAGE##*:}" --config.entrypoint /pause
  tar -C "$tmp/oci" -cf "$tmp/pause.tar" .
  ctr_ images import --base-name "${PAUSE_IMAGE%:*}" "$tmp/pause.tar" >/dev/null
  rm -rf "$tmp"
fi
rm -f "$DOCKER_HOST_FILE"

if [[ $runtime == docker ]]; then
  phase "node Docker daemon"
  if ! ip link show "$NODE_DOCKER_BRIDGE" >/dev/null 2>&1; then
    ip link add "$NODE_DOCKER_BRIDGE" type bridge
    ip addr add "$NODE_DOCKER_BRIDGE_IP" dev "$NODE_DOCKER_BRIDGE"
  fi
  ip link set "$NODE_DOCKER_BRIDGE" up
  ip link show docker0 >/dev/null 2>&1 && had_docker0=1 || had_docker0=0
  start dockerd dockerd --config-file "$NODE_DOCKER/daemon.json"
  wait_for "the node's dockerd" 60 docker_ version
  if ((had_docker0)) && ! ip link show docker0 >/dev/null 2>&1; then
    echo "error: starting the node's dockerd removed docker0, the host dockerd's bridge; see $LOGS/dockerd.log" >&2
    exit 1
  fi
  if ! docker_ image inspect "$PAUSE_IMAGE" >/dev/null 2>&1; then
    tar -C "$BIN" -c pause |
      docker_ import --change 'ENTRYPOINT ["/pause"]' - "$PAUSE_IMAGE" >/dev/null
  fi
  echo "unix://$DOCKER_SOCK" >"$DOCKER_HOST_FILE"
  runtime_flags=(--container-runtime docker --docker-endpoint "unix://$DOCKER_SOCK"
    --network-plugin cni --cni-bin-dir /usr/lib/cni --cni-conf-dir "$STATE/cni/net.d"
    --cni-cache-dir "$STATE/cni/cache" --experimental-dockershim-root-directory "$STATE/dockershim")
else
  runtime_flags=(--container-runtime remote --container-runtime-endpoint "unix://$CONTAINERD_SOCK"
    --image-service-endpoint "unix://$CONTAINERD_SOCK")
fi

phase "kubelet"
# A kubelet already running reports every 10 s (nodeStatusReportFrequency).
if running kubelet; then
  kubelet_started=$(date -u -d '-1 min' +%Y-%m-%dT%H:%M:%SZ)
else
  kubelet_started=$(date -u +%Y-%m-%dT%H:%M:%SZ)
fi
start kubelet "$BIN/kubelet" \
  --config "$STATE/kubelet/config.yaml" --kubeconfig "$STATE/kubelet.kubeconfig" \
  "${runtime_flags[@]}" \
  --root-dir "$STATE/kubelet" --cert-dir "$PKI/kubelet" \
  --hostname-override "$NODE_NAME" --node-ip "$BRIDGE_IP" \
  --pod-infra-container-image "$PAUSE_IMAGE" --v 1
start kube-proxy "$BIN/kube-proxy" --config "$STATE/kube-proxy.yaml" --hostname-override "$NODE_NAME"

phase "cluster DNS stand-in"
touch "$STATE/dns/hosts"
start dnsmasq dnsmasq --keep-in-foreground --conf-file=/dev/null --no-hosts \
  --addn-hosts="$STATE/dns/hosts" --listen-address="$BRIDGE_IP" --bind-interfaces \
  --local=/cluster.local/ --domain-needed --no-resolv --pid-file= \
  --log-facility=- --user=nobody --group=nogroup
start dns-feeder bash "$HERE/dns-feeder.sh"

phase "storage stand-in"
# The default class, as on Minikube: claims without a class get it.
kubectl_ apply -f - >/dev/null <<EOF
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: $STORAGE_CLASS
  annotations:
    storageclass.kubernetes.io/is-default-class: "true"
provisioner: $PROVISIONER
reclaimPolicy: Delete
volumeBindingMode: Immediate
EOF
start storage-provisioner bash "$HERE/storage-provisioner.sh"

phase "node ready"
wait_for "node $NODE_NAME" 120 node_ready_since "$kubelet_started"

# A node of a real cluster always runs pods (Minikube's: coredns, kube-proxy,
# storage-provisioner), and hoist recognises a node on the Docker daemon it
# reaches by the pod containers that daemon runs. Ours has its system
# services on the host, so docker mode gives it one resident pod: the
# pause image, bound to the node, in kube-system. containerd mode has none.
if [[ $runtime == docker ]]; then
  phase "resident pod"
  kubectl_ apply -f - >/dev/null <<EOF
apiVersion: v1
kind: Pod
metadata:
  name: $RESIDENT_POD
  namespace: kube-system
  labels: {app.kubernetes.io/managed-by: hoist-k8s}
spec:
  nodeName: $NODE_NAME
  priorityClassName: system-node-critical
  tolerations: [{operator: Exists}]
  automountServiceAccountToken: false
  terminationGracePeriodSeconds: 0
  containers:
  - name: pause
    image: $PAUSE_IMAGE
    imagePullPolicy: Never
EOF
  kubectl_ -n kube-system wait --for=condition=Ready "pod/$RESIDENT_POD" --timeout=120s >/dev/null
else
  kubectl_ -n kube-system delete pod "$RESIDENT_POD" --ignore-not-found --wait=false >/dev/null
fi
phase ""
echo "cluster up on $runtime in $(elapsed "$total_start")s; kubeconfig: $KUBECONFIG_PATH"
[[ $runtime != docker ]] || echo "node Docker daemon: unix://$DOCKER_SOCK"
