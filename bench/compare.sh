#!/usr/bin/env bash
# compare.sh: time tapview against tshark (and httpry, tcpflow when
# installed) on the same capture, in one run.
#
#   bench/compare.sh [-r RUNS] [-R TSHARK_RUNS] [-j LANES] [-H] FILE
#       Runs `tapview open FILE -o json > /dev/null` with one decoder lane
#       (-j 1) and with LANES lanes (default: one per CPU) RUNS times each
#       (default 3, alternating), `tshark -r FILE -Y http.request -T fields
#       -e http.request.method -e http.request.uri > /dev/null`
#       TSHARK_RUNS times (default 1), and, when installed, `httpry -r
#       FILE tcp` (C, per packet: request and response lines, no
#       reassembly or pairing) and `tcpflow -r FILE` (C++, reassembly into
#       one file per direction, in a temporary directory) RUNS times, each
#       under /usr/bin/time -v; prints wall time, CPU time, packets/s, MB/s
#       and peak RSS (medians) and every ratio. With -H it also runs
#       `tapview export FILE -w OUT.har` (masked, in a temporary directory,
#       alternating with the -j 1 runs) and prints its CPU time as a
#       multiple of `open -o json -j 1` (issue 16's target: at most 2x).
#       With -P it does the same for `tapview export FILE -w OUT.pcapng`
#       (masked, the default). Both exports are also compared by wall
#       time with `open -o json -j LANES` (the default run).
#
#   bench/compare.sh -n [-r RUNS] [-t] [-d DIR]
#       Generates a 150 MB and a 600 MB (4x) HTTP/1.1 keep-alive capture
#       with bench/gen in DIR (default: $TMPDIR or /tmp) and compares
#       tapview's peak RSS on both (memory must grow sub-linearly). With -t
#       tshark runs on both as well.
#
# The machine is described at the top of the output, with its load
# average at the start and the end: on a shared or busy machine wall
# times are noisy, so CPU time (user+sys) is printed too, and the lane
# runs alternate so a burst of load hits both alike.
set -euo pipefail

runs=3
truns=1
lanes=$(nproc)
growth=0
growth_tshark=0
har=0
pcapng=0
dir="${TMPDIR:-/tmp}"
while getopts "r:R:j:ntd:HPh" opt; do
	case $opt in
	r) runs=$OPTARG ;;
	R) truns=$OPTARG ;;
	j) lanes=$OPTARG ;;
	n) growth=1 ;;
	t) growth_tshark=1 ;;
	d) dir=$OPTARG ;;
	H) har=1 ;;
	P) pcapng=1 ;;
	*) sed -n '2,32p' "$0"; exit 2 ;;
	esac
done
shift $((OPTIND - 1))

root=$(cd "$(dirname "$0")/.." && pwd)
TSHARK=${TSHARK:-/usr/bin/tshark}
if [[ ! -x /usr/bin/time ]]; then
	echo "compare.sh: /usr/bin/time is missing (Debian/Ubuntu: apt-get install time)" >&2
	exit 1
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "building tapview and bench/gen..." >&2
(cd "$root" && go build -o "$work/tapview" ./cmd/tapview && go build -o "$work/gen" ./bench/gen)

machine() {
	local cpu
	cpu=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo 2>/dev/null || true)
	echo "machine: $(uname -srm), $(nproc) CPUs (${cpu:-unknown CPU}), $(awk '/MemTotal/ {printf "%.1f GiB RAM", $2/1048576}' /proc/meminfo)"
	echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg); tapview $(cd "$root" && git rev-parse --short HEAD 2>/dev/null || echo '?'), $("$TSHARK" --version 2>/dev/null | head -1)"
}

# measure NAME OUTFILE CMD...: runs CMD under /usr/bin/time -v with stdout
# to /dev/null and appends "wall cpu rss_kb" to OUTFILE.
measure() {
	local out=$1
	shift
	local tf="$work/time.txt"
	/usr/bin/time -v -o "$tf" "$@" >/dev/null 2>"$work/stderr.txt" || {
		echo "compare.sh: $* failed:" >&2
		cat "$work/stderr.txt" "$tf" >&2
		exit 1
	}
	awk '
		/Elapsed \(wall clock\)/ { n = split($NF, p, ":"); w = 0; for (i = 1; i <= n; i++) w = w * 60 + p[i] }
		/User time/ { u = $NF }
		/System time/ { s = $NF }
		/Maximum resident set size/ { r = $NF }
		END { printf "%.2f %.2f %d\n", w, u + s, r }' "$tf" >>"$out"
}

