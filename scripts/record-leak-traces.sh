#!/usr/bin/env bash
# Writes the Envoy tap traces of the leak corpus (testdata/leak/taps-*.
# pb_length_delimited) from its recorded captures: the same real traffic
# as Envoy's HTTP tap filter (taps-http) and transport socket tap
# (taps-socket) would have recorded it, buffered and streamed (see
# scripts/leaktrace). No Envoy runs here, so the envelope is built with
# go-control-plane's types around the recorded bytes. Rerunnable and
# deterministic: run it after scripts/record-leak.sh.
#
#   bash scripts/record-leak-traces.sh
set -euo pipefail
cd "$(dirname "$0")/.."
d=testdata/leak
go run ./scripts/leaktrace http "$d/taps-http.pb_length_delimited" "$d/h1.pcap" "$d/h2.pcapng" "$d/h2up.pcap" "$d/grpc.pcap"
go run ./scripts/leaktrace socket "$d/taps-socket.pb_length_delimited" "$d/h1.pcap" "$d/h2.pcapng" "$d/h2up.pcap" \
  "$d/grpc.pcap" "$d/ws.pcapng" "$d/wsraw.pcap" "$d/dnstcp.pcapng"
ls -l "$d"/taps-*.pb_length_delimited
