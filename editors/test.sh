#!/usr/bin/env bash
# Editor support tests: the tree-sitter grammar (corpus, highlights, queries, every .deploy file
# of the project), the TextMate grammar (scope assertions and snapshots), the Vim syntax, and
# packaging of the VS Code extension. Installs what it needs when it is missing.
set -euo pipefail

editors="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$editors/.." && pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

step() { printf '\n== editors: %s\n' "$*"; }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
apt_install() {
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "$@"
}

# The project's .deploy files that must parse: examples, the stdlib and the parse fixtures.
project_files() {
  local dir
  for dir in examples stdlib tests/fixtures/parse/ok; do
    if [ -d "$root/$dir" ]; then
      find "$root/$dir" -type f -name '*.deploy'
    fi
  done | sort
}

# ---------------------------------------------------------------------------------------------
step "tools"
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
if ! command -v cc >/dev/null 2>&1; then
  apt_install gcc libc6-dev
fi
if ! command -v tree-sitter >/dev/null 2>&1; then
  cargo install --locked tree-sitter-cli
fi
if ! command -v vim >/dev/null 2>&1; then
  apt_install vim
fi
if ! command -v npm >/dev/null 2>&1; then
  apt_install nodejs npm
fi
if ! command -v unzip >/dev/null 2>&1; then
  apt_install unzip
fi
tree-sitter --version
vim --version | head -n 1
echo "node $(node --version), npm $(npm --version)"

# A private tree-sitter configuration, so that the user's is neither needed nor changed.
export TREE_SITTER_DIR="$tmp/tree-sitter"
mkdir -p "$TREE_SITTER_DIR"
mkdir -p "$TREE_SITTER_DIR/parsers"
printf '{"parser-directories": ["%s"]}\n' "$TREE_SITTER_DIR/parsers" > "$TREE_SITTER_DIR/config.json"

# ---------------------------------------------------------------------------------------------
step "tree-sitter generate"
# Work on a copy, so that a tree-sitter version other than the one that generated the
# committed parser does not rewrite src/ in the checkout.
grammar="$tmp/tree-sitter-deploy"
mkdir -p "$grammar"
cp -r "$editors/tree-sitter-deploy/." "$grammar/"
rm -rf "$grammar/node_modules" "$grammar/build"
cd "$grammar"
tree-sitter generate
if ! diff -q "$editors/tree-sitter-deploy/src/grammar.json" src/grammar.json >/dev/null; then
  echo "src/ is out of date with grammar.js: run \`tree-sitter generate\` in editors/tree-sitter-deploy and commit src/" >&2
  exit 1
fi
echo "ok"

step "tree-sitter test (corpus and highlight assertions)"
tree-sitter test

step "queries compile against the grammar"
for query in queries/*.scm "$editors"/helix/queries/deploy/*.scm; do
  tree-sitter query "$query" test/highlight/release.deploy >/dev/null
  echo "ok ${query#"$editors"/}"
done

step "Helix queries are generated from the tree-sitter queries"
"$editors/helix/generate.sh" "$tmp/helix"
diff -r "$tmp/helix" "$editors/helix/queries/deploy"
echo "ok"

step "every .deploy file of the project parses without ERROR or MISSING nodes"
mapfile -t files < <(project_files)
failed=0
for file in "${files[@]}"; do
  if ! out="$(tree-sitter parse --quiet "$file" 2>&1)" || grep -qE 'ERROR|MISSING' <<<"$out"; then
    echo "FAIL ${file#"$root"/}"
    tree-sitter parse "$file" 2>/dev/null | grep -E 'ERROR|MISSING' | head -n 5 | sed 's/^/    /'
    failed=$((failed + 1))
  fi
done
echo "${#files[@]} files, $failed with syntax errors"
[ "$failed" -eq 0 ]

# ---------------------------------------------------------------------------------------------
step "npm ci (VS Code extension)"
cd "$editors/vscode"
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi

step "vscode-tmgrammar-test (scope assertions)"
npm run --silent test:scopes

step "vscode-tmgrammar-snap (snapshots of the project's .deploy files)"
# Strict: a .deploy file changed without its snapshot fails, as insta's snapshots do in CI.
DEPLOY_SNAP_STRICT=1 npm run --silent test:snap

step "vsce package"
# With its production dependencies (vscode-languageclient), which the extension loads.
npx --no-install vsce package --out "$tmp/deploy-language.vsix"
# The listing is read whole: `grep -q` would stop reading at the first match, and `unzip`,
# killed by SIGPIPE, would fail the pipeline under `pipefail`.
listing="$(unzip -l "$tmp/deploy-language.vsix")"
if ! grep -q 'node_modules/vscode-languageclient/' <<<"$listing"; then
  echo "the package lacks vscode-languageclient" >&2
  exit 1
fi

# ---------------------------------------------------------------------------------------------
step "Vim (headless)"
cd "$root"
vim -Es -N -u NONE -i NONE -S "$editors/vim/test/run.vim"

# ---------------------------------------------------------------------------------------------
step "language server: pytest-lsp and Neovim headless"
"$editors/lsp/test.sh"

step "all editor tests passed"
