#!/usr/bin/env bash
# ui-rss.sh: memory of the interactive UI on a big capture, and how fast
# it opens an exchange at the end of it, for the current tree.
#
#   bench/ui-rss.sh [-x COLS] [-y ROWS] [-s SAMPLES.tsv] [-l LABEL] FILE
#
# Builds ./cmd/tapview, runs `tapview open FILE` in a detached tmux session
# (default 200x60, TERM=xterm-256color) and
#  1. samples the process's VmRSS (/proc/PID/status) every second until the
#     status bar says the file is fully loaded ("NAME ✓", see
#     ui/status.go sourceSegment) and for 5 seconds more;
#  2. sends `G` (last exchange), waits 1 s, sends Enter and times (10 ms
#     polls of capture-pane) until the detail shows its body line: the
#     "── body · ..." rule or the "no body" note of the Request tab;
#  3. sends Tab and times until the Response tab shows its status line and
#     body line;
#  4. sends Escape and times until the list's key hints are back: a
#     baseline for what tmux, the polling and a busy machine add to any
#     key (compare the two latencies above with it).
# Prints a table: load time, peak RSS (max of the samples, and the
# kernel's VmHWM), RSS when loaded and 5 s later, and the three latencies
# (upper bounds: tmux round trips and the poll interval are included).
# -s writes the samples (seconds since start, RSS KiB, loaded 0/1). -l
# names the tree in the table (default: git HEAD of the checkout, so a
# copy from `git archive REV | tar -x` can say which REV it is).
#
# tapview runs under `nice -n 10` like the other heavy bench runs on a
# shared machine (NICE=0 for an unloaded machine); tmux is installed with
# apt-get when missing.
set -euo pipefail
cols=200 rows=60 samples_out= label=
while getopts "x:y:s:l:h" opt; do
	case $opt in
	x) cols=$OPTARG ;;
	y) rows=$OPTARG ;;
	s) samples_out=$OPTARG ;;
	l) label=$OPTARG ;;
	*) sed -n '2,33p' "$0"; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
