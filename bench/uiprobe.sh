#!/usr/bin/env bash
# uiprobe.sh: how quickly the terminal UI answers on a big capture, driven
# through tmux like a person at a 160x45 terminal.
#
#   bench/uiprobe.sh [-r RUNS] FILE
#
# Prints, in milliseconds (tmux's own start-up and the 5 ms polling are
# included, so the numbers are upper bounds):
#   first screen  from starting `tapview open FILE` until exchange rows show
#                 (RUNS runs, median and all values);
#   key latency   while the file is still loading, from sending Down until
#                 the screen changes (RUNS presses);
#   filter        after loading, from Enter on `status >= 500` until only
#                 5xx rows show;
#   peak RSS      of tapview once loaded.
set -euo pipefail
runs=5
while getopts "r:" opt; do
	case $opt in
	r) runs=$OPTARG ;;
	*) exit 2 ;;
	esac
done
shift $((OPTIND - 1))
file=$1
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
sock="tvprobe$$"
n=0
trap 'tmux -L "$sock" kill-server 2>/dev/null || true; rm -rf "$work"' EXIT
(cd "$root" && go build -o "$work/tapview" ./cmd/tapview)

now() { echo $(($(date +%s%N) / 1000000)); }
screen() { tmux -L "$sock" capture-pane -e -p -t p; }
start() {
	tmux -L "$sock" kill-server 2>/dev/null || true
	n=$((n + 1))
	sock="tvprobe$$-$n"
	tmux -L "$sock" new-session -d -s p -x 160 -y 45 "TERM=xterm-256color $work/tapview open $file; sleep 600"
}
# waitfor PATTERN TIMEOUT_MS: polls until PATTERN (grep -E) is on screen.
waitfor() {
	local t0
	t0=$(now)
	while ! screen | grep -qE -- "$1"; do
		if (($(now) - t0 > $2)); then return 1; fi
		sleep 0.005
	done
}
median() { sort -n | awk '{v[NR]=$1} END {print (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }

echo "machine: $(uname -srm), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg); file $file ($(stat -c %s "$file") bytes)"
: >"$work/first"
for ((i = 0; i < runs; i++)); do
	t0=$(now)
	start
	waitfor ' (GET|POST|PUT|DELETE) ' 30000
	echo $(($(now) - t0)) >>"$work/first"
done
echo "first screen: median $(median <"$work/first") ms ($(tr '\n' ' ' <"$work/first"))"

# Key latency while loading (the last run is still loading).
: >"$work/keys"
for ((i = 0; i < runs; i++)); do
	before=$(screen)
	loading=$(grep -c 'reading' <<<"$before" || true)
	t0=$(now)
	tmux -L "$sock" send-keys -t p Down
	while [[ $(screen) == "$before" ]]; do
		if (($(now) - t0 > 10000)); then break; fi
		sleep 0.005
	done
	echo "$(($(now) - t0)) $loading" >>"$work/keys"
	sleep 0.2
done
echo "key latency while loading: median $(awk '{print $1}' "$work/keys" | median) ms ($(awk '{printf "%s%s ", $1, ($2 > 0) ? "" : "(loaded)"}' "$work/keys"))"

# Wait for the load to finish, then filter.
t0=$(now)
while screen | grep -q 'reading'; do sleep 0.2; done
echo "loaded $(($(now) - t0)) ms after the key presses"
pid=$(pgrep -f "^$work/tapview open" | head -1)
rss=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
tmux -L "$sock" send-keys -t p /
sleep 0.3
tmux -L "$sock" send-keys -t p -l 'status >= 500'
sleep 0.3
t0=$(now)
tmux -L "$sock" send-keys -t p Enter
if waitfor 'status >= 500' 30000; then
	# Rows of other statuses must be gone.
	while screen | sed 's/\x1b\[[0-9;]*m//g' | grep -E ' (GET|POST|PUT|DELETE) ' | grep -vqE ' 5[0-9][0-9] '; do
		if (($(now) - t0 > 30000)); then break; fi
		sleep 0.005
	done
fi
echo "filter 'status >= 500' over the loaded capture: $(($(now) - t0)) ms"
echo "peak RSS once loaded: $((rss / 1024)) MB"
