#!/usr/bin/env bash
# halfopen.sh: issue 15's per-connection checks, side by side.
#
#   bench/halfopen.sh [-f FLOWS] [-n INTERIM] [-t TIMEOUT] [-b TAPVIEW] [-d DIR]
#
# Builds tapview and bench/halfopen, generates into DIR (default /tmp):
#   halfopen.pcap  FLOWS (default 200000) TCP flows that never close
#   ordinary.pcap  recorded HTTP/1.1 keep-alive traffic, same packet count
#   interim.pcap   one connection with INTERIM (default 100000) 100 Continue
# and runs, under /usr/bin/time -v, on each capture:
#   tapview open F -o json, tapview open F --flows -o json,
#   tapview export F -w out.pcapng
# printing wall time and peak RSS per run and the half-open/ordinary
# ratio. -b runs another tapview binary instead (e.g. an older build, to
# compare); -t kills a run after TIMEOUT seconds (default 600) and prints
# ">TIMEOUT".
#
# Targets (issue 15): half-open peak RSS <= 400 MB and time <= 2x ordinary
# for all three commands; interim <= 2 s and <= 150 MB.
set -euo pipefail

flows=200000
interim=100000
timeout_s=600
bin=""
dir="${TMPDIR:-/tmp}"
while getopts "f:n:t:b:d:h" opt; do
	case $opt in
	f) flows=$OPTARG ;;
	n) interim=$OPTARG ;;
	t) timeout_s=$OPTARG ;;
	b) bin=$OPTARG ;;
	d) dir=$OPTARG ;;
	*) sed -n '2,19p' "$0"; exit 2 ;;
	esac
done

root=$(cd "$(dirname "$0")/.." && pwd)
if [[ ! -x /usr/bin/time ]]; then
	echo "halfopen.sh: /usr/bin/time is missing (Debian/Ubuntu: apt-get install time)" >&2
	exit 1
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "building..." >&2
(cd "$root" && go build -o "$work/halfopen" ./bench/halfopen)
if [[ -z $bin ]]; then
	(cd "$root" && go build -o "$work/tapview" ./cmd/tapview)
	bin="$work/tapview"
fi

"$work/halfopen" -mode halfopen -flows "$flows" -o "$dir/halfopen.pcap" 2>"$work/gen.log"
cat "$work/gen.log" >&2
pk=$(awk '{print $(NF-1)}' "$work/gen.log")
"$work/halfopen" -mode ordinary -packets "$pk" -o "$dir/ordinary.pcap" >&2
"$work/halfopen" -mode interim -n "$interim" -o "$dir/interim.pcap" >&2

echo "machine: $(uname -srm), $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg); tapview $(cd "$root" && git rev-parse --short HEAD 2>/dev/null || echo '?')"

# run CMD...: prints "wall_s cpu_s rss_mb" (wall ">T" when killed by the
# timeout). CPU time (user+sys) is steadier than wall time on a shared
# machine.
run() {
	local t="$work/time.txt" rc=0
	/usr/bin/time -v -o "$t" timeout -s INT "$timeout_s" "$@" >/dev/null 2>"$work/err.txt" || rc=$?
	local rss wall cpu
	cpu=$(awk -F': ' '/User time|System time/ {s+=$2} END {printf "%.2f", s}' "$t")
	rss=$(awk -F': ' '/Maximum resident/ {printf "%.0f", $2/1024}' "$t")
	wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {n=split($2,a,":"); s=0; for(i=1;i<=n;i++) s=s*60+a[i]; printf "%.2f", s}' "$t")
	if [[ $rc == 124 ]]; then
		wall=">$timeout_s"
	elif [[ $rc != 0 ]]; then
		wall="err$rc"
		sed 's/^/    /' "$work/err.txt" | head -3 >&2
	fi
	echo "$wall $cpu $rss"
}

cmds=("open -o json" "open --flows -o json" "export -w $work/out.pcapng")
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a ~ /^[0-9.]+$/ && b > 0) printf "%.2f", a/b; else print "-" }'; }
printf "%-22s | %8s %8s %6s | %8s %8s %6s | %6s %6s\n" "" "half-open" "" "" "ordinary" "" "" "ratio" ""
printf "%-22s | %8s %8s %6s | %8s %8s %6s | %6s %6s\n" command "wall s" "cpu s" "MB" "wall s" "cpu s" "MB" wall cpu
for c in "${cmds[@]}"; do
	read -r -a args <<<"$c"
	read -r hw hc hr < <(run "$bin" "${args[0]}" "$dir/halfopen.pcap" "${args[@]:1}")
	read -r ow oc or < <(run "$bin" "${args[0]}" "$dir/ordinary.pcap" "${args[@]:1}")
	printf "%-22s | %8s %8s %6s | %8s %8s %6s | %6s %6s\n" "${c%% -w*}" "$hw" "$hc" "$hr" "$ow" "$oc" "$or" "$(ratio "$hw" "$ow")" "$(ratio "$hc" "$oc")"
done
read -r iw ic ir < <(run "$bin" open "$dir/interim.pcap" -o json)
printf "%-22s | %8s %8s %6s   (target <= 2 s, <= 150 MB)\n" "interim open -o json" "$iw" "$ic" "$ir"
