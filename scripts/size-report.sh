#!/usr/bin/env bash
# What each dependency costs in the release binary: builds cmd/tapview as
# the release does (linux/amd64, -trimpath, CGO_ENABLED=0), prints the
# stripped size (-s -w), then sums `go tool nm -size` over the symbols that
# occupy the file (code and read-only data, not BSS), by import path cut
# to DEPTH elements (default 3), largest first. The line table
# (.gopclntab) adds roughly 0.8 bytes per byte of code on top.
#
#   scripts/size-report.sh [DEPTH] [TOP]
set -euo pipefail
cd "$(dirname "$0")/.."
depth="${1:-3}"
top="${2:-30}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
export CGO_ENABLED=0 GOOS=linux GOARCH=amd64
go build -trimpath -ldflags='-s -w' -o "$tmp/stripped" ./cmd/tapview
go build -trimpath -o "$tmp/full" ./cmd/tapview
echo "stripped linux/amd64 binary: $(stat -c %s "$tmp/stripped") bytes"
go tool nm -size -sort size "$tmp/full" | awk -v depth="$depth" '
  $3 == "T" || $3 == "t" || $3 == "R" || $3 == "r" {
    name = $4
    sub(/^(type:\.?eq\.|type:|go:itab\.)/, "", name)
    gsub(/^\*+/, "", name)
    # generic instantiations name other packages inside [...]: the symbol
    # belongs to the package before them, whose path ends at the first dot
    # after its last slash
    sub(/[\[(].*/, "", name)
    n = split(name, parts, "/")
    last = parts[n]; sub(/\..*/, "", last); parts[n] = last
    key = parts[1]
    for (i = 2; i <= n && i <= depth; i++) key = key "/" parts[i]
    sum[key] += $2; total += $2
  }
  END {
    for (k in sum) printf "%9.2f MB  %s\n", sum[k] / 1e6, k
    printf "%9.2f MB  (all code and read-only data symbols)\n", total / 1e6 > "/dev/stderr"
  }' | sort -rn | head -n "$top"
