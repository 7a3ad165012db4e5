#!/bin/bash
# Configuration files for containerd, the CNI bridge, kubelet and kube-proxy.
source "$(dirname "$0")/lib.sh"
mkdir -p "$STATE/containerd/certs.d/$REGISTRY" "$STATE/cni/net.d" "$STATE/kubelet" "$NODE_DOCKER"

# Replaces FILE with stdin only when they differ: kube-proxy exits when its
# configuration file changes under it, which `up` on a half-running cluster
# would otherwise cause.
write() {
  cat >"$1.new"
  if cmp -s "$1.new" "$1"; then rm "$1.new"; else mv "$1.new" "$1"; fi
}

# A containerd of our own: dockerd's containerd (/var/run/docker/containerd)
# keeps running untouched. Root here lacks CAP_SYS_RESOURCE, and runc fails
# to lower oom_score_adj without it unless CRI clamps it (restrict_oom_score_adj).
write "$STATE/containerd/config.toml" <<TOML
version = 2
root = "$STATE/containerd/root"
state = "$STATE/containerd/state"
disabled_plugins = ["io.containerd.internal.v1.tracing", "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs",
  "io.containerd.snapshotter.v1.devmapper"]

[grpc]
  address = "$CONTAINERD_SOCK"

[ttrpc]
  address = "$CONTAINERD_SOCK.ttrpc"

[debug]
  address = ""

[metrics]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = "$STATE/containerd/opt"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE_IMAGE"
  restrict_oom_score_adj = true
  # Pod network namespaces under our state dir, where down.sh finds them.
  netns_mounts_under_state_dir = true
  enable_selinux = false
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$STATE/cni/net.d"
  # Per-registry hosts files (certs.d/HOST:PORT/hosts.toml), as on a node
  # that pulls from a private registry.
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "$STATE/containerd/certs.d"
TOML

# The CI's anonymous registry speaks plain HTTP: pulls of $REGISTRY/...
# go to it over http, never https (the path of every remote cluster).
write "$STATE/containerd/certs.d/$REGISTRY/hosts.toml" <<TOML
server = "http://$REGISTRY"

[host."http://$REGISTRY"]
  capabilities = ["pull", "resolve"]
TOML

# Docker mode: the node's own dockerd (up.sh starts it with these). Its
# containers run on our containerd, with its default runtime the wrapper
# below; its default network on a bridge of its own that no pod uses, no
# iptables rules (the pod network is CNI's, through the kubelet's
# dockershim); Docker's trust key in its own dir, not /etc/docker.
# Docker allows plain HTTP to 127.0.0.0/8 registries by default.
write "$NODE_DOCKER/daemon.json" <<JSON
{
  "hosts": ["unix://$DOCKER_SOCK"],
  "data-root": "$DOCKER_DATA",
  "exec-root": "$DOCKER_EXEC",
  "pidfile": "$NODE_DOCKER/dockerd.pid",
  "deprecated-key-path": "$NODE_DOCKER/key.json",
  "containerd": "$CONTAINERD_SOCK",
  "bridge": "$NODE_DOCKER_BRIDGE",
  "iptables": false,
  "ip-forward": false,
  "ip-masq": false,
  "userland-proxy": false,
  "exec-opts": ["native.cgroupdriver=cgroupfs"],
  "storage-driver": "overlay2",
  "log-driver": "json-file",
  "runtimes": {"hoist-runc": {"path": "$NODE_DOCKER/hoist-runc"}},
  "default-runtime": "hoist-runc"
}
JSON

