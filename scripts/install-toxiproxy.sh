#!/usr/bin/env bash
# Build the real Toxiproxy server and CLI from the Go module proxy into ./bin (pinned, cached).
set -euo pipefail
set -E  # the ERR trap below also fires inside functions and subshells
trap 'echo "[setup] error: scripts/install-toxiproxy.sh line $LINENO: \`$BASH_COMMAND\` exited $?" >&2' ERR
cd "$(dirname "$0")/.."
version=${TOXIPROXY_VERSION:-v2.12.0}
stamp="$version ldflags-version"  # what bin/.toxiproxy-version must say for the binaries to be reused
bin="$(pwd)/bin"
mkdir -p "$bin"
if [ -x "$bin/toxiproxy-server" ] && [ -x "$bin/toxiproxy-cli" ] && \
   [ "$(cat "$bin/.toxiproxy-version" 2>/dev/null)" = "$stamp" ]; then
  echo "[setup] toxiproxy $version present in bin/"
  exit 0
fi
command -v go >/dev/null 2>&1 || { echo "[setup] 'go' is required to build Toxiproxy $version (apt-get install golang-go)" >&2; exit 1; }
echo "[setup] building toxiproxy $version with go install (first time only)"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# Stamp the version as Toxiproxy's own release build does (otherwise `/version` answers "git").
ldflags="-s -w -X github.com/Shopify/toxiproxy/v2.Version=${version#v}"
GOBIN="$tmp" CGO_ENABLED=0 go install -ldflags="$ldflags" "github.com/Shopify/toxiproxy/v2/cmd/server@$version"
GOBIN="$tmp" CGO_ENABLED=0 go install -ldflags="$ldflags" "github.com/Shopify/toxiproxy/v2/cmd/cli@$version"
mv "$tmp/server" "$bin/toxiproxy-server"
mv "$tmp/cli" "$bin/toxiproxy-cli"
echo "$stamp" > "$bin/.toxiproxy-version"
echo "[setup] toxiproxy $version installed: $bin/toxiproxy-server"
