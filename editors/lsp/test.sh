#!/usr/bin/env bash
# The language server under real clients: pytest-lsp over the binary's stdio (every
# feature, on the examples) and Neovim headless attached to `deployc lsp`. Installs what it
# needs when it is missing. DEPLOYC names the binary (default: target/debug/deployc, built
# when missing).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
deployc="${DEPLOYC:-$root/target/debug/deployc}"

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

if [ ! -x "$deployc" ]; then
  (cd "$root" && cargo build --bin deployc)
fi
# The tests run from this directory: the binary's path must not depend on where we were.
deployc="$(cd "$(dirname "$deployc")" && pwd)/$(basename "$deployc")"
if ! python3 -c 'import pytest_lsp' >/dev/null 2>&1; then
  python3 -m pip install --quiet 'pytest-lsp>=1,<2'
fi
if ! command -v nvim >/dev/null 2>&1; then
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq neovim
fi

echo "== lsp: pytest-lsp"
(cd "$here" && DEPLOYC="$deployc" python3 -m pytest -q -p no:cacheprovider)

echo "== lsp: Neovim $(nvim --version | head -n 1)"
DEPLOYC="$deployc" nvim --headless -u NONE -i NONE -c "luafile $here/nvim_test.lua"
echo "ok"
