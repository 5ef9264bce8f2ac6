#!/usr/bin/env bash
# A real S3-compatible server on loopback for tests and benchmarks:
# SeaweedFS's S3 gateway, built from its Go module (Apache-2.0).
#
#   scripts/s3-server.sh build          build weed once (cached), print its path
#   scripts/s3-server.sh start DIR [--tls CERT KEY]
#                                       start a server with its data in DIR; print
#                                       the endpoint and credentials as env lines.
#                                       With --tls the S3 gateway also serves HTTPS
#                                       on a second port (TAPVIEW_S3_ENDPOINT_TLS)
#                                       with the PEM certificate (chain) and key
#                                       given; a restart of DIR serves them again
#   scripts/s3-server.sh stop DIR       stop the server started in DIR (a later
#                                       start DIR reuses its ports and data)
#   scripts/s3-server.sh path           print where the cached binary is (or would be)
#
# Typical use:
#   eval "$(scripts/s3-server.sh start /tmp/s3)"
#   aws --endpoint-url "$TAPVIEW_S3_ENDPOINT" s3 mb s3://captures
#   tapview open --s3-endpoint "$TAPVIEW_S3_ENDPOINT" --s3-path-style s3://captures/
#   scripts/s3-server.sh stop /tmp/s3
#
# weed is built with `go build` inside the downloaded module, not `go
# install pkg@version`: SeaweedFS's go.mod has replace directives, which
# go install refuses. The binary is kept per version in the same cache as
# goreleaser (scripts/test-deps.sh), so only the first run pays the
# several-minute build.
set -euo pipefail

WEED_MODULE=github.com/seaweedfs/seaweedfs
# SeaweedFS tags its releases without a "v" (3.99), which Go does not
# read as semantic versions, so the module is pinned by pseudo-version.
WEED_VERSION=v0.0.0-20261109003541-7506e5f91cd6
cache_dir="${TAPVIEW_CI_CACHE:-$HOME/.cache/tapview-ci}"
weed_bin="$cache_dir/weed-$WEED_VERSION"
access_key=tapview
secret_key=tapview-secret

die() { echo "s3-server: $*" >&2; exit 1; }

build() {
  if [ -x "$weed_bin" ]; then
    echo "$weed_bin"
    return
  fi
  echo "s3-server: building SeaweedFS weed $WEED_VERSION (several minutes, once per machine)" >&2
  local dir
  dir="$(go mod download -json "$WEED_MODULE@$WEED_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
  [ -n "$dir" ] || die "go mod download $WEED_MODULE@$WEED_VERSION gave no directory (is the Go module proxy reachable?)"
  mkdir -p "$cache_dir"
  # The module cache is read-only but building in it writes nothing there.
  (cd "$dir" && GOFLAGS=-buildvcs=false go build -trimpath -o "$weed_bin.tmp" ./weed) \
    || die "building weed failed (see above); tests that need an S3 server will skip"
  mv "$weed_bin.tmp" "$weed_bin"
  echo "$weed_bin"
}

# free_ports prints five distinct unused loopback ports below 55000 whose
# port + 10000 (weed's gRPC port for each) is unused too. The sockets are
# held until all five are chosen, so the kernel cannot hand out the same
# port twice (picking them one at a time did, and two of weed's servers
# then fought over one port).
free_ports() {
  python3 - <<'PY'
import socket
held, ports = [], []
while len(ports) < 5:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    held.append(s)
    if p >= 55000 or p in ports or p + 10000 in ports or p - 10000 in ports:
        continue
    g = socket.socket()
    try:
        g.bind(("127.0.0.1", p + 10000))
    except OSError:
        continue
    held.append(g)
    ports.append(p)
print(" ".join(map(str, ports)))
for s in held:
    s.close()
PY
}

