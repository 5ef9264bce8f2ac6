#!/usr/bin/env bash
# soak.sh: issue 15's soak check on the real binary.
#
#   bench/soak.sh [-d DURATION] [-m MEMORY] [-s STREAMS] [-c CONNS] [-o DIR] [-b TAPVIEW]
#
# Builds tapview and bench/soak/flood, starts
#   tapview sink --grpc 127.0.0.1:PORT --http off --memory MEMORY
# in the UI inside a detached 200x50 tmux session (so the UI really
# renders), floods it over gRPC StreamTaps from STREAMS concurrent streams
# (default 8 over 2 connections) for DURATION (default 5m) as fast as it
# accepts, and samples its VmRSS every second into DIR/rss.csv. At the end
# it waits for the UI's counts to settle and reads the screen: the header's
# exchange count (kept, exact), the status bar's "drops N" (exact) and its
# retention ("kept last 706.6k of 1.4M exchanges", rounded). The status
# bar never shows the exact total once eviction began, so the script then
# types the match-all filter `status >= 0`, and the header shows
# "1 Exchanges X/Y" with Y, every exchange ever listed, exact. It checks
#
#   RSS peak <= MEMORY + 100 MB
#   RSS stops growing: max of the last third of the post-warm-up samples
#     <= 1.10 x max of the middle third (warm-up: the first 30 s)
#   Y + drops == sent   (every trace sent is shown, evicted or dropped)
#
# "sent" is what the flood counts: traces on streams the sink's gRPC
# server acknowledged after the client closed them (see bench/soak's
# Result). Everything is left in DIR (default a new temp directory):
# rss.csv, flood.txt, screen-*.txt, and the spill's TMPDIR while running.
# Needs tmux and Go. Traffic stays on 127.0.0.1.
set -euo pipefail

duration=5m
memory=256MiB
streams=8
conns=2
dir=""
bin=""
while getopts "d:m:s:c:o:b:h" opt; do
	case $opt in
	d) duration=$OPTARG ;;
	m) memory=$OPTARG ;;
	s) streams=$OPTARG ;;
	c) conns=$OPTARG ;;
	o) dir=$OPTARG ;;
	b) bin=$OPTARG ;;
	*) sed -n '2,29p' "$0"; exit 2 ;;
	esac
done
command -v tmux >/dev/null || { echo "soak.sh: tmux is needed" >&2; exit 2; }
root=$(cd "$(dirname "$0")/.." && pwd)
[ -n "$dir" ] || dir=$(mktemp -d "${TMPDIR:-/tmp}/tapview-soak.XXXXXX")
mkdir -p "$dir/tmp"
if [ -z "$bin" ]; then
	bin=$dir/tapview
	(cd "$root" && go build -o "$bin" ./cmd/tapview)
fi
flood=$dir/flood
(cd "$root" && go build -o "$flood" ./bench/soak/flood)

# --memory in bytes, for the RSS bound (same units as tapview's parser
# for the usual spellings).
membytes=$(awk -v s="$memory" 'BEGIN {
	s = tolower(s); n = s + 0; u = s; sub(/^[0-9.]+/, "", u)
	m = 1
	if (u ~ /^(kib|ki|k)$/) m = 1024; else if (u ~ /^(mib|mi|m)$/) m = 1048576; else if (u ~ /^(gib|gi|g)$/) m = 1073741824
	else if (u == "kb") m = 1e3; else if (u == "mb") m = 1e6; else if (u == "gb") m = 1e9
	printf "%d", n * m }')
limit=$((membytes + 100000000))

port=$("$flood" -free-port)
sock=tapview-soak-$$
sess=soak
tm() { tmux -L "$sock" "$@"; }
cleanup() { tm kill-server >/dev/null 2>&1 || true; rm -rf "$dir/tmp"; }
trap cleanup EXIT

tm new-session -d -s "$sess" -x 200 -y 50 \
	"exec env TERM=xterm-256color TMPDIR=$dir/tmp $bin sink --grpc 127.0.0.1:$port --http off --memory $memory" \; \
	set-option -t "$sess" remain-on-exit on
pid=$(tm display-message -p -t "$sess" '#{pane_pid}')
echo "tapview sink pid $pid on 127.0.0.1:$port, --memory $memory; results in $dir"

screen() { tm capture-pane -p -t "$sess"; }
# header is the screen's first line ("tapview   1 Exchanges 706,649   2
# Flows 0 ..."; "706,649/1,446,140" with a filter), statusbar its last
# non-empty line.
header() { screen | head -1; }
statusbar() { screen | awk 'NF { l = $0 } END { print l }'; }
# counts is what must settle: the exchange counts and the drops (memory
# keeps moving).
counts() {
	{ header | grep -oE '1 Exchanges [0-9,/]+'; statusbar | grep -oE 'drops [0-9,]+'; } | tr '\n' ' '
}
num() { tr -d ',' <<<"${1:-0}"; }

"$flood" -addr "127.0.0.1:$port" -duration "$duration" -streams "$streams" -conns "$conns" \
	-pid "$pid" -csv "$dir/rss.csv" | tee "$dir/flood.txt"
