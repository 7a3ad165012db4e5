#!/bin/bash
# Stops the test cluster and undoes every host change `up` made: processes,
# container shims, mounts, network namespaces, cgroups, the bridge, the
# service route, iptables rules and sysctls. Certificates, etcd data and
# imported images stay in the state dir for the next `up` (remove
# $STATE to start afresh); the deb-src source type stays enabled.
source "$(dirname "$0")/lib.sh"
set +e # keep undoing even when one step fails

stop() {
  local name=$1 pid
  pid=$(pid_of "$name") || { rm -f "$RUN/$name.pid"; return 0; }
  # Each component leads its own session (start in lib.sh), so its process
  # group holds its children too: socat's connections, the feeder's kubectl.
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null
  for _ in $(seq 1 40); do
    [[ -d /proc/$pid ]] || break
    sleep 0.25
  done
  [[ -d /proc/$pid ]] && { kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null; }
  rm -f "$RUN/$name.pid"
  echo "  stopped $name ($pid)"
}

# Every component that runs, whichever runtime the cluster was started on.
for ((i = ${#ALL_COMPONENTS[@]} - 1; i >= 0; i--)); do
  c=${ALL_COMPONENTS[i]}
  # With the kubelet stopped nothing restarts the containers. The node's
  # dockerd removes its own (pods' containers and sandboxes) while it runs.
  if [[ $c == dockerd ]] && running dockerd; then
    ids=$(docker_ ps -aq 2>/dev/null)
    # shellcheck disable=SC2086 # one id per word
    [[ -z $ids ]] || docker_ rm -f $ids >/dev/null 2>&1
  fi
  # Kill the rest while containerd still runs, so that their shims exit
  # and clean up: CRI's (k8s.io) and any the node's dockerd left (moby).
  if [[ $c == containerd ]] && running containerd; then
    for ns in k8s.io moby; do
      for t in $(ctr_ns "$ns" tasks ls -q 2>/dev/null); do
        ctr_ns "$ns" tasks kill -s SIGKILL "$t" >/dev/null 2>&1
      done
    done
    for _ in $(seq 1 40); do
      [[ -z $(for ns in k8s.io moby; do ctr_ns "$ns" tasks ls 2>/dev/null; done | awk '$3 == "RUNNING"') ]] && break
      sleep 0.25
    done
  fi
  stop "$c"
done

for pid in $(our_shims) $(pod_processes); do
  kill -KILL "$pid" 2>/dev/null && echo "  killed leftover process $pid"
done
for _ in $(seq 1 40); do
  [[ -z $(pod_processes) ]] && break
  sleep 0.25
done

# kube-proxy removes its own chains and rules.
if [[ -x $(bin_dir)/kube-proxy ]]; then
  "$(bin_dir)/kube-proxy" --cleanup >>"$LOGS/kube-proxy-cleanup.log" 2>&1
fi
while read -ra rule; do
  ((${#rule[@]})) && iptables -D "${rule[@]:1}"
done < <(our_rules)
# The kubelet's own chains (KUBE-FIREWALL, KUBE-MARK-*, KUBE-KUBELET-CANARY)
# and anything kube-proxy left: unhook them from the built-in chains, then
# flush and delete them. `iptables -S` quotes like the shell, hence eval.
for t in filter nat mangle; do
  iptables -t "$t" -S 2>/dev/null | grep -E '^-A (INPUT|OUTPUT|FORWARD|PREROUTING|POSTROUTING) .*-j (KUBE|CNI)-' |
    while read -r line; do eval "iptables -t $t -D ${line#-A }"; done
  chains=$(iptables -t "$t" -S 2>/dev/null | awk '$1 == "-N" && $2 ~ /^(KUBE|CNI)-/ {print $2}')
  for c in $chains; do iptables -t "$t" -F "$c"; done
  for c in $chains; do iptables -t "$t" -X "$c"; done
done

# Container root filesystems, volumes and the pods' network namespaces
# (containerd keeps them under its state dir: netns_mounts_under_state_dir).
for m in $(our_mounts); do
  umount -l "$m" 2>/dev/null && echo "  unmounted $m"
done

# Child cgroups first: rmdir only removes empty ones.
for d in $(kubepods_cgroups); do
  find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
done

# The node dockerd's runtime state (its netns mounts are gone now), the
# dockershim's sandbox checkpoints and the endpoint file tests read. Its
# data root (images loaded into it) stays, like containerd's images.
rm -rf "$DOCKER_EXEC" "$STATE/dockershim" "$STATE/cni/cache"
rm -f "$DOCKER_SOCK" "$NODE_DOCKER/dockerd.pid" "$DOCKER_HOST_FILE"

ip route del "$SERVICE_CIDR" dev "$BRIDGE" 2>/dev/null
ip link del "$BRIDGE" 2>/dev/null
ip link del "$NODE_DOCKER_BRIDGE" 2>/dev/null
# Pod IPs are free again now that the pods are gone.
rm -rf "$STATE/cni/ipam"

if [[ -f $STATE/sysctl.orig ]]; then
  while IFS='=' read -r key value; do
    sysctl -qw "$key=$value" 2>/dev/null
  done <"$STATE/sysctl.orig"
  rm -f "$STATE/sysctl.orig"
fi
echo "cluster down"