# median FILE COLUMN
median() {
	sort -n -k"$2","$2" "$1" | awk -v c="$2" '{ v[NR] = $c } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

packets_of() {
	if command -v capinfos >/dev/null; then
		capinfos -c -M "$1" 2>/dev/null | awk -F': *' '/Number of packets/ {print $2}'
	else
		echo 0
	fi
}

# compare FILE: the table of every tool for one file.
compare() {
	local file=$1 tv="$work/tapview.runs" t1="$work/lane1.runs" ts="$work/tshark.runs"
	local hp="$work/httpry.runs" tf="$work/tcpflow.runs" hr="$work/har.runs" pn="$work/pcapng.runs"
	: >"$hr"
	: >"$pn"
	: >"$tv"
	: >"$t1"
	: >"$ts"
	: >"$hp"
	: >"$tf"
	local bytes pkts
	bytes=$(stat -c %s "$file")
	pkts=$(packets_of "$file")
	echo "file: $file ($(awk -v b="$bytes" 'BEGIN {printf "%.1f MB", b / 1e6}'), $pkts packets)"
	for ((i = 1; i <= runs; i++)); do
		echo "  tapview -j 1 run $i/$runs..." >&2
		measure "$t1" "$work/tapview" open "$file" -o json -j 1
		echo "  tapview -j $lanes run $i/$runs..." >&2
		measure "$tv" "$work/tapview" open "$file" -o json -j "$lanes"
		if ((har)); then
			echo "  tapview export HAR run $i/$runs..." >&2
			measure "$hr" "$work/tapview" export "$file" -w "$work/out.har"
			rm -f "$work/out.har"
		fi
		if ((pcapng)); then
			echo "  tapview export pcapng run $i/$runs..." >&2
			measure "$pn" "$work/tapview" export "$file" -w "$work/out.pcapng"
			rm -f "$work/out.pcapng"
		fi
	done
	if command -v httpry >/dev/null; then
		for ((i = 1; i <= runs; i++)); do
			echo "  httpry run $i/$runs..." >&2
			measure "$hp" httpry -q -r "$file" tcp
		done
	fi
	if command -v tcpflow >/dev/null; then
		for ((i = 1; i <= runs; i++)); do
			echo "  tcpflow run $i/$runs..." >&2
			rm -rf "$work/flows" && mkdir "$work/flows"
			measure "$tf" tcpflow -r "$file" -o "$work/flows"
		done
		rm -rf "$work/flows"
	fi
	for ((i = 1; i <= truns; i++)); do
		echo "  tshark run $i/$truns (slow)..." >&2
		measure "$ts" "$TSHARK" -r "$file" -Y http.request -T fields -e http.request.method -e http.request.uri
	done
	table "$bytes" "$pkts" "$tv" "$ts" "$t1" "$hp" "$tf"
	exportrow "export HAR" "$hr" "$t1" "$tv"
	exportrow "export pcapng" "$pn" "$t1" "$tv"
	echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
}

# exportrow NAME RUNS LANE1_RUNS LANES_RUNS: an export's medians, its CPU
# as a multiple of open -j 1's and its wall time as one of open -j LANES'.
exportrow() {
	[[ -s $2 ]] || return 0
	awk -v n="$1" -v w="$(median "$2" 1)" -v c="$(median "$2" 2)" -v r="$(median "$2" 3)" -v oc="$(median "$3" 2)" \
		-v ow="$(median "$4" 1)" -v lanes="$lanes" -v runs="$(awk '{printf "%s/%s/%.0f ", $1, $2, $3 / 1024}' "$2")" 'BEGIN {
		printf "  %-12s %9.2f %9.2f %12s %9s %12.1f   %s\n", n, w, c, "", "", r / 1024, runs
		if (oc > 0 && ow > 0) printf "  %s uses %.2fx the CPU of open -o json -j 1 and %.2fx the wall time of open -o json -j %s\n", n, c / oc, w / ow, lanes }'
}