result=$(grep '^result ' "$dir/flood.txt")
sent=$(sed -E 's/.* sent=([0-9]+).*/\1/' <<<"$result")
unacked=$(sed -E 's/.* unacked=([0-9]+).*/\1/' <<<"$result")
peak=$(sed -E 's/.* peak_rss=([0-9]+).*/\1/' <<<"$result")
mid=$(sed -E 's/.* middle_max=([0-9]+).*/\1/' <<<"$result")
last=$(sed -E 's/.* last_max=([0-9]+).*/\1/' <<<"$result")

if ! kill -0 "$pid" 2>/dev/null; then
	echo "FAIL: tapview exited during the flood:"
	screen | tail -20
	exit 1
fi

# The sink's queue and the pipeline drain after the flood: wait until the
# counts are the same over three seconds (at most a minute).
prev="" same=0
for _ in $(seq 60); do
	cur=$(counts)
	if [ -n "$cur" ] && [ "$cur" = "$prev" ]; then
		same=$((same + 1))
		[ $same -ge 3 ] && break
	else
		same=0
	fi
	prev=$cur
	sleep 1
done
screen >"$dir/screen-final.txt"
bar=$(statusbar)
echo
echo "header:     $(header)"
echo "status bar: $bar"
kept=$(header | grep -oE '1 Exchanges [0-9,]+' | grep -oE '[0-9,]+$' || true)
retention=$(grep -oE 'kept last [^ ]+ of [^ ]+ exchanges?' <<<"$bar" || true)
drops=$(grep -oE 'drops [0-9,]+' <<<"$bar" | grep -oE '[0-9,]+$' || echo 0)

# The exact total of exchanges ever listed: with a filter, the header says
# "1 Exchanges MATCHES/TOTAL". The status bar cannot: once eviction began
# it shows the total rounded ("kept last 706.6k of 1.4M exchanges"), with
# or without a filter. So type a filter that matches everything.
tm send-keys -t "$sess" /
sleep 0.3
tm send-keys -t "$sess" 'status >= 0' Enter
total=""
for _ in $(seq 120); do
	h=$(header)
	if grep -qE '1 Exchanges [0-9,]+/[0-9,]+' <<<"$h" && ! statusbar | grep -q 'filtering'; then
		total=$(grep -oE '1 Exchanges [0-9,]+/[0-9,]+' <<<"$h" | sed -E 's/.*\/([0-9,]+)$/\1/')
		break
	fi
	sleep 0.5
done
screen >"$dir/screen-filtered.txt"
echo "with filter: $(header)"
echo "             $(statusbar)"
tm send-keys -t "$sess" q
sleep 1

total=$(num "$total")
kept=$(num "$kept")
drops=$(num "$drops")
evicted=$((total - kept))
echo
echo "== soak: $duration, --memory $memory, $streams streams"
echo "sent (acknowledged by the sink)  $sent   (unacked on failed streams: $unacked)"
echo "listed ever (header, filtered)   $total"
echo "  kept in the list (header)      $kept ${retention:+(status bar: $retention)}"
echo "  evicted                        $evicted"
echo "dropped (status bar drops)       $drops"
echo "peak RSS                         $((peak / 1048576)) MiB (limit $((limit / 1048576)) MiB = budget + 100 MB)"
echo "growth                           last third max $((last / 1048576)) MiB vs middle third max $((mid / 1048576)) MiB"

status=0
if [ -z "$total" ] || [ "$total" = 0 ]; then
	echo "FAIL: could not read the total from the header"; status=1
elif [ $((total + drops)) -ne "$sent" ] || [ "$unacked" -ne 0 ]; then
	echo "FAIL: identity: listed $total + dropped $drops = $((total + drops)) != sent $sent (unacked $unacked)"; status=1
else
	echo "ok: identity listed + dropped == sent ($total + $drops == $sent)"
fi
if [ "$peak" -gt "$limit" ]; then
	echo "FAIL: peak RSS $((peak / 1048576)) MiB over budget + 100 MB"; status=1
else
	echo "ok: peak RSS within budget + 100 MB"
fi
if [ "$mid" -gt 0 ] && [ $((last * 100)) -gt $((mid * 110)) ]; then
	echo "FAIL: RSS still growing after warm-up (last third more than 10% over the middle third)"; status=1
elif [ "$mid" -gt 0 ]; then
	echo "ok: RSS flat after warm-up"
else
	echo "FAIL: too few samples for the growth check (run longer than the 30 s warm-up)"; status=1
fi
if [ -n "$retention" ] && [ -n "$total" ]; then
	# The status bar's rounded total must be the exact one, rounded as
	# the UI rounds (ui/format.go short).
	rounded=$(awk -v n="$total" 'BEGIN { if (n < 10000) printf "%d", n; else if (n < 1e6) printf "%.1fk", n / 1e3; else printf "%.1fM", n / 1e6 }')
	if [ "${rounded}" != "$(sed -E 's/.* of ([^ ]+) exchanges?/\1/' <<<"$retention")" ] && [ "$total" -ge 10000 ]; then
		echo "note: the status bar's total ($retention) is not the header's $total rounded ($rounded)"
	fi
fi
if [ "$evicted" -le 0 ]; then
	echo "note: nothing was evicted; run longer or with a smaller -m to exercise retention"
fi
exit $status
