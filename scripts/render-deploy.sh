#!/usr/bin/env bash
# Writes deploy/*.yaml into OUTDIR with the tapview image pinned to TAG
# (the release's tag, the one scripts/build-image.sh gives the image), for
# the release archives. The manifests in the repository name :latest.
#
#   scripts/render-deploy.sh v1.2.3 OUTDIR
set -euo pipefail
cd "$(dirname "$0")/.."
tag="${1:?usage: scripts/render-deploy.sh TAG OUTDIR}"
outdir="${2:?usage: scripts/render-deploy.sh TAG OUTDIR}"
image="$(sed -n 's/^IMAGE=//p' scripts/build-image.sh)"
mkdir -p "$outdir"
for f in deploy/*.yaml; do
  sed "s#image: $image:latest\$#image: $image:$tag#" "$f" >"$outdir/$(basename "$f")"
  # Every tapview image reference must have been pinned.
  if grep -n "image: $image:" "$outdir/$(basename "$f")" | grep -v ":$tag\$"; then
    echo "render-deploy: $f names $image with a tag other than :latest; make it :latest" >&2
    exit 1
  fi
done
