#!/bin/bash
# Fails, listing what is left, when the test cluster left anything on the
# host: run after `cargo xtask k8s down`.
source "$(dirname "$0")/lib.sh"
left=()
for c in "${ALL_COMPONENTS[@]}"; do
  pid=$(pid_of "$c") && left+=("process $c ($pid)")
done
for pid in $(our_shims); do left+=("containerd shim $pid"); done
for pid in $(pod_processes); do left+=("pod process $pid: $(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline" | cut -c1-120)"); done
# Any process still running one of our built binaries or our containerd config.
bin=$(bin_dir)
for p in /proc/[0-9]*; do
  [[ ${p#/proc/} == "$$" ]] && continue
  exe=$(readlink "$p/exe" 2>/dev/null) || continue
  if [[ $exe == "$bin/"* ]] || tr '\0' ' ' 2>/dev/null <"$p/cmdline" | grep -qF -- "$STATE/"; then
    left+=("process ${p#/proc/}: $(tr '\0' ' ' 2>/dev/null <"$p/cmdline" | cut -c1-120)")
  fi
done
for m in $(our_mounts); do left+=("mount $m"); done
# containerd puts them under its state dir; in /run/netns they would be CNI defaults.
for ns in /run/netns/cni-*; do [[ -e $ns ]] && left+=("network namespace $ns"); done
ip link show "$BRIDGE" >/dev/null 2>&1 && left+=("bridge $BRIDGE")
ip link show "$NODE_DOCKER_BRIDGE" >/dev/null 2>&1 && left+=("bridge $NODE_DOCKER_BRIDGE (node dockerd)")
r=$(ip route show "$SERVICE_CIDR") && [[ -n $r ]] && left+=("route $r")
while read -r rule; do [[ -n $rule ]] && left+=("iptables $rule"); done < <(our_rules)
while read -r chain; do [[ -n $chain ]] && left+=("iptables chain $chain"); done < <(foreign_chains)
for d in $(kubepods_cgroups); do left+=("cgroup $d"); done
[[ -f $STATE/sysctl.orig ]] && left+=("unrestored sysctls in $STATE/sysctl.orig")
# The node dockerd of docker mode: its socket, pid file and runtime state,
# the dockershim's checkpoints, and the endpoint file tests read.
for f in "$DOCKER_SOCK" "$NODE_DOCKER/dockerd.pid" "$DOCKER_EXEC" "$STATE/dockershim" "$DOCKER_HOST_FILE"; do
  [[ -e $f ]] && left+=("node dockerd leftover $f")
done
if ((${#left[@]})); then
  echo "the test cluster left these behind:" >&2
  printf '  %s\n' "${left[@]}" >&2
  echo "run \`cargo xtask k8s down\` again, then report it if they stay" >&2
  exit 1
fi
echo "clean: no cluster process, node dockerd, mount, network namespace, bridge, route, iptables rule or cgroup left"
