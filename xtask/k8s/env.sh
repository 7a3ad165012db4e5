#!/bin/bash
# Prints the variables the end-to-end suites find the running cluster by, as
# shell `export` lines: eval "$(cargo xtask k8s env)". Exits 1 unless the
# cluster's API server runs.
source "$(dirname "$0")/lib.sh"
running kube-apiserver || { echo "error: the test cluster is not running; start it with \`cargo xtask k8s up\`" >&2; exit 1; }
echo "export HOIST_E2E_KUBECONFIG=$KUBECONFIG_PATH"
# The node's Docker daemon in docker mode: hoist delivers images there.
if [[ $(recorded_runtime) == docker && -s $DOCKER_HOST_FILE ]]; then
  echo "export HOIST_E2E_DOCKER_HOST=$(cat "$DOCKER_HOST_FILE")"
else
  echo "unset HOIST_E2E_DOCKER_HOST"
fi
