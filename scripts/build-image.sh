#!/usr/bin/env bash
# Builds tapview's container image as a tarball (no Docker engine, no base
# image: scripts/build-image puts the static binary into one layer) and
# checks it: unpacks the layer into a root file system and runs the
# binary from there (chrooted as the image's user when run as root) with
# `version -o json`, which must report VERSION.
#
#   scripts/build-image.sh [BINARY VERSION]
#
# BINARY is a static linux binary built with -X main.version=VERSION (the
# release's dist/tapview_linux_amd64_v1/tapview); without arguments one is
# built here from the checkout. The image is IMAGE:vVERSION (plus :latest),
# written to ${OUT:-dist}/tapview-image.tar; load it with `docker load -i`
# or push it with `crane push`.
set -euo pipefail
cd "$(dirname "$0")/.."

# The image repository. deploy/*.yaml name it (scripts/deploy-check
# compares), and scripts/render-deploy.sh pins them to the tag made here.
IMAGE=ghcr.io/tapview/tapview

out="${OUT:-dist}"
mkdir -p "$out"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

bin="${1:-}"
version="${2:-}"
if [ -z "$bin" ]; then
  version="0.0.0-dev.$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)"
  bin="$work/tapview"
  CGO_ENABLED=0 GOOS=linux GOARCH=amd64 go build -trimpath \
    -ldflags "-s -w -X main.version=$version -X main.commit=$(git rev-parse HEAD 2>/dev/null)" -o "$bin" ./cmd/tapview
fi
[ -n "$version" ] || { echo "build-image: give VERSION with BINARY" >&2; exit 2; }
tag="v${version#v}"

ca=()
[ -f /etc/ssl/certs/ca-certificates.crt ] && ca=(-ca-certs /etc/ssl/certs/ca-certificates.crt)
go run ./scripts/build-image -binary "$bin" -image "$IMAGE" -tag "$tag" -latest \
  -revision "$(git rev-parse HEAD 2>/dev/null || true)" "${ca[@]}" -o "$out/tapview-image.tar"

# Check: the tarball's manifest, config and layer, then run it.
mkdir -p "$work/img" "$work/rootfs"
tar -xf "$out/tapview-image.tar" -C "$work/img"
manifest="$(cat "$work/img/manifest.json")"
grep -q "\"$IMAGE:$tag\"" <<<"$manifest" || { echo "build-image: $IMAGE:$tag not in manifest.json: $manifest" >&2; exit 1; }
config="$(sed -n 's/.*"Config":"\([^"]*\)".*/\1/p' <<<"$manifest")"
layers="$(grep -o '"Layers":\[[^]]*\]' <<<"$manifest" | grep -o '"[^"]*\.tar\.gz"\|"sha256:[^"]*"' | tr -d '"')"
for want in '"User":"65532:65532"' '"Entrypoint":\["/usr/local/bin/tapview"\]' "\"org.opencontainers.image.version\":\"$tag\""; do
  grep -q "$want" "$work/img/$config" || { echo "build-image: config lacks $want" >&2; cat "$work/img/$config" >&2; exit 1; }
done
for l in $layers; do
  tar -xzf "$work/img/$l" -C "$work/rootfs"
done
if [ "$(id -u)" = 0 ] && command -v chroot >/dev/null; then
  got="$(chroot --userspec=65532:65532 "$work/rootfs" /usr/local/bin/tapview version -o json)"
else
  got="$("$work/rootfs/usr/local/bin/tapview" version -o json)"
fi
grep -q "\"version\":\"$version\"" <<<"$got" || { echo "build-image: the image's tapview says $got, want version $version" >&2; exit 1; }
echo "build-image: $out/tapview-image.tar ($IMAGE:$tag, $(du -h "$out/tapview-image.tar" | cut -f1)) runs: $got"
