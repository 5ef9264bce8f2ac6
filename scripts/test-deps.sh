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

# The mesh bed (scripts/meshbed.sh, TestMeshBedLive, as root): iptables
# for the sidecar's nat rules, dnsmasq as the cluster DNS, tcpdump for
# the capture, setpriv to run the proxy as its own uid.
missing=()
command -v iptables-restore >/dev/null 2>&1 || missing+=(iptables)
command -v dnsmasq >/dev/null 2>&1 || missing+=(dnsmasq-base)
command -v tcpdump >/dev/null 2>&1 || missing+=(tcpdump)
command -v setpriv >/dev/null 2>&1 || missing+=(util-linux)
if [ "${#missing[@]}" -gt 0 ]; then
  echo "test-deps: installing ${missing[*]} (apt), for the mesh bed"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# zstd compresses captures for the compressed-capture tests; curl and
# python3 are the HTTP client and server of scripts/record-tunnels.sh.
for tool in zstd curl python3; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "test-deps: installing $tool (apt), for the compressed-capture and tunnel tests"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "$tool" >/dev/null
  fi
done

# goreleaser: no registry this CI reaches serves a prebuilt one (the npm
# package downloads it from GitHub at install time), so it is compiled once
# (~14 min) and the binary kept per version in a cache that outlives the
# checkout; later runs copy it (well under a second) and a version bump
# compiles again.
gobin="$(go env GOPATH)/bin"
gr_version=v2.12.7
gr_cache="${TAPVIEW_CI_CACHE:-$HOME/.cache/tapview-ci}/goreleaser-$gr_version"
if ! "$gobin/goreleaser" --version 2>/dev/null | grep -q "GitVersion: *$gr_version\$"; then
  if [ -x "$gr_cache" ]; then
    echo "test-deps: goreleaser $gr_version from $gr_cache"
    mkdir -p "$gobin" && cp "$gr_cache" "$gobin/goreleaser"
  else
    echo "test-deps: installing goreleaser $gr_version (go install, ~14 min once per machine)"
    go install "github.com/goreleaser/goreleaser/v2@$gr_version"
  fi
fi
if [ ! -x "$gr_cache" ]; then
  mkdir -p "$(dirname "$gr_cache")" && cp "$gobin/goreleaser" "$gr_cache.tmp" && mv "$gr_cache.tmp" "$gr_cache"
fi

if [ -f scripts/har-validate/package.json ] && [ ! -d scripts/har-validate/node_modules ]; then
  echo "test-deps: installing the HAR schema validator (npm)"
  (cd scripts/har-validate && npm ci --silent --no-audit --no-fund)
fi

# MariaDB server and client: scripts/record-mysql.sh re-records the
# decode/mysql capture, and its tests start nothing themselves.
if ! command -v mariadb >/dev/null 2>&1 || ! [ -x /usr/sbin/mariadbd ]; then
  echo "test-deps: installing mariadb-server mariadb-client (apt), for scripts/record-mysql.sh"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq mariadb-server mariadb-client >/dev/null
fi

# redis-server and redis-cli: scripts/record-redis.sh re-records the Redis
# capture in testdata/redis (the tests read the committed one).
if ! command -v redis-server >/dev/null 2>&1 || ! command -v redis-cli >/dev/null 2>&1; then
  echo "test-deps: installing redis-server redis-tools (apt), for scripts/record-redis.sh"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq redis-server redis-tools >/dev/null
fi

# PostgreSQL 15 server and psql: scripts/record-postgres.sh re-records
# testdata/postgres (decode/postgres tests read the committed capture).
if ! command -v psql >/dev/null 2>&1 || [ ! -x /usr/lib/postgresql/15/bin/postgres ]; then
  echo "test-deps: installing postgresql and postgresql-client (apt), for scripts/record-postgres.sh"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq postgresql postgresql-client >/dev/null
fi

# SeaweedFS (weed), the S3 server the storage tests start on loopback
# (scripts/s3-server.sh): built from its Go module once (several minutes)
# and cached per version next to goreleaser; later runs find it there.
scripts/s3-server.sh build >/dev/null
