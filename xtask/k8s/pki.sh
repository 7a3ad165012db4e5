#!/bin/bash
# Certificates, service-account keys and kubeconfigs for the test cluster.
# Kept across down/up (the CA is in every kubeconfig handed out); removed
# only with the state dir.
source "$(dirname "$0")/lib.sh"
mkdir -p "$PKI"
cd "$PKI" || exit 1

key() { [[ -f $1.key ]] || openssl ecparam -name prime256v1 -genkey -noout -out "$1.key" 2>/dev/null; }

if [[ ! -f ca.crt ]]; then
  key ca
  openssl req -x509 -new -key ca.key -subj "/CN=hoist-test-cluster-ca" -days 3650 -out ca.crt \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"
fi

# cert NAME SUBJECT EXTENDED_KEY_USAGE [SUBJECT_ALT_NAMES]
cert() {
  [[ -f $1.crt ]] && return 0
  key "$1"
  openssl req -new -key "$1.key" -subj "$2" -out "$1.csr"
  {
    echo "keyUsage=critical,digitalSignature,keyEncipherment"
    echo "extendedKeyUsage=$3"
    [[ -z ${4:-} ]] || echo "subjectAltName=$4"
  } >"$1.ext"
  openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 3650 \
    -extfile "$1.ext" -out "$1.crt" 2>/dev/null
  rm -f "$1.csr" "$1.ext"
}

cert apiserver "/CN=kube-apiserver" serverAuth \
  "DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,DNS:localhost,IP:127.0.0.1,IP:$API_SERVICE_IP,IP:$BRIDGE_IP"
cert apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client" clientAuth
cert admin "/O=system:masters/CN=hoist-admin" clientAuth
cert controller-manager "/CN=system:kube-controller-manager" clientAuth
cert scheduler "/CN=system:kube-scheduler" clientAuth
cert kubelet "/O=system:nodes/CN=system:node:$NODE_NAME" clientAuth
cert kube-proxy "/CN=system:kube-proxy" clientAuth
cert kubelet-serving "/CN=$NODE_NAME" serverAuth "DNS:$NODE_NAME,IP:$BRIDGE_IP"

if [[ ! -f sa.key ]]; then
  openssl genrsa -out sa.key 2048 2>/dev/null
  openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
fi

b64() { base64 -w0 <"$1"; }
# kubeconfig FILE CERT
kubeconfig() {
  cat >"$1.tmp" <<KUBECONFIG
apiVersion: v1
kind: Config
clusters:
- name: hoist
  cluster:
    server: https://127.0.0.1:$API_PORT
    certificate-authority-data: $(b64 ca.crt)
users:
- name: $2
  user:
    client-certificate-data: $(b64 "$2.crt")
    client-key-data: $(b64 "$2.key")
contexts:
- name: hoist
  context:
    cluster: hoist
    user: $2
current-context: hoist
KUBECONFIG
  chmod 600 "$1.tmp"
  mv "$1.tmp" "$1"
}
kubeconfig "$KUBECONFIG_PATH" admin
for c in controller-manager scheduler kubelet kube-proxy; do
  kubeconfig "$STATE/$c.kubeconfig" "$c"
done
chmod 600 ./*.key