# table BYTES PACKETS TAPVIEW_RUNS [TSHARK_RUNS [LANE1_RUNS [HTTPRY_RUNS [TCPFLOW_RUNS]]]]
# (TAPVIEW_RUNS are the runs with $lanes lanes; empty files are skipped).
table() {
	local bytes=$1 pkts=$2 tv=$3 ts=${4:-} t1=${5:-} hp=${6:-} tf=${7:-}
	printf "  %-12s %9s %9s %12s %9s %12s   %s\n" tool "wall s" "cpu s" "packets/s" "MB/s" "peak RSS MB" "runs (wall/cpu/RSS MB)"
	row() { # NAME RUNS
		[[ -n $2 && -s $2 ]] || return 0
		awk -v n="$1" -v w="$(median "$2" 1)" -v c="$(median "$2" 2)" -v r="$(median "$2" 3)" -v b="$bytes" -v p="$pkts" \
			-v runs="$(awk '{printf "%s/%s/%.0f ", $1, $2, $3 / 1024}' "$2")" \
			'BEGIN { if (w <= 0) w = 0.01; printf "  %-12s %9.2f %9.2f %12.0f %9.1f %12.1f   %s\n", n, w, c, p / w, b / 1e6 / w, r / 1024, runs }'
	}
	row "tapview -j 1" "$t1"
	if [[ -n $t1 && -s $t1 ]]; then row "tapview -j $lanes" "$tv"; else row tapview "$tv"; fi
	row tshark "$ts"
	row httpry "$hp"
	row tcpflow "$tf"
	# ratio NAME OTHER_RUNS: how tapview (with $lanes lanes) compares.
	ratio() {
		[[ -n $2 && -s $2 ]] || return 0
		awk -v n="$1" -v tw="$(median "$tv" 1)" -v tc="$(median "$tv" 2)" -v tr="$(median "$tv" 3)" \
			-v ow="$(median "$2" 1)" -v oc="$(median "$2" 2)" -v orss="$(median "$2" 3)" 'BEGIN {
			cpu = oc > 0 ? sprintf("%.2fx", tc / oc) : "-"
			printf "  vs %-10s tapview is %.2fx as fast (wall), uses %s the CPU, %.2fx the peak RSS\n", n, ow / tw, cpu, tr / orss }'
	}
	ratio "-j 1" "$t1"
	ratio tshark "$ts"
	ratio httpry "$hp"
	ratio tcpflow "$tf"
}

machine
if ((growth == 0)); then
	if (($# != 1)); then
		sed -n '2,32p' "$0" >&2
		exit 2
	fi
	compare "$1"
	exit 0
fi

# Growth mode: 150 MB and 600 MB captures of the same traffic.
mkdir -p "$dir"
small="$dir/tapview-bench-150M.pcap"
large="$dir/tapview-bench-600M.pcap"
for spec in "150M:$small" "600M:$large"; do
	echo "generating ${spec#*:} (${spec%%:*})..." >&2
	"$work/gen" -size "${spec%%:*}" -o "${spec#*:}" >&2
done
declare -A rss
for f in "$small" "$large"; do
	if ((growth_tshark)); then compare "$f"; else
		: >"$work/tapview.runs"
		bytes=$(stat -c %s "$f")
		pkts=$(packets_of "$f")
		echo "file: $f ($(awk -v b="$bytes" 'BEGIN {printf "%.1f MB", b / 1e6}'), $pkts packets)"
		for ((i = 1; i <= runs; i++)); do
			echo "  tapview run $i/$runs..." >&2
			measure "$work/tapview.runs" "$work/tapview" open "$f" -o json
		done
		table "$bytes" "$pkts" "$work/tapview.runs"
	fi
	rss[$f]=$(median "$work/tapview.runs" 3)
done
awk -v a="${rss[$small]}" -v b="${rss[$large]}" -v sa="$(stat -c %s "$small")" -v sb="$(stat -c %s "$large")" 'BEGIN {
	printf "growth: capture %.2fx larger, tapview peak RSS %.1f MB -> %.1f MB (%.2fx): %s\n", sb / sa, a / 1024, b / 1024, b / a,
		(b / a < sb / sa) ? "sub-linear" : "NOT sub-linear" }'
