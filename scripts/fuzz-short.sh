#!/usr/bin/env bash
# Runs every native fuzz target in the module for a short time (default 3s
# each), as CI's smoke test that the parsers survive fresh random input.
#
# A finding (a failing input written under testdata/fuzz, a panic, a test
# failure) fails the run. With a short -fuzztime, Go can also report only
# "context deadline exceeded" when one slow input is still running as time
# runs out; that says nothing about the code, so the target is run once
# more and, if it happens again, reported as a warning.
set -euo pipefail
cd "$(dirname "$0")/.."
t="${1:-3s}"
fail=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT

run() { go test -run '^$' -fuzz "^${2}\$" -fuzztime "$t" "$1" >"$log" 2>&1; }

only_deadline() {
  grep -q "context deadline exceeded" "$log" && ! grep -qE "Failing input written|panic:|--- FAIL: .*\(.*\)\s*$" <(grep -v "context deadline exceeded" "$log" | grep -v "^--- FAIL: $1 ")
}

for pkg in $(go list ./...); do
  for fz in $(go test -list '^Fuzz' "$pkg" 2>/dev/null | grep '^Fuzz' || true); do
    echo "fuzz: $pkg $fz ($t)"
    run "$pkg" "$fz" && continue
    if only_deadline "$fz"; then
      echo "fuzz: $fz: deadline hit during a slow input, running again"
      run "$pkg" "$fz" && continue
      if only_deadline "$fz"; then
        echo "fuzz: warning: $pkg $fz hit the deadline twice on slow inputs (no failing input)"
        continue
      fi
    fi
    cat "$log"; fail=1
  done
done
exit $fail
