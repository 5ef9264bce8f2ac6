#!/usr/bin/env bash
# Records TLS sessions with their key logs (issue 20 item 3): openssl
# s_server and s_client on the loopback interface of a network namespace
# of this script's own, tcpdump on that loopback.
#
#   psk-chacha   TLS 1.2 with the four PSK ChaCha20-Poly1305 suites
#                (0xCCAB PSK, 0xCCAC ECDHE_PSK, 0xCCAD DHE_PSK, 0xCCAE
#                RSA_PSK), one connection each, GET /KIND.txt; the key log
#                has CLIENT_RANDOM lines.
#   rsa          TLS 1.2 RSA key exchange, one connection with the extended
#                master secret (OpenSSL's default) and one without; the key
#                log keeps only the client's "RSA" lines (encrypted
#                premaster -> premaster), so the master secret has to be
#                derived.
#   early        TLS 1.3: a first connection gets a session ticket, the
#                second resumes it and sends its HTTP request as 0-RTT
#                early data (CLIENT_EARLY_TRAFFIC_SECRET); the server
#                answers it after the handshake.
#
#   scripts/record-tls.sh OUTDIR [KIND...]   write OUTDIR/KIND.pcap, KIND.keys
#   scripts/record-tls.sh --record           ... into decode/tls/testdata/openssl
#
# Needs root (a network namespace), ip, openssl and tcpdump.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
if [ "${1:-}" = "--record" ]; then
  out="$repo/decode/tls/testdata/openssl"
  shift
else
  out="${1:?usage: record-tls.sh OUTDIR [KIND...] | --record [KIND...]}"
  shift
