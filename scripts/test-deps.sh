#!/usr/bin/env bash
# Installs what the test suite talks to: tshark (reads our exports and is
# the reference dissector), tmux (drives the real UI), goreleaser (checks the release config) and the
# npm HAR schema validator. Safe to rerun; installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v tshark >/dev/null 2>&1; then
  echo "test-deps: installing tshark (apt)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # tshark asks whether non-root users may capture; answer no, quietly.
  echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
  apt-get install -y -qq tshark >/dev/null
fi

if ! command -v tmux >/dev/null 2>&1; then
  echo "test-deps: installing tmux (apt), for the UI test that drives the real binary"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq tmux >/dev/null
fi

gobin="$(go env GOPATH)/bin"
if [ ! -x "$gobin/goreleaser" ]; then
  echo "test-deps: installing goreleaser (go install, takes a few minutes once)"
  go install github.com/goreleaser/goreleaser/v2@v2.12.7
fi

if [ -f scripts/har-validate/package.json ] && [ ! -d scripts/har-validate/node_modules ]; then
  echo "test-deps: installing the HAR schema validator (npm)"
  (cd scripts/har-validate && npm ci --silent --no-audit --no-fund)
fi