# Root here lacks CAP_SYS_RESOURCE, so runc cannot lower a process's
# oom_score_adj below its caller's; dockershim asks for -998 for the pause
# container. This runc wrapper raises a negative oomScoreAdj in the bundle's
# config.json (create, run) or an exec's process.json to the caller's own
# value, which is what containerd's restrict_oom_score_adj does for CRI.
runc=$(command -v runc)
write "$NODE_DOCKER/hoist-runc" <<SH
#!/bin/bash
# Written by xtask/k8s/node-config.sh: runc, with oomScoreAdj clamped.
set -euo pipefail
own=\$(cat /proc/self/oom_score_adj)
clamp() { # clamp FILE JQ-PATH
  [[ -f \$1 ]] || return 0
  local adj
  adj=\$(jq "\$2 // empty" "\$1")
  if [[ -n \$adj ]] && ((adj < own)); then
    jq --argjson v "\$own" "\$2 = \\\$v" "\$1" >"\$1.clamped" && mv "\$1.clamped" "\$1"
  fi
}
args=("\$@") cmd="" bundle=. process=""
for ((i = 0; i < \${#args[@]}; i++)); do
  a=\${args[i]}
  if [[ -z \$cmd ]]; then
    case \$a in
      --root | --log | --log-format | --criu) ((i += 1)) ;;
      -*) ;;
      *) cmd=\$a ;;
    esac
    continue
  fi
  case \$a in
    --bundle | -b) bundle=\${args[i + 1]} ;;
    --bundle=*) bundle=\${a#--bundle=} ;;
    --process | -p) process=\${args[i + 1]} ;;
    --process=*) process=\${a#--process=} ;;
  esac
done
case \$cmd in
  create | run) clamp "\$bundle/config.json" .process.oomScoreAdj ;;
  exec) [[ -z \$process ]] || clamp "\$process" .oomScoreAdj ;;
esac
exec $runc "\$@"
SH
chmod 0755 "$NODE_DOCKER/hoist-runc"

# No ipMasq and no portmap: pods talk only to each other and to the node,
# so the plugins add no iptables rules that a crash could leave behind.
write "$STATE/cni/net.d/10-hoist.conflist" <<JSON
{
  "cniVersion": "0.4.0",
  "name": "hoist",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "$BRIDGE",
      "isGateway": true,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "ranges": [[{"subnet": "$POD_CIDR", "gateway": "$BRIDGE_IP"}]],
        "routes": [{"dst": "0.0.0.0/0"}],
        "dataDir": "$STATE/cni/ipam"
      }
    },
    {"type": "loopback"}
  ]
}
JSON

# Pods get no search domains or servers from the host.
echo "options ndots:5" | write "$STATE/kubelet/host-resolv.conf"

# Image garbage collection and disk eviction are effectively off: test images
# are imported, never pulled, so a collected image could not come back. The
# disk thresholds are absolute: a percentage of a large disk shared with other
# work (1% of 250 GB is 2.5 GB) tainted the node while the disk still had room.
write "$STATE/kubelet/config.yaml" <<YAML
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $BRIDGE_IP
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
tlsCertFile: $PKI/kubelet-serving.crt
tlsPrivateKeyFile: $PKI/kubelet-serving.key
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $PKI/ca.crt}
authorization:
  mode: Webhook
cgroupDriver: cgroupfs
clusterDomain: cluster.local
clusterDNS: [$BRIDGE_IP]
resolvConf: $STATE/kubelet/host-resolv.conf
failSwapOn: false
protectKernelDefaults: false
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard:
  memory.available: 100Mi
  nodefs.available: 256Mi
  nodefs.inodesFree: 1%
  imagefs.available: 256Mi
serializeImagePulls: false
# Fresh heartbeats let the up script tell a live node from a status left in etcd.
nodeStatusReportFrequency: 10s
YAML

# NodePorts answer on loopback only.
write "$STATE/kube-proxy.yaml" <<YAML
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: iptables
clientConnection:
  kubeconfig: $STATE/kube-proxy.kubeconfig
clusterCIDR: $POD_CIDR
bindAddress: 127.0.0.1
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
nodePortAddresses: [127.0.0.0/8]
hostnameOverride: $NODE_NAME
conntrack:
  maxPerCore: 0
YAML
