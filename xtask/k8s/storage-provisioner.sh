#!/bin/bash
# Storage stand-in, doing what Minikube's storage-provisioner does: a claim of
# the default StorageClass "standard" (made by up.sh) gets a hostPath volume,
# a directory under $STATE/volumes with mode 0777 so that a pod of any uid can
# write it (hostPath volumes ignore fsGroup). A volume released by its claim is
# deleted with its directory (reclaim policy Delete).
source "$(dirname "$0")/lib.sh"
mkdir -p "$VOLUMES"
# shellcheck disable=SC2016 # jq, not shell, expands these
pending='.items[] | select(.status.phase == "Pending" and .spec.storageClassName == "'$STORAGE_CLASS'"
                            and (.spec.volumeName // "") == "")
  | [.metadata.uid, .metadata.namespace, .metadata.name, .spec.resources.requests.storage,
     (.spec.accessModes | join(","))] | @tsv'
released='.items[] | select(.metadata.annotations["pv.kubernetes.io/provisioned-by"] == "'$PROVISIONER'"
                            and (.status.phase == "Released" or .status.phase == "Failed"))
  | [.metadata.name, .spec.hostPath.path] | @tsv'

provision() {
  local uid=$1 ns=$2 claim=$3 size=$4 modes=$5
  local name=pvc-$uid dir=$VOLUMES/pvc-$uid
  mkdir -p "$dir" && chmod 0777 "$dir"
  jq -n --arg name "$name" --arg dir "$dir" --arg uid "$uid" --arg ns "$ns" --arg claim "$claim" \
    --arg size "$size" --arg modes "$modes" --arg class "$STORAGE_CLASS" --arg by "$PROVISIONER" '{
      apiVersion: "v1", kind: "PersistentVolume",
      metadata: {name: $name, annotations: {"pv.kubernetes.io/provisioned-by": $by}},
      spec: {
        capacity: {storage: $size}, accessModes: ($modes | split(",")),
        storageClassName: $class, persistentVolumeReclaimPolicy: "Delete",
        hostPath: {path: $dir, type: "Directory"},
        claimRef: {apiVersion: "v1", kind: "PersistentVolumeClaim", namespace: $ns, name: $claim, uid: $uid}
      }}' | kubectl_ create -f - >/dev/null && echo "provisioned $name for $ns/$claim at $dir"
}

while true; do
  kubectl_ get persistentvolumeclaims --all-namespaces -o json 2>/dev/null | jq -r "$pending" 2>/dev/null |
    while IFS=$'\t' read -r uid ns claim size modes; do
      # An earlier pass may have made the volume already; the binder takes a moment.
      kubectl_ get persistentvolume "pvc-$uid" >/dev/null 2>&1 ||
        provision "$uid" "$ns" "$claim" "$size" "$modes"
    done
  kubectl_ get persistentvolumes -o json 2>/dev/null | jq -r "$released" 2>/dev/null |
    while IFS=$'\t' read -r name dir; do
      # The directory first: once the volume object is gone, so is its data.
      [[ $dir == "$VOLUMES"/pvc-* ]] && rm -rf "$dir" &&
        kubectl_ delete persistentvolume "$name" --wait=false >/dev/null && echo "deleted $dir and $name"
    done
  sleep 2
done
