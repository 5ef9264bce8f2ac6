#!/usr/bin/env bash
# CI: a snapshot release for linux/amd64 (goreleaser release --snapshot),
# then checks what a user downloads: the archive holds
# both binaries, the man pages (equal to docs/man), completions, the
# kubectl completion helper, deploy/ pinned to the release's tag, LICENSE
# and README; the binaries report the release's version and the plugin
# name; the krew manifest fills and validates from checksums.txt; the
# image tarball builds from the released binary and runs it.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:$(go env GOPATH)/bin"

fail() { echo "release-snapshot: $*" >&2; exit 1; }

# goreleaser's release command has no --single-target: the same
# configuration with the platform lists cut to linux/amd64 keeps CI fast.
x="$(mktemp -d)"
trap 'rm -rf "$x"' EXIT
sed -e 's/^    goos: \[linux, darwin, windows\]$/    goos: [linux]/' \
  -e 's/^    goarch: \[amd64, arm64\]$/    goarch: [amd64]/' goreleaser.yaml >"$x/goreleaser-ci.yaml"
[ "$(grep -c '^    goos: \[linux\]$' "$x/goreleaser-ci.yaml")" = 2 ] && [ "$(grep -c '^    goarch: \[amd64\]$' "$x/goreleaser-ci.yaml")" = 2 ] ||
  fail "goreleaser.yaml's goos/goarch lines changed; update the sed above"
goreleaser release --snapshot --clean --config "$x/goreleaser-ci.yaml"
version="$(sed -n 's/.*"version":"\([^"]*\)".*/\1/p' dist/metadata.json)"
[ -n "$version" ] || fail "no version in dist/metadata.json"
archive="dist/tapview_${version}_linux_amd64.tar.gz"
[ -f "$archive" ] || fail "$archive missing: $(ls dist)"

listing="$(tar -tzf "$archive" | sed 's#^\./##' | sort)"
want=(tapview kubectl-tapview LICENSE README.md kubectl_complete-tapview
  completions/tapview.bash completions/_tapview completions/tapview.fish completions/tapview.ps1
  deploy/sink.yaml deploy/agent-daemonset.yaml deploy/rbac.yaml)
for m in docs/man/*.1; do want+=("man/$(basename "$m")"); done
for f in "${want[@]}"; do
  grep -qx "$f" <<<"$listing" || fail "$archive lacks $f; it holds: $(tr '\n' ' ' <<<"$listing")"
done

mkdir "$x/archive"
x="$x/archive"
tar -xzf "$archive" -C "$x"
for m in docs/man/*.1; do cmp -s "$m" "$x/man/$(basename "$m")" || fail "man/$(basename "$m") differs from $m"; done
grep -q "image: ghcr.io/tapview/tapview:v$version\$" "$x/deploy/sink.yaml" || fail "deploy/sink.yaml in the archive does not name the image v$version"
got="$("$x/tapview" version -o json)"
grep -q "\"version\":\"$version\"" <<<"$got" || fail "tapview version says $got, want $version"
grep -q '"commit":"[0-9a-f]\{40\}"' <<<"$got" || fail "tapview version has no commit: $got"
"$x/kubectl-tapview" attach --help | grep -q '^  kubectl tapview attach' || fail "kubectl-tapview help does not say 'kubectl tapview attach'"
grep -q '__complete' "$x/completions/tapview.bash" || fail "bash completion does not call __complete"

go run ./scripts/krew-manifest -tag "v$version" -checksums dist/checksums.txt -partial -o dist/krew/tapview.yaml
sum="$(sha256sum "$archive" | cut -d' ' -f1)"
grep -q "sha256: \"$sum\"" dist/krew/tapview.yaml || fail "krew manifest does not carry the archive's sha256 $sum"

OUT=dist bash scripts/build-image.sh dist/tapview_linux_amd64_v1/tapview "$version"
echo "release-snapshot: $archive ($(du -h "$archive" | cut -f1)), dist/krew/tapview.yaml, dist/tapview-image.tar: all checked"
