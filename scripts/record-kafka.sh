#!/usr/bin/env bash
# Records Kafka traffic for the decoder tests: franz-go's kfake broker on
# 127.0.0.1 (SASL PLAIN and SCRAM-SHA-256 with planted passwords, no
# topic auto-creation) driven by two real clients, franz-go's kgo and kcat
# (librdkafka), each captured with tcpdump on lo. Writes to OUTDIR:
#   kgo.pcap  kgo.truth.jsonl   (port 19092)
#   kcat.pcap kcat.truth.jsonl  (port 19093)
# The truth files are the broker's record of every request and the
# client's own record (scripts/kafkarec/main.go says what each line is).
# scripts/kafkarec is a module of its own, so franz-go (kgo, kfake, kmsg:
# BSD-3-Clause) never enters tapview's dependencies.
# Needs root (tcpdump), Go, kcat. Usage: scripts/record-kafka.sh testdata/kafka
set -euo pipefail
out="${1:?usage: record-kafka.sh OUTDIR}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
here="$(cd "$(dirname "$0")" && pwd)"
bin="$(mktemp -d)/kafkarec"
(cd "$here/kafkarec" && go build -o "$bin" .)

record() { # name port
  local name="$1" port="$2"
  tcpdump -i lo -s 0 -U -w "$out/$name.pcap" "tcp port $port" 2>/dev/null &
  local dump=$!
  sleep 1
  "$bin" -client "$name" -port "$port" -truth "$out/$name.truth.jsonl"
  sleep 1
  kill "$dump"
  wait "$dump" || true
}
record kgo 19092
record kcat 19093
rm -rf "$(dirname "$bin")"
ls -l "$out"
