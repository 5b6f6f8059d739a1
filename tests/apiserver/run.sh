#!/usr/bin/env bash
# A copy of the project tools' kube-apiserver/run.sh, so that the tests need no path outside
# the repository. Starts etcd (Debian's etcd-server) and the CRD API server built by build.sh on 127.0.0.1 and
# prints KUBECONFIG=DIR/kubeconfig once custom resources are served (about 1.3 s; 100-180 MB RSS
# plus ~40 MB for etcd). Stop it with: kill $(cat DIR/apiserver.pid) $(cat DIR/etcd.pid)
# Notes seen while trying it: /readyz never turns green (there is no core /api/v1 to sync), so
# poll a custom-resource list instead; a plain POST with an unknown field is accepted (201) and
# the field pruned, so use server-side apply with fieldValidation=Strict; a strict-validation
# failure comes back as HTTP 500; client certificates must be X.509 v3 for rustls.
# Usage: run.sh [DIR]   env: BIN (the server), PORT (16443), EPORT (23790)
set -euo pipefail
BIN=${BIN:-/var/cache/deployc-k8s/apiextensions-apiserver}; DIR=${1:-$(mktemp -d)}; PORT=${PORT:-16443}; EPORT=${EPORT:-23790}
mkdir -p "$DIR/pki" "$DIR/etcd"; cd "$DIR/pki"
openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 30 -subj /CN=test-ca 2>/dev/null
openssl req -newkey rsa:2048 -nodes -keyout admin.key -out admin.csr -subj "/O=system:masters/CN=admin" 2>/dev/null
printf 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n' > ext
openssl x509 -req -in admin.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out admin.crt -days 30 -extfile ext 2>/dev/null
cat > "$DIR/kubeconfig" <<K
apiVersion: v1
kind: Config
clusters: [{name: t, cluster: {server: "https://127.0.0.1:$PORT", certificate-authority: $DIR/pki/serving/apiserver.crt}}]
users: [{name: admin, user: {client-certificate: $DIR/pki/admin.crt, client-key: $DIR/pki/admin.key}}]
contexts: [{name: t, context: {cluster: t, user: admin, namespace: default}}]
current-context: t
K
etcd --data-dir "$DIR/etcd" --listen-client-urls http://127.0.0.1:$EPORT --advertise-client-urls http://127.0.0.1:$EPORT \
  --listen-peer-urls http://127.0.0.1:$((EPORT+10)) > "$DIR/etcd.log" 2>&1 & echo $! > "$DIR/etcd.pid"
"$BIN" --etcd-servers=http://127.0.0.1:$EPORT --bind-address=127.0.0.1 --secure-port=$PORT --cert-dir="$DIR/pki/serving" \
  --client-ca-file="$DIR/pki/ca.crt" --kubeconfig="$DIR/kubeconfig" --authentication-kubeconfig="$DIR/kubeconfig" \
  --authorization-kubeconfig="$DIR/kubeconfig" --authentication-skip-lookup --enable-priority-and-fairness=false \
  --disable-admission-plugins=NamespaceLifecycle,MutatingAdmissionPolicy,MutatingAdmissionWebhook,ValidatingAdmissionPolicy,ValidatingAdmissionWebhook \
  > "$DIR/apiserver.log" 2>&1 & echo $! > "$DIR/apiserver.pid"
for _ in $(seq 150); do
  code=$(curl -sk --cert "$DIR/pki/admin.crt" --key "$DIR/pki/admin.key" -o /dev/null -w '%{http_code}' \
    "https://127.0.0.1:$PORT/apis/apiextensions.k8s.io/v1/customresourcedefinitions" || true)
  [ "$code" = 200 ] && { echo "KUBECONFIG=$DIR/kubeconfig"; exit 0; }
  sleep 0.2
done
echo "the API server did not come up; see $DIR/apiserver.log" >&2; exit 1
