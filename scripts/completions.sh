#!/usr/bin/env bash
# Writes tapview's shell completion scripts (bash, zsh, fish, powershell)
# into DIR, from the program itself (`tapview completion SHELL`), for the
# release archives. The scripts ask the binary for completions at run time
# (`tapview __complete ...`), so they depend on its name, not its commands.
set -euo pipefail
cd "$(dirname "$0")/.."
dir="${1:?usage: scripts/completions.sh DIR}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
# -trimpath like the release builds, so their compiled packages are reused.
CGO_ENABLED=0 go build -trimpath -o "$tmp/tapview" ./cmd/tapview
mkdir -p "$dir"
"$tmp/tapview" completion bash >"$dir/tapview.bash"
"$tmp/tapview" completion zsh >"$dir/_tapview"
"$tmp/tapview" completion fish >"$dir/tapview.fish"
"$tmp/tapview" completion powershell >"$dir/tapview.ps1"
for f in "$dir/tapview.bash" "$dir/_tapview" "$dir/tapview.fish" "$dir/tapview.ps1"; do
  grep -q __complete "$f" || { echo "completions: $f does not call tapview __complete" >&2; exit 1; }
done
