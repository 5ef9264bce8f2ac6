#!/usr/bin/env bash
# Runs every native fuzz target in the module for a short time (default 3s
# each), as CI's smoke test that the parsers survive fresh random input.
set -euo pipefail
cd "$(dirname "$0")/.."
t="${1:-3s}"
fail=0
for pkg in $(go list ./...); do
  for fz in $(go test -list '^Fuzz' "$pkg" 2>/dev/null | grep '^Fuzz' || true); do
    echo "fuzz: $pkg $fz ($t)"
    if ! go test -run '^$' -fuzz "^${fz}\$" -fuzztime "$t" "$pkg" >/tmp/fuzz.$$.log 2>&1; then
      cat /tmp/fuzz.$$.log; fail=1
    fi
  done
done
rm -f /tmp/fuzz.$$.log
exit $fail
