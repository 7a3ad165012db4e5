#!/bin/bash
# Cluster DNS stand-in (Debian bookworm has no CoreDNS): writes the API's
# Services as a hosts file for dnsmasq and makes dnsmasq re-read it.
#   <svc>.<ns>.svc.cluster.local -> ClusterIP
#   headless: <svc>.<ns>.svc.cluster.local -> each ready endpoint address,
#             <hostname>.<svc>.<ns>.svc.cluster.local -> that address
source "$(dirname "$0")/lib.sh"
hosts=$STATE/dns/hosts
# shellcheck disable=SC2016 # jq, not shell, expands these
query='
  (.items[] | select(.kind == "Service" and .spec.clusterIP != "None" and .spec.clusterIP != null)
    | "\(.spec.clusterIP) \(.metadata.name).\(.metadata.namespace).svc.cluster.local"),
  (.items[] as $s | select($s.kind == "Service" and $s.spec.clusterIP == "None")
    | .items[] | select(.kind == "Endpoints" and .metadata.namespace == $s.metadata.namespace
                        and .metadata.name == $s.metadata.name)
    | .subsets[]?.addresses[]?
    | "\(.ip) \($s.metadata.name).\($s.metadata.namespace).svc.cluster.local"
      + (if .hostname then " \(.hostname).\($s.metadata.name).\($s.metadata.namespace).svc.cluster.local" else "" end))'
while true; do
  if kubectl_ get services,endpoints --all-namespaces -o json 2>/dev/null |
    jq -r "$query" 2>/dev/null | sort >"$hosts.new"; then
    if ! cmp -s "$hosts.new" "$hosts"; then
      mv "$hosts.new" "$hosts"
      pid=$(pid_of dnsmasq) && kill -HUP "$pid"
    fi
  fi
  sleep 2
done