start() {
  local dir="${1:?usage: s3-server.sh start DIR [--tls CERT KEY]}"
  shift
  local bin
  bin="$(build)"
  mkdir -p "$dir/data"
  dir="$(cd "$dir" && pwd)"
  if [ "${1:-}" = --tls ]; then
    [ -r "${2:-}" ] && [ -r "${3:-}" ] || die "--tls CERT KEY: give readable PEM files of the server certificate and its key"
    # Kept in DIR so that a restart (start DIR alone) serves them again.
    printf '%s\n%s\n' "$(cd "$(dirname "$2")" && pwd)/$(basename "$2")" "$(cd "$(dirname "$3")" && pwd)/$(basename "$3")" > "$dir/tls"
  elif [ -n "${1:-}" ]; then
    die "start DIR: unknown argument $1 (only --tls CERT KEY)"
  fi
  if [ -f "$dir/pid" ] && kill -0 "$(cat "$dir/pid")" 2>/dev/null; then
    die "a server is already running for $dir (pid $(cat "$dir/pid")); stop it with: $0 stop $dir"
  fi
  cat > "$dir/s3.json" <<JSON
{"identities": [{"name": "tapview",
  "credentials": [{"accessKey": "$access_key", "secretKey": "$secret_key"}],
  "actions": ["Admin", "Read", "List", "Tagging", "Write"]}]}
JSON
  local s3 master volume filer https endpoint i attempt fresh=1
  # A restart keeps its ports, so clients (and the writer's retry test)
  # find the store where it was.
  [ -f "$dir/ports" ] && fresh=0
  for attempt in 1 2 3; do
    [ -f "$dir/ports" ] || free_ports > "$dir/ports"
    read -r s3 master volume filer https < "$dir/ports"
    local tls=()
    if [ -f "$dir/tls" ]; then
      local cert key
      { read -r cert; read -r key; } < "$dir/tls"
      [ -n "$https" ] || die "$dir was first started by an older s3-server.sh without a port for HTTPS: use a new DIR"
      # With -s3.port.https weed serves HTTPS there and plain HTTP on
      # -s3.port, so tests of either share one server.
      tls=(-s3.cert.file="$cert" -s3.key.file="$key" -s3.port.https="$https")
    fi
    # One process runs master, volume, filer and the S3 gateway, with the
    # fixed-port extras (Iceberg and Lance catalogs) off so servers of
    # parallel tests cannot collide. Small volumes keep the data
    # directory small; -volume.max 0 lets it create as many as the disk
    # allows. Telemetry (on by default, to telemetry.seaweedfs.com) is
    # off: tests send nothing beyond loopback. The one master elects
    # itself after -master.electionTimeout when it restarts with its
    # raft state; at the default 10 s a restarted store refused writes
    # for 15-25 s, at 2 s it takes a few.
    setsid "$bin" server -dir="$dir/data" -ip=127.0.0.1 -ip.bind=127.0.0.1 \
      -master.port="$master" -master.port.grpc="$((master + 10000))" -master.volumeSizeLimitMB=256 \
      -volume.port="$volume" -volume.port.grpc="$((volume + 10000))" -volume.max=0 \
      -filer -filer.port="$filer" -filer.port.grpc="$((filer + 10000))" \
      -s3 -s3.port="$s3" -s3.port.grpc="$((s3 + 10000))" -s3.config="$dir/s3.json" \
      -s3.port.iceberg=0 -s3.port.lance=0 "${tls[@]}" -master.telemetry=false -master.electionTimeout=2s \
      >"$dir/weed.log" 2>&1 </dev/null &
    echo $! > "$dir/pid"
    endpoint="http://127.0.0.1:$s3"
    # Ready when the S3 gateway answers a signed-less request with any
    # HTTP status (403 for an anonymous ListBuckets).
    for i in $(seq 1 600); do
      if curl -s -o /dev/null -w '%{http_code}' "$endpoint/" 2>/dev/null | grep -q '^[2-5]'; then
        break 2
      fi
      if ! kill -0 "$(cat "$dir/pid")" 2>/dev/null; then
        # Another process may have taken a chosen port between the
        # choice and weed's bind: fresh ports are chosen again.
        if [ "$fresh" = 1 ] && [ "$attempt" -lt 3 ] && grep -q "address already in use" "$dir/weed.log"; then
          rm -rf "$dir/ports" "$dir/data" && mkdir -p "$dir/data"
          continue 2
        fi
        tail -20 "$dir/weed.log" >&2
        die "weed exited while starting (log: $dir/weed.log)"
      fi
      sleep 0.1
    done
    break
  done
  [ "$i" -lt 600 ] || die "the S3 gateway did not answer on $endpoint within 60 s (log: $dir/weed.log)"
  cat <<ENV
export TAPVIEW_S3_ENDPOINT=$endpoint
export AWS_ACCESS_KEY_ID=$access_key
export AWS_SECRET_ACCESS_KEY=$secret_key
export AWS_REGION=us-east-1
export TAPVIEW_S3_DIR=$dir
ENV
  [ ! -f "$dir/tls" ] || echo "export TAPVIEW_S3_ENDPOINT_TLS=https://127.0.0.1:$https"
}

stop() {
  local dir="${1:?usage: s3-server.sh stop DIR}"
  [ -f "$dir/pid" ] || die "no server was started in $dir"
  local pid
  pid="$(cat "$dir/pid")"
  # setsid made weed a process-group leader: stop the group. weed takes
  # many seconds over a graceful stop; what it has written is in files
  # already (volumes, the filer's leveldb log), so after a short grace it
  # is killed, and a restart finds the data.
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  local i
  for i in $(seq 1 10); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL -- "-$pid" 2>/dev/null || true
  rm -f "$dir/pid"
}

case "${1:-}" in
  build) build ;;
  path) echo "$weed_bin" ;;
  start) shift; start "$@" ;;
  stop) shift; stop "$@" ;;
  *) die "usage: $0 build | path | start DIR | stop DIR" ;;
esac
