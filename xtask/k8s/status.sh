#!/bin/bash
# Shows the test cluster's components and node; exits 1 unless it is up.
source "$(dirname "$0")/lib.sh"
up=0
runtime=$(recorded_runtime)
echo "  runtime: $runtime"
for c in $(components "$runtime"); do
  if pid=$(pid_of "$c"); then
    printf '  %-24s running (pid %s)\n' "$c" "$pid"
  else
    printf '  %-24s stopped\n' "$c"
    up=1
  fi
done
if running kube-apiserver; then
  kubectl_ version --short 2>/dev/null | sed 's/^/  /'
  kubectl_ get nodes -o wide 2>&1 | sed 's/^/  /'
  ready=$(kubectl_ get node "$NODE_NAME" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)
  [[ $ready == True ]] || up=1
fi
echo "  logs: $LOGS"
echo "  containerd: $CONTAINERD_SOCK"
[[ $runtime != docker ]] || echo "  node Docker daemon: unix://$DOCKER_SOCK (HOIST_E2E_DOCKER_HOST)"
echo "kubeconfig: $KUBECONFIG_PATH"
exit $up
