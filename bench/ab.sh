#!/usr/bin/env bash
# ab.sh: before/after measurement of two tapview binaries on one capture.
#
#   bench/ab.sh [-r RUNS] OLD_BINARY NEW_BINARY FILE [extra tapview args]
#
# Runs `BINARY open FILE -o json [args] > /dev/null` alternately (old, new,
# old, new, ...) RUNS times each (default 5) under /usr/bin/time and prints
# the medians of wall time, CPU time (user+sys) and peak RSS. Alternating
# spreads the noise of a shared machine over both binaries; on a loaded
# machine compare CPU time rather than wall time.
set -euo pipefail
runs=5
while getopts "r:" opt; do
	case $opt in
	r) runs=$OPTARG ;;
	*) exit 2 ;;
	esac
done
shift $((OPTIND - 1))
old=$1 new=$2 file=$3
shift 3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for ((i = 1; i <= runs; i++)); do
	for side in old new; do
		bin=$old
		[[ $side == new ]] && bin=$new
		/usr/bin/time -f "%e %U %S %M" -o "$work/t" "$bin" open "$file" -o json "$@" >/dev/null
		awk '{printf "%.2f %.2f %d\n", $1, $2 + $3, $4}' "$work/t" >>"$work/$side"
	done
done
med() { sort -n -k"$2","$2" "$1" | awk -v c="$2" '{v[NR]=$c} END {print (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }
printf "%-4s %8s %8s %10s   %s\n" "" "wall s" "cpu s" "RSS MB" "runs (wall cpu RSS-KB)"
for side in old new; do
	printf "%-4s %8s %8s %10.1f   %s\n" "$side" "$(med "$work/$side" 1)" "$(med "$work/$side" 2)" "$(echo "$(med "$work/$side" 3)/1024" | bc -l)" "$(tr '\n' '|' <"$work/$side")"
done
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
