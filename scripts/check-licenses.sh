#!/usr/bin/env bash
# Lists the licence of every module linked into cmd/tapview (read from the
# module cache) and fails when one is not a permissive licence compatible
# with shipping tapview under Apache-2.0 (Apache-2.0, BSD, MIT, ISC), or has
# no licence file at all. A light go-licenses: it classifies by the licence
# text's distinctive sentences, so a new kind of licence shows up as OTHER
# and needs a human decision.
set -euo pipefail
cd "$(dirname "$0")/.."
modcache="$(go env GOMODCACHE)"
bad=0
while read -r mod; do
  [ -n "$mod" ] || continue
  # The module cache escapes capital letters as !lower.
  dir="$modcache/$(printf '%s' "$mod" | sed 's/[A-Z]/!\L&/g')"
  file="$(ls "$dir"/LICENSE* "$dir"/LICENCE* "$dir"/COPYING* 2>/dev/null | head -1 || true)"
  kind=NONE
  if [ -n "$file" ]; then
    if grep -qi 'Apache License' "$file"; then kind=Apache-2.0
    elif grep -qi 'Redistribution and use' "$file"; then
      if grep -qi 'Neither the name\|names of its contributors' "$file"; then kind=BSD-3-Clause; else kind=BSD-2-Clause; fi
    elif grep -qi 'Permission is hereby granted' "$file"; then kind=MIT
    elif grep -qi 'Permission to use, copy, modify, and/or distribute' "$file"; then kind=ISC
    else kind=OTHER; fi
  fi
  printf '%-70s %s\n' "$mod" "$kind"
  case "$kind" in NONE|OTHER) bad=1 ;; esac
done < <(go list -deps -f '{{with .Module}}{{if not .Main}}{{.Path}}@{{.Version}}{{end}}{{end}}' ./cmd/tapview | sort -u)
if [ "$bad" != 0 ]; then
  echo "check-licenses: a dependency has no licence file or one not known to be permissive (see NONE/OTHER above); review it before release" >&2
  exit 1
fi
