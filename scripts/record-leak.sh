#!/usr/bin/env bash
# Records the leak corpus (testdata/leak): real Go servers and clients on
# loopback (scripts/leakrec) with secrets planted where packet masking
# used to leak them, each scenario captured by tcpdump into its own file,
# and the list of planted secrets. Needs root (or CAP_NET_RAW) for
# tcpdump on lo. Rerunnable: the secrets are derived from their names,
# so a new recording plants the same values. Ends by writing the Envoy
# traces of the captured traffic (scripts/record-leak-traces.sh).
#
#   bash scripts/record-leak.sh            # all scenarios
#   bash scripts/record-leak.sh h2 ws      # some
set -euo pipefail
cd "$(dirname "$0")/.."
out=testdata/leak
mkdir -p "$out"
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
go build -o "$bin/leakrec" ./scripts/leakrec

declare -A filter=(
  [h1]="tcp port 18080"
  [h2]="tcp port 18081"
  [h2up]="tcp port 18085"
  [grpc]="tcp port 18082"
  [ws]="tcp port 18083"
  [wsraw]="tcp port 18084"
  [dns]="udp port 15353"
  [dnstcp]="tcp port 15354"
)
# Two captures become pcapng, so the test reads both input formats.
declare -A ext=([h1]=pcap [h2]=pcapng [h2up]=pcap [grpc]=pcap [ws]=pcapng [wsraw]=pcap [dns]=pcap [dnstcp]=pcapng)

scenarios=("$@")
[ ${#scenarios[@]} -gt 0 ] || scenarios=(h1 h2 h2up grpc ws wsraw dns dnstcp)
for s in "${scenarios[@]}"; do
  raw="$bin/$s.pcap"
  tcpdump -i lo --immediate-mode -U -s 0 -w "$raw" "${filter[$s]}" 2>"$bin/tcpdump.log" &
  pid=$!
  # tcpdump says "listening on lo" once the capture is open.
  for _ in $(seq 50); do grep -q "listening on" "$bin/tcpdump.log" && break; sleep 0.1; done
  "$bin/leakrec" "$s"
  sleep 3 # let tcpdump write the last packets (the machine may be busy)
  kill -INT "$pid"
  wait "$pid" || true
  # A capture that lost packets would plant secrets the test cannot see:
  # nothing dropped, and every connection seen to its end.
  dropped=$(awk '/packets dropped by kernel/ {print $1}' "$bin/tcpdump.log")
  syns=$(tshark -r "$raw" -Y "tcp.flags.syn==1 && tcp.flags.ack==0" 2>/dev/null | wc -l)
  ends=$(tshark -r "$raw" -Y "tcp.flags.fin==1 || tcp.flags.reset==1" 2>/dev/null | wc -l)
  if [ "${dropped:-0}" != 0 ] || [ "$ends" -lt "$syns" ]; then
    echo "record-leak: $s: incomplete capture ($dropped dropped, $syns connections, $ends ends): run it again" >&2
    exit 1
  fi
  rm -f "$out/$s.pcap" "$out/$s.pcapng"
  if [ "${ext[$s]}" = pcapng ]; then
    editcap -F pcapng "$raw" "$out/$s.pcapng"
  else
    cp "$raw" "$out/$s.pcap"
  fi
  echo "record-leak: $s: $(capinfos -c -M "$out/$s.${ext[$s]}" | awk -F: '/Number of packets/ {gsub(/ /,"",$2); print $2}') packets"
done
"$bin/leakrec" secrets >"$out/secrets.tsv"
# The Envoy traces of the same traffic (taps-*.pb_length_delimited) are
# made from these captures: keep them in step.
bash scripts/record-leak-traces.sh
du -ch "$out"/*.pcap* | tail -1
