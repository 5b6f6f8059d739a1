#!/usr/bin/env bash
# kubernetes-e2e.sh — the kubernetes provider end to end against a real cluster.
#
# What it does, against the cluster that KUBECONFIG names (its current context, or
# DEPLOYC_E2E_CONTEXT):
#   1. creates a namespace of its own (deployc-e2e-<random>, or DEPLOYC_E2E_NAMESPACE),
#   2. creates a Deployment `demo` (4 replicas of nginx STABLE, with a readiness probe) and a
#      Service `demo`, and waits until the Deployment is available,
#   3. writes a `.deploy` file with `provider = kubernetes { … }` and a canary
#      (25% → 50% → 100%), and runs `deployc run` on release NEW,
#   4. checks the result: exit code 0, `demo` runs the NEW image with 4 replicas available, and
#      `demo-canary` is scaled to zero;
#   5. with DEPLOYC_E2E_BAD=1 it then deploys an image that does not exist and checks that
#      deployc rolls back (exit 1) and `demo` still runs NEW;
#   6. deletes the namespace (also on failure; DEPLOYC_E2E_KEEP=1 keeps it).
#
# Needs: kubectl, a cluster that can pull docker.io/library/nginx, and deployc (DEPLOYC, default
# `cargo run --release --` from this repository). The RBAC a service account needs is in
# docs/kubernetes.md.
#
# Usage:
#   KUBECONFIG=~/.kube/config scripts/kubernetes-e2e.sh
#   DEPLOYC=target/release/deployc STABLE=1.27.3-alpine NEW=1.27.4-alpine scripts/kubernetes-e2e.sh
set -euo pipefail

here="$(cd "$(dirname "$0")/.." && pwd)"
DEPLOYC="${DEPLOYC:-cargo run --quiet --release --manifest-path $here/Cargo.toml --}"
STABLE="${STABLE:-1.27.3-alpine}"
NEW="${NEW:-1.27.4-alpine}"
IMAGE="${IMAGE:-docker.io/library/nginx}"
NS="${DEPLOYC_E2E_NAMESPACE:-deployc-e2e-$RANDOM}"
TIMEOUT="${DEPLOYC_E2E_TIMEOUT:-3m}"

command -v kubectl >/dev/null || { echo "kubernetes-e2e: kubectl is needed" >&2; exit 2; }
: "${KUBECONFIG:=$HOME/.kube/config}"
export KUBECONFIG
[ -r "$KUBECONFIG" ] || { echo "kubernetes-e2e: no kubeconfig at $KUBECONFIG" >&2; exit 2; }
ctx=()
context_line=""
if [ -n "${DEPLOYC_E2E_CONTEXT:-}" ]; then
  ctx=(--context "$DEPLOYC_E2E_CONTEXT")
  context_line=", context = \"$DEPLOYC_E2E_CONTEXT\""
fi
k() { kubectl "${ctx[@]}" "$@"; }

work="$(mktemp -d)"
cleanup() {
  if [ "${DEPLOYC_E2E_KEEP:-0}" = 1 ]; then
    echo "kubernetes-e2e: kept namespace $NS and $work"
  else
    k delete namespace "$NS" --wait=false >/dev/null 2>&1 || true
    rm -rf "$work"
  fi
}
trap cleanup EXIT

echo "kubernetes-e2e: namespace $NS on $(k config current-context 2>/dev/null || echo '?')"
k create namespace "$NS" >/dev/null
k -n "$NS" apply -f - >/dev/null <<EOF
apiVersion: apps/v1
kind: Deployment
metadata:
  name: demo
  labels: {app: demo}
spec:
  replicas: 4
  selector:
    matchLabels: {app: demo}
  template:
    metadata:
      labels: {app: demo}
    spec:
      containers:
      - name: app
        image: $IMAGE:$STABLE
        ports: [{containerPort: 80}]
        readinessProbe:
          httpGet: {path: /, port: 80}
          periodSeconds: 2
---
apiVersion: v1
kind: Service
metadata:
  name: demo
spec:
  selector: {app: demo}
  ports: [{port: 80, targetPort: 80}]
EOF
k -n "$NS" rollout status deployment/demo --timeout=180s

release() {
  cat <<EOF
release "$1" {
  strategy = canary {
    analysis every 5s, no_data fail after 3
    step 25% for 10s
    step 50% for 10s
    step 100%
  }
}
EOF
}

cat >"$work/demo.deploy" <<EOF
service demo {
}

environment cluster {
  provider = kubernetes { namespace = "$NS", deployment = "demo", container = "app", image = "$IMAGE:{version}", service = "demo", replicas = 4, kubeconfig = env KUBECONFIG, timeout = $TIMEOUT$context_line }
}

$(release "$STABLE")
$(release "$NEW")
$(release "9.9.9-does-not-exist")
EOF
cat >"$work/deployc.toml" <<'EOF'
# An end-to-end check of the provider, not a production runbook.
[rules]
C501 = "allow"
C502 = "allow"
C505 = "allow"
R301 = "allow"
R305 = "allow"
S403 = "allow"
T801 = "allow"
EOF

fail() { echo "kubernetes-e2e: FAILED: $*" >&2; exit 1; }

echo "kubernetes-e2e: deployc run --dry-run"
$DEPLOYC run "$work/demo.deploy" --release "$NEW" --env cluster --dry-run >"$work/dry-run.txt"
grep -q "PATCH /apis/apps/v1/namespaces/$NS/deployments/demo-canary" "$work/dry-run.txt" ||
  fail "the dry run does not show the canary's apply"

echo "kubernetes-e2e: deployc run --release $NEW"
set +e
$DEPLOYC run "$work/demo.deploy" --release "$NEW" --env cluster
code=$?
set -e
[ "$code" = 0 ] || fail "deployc run exited $code"
image="$(k -n "$NS" get deployment demo -o jsonpath='{.spec.template.spec.containers[0].image}')"
[ "$image" = "$IMAGE:$NEW" ] || fail "demo runs $image, not $IMAGE:$NEW"
available="$(k -n "$NS" get deployment demo -o jsonpath='{.status.availableReplicas}')"
[ "$available" = 4 ] || fail "demo has $available replicas available, not 4"
canary="$(k -n "$NS" get deployment demo-canary -o jsonpath='{.spec.replicas}')"
[ "$canary" = 0 ] || fail "demo-canary still has $canary replicas"
manager="$(k -n "$NS" get deployment demo --show-managed-fields -o jsonpath='{.metadata.managedFields[*].manager}')"
case " $manager " in *" deployc "*) ;; *) fail "deployc is not a field manager of demo ($manager)" ;; esac

if [ "${DEPLOYC_E2E_BAD:-0}" = 1 ]; then
  echo "kubernetes-e2e: deployc run --release 9.9.9-does-not-exist (expects a rollback)"
  set +e
  $DEPLOYC run "$work/demo.deploy" --release 9.9.9-does-not-exist --env cluster
  code=$?
  set -e
  [ "$code" = 1 ] || fail "the bad release exited $code, not 1"
  image="$(k -n "$NS" get deployment demo -o jsonpath='{.spec.template.spec.containers[0].image}')"
  [ "$image" = "$IMAGE:$NEW" ] || fail "after the rollback demo runs $image"
fi

echo "kubernetes-e2e: passed"