[[ $# -eq 1 ]] || { sed -n '2,33p' "$0"; exit 2; }
file=$(realpath "$1")
[[ -r $file ]] || { echo "ui-rss: cannot read $file" >&2; exit 1; }
nice_n=${NICE:-10}
root=$(cd "$(dirname "$0")/.." && pwd)

if ! command -v tmux >/dev/null 2>&1; then
	echo "ui-rss: installing tmux (apt)" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq tmux >/dev/null
fi

work=$(mktemp -d /tmp/ui-rss.XXXXXX)
sock="uirss$$"
trap 'tmux -L "$sock" kill-server 2>/dev/null || true; rm -rf "$work"' EXIT
echo "ui-rss: building tapview..." >&2
(cd "$root" && nice -n "$nice_n" go build -o "$work/tapview" ./cmd/tapview)
rev=$(cd "$root" && git rev-parse --short HEAD 2>/dev/null || echo '?')
if [[ -n $(cd "$root" && git status --porcelain --untracked-files=no 2>/dev/null) ]]; then
	rev+=" + uncommitted changes"
fi
[[ -n $label ]] && rev=$label

now_ms() { echo $(($(date +%s%N) / 1000000)); }
screen() { tmux -L "$sock" capture-pane -p -t p 2>/dev/null; }
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0; }
hwm_kb() { awk '/^VmHWM:/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0; }
mb() { awk -v k="$1" 'BEGIN {printf "%.0f", k / 1024}'; }
alive() { kill -0 "$pid" 2>/dev/null; }
# waitfor MS CMD...: runs CMD every 10 ms until it succeeds; prints the
# elapsed milliseconds, or "timeout".
waitfor() {
	local limit=$1 t0 t
	shift
	t0=$(now_ms)
	while :; do
		if "$@"; then
			echo $(($(now_ms) - t0))
			return 0
		fi
		t=$(now_ms)
		if ((t - t0 > limit)); then
			echo timeout
			return 1
		fi
		sleep 0.01
	done
}

name=$(basename "$file")
loaded() { screen | tail -n 2 | grep -qF -- "$name ✓"; }
body_shown() { screen | grep -qE -- '── body · |(^|[ │])no body( |$)'; }
list_shown() { screen | tail -n 1 | grep -qF -- "enter open"; }
response_shown() {
	local s
	s=$(screen)
	grep -qE -- '(^|[ │])HTTP/[0-9.]+ [0-9]{3}' <<<"$s" && grep -qE -- '── body · |(^|[ │])no body( |$)' <<<"$s"
}

echo "ui-rss: $(uname -srm), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg); $file ($(stat -c %s "$file") bytes); tapview $rev" >&2
t_start=$(now_ms)
tmux -L "$sock" new-session -d -s p -x "$cols" -y "$rows" \
	"exec env TERM=xterm-256color nice -n $nice_n $work/tapview open $(printf %q "$file")"
pid=$(tmux -L "$sock" display -p -t p '#{pane_pid}')
: >"$work/samples"
peak=0 t_loaded= rss_loaded= rss_after=
while alive; do
	t=$(now_ms)
	r=$(rss_kb)
	((r > peak)) && peak=$r
	ld=0
	if [[ -z $t_loaded ]] && loaded; then
		t_loaded=$t rss_loaded=$r
	fi
	[[ -n $t_loaded ]] && ld=1
	printf "%d.%03d\t%s\t%s\n" $(((t - t_start) / 1000)) $(((t - t_start) % 1000)) "$r" "$ld" >>"$work/samples"
	if [[ -n $t_loaded ]] && ((t - t_loaded >= 5000)); then
		rss_after=$r
		break
	fi
	# one sample a second, on the second since the start
	next_ms=$((t_start + ((t - t_start) / 1000 + 1) * 1000))
	sleep "$(awk -v d=$((next_ms - $(now_ms))) 'BEGIN {print (d > 0) ? d / 1000 : 0}')"
done
alive || { echo "ui-rss: tapview exited; last screen:" >&2; screen >&2; exit 1; }
hwm=$(hwm_kb)
[[ -n $samples_out ]] && cp "$work/samples" "$samples_out"

tmux -L "$sock" send-keys -t p G
sleep 1
tmux -L "$sock" send-keys -t p Enter
open_ms=$(waitfor 10000 body_shown) || true
sleep 0.3
tmux -L "$sock" send-keys -t p Tab
resp_ms=$(waitfor 10000 response_shown) || true
title=$(screen | grep -m1 -E -- '→' | sed 's/^ *//' | cut -c1-100 || true)
sleep 0.3
tmux -L "$sock" send-keys -t p Escape
esc_ms=$(waitfor 10000 list_shown) || true
rss_end=$(rss_kb)
hwm_end=$(hwm_kb)

printf "%-34s %s\n" "file" "$file ($(awk -v b="$(stat -c %s "$file")" 'BEGIN {printf "%.1f MB", b / 1e6}'))"
printf "%-34s %s\n" "tree" "$rev"
printf "%-34s %s\n" "terminal" "${cols}x${rows}, nice $nice_n, load $(cut -d' ' -f1-3 /proc/loadavg)"
printf "%-34s %s s\n" "load time (start to done)" "$(awk -v ms=$((t_loaded - t_start)) 'BEGIN {printf "%.1f", ms / 1000}')"
printf "%-34s %s MB (VmHWM %s MB)\n" "peak RSS (1 s samples)" "$(mb "$peak")" "$(mb "$hwm")"
printf "%-34s %s MB\n" "RSS when loaded" "$(mb "$rss_loaded")"
printf "%-34s %s MB\n" "RSS 5 s after load" "$(mb "$rss_after")"
printf "%-34s %s ms\n" "G, enter: detail body line" "$open_ms"
printf "%-34s %s ms\n" "tab: response body line" "$resp_ms"
printf "%-34s %s ms\n" "esc: back to the list (baseline)" "$esc_ms"
printf "%-34s %s MB (VmHWM %s MB)\n" "RSS after opening the detail" "$(mb "$rss_end")" "$(mb "$hwm_end")"
printf "%-34s %s\n" "opened" "$title"
