#!/bin/bash
# Imports an image archive (docker-archive or OCI layout tar) into the test
# cluster's containerd, where the kubelet finds it without pulling.
#   import.sh ARCHIVE [BASE_NAME]
# BASE_NAME names images of an OCI archive whose index carries only a tag
# (org.opencontainers.image.ref.name=TAG): they become BASE_NAME:TAG.
source "$(dirname "$0")/lib.sh"
archive=$1
[[ -f $archive ]] || { echo "error: image archive $archive does not exist" >&2; exit 1; }
running containerd || { echo "error: the test cluster's containerd is not running; start it with \`cargo xtask k8s up\`" >&2; exit 1; }
args=()
[[ -z ${2:-} ]] || args+=(--base-name "$2")
ctr_ images import "${args[@]}" "$archive"
