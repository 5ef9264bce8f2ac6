#!/usr/bin/env bash
# s3-read.sh: reading a capture's segments from an S3 store vs reading
# the same capture from local disk, side by side in one run.
#
#   bench/s3-read.sh [CAPTURE] [SEGMENT_PACKETS]
#
# CAPTURE defaults to /tmp/nginx-1g.pcap (made with bench/record-nginx.sh
# when missing: ~1 GB of real nginx traffic). The script
#  - converts it to one local pcapng (the format recorders upload, so both
#    sides parse the same blocks) and splits it into segments of
#    SEGMENT_PACKETS packets (default 110000, ~60 MB) with editcap;
#  - starts SeaweedFS's S3 gateway on loopback (scripts/s3-server.sh) and
#    uploads the segments with the aws CLI under the recorder key layout
#    (storage/s3), as one capture of one source;
#  - runs, twice and alternating, `tapview open -o json > /dev/null` on
#    the local file and on s3://bench/nginx/cap1/, printing wall time and
#    peak RSS of each and the store/local ratio (target: within 1.5x).
# The machine's other load shows up in both columns; compare within a run.
set -euo pipefail
cd "$(dirname "$0")/.."
cap="${1:-/tmp/nginx-1g.pcap}"
per="${2:-110000}"
for tool in editcap capinfos aws curl /usr/bin/time; do
  command -v "$tool" >/dev/null || { echo "s3-read: needs $tool (editcap/capinfos: apt-get install tshark; aws: pip install awscli)" >&2; exit 1; }
done
[ -f "$cap" ] || bench/record-nginx.sh "$cap" 1g

work="$(mktemp -d)"
cleanup() { scripts/s3-server.sh stop "$work/s3" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
go build -o "$work/tapview" ./cmd/tapview
echo "s3-read: splitting $cap ($(du -h "$cap" | cut -f1)) into segments of $per packets"
editcap -F pcapng "$cap" "$work/whole.pcapng"
mkdir -p "$work/seg"
editcap -F pcapng -c "$per" "$cap" "$work/seg/s.pcapng"

eval "$(scripts/s3-server.sh start "$work/s3")"
export AWS_EC2_METADATA_DISABLED=true
s3() { aws --endpoint-url "$TAPVIEW_S3_ENDPOINT" s3 "$@" >/dev/null; }
s3 mb s3://bench
# "1796621905.171719" -> nanoseconds, zero-padded to 19 digits.
ns() { awk -v t="$1" 'BEGIN { split(t, p, "."); f = substr(p[2] "000000000", 1, 9); printf "%010d%s", p[1], f }'; }
seq=0
for f in $(ls "$work"/seg/*.pcapng | sort); do
  seq=$((seq + 1))
  read -r first last < <(capinfos -T -r -S -a -e "$f" | awk -F'\t' '{print $2, $3}')
  key="$(printf 'nginx/cap1/nginx.pcap/%08d-%s-%s.pcapng' "$seq" "$(ns "$first")" "$(ns "$last")")"
  s3 cp "$f" "s3://bench/$key"
done
total=$(du -cb "$work"/seg/*.pcapng | tail -1 | cut -f1)
echo "s3-read: uploaded $seq segments, $total bytes, to s3://bench/nginx/cap1/ on $TAPVIEW_S3_ENDPOINT"

run() { # label, args...
  local label="$1"; shift
  /usr/bin/time -f "%e %M" -o "$work/time" "$work/tapview" open -o json "$@" > "$work/out.$label"
  read -r secs rss < "$work/time"
  printf '%-6s %8.2f s %8d MB RSS %10d lines\n' "$label" "$secs" "$((rss / 1024))" "$(wc -l < "$work/out.$label")"
  echo "$secs" > "$work/secs.$label"
}
for round in 1 2; do
  echo "round $round:"
  run local "$work/whole.pcapng"
  run s3 "s3://bench/nginx/cap1/" --s3-endpoint "$TAPVIEW_S3_ENDPOINT" --s3-path-style 2>/dev/null
  awk -v s="$(cat "$work/secs.s3")" -v l="$(cat "$work/secs.local")" 'BEGIN { printf "       store/local = %.2fx (target <= 1.5x)\n", s / l }'
done
# The JSON names the source alike ("nginx.pcap" vs the file name), so
# compare everything else.
if cmp -s <(sed 's/"source":"[^"]*"//' "$work/out.local") <(sed 's/"source":"[^"]*"//' "$work/out.s3"); then
  echo "s3-read: the store and the local file give the same output"
else
  echo "s3-read: OUTPUT DIFFERS between the store and the local file" >&2
  exit 1
fi