fi
kinds=("$@")
[ ${#kinds[@]} -gt 0 ] || kinds=(psk-chacha rsa early)
for c in ip openssl tcpdump; do
  command -v "$c" >/dev/null || { echo "record-tls: needs $c" >&2; exit 2; }
done
[ "$(id -u)" = 0 ] || { echo "record-tls: needs root (network namespace)" >&2; exit 2; }
out="$(mkdir -p "$out" && cd "$out" && pwd)"

NS="${TLS_PREFIX:-tls$$}"
work="$(mktemp -d)"
pids=()
cleanup() {
  set +e
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
  ip netns del "$NS" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
ip netns add "$NS"
ip -n "$NS" link set lo up
in_ns() { ip netns exec "$NS" "$@"; }

cd "$work"
openssl req -x509 -newkey rsa:2048 -nodes -keyout key.pem -out cert.pem -days 3650 -subj /CN=tapview.test 2>/dev/null
PSK=0123456789abcdef0123456789abcdef
# OpenSSL configuration that turns the extended master secret off.
cat >noems.cnf <<'EOF'
openssl_conf = default_conf
[default_conf]
ssl_conf = ssl_sect
[ssl_sect]
system_default = system_default_sect
[system_default_sect]
Options = -ExtendedMasterSecret
EOF

# capture FILE: start tcpdump on the namespace's loopback.
tp=""
capture() {
  # tcpdump's own pid (ip netns exec may fork), so it can be stopped.
  in_ns sh -c 'echo $$ >"$0"; exec tcpdump -i lo --immediate-mode -U -s 0 -w "$1" tcp' "$work/tcpdump.pid" "$1" 2>"$work/tcpdump.err" &
  pids+=($!)
  for _ in $(seq 100); do [ -s "$work/tcpdump.pid" ] && break; sleep 0.02; done
  tp=$(cat "$work/tcpdump.pid")
  rm -f "$work/tcpdump.pid"
  for _ in $(seq 100); do grep -q listening "$work/tcpdump.err" && return; sleep 0.05; done
  echo "record-tls: tcpdump did not start: $(cat "$work/tcpdump.err")" >&2
  exit 1
}
stop_capture() {
  sleep 0.2
  kill -TERM "$tp"
  for _ in $(seq 100); do kill -0 "$tp" 2>/dev/null || return 0; sleep 0.05; done
}
# wait_port PORT: until a server listens (without connecting: the servers
# take a fixed number of connections).
wait_port() {
  for _ in $(seq 100); do
    [ -n "$(in_ns ss -Hltn "sport = :$1")" ] && return
    sleep 0.05
  done
  echo "record-tls: nothing listens on $1" >&2
  exit 1
}

# www PORT ARGS...: an s_server answering GET /FILE from the work dir
# (-WWW), for one connection per call.
www() {
  local port=$1
  shift
  in_ns openssl s_server -accept "127.0.0.1:$port" -WWW -naccept 1 -quiet "$@" >"$work/server.log" 2>&1 &
  pids+=($!)
}

record_psk_chacha() {
  rm -f "$out/psk-chacha.keys"
  capture "$out/psk-chacha.pcap"
  local port=4430
  for c in ccab:PSK-CHACHA20-POLY1305 ccac:ECDHE-PSK-CHACHA20-POLY1305 ccad:DHE-PSK-CHACHA20-POLY1305 ccae:RSA-PSK-CHACHA20-POLY1305; do
    local id=${c%%:*} suite=${c#*:}
    port=$((port + 1))
    echo "psk suite $id ($suite)" >"$id.txt"
    www "$port" -cert cert.pem -key key.pem -psk "$PSK" -tls1_2 -cipher "$suite"
    wait_port "$port"
    printf 'GET /%s.txt HTTP/1.0\r\n\r\n' "$id" |
      in_ns timeout 10 openssl s_client -connect "127.0.0.1:$port" -tls1_2 -cipher "$suite" -psk "$PSK" \
        -keylogfile "$out/psk-chacha.keys" -quiet >"$work/client.out" 2>/dev/null
    grep -q "psk suite $id" "$work/client.out" || { echo "record-tls: $suite: no answer" >&2; exit 1; }
  done
  stop_capture
}

record_rsa() {
  rm -f "$work/rsa.keys"
  capture "$out/rsa.pcap"
  local port=4440
  for ems in ems noems; do
    port=$((port + 1))
    echo "rsa key exchange, $ems" >"rsa-$ems.txt"
    local conf=/dev/null
    [ $ems = noems ] && conf="$work/noems.cnf"
    OPENSSL_CONF=$conf www "$port" -cert cert.pem -key key.pem -tls1_2 -cipher AES128-GCM-SHA256
    wait_port "$port"
    printf 'GET /rsa-%s.txt HTTP/1.0\r\n\r\n' "$ems" |
      OPENSSL_CONF=$conf in_ns timeout 10 openssl s_client -connect "127.0.0.1:$port" -tls1_2 -cipher AES128-GCM-SHA256 \
        -keylogfile "$work/rsa.keys" -quiet >"$work/client.out" 2>/dev/null
    grep -q "rsa key exchange, $ems" "$work/client.out" || { echo "record-tls: rsa $ems: no answer" >&2; exit 1; }
  done
  stop_capture
  # Only the RSA lines: the master secret must come from the premaster.
  grep '^RSA ' "$work/rsa.keys" >"$out/rsa.keys"
}

record_early() {
  rm -f "$out/early.keys"
  mkfifo "$work/srv.in"
  capture "$out/early.pcap"
  local port=4450
  # The interactive server (no -WWW: only it reads early data) sends what
  # arrives on its stdin; it answers the early request once it has it.
  in_ns openssl s_server -accept "127.0.0.1:$port" -cert cert.pem -key key.pem -tls1_3 \
    -early_data -max_early_data 16384 -naccept 2 <"$work/srv.in" >"$work/server.log" 2>&1 &
  pids+=($!)
  exec 7>"$work/srv.in"
  wait_port "$port"
  # Connection 1: get a ticket (it arrives after the handshake).
  (sleep 0.5) | in_ns timeout 10 openssl s_client -connect "127.0.0.1:$port" -tls1_3 -sess_out "$work/sess.pem" \
    -keylogfile "$out/early.keys" >/dev/null 2>&1 || true
  [ -s "$work/sess.pem" ] || { echo "record-tls: no session ticket" >&2; exit 1; }
  printf 'GET /early.txt HTTP/1.1\r\nHost: tapview.test\r\n\r\n' >"$work/early.req"
  (sleep 1.5) | in_ns timeout 10 openssl s_client -connect "127.0.0.1:$port" -tls1_3 -sess_in "$work/sess.pem" \
    -early_data "$work/early.req" -keylogfile "$out/early.keys" >"$work/client.out" 2>&1 &
  local cp=$!
  for _ in $(seq 100); do grep -q "End of early data" "$work/server.log" && break; sleep 0.05; done
  grep -q "GET /early.txt" "$work/server.log" || { echo "record-tls: the server got no early data: $(cat "$work/server.log")" >&2; exit 1; }
  sleep 0.2
  printf 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 23\r\n\r\nanswer to 0-RTT request' >&7
  wait "$cp" || true
  exec 7>&-
  grep -q "answer to 0-RTT request" "$work/client.out" || { echo "record-tls: the client got no answer" >&2; exit 1; }
  stop_capture
}

for k in "${kinds[@]}"; do
  case "$k" in
    psk-chacha) record_psk_chacha ;;
    rsa) record_rsa ;;
    early) record_early ;;
    *) echo "record-tls: unknown kind $k" >&2; exit 2 ;;
  esac
  echo "record-tls: $k -> $out/$k.pcap ($(stat -c %s "$out/$k.pcap") bytes), $out/$k.keys ($(grep -c . "$out/$k.keys") lines)"
done
