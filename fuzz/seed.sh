#!/usr/bin/env bash
# Seeds the fuzz corpora from the project's own files: `check` from the examples, the stdlib
# and the test fixtures; `runtime_readers` from real plans (`deployc plan --format json`) each
# joined by a NUL byte to a scenario of the runtime tests, and from journals of simulated runs.
# Usage: fuzz/seed.sh [path/to/deployc]   (default: target/debug/deployc, built if missing)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
deployc="${1:-$root/target/debug/deployc}"
[ -x "$deployc" ] || cargo build --quiet
corpus="$root/fuzz/corpus"
mkdir -p "$corpus/check" "$corpus/runtime_readers"

cp examples/*.deploy stdlib/std/*.deploy "$corpus/check/"
find tests/fixtures -name '*.deploy' | while read -r f; do
  cp "$f" "$corpus/check/fx_$(echo "${f#tests/fixtures/}" | tr / _)"
done

# (file, release, environment) of plans that the runtime tests simulate or run.
plans=(
  "examples/quickstart.deploy 1.1.0 local"
  "examples/quickstart.deploy 1.2.0-bad local"
  "examples/checkout.deploy 2.1.0 production"
  "examples/checkout.deploy 2.1.0 staging"
  "examples/catalog-rolling.deploy 7.3.0 production"
  "tests/runtime/no-data-pause.deploy 1.1.0 staging"
  "tests/runtime/manual-decision.deploy 1.1.0 staging"
)
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
n=0
for p in "${plans[@]}"; do
  read -r file release env <<<"$p"
  if ! "$deployc" plan "$file" --release "$release" --env "$env" --format json >"$tmp/plan.json" 2>/dev/null; then
    echo "skipped: $file $release $env does not plan" >&2
    continue
  fi
  for s in tests/runtime/*.toml /dev/null; do
    n=$((n + 1))
    { cat "$tmp/plan.json"; printf '\0'; cat "$s"; } >"$corpus/runtime_readers/plan_$n"
  done
  n=$((n + 1))
  (cd "$tmp" && "$deployc" run "$root/$file" --release "$release" --env "$env" --dry-run --log-format json \
    >"$corpus/runtime_readers/journal_$n" 2>/dev/null) || true
done
echo "corpus: $(ls "$corpus/check" | wc -l) check inputs, $(ls "$corpus/runtime_readers" | wc -l) runtime_readers inputs"
