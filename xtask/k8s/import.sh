#!/bin/bash
# Imports an image archive into the runtime the test cluster's kubelet runs
# on, where it finds it without pulling:
#   import.sh ARCHIVE [BASE_NAME]
# containerd (the default): a docker-archive or OCI layout tar. BASE_NAME
# names images of an OCI archive whose index carries only a tag
# (org.opencontainers.image.ref.name=TAG): they become BASE_NAME:TAG.
# docker (`up --runtime docker`): a docker-archive, loaded into the node's
# own Docker daemon.
source "$(dirname "$0")/lib.sh"
archive=$1
[[ -f $archive ]] || { echo "error: image archive $archive does not exist" >&2; exit 1; }
if [[ $(recorded_runtime) == docker ]]; then
  running dockerd || { echo "error: the test cluster's node dockerd is not running; start it with \`cargo xtask k8s up --runtime docker\`" >&2; exit 1; }
  [[ -z ${2:-} ]] || { echo "error: --base-name is for OCI archives, which the node's dockerd cannot load; give a docker-archive (skopeo copy oci-archive:... docker-archive:...:NAME:TAG)" >&2; exit 2; }
  docker_ load --input "$archive"
  exit
fi
running containerd || { echo "error: the test cluster's containerd is not running; start it with \`cargo xtask k8s up\`" >&2; exit 1; }
args=()
[[ -z ${2:-} ]] || args+=(--base-name "$2")
ctr_ images import "${args[@]}" "$archive"
