#!/usr/bin/env bash
# record-nginx.sh: record a real HTTP/1.1 keep-alive capture of nginx
# serving JSON to wrk, on loopback.
#
#   bench/record-nginx.sh OUT.pcap [SIZE]
#
# SIZE is a preset (the exchange count is what wrk is told; the size
# follows from the request mix, about 1.15 KB of capture per exchange):
#   small     18,000 exchanges,  ~20 MB   quick checks
#   default  260,000 exchanges, ~300 MB   >= 150 MB and >= 250k exchanges
#   1g       880,000 exchanges,  ~1 GB
#   N        N exchanges (a number)
#
# What it does:
#  - installs nginx, wrk and tcpdump with apt-get when they are missing;
#  - starts nginx on 127.0.0.1 (first free port from 18080) with a private
#    config in a temp dir (its own pid, logs and temp paths, one worker,
#    keepalive_requests 1000, gzip on for application/json above 1 KB,
#    sendfile + tcp_nopush, ETags), serving JSON documents of 60 B to 8 KB
#    (some very compressible, some not), a small JSON 404 and a POST
#    endpoint answering 201;
#  - runs `tcpdump -i lo -s 0 -U -B 131072 -w OUT 'tcp port PORT'`;
#  - runs `wrk -t 2 -c 8` (keep-alive) with a Lua script (seeded, so the
#    mix is the same each run) that picks paths and query strings, sends
#    `Accept-Encoding: gzip` on ~80% of GETs, conditional GETs with the
#    right ETag (304), 404s and small POSTs, and stops each thread after
#    its share of the exchanges (the last few in flight are cut off when
#    wrk exits; nginx closes each connection after 1000 requests, so the
#    capture has a few hundred connections);
#  - stops tcpdump, nginx and wrk, removes the temp dir, and prints the
#    file size, packets (capinfos, else tcpdump -r | wc -l), exchanges
#    (`tapview open -o json OUT | wc -l`, built from this tree; skip with
#    NO_CHECK=1) and tcpdump's "dropped by kernel" count. Exits 1 when the
#    kernel dropped packets or a preset's targets are not met.
#
# Heavy processes run under `nice -n 10` (NICE=0 to change).
set -euo pipefail

usage() { sed -n '2,35p' "$0"; exit 2; }
[[ $# -ge 1 && $1 != -h && $1 != --help ]] || usage
out=$1
size=${2:-default}
min_bytes=0 min_ex=0
case $size in
small) total=18000 ;;
default) total=260000 min_bytes=150000000 min_ex=250000 ;;
1g) total=880000 min_bytes=900000000 ;;
[0-9]*) total=$size ;;
*) usage ;;
esac
nice_n=${NICE:-10}
NICE_CMD=(nice -n "$nice_n")
root=$(cd "$(dirname "$0")/.." && pwd)

# --- dependencies -----------------------------------------------------------
missing=()
command -v nginx >/dev/null 2>&1 || [[ -x /usr/sbin/nginx ]] || missing+=(nginx)
command -v wrk >/dev/null 2>&1 || missing+=(wrk)
command -v tcpdump >/dev/null 2>&1 || [[ -x /usr/bin/tcpdump ]] || missing+=(tcpdump)
if ((${#missing[@]})); then
	echo "record-nginx: installing ${missing[*]} (apt)" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	# Do not let the nginx package start a system nginx on :80 (a
	# policy-rc.d that says 101 stops service starts, as in containers).
	tmp_policy=
	if [[ ! -e /usr/sbin/policy-rc.d ]]; then
		tmp_policy=/usr/sbin/policy-rc.d
		printf '#!/bin/sh\nexit 101\n' >"$tmp_policy"
		chmod +x "$tmp_policy"
	fi
	apt-get install -y -qq "${missing[@]}" >/dev/null
	[[ -n $tmp_policy ]] && rm -f "$tmp_policy"
fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
TCPDUMP=$(command -v tcpdump || echo /usr/bin/tcpdump)

# --- temp dir and cleanup -----------------------------------------------------
work=$(mktemp -d /tmp/record-nginx.XXXXXX)
chmod 755 "$work" # nginx workers run as nobody
nginx_pid= tcpdump_pid= wrk_pid=
cleanup() {
	local p
	for p in $wrk_pid $tcpdump_pid; do
		kill -INT "$p" 2>/dev/null || true
	done
	if [[ -n $nginx_pid ]]; then
		kill -QUIT "$nginx_pid" 2>/dev/null || true
	fi
	for p in $wrk_pid $tcpdump_pid $nginx_pid; do
		for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$p" 2>/dev/null || true
	done
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- a free port --------------------------------------------------------------
port=${PORT:-}
if [[ -z $port ]]; then
	for p in $(seq 18080 18180); do
		if ! ss -Htan "( sport = :$p or dport = :$p )" 2>/dev/null | grep -q .; then
			port=$p
			break
		fi
	done
fi
[[ -n $port ]] || { echo "record-nginx: no free port in 18080-18180" >&2; exit 1; }

# --- documents ----------------------------------------------------------------
# Deterministic (awk's srand with a fixed seed), so that every run serves
# the same bytes.
docs=$work/www/api
mkdir -p "$docs/orders" "$docs/catalog"
awk -v dir="$docs" 'BEGIN {
	srand(7)
	split("alice bob carol dave erin frank grace heidi ivan judy mallory niaj olivia peggy rupert sybil trent victor walter", names, " ")
	split("pending paid shipped delivered cancelled refunded", states, " ")
	split("Berlin Lisbon Osaka Lima Nairobi Oslo Quito Perth Austin Tallinn", cities, " ")
	# users.json: ~8 KB, very compressible (repetitive records).
	f = dir "/users.json"
	printf "{\"page\":1,\"per_page\":40,\"users\":[" > f
	for (i = 1; i <= 40; i++) {
		n = names[1 + int(rand() * 19)]
		printf "%s{\"id\":%d,\"name\":\"%s\",\"email\":\"%s%d@example.com\",\"city\":\"%s\",\"active\":%s,\"roles\":[\"reader\"%s],\"created\":\"2026-0%d-1%dT10:0%d:00Z\"}", (i > 1 ? "," : ""), 1000 + i, n, n, i, cities[1 + int(rand() * 10)], (rand() < 0.8 ? "true" : "false"), (rand() < 0.3 ? ",\"editor\"" : ""), 1 + int(rand() * 9), int(rand() * 10), int(rand() * 10) > f
	}
	printf "]}\n" > f
	close(f)
	# orders/1..24.json: 1-3 KB, compressible.
	for (o = 1; o <= 24; o++) {
		f = dir "/orders/" o ".json"
		items = 10 + (o * 7) % 24
		printf "{\"id\":%d,\"customer\":\"%s\",\"status\":\"%s\",\"currency\":\"EUR\",\"items\":[", 50000 + o, names[1 + (o % 19)], states[1 + (o % 6)] > f
		for (i = 1; i <= items; i++)
			printf "%s{\"sku\":\"SKU-%05d\",\"title\":\"Item %d of order %d\",\"qty\":%d,\"price\":%d.%02d}", (i > 1 ? "," : ""), int(rand() * 99999), i, o, 1 + int(rand() * 4), 1 + int(rand() * 200), int(rand() * 100) > f
		printf "],\"shipping\":{\"city\":\"%s\",\"method\":\"standard\"},\"notes\":\"\"}\n", cities[1 + (o % 10)] > f
		close(f)
	}
	# catalog/1..6.json: 2-6 KB, poorly compressible (random tokens).
	for (c = 1; c <= 6; c++) {
		f = dir "/catalog/" c ".json"
		n = 12 + c * 10
		printf "{\"catalog\":%d,\"entries\":[", c > f
		for (i = 1; i <= n; i++) {
			tok = ""
			for (k = 0; k < 32; k++) tok = tok substr("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ", 1 + int(rand() * 62), 1)
			printf "%s{\"k\":\"%s\",\"v\":%d}", (i > 1 ? "," : ""), tok, int(rand() * 1000000) > f
		}
		printf "]}\n" > f
		close(f)
	}
	# config.json: ~700 B, below gzip_min_length (sent as is).
	f = dir "/config.json"
	printf "{\"version\":\"4.12.1\",\"features\":{" > f
	for (i = 1; i <= 18; i++) printf "%s\"flag_%02d\":%s", (i > 1 ? "," : ""), i, (rand() < 0.5 ? "true" : "false") > f
	printf "},\"limits\":{\"rps\":500,\"burst\":50,\"body_bytes\":1048576},\"regions\":[\"eu-central-1\",\"us-east-1\",\"ap-south-1\"],\"maintenance\":null,\"motd\":\"Scheduled maintenance on Sunday 02:00-03:00 UTC; expect brief interruptions of the order API.\"}\n" > f
	close(f)
	# health.json: tiny.
	f = dir "/health.json"
	printf "{\"status\":\"ok\",\"uptime_s\":86400,\"db\":\"ok\"}\n" > f
	close(f)
}'
printf '{"error":"not found","code":404}\n' >"$work/www/404.json"
chmod -R a+rX "$work/www"

# ETags as nginx computes them ("mtime-size" in hex), for conditional GETs.
etags=
for f in "$docs/users.json" "$docs/config.json" "$docs"/orders/{1,2,3,4,5,6}.json; do
	rel=${f#"$work/www"}
	etags+=$(printf '  {"%s", "\\"%x-%x\\""},\n' "$rel" "$(stat -c %Y "$f")" "$(stat -c %s "$f")")$'\n'
done

# --- nginx --------------------------------------------------------------------
mkdir -p "$work/logs" "$work/tmp"
cat >"$work/nginx.conf" <<EOF
worker_processes 1;
pid $work/nginx.pid;
error_log $work/logs/error.log warn;
daemon off;
events { worker_connections 256; }
http {
    types { application/json json; }
    default_type application/json;
    access_log off;
    client_body_temp_path $work/tmp/body;
    proxy_temp_path $work/tmp/proxy;
    fastcgi_temp_path $work/tmp/fastcgi;
    uwsgi_temp_path $work/tmp/uwsgi;
    scgi_temp_path $work/tmp/scgi;
    sendfile on;
    tcp_nopush on;
    keepalive_timeout 65;
    keepalive_requests 1000;
    server_tokens off;
    gzip on;
    gzip_types application/json;
    gzip_min_length 1024;
    gzip_comp_level 5;
    gzip_vary on;
    server {
        listen 127.0.0.1:$port;
        root $work/www;
        error_page 404 /404.json;
        location = /404.json { internal; }
        location = /api/events {
            client_max_body_size 64k;
            return 201 '{"accepted":true}\n';
        }
        location / { try_files \$uri =404; }
    }
}
EOF
"$NGINX" -t -q -p "$work" -c "$work/nginx.conf" -e "$work/logs/error.log"
"${NICE_CMD[@]}" "$NGINX" -p "$work" -c "$work/nginx.conf" -e "$work/logs/error.log" &
nginx_pid=$!
up=0
for _ in $(seq 100); do
	if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then up=1; break; fi
	sleep 0.05
done
((up)) || { echo "record-nginx: nginx did not start:" >&2; cat "$work/logs/error.log" >&2; exit 1; }

# --- wrk script -----------------------------------------------------------------
per_thread=$(((total + 1) / 2))
cat >"$work/mix.lua" <<EOF
-- Generated by bench/record-nginx.sh.
local per_thread = $per_thread
local etags = {
$etags}
local threads = {}
local counter = 0

function setup(thread)
  thread:set("id", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  math.randomseed(1000 + (id or 0))
  counter = 0
end

local function get(path, gzip, extra)
  local h = { ["Accept"] = "application/json", ["User-Agent"] = "wrk/4.1 record-nginx" }
  if gzip then h["Accept-Encoding"] = "gzip" end
  if extra then for k, v in pairs(extra) do h[k] = v end end
  return wrk.format("GET", path, h)
end

function request()
  local r = math.random(100)
  local gzip = math.random(100) <= 80
  if r <= 30 then
    return get("/api/orders/" .. math.random(24) .. ".json?v=" .. math.random(9999), gzip)
  elseif r <= 40 then
    return get("/api/users.json?page=1&sort=" .. (math.random(2) == 1 and "name" or "created"), gzip)
  elseif r <= 46 then
    return get("/api/catalog/" .. math.random(6) .. ".json", gzip)
  elseif r <= 58 then
    return get("/api/config.json", gzip)
  elseif r <= 68 then
    return get("/api/health.json", false)
  elseif r <= 80 then
    local e = etags[math.random(#etags)]
    return get(e[1], gzip, { ["If-None-Match"] = e[2] })
  elseif r <= 88 then
    return get("/api/missing/" .. math.random(100000), gzip)
  else
    local body = string.format('{"type":"click","user":%d,"ts":%d,"path":"/shop/item/%d"}', math.random(5000), 1760000000 + math.random(100000), math.random(900))
    return wrk.format("POST", "/api/events", { ["Content-Type"] = "application/json", ["User-Agent"] = "wrk/4.1 record-nginx" }, body)
  end
end

function response(status, headers, body)
  counter = counter + 1
  if counter == per_thread then
    -- wrk's main thread sleeps for the whole -d duration even when every
    -- thread has stopped: tell the script, which then sends SIGINT.
    local f = io.open("$work/done." .. (id or 0), "w")
    if f then f:close() end
    wrk.thread:stop()
  end
end
EOF

# --- capture --------------------------------------------------------------------
rm -f "$out"
"${NICE_CMD[@]}" "$TCPDUMP" -i lo -s 0 -U -B 131072 -Z root -w "$out" "tcp port $port" 2>"$work/tcpdump.err" &
tcpdump_pid=$!
for _ in $(seq 100); do
	grep -q 'listening on' "$work/tcpdump.err" && break
	sleep 0.05
done
grep -q 'listening on' "$work/tcpdump.err" || { echo "record-nginx: tcpdump did not start:" >&2; cat "$work/tcpdump.err" >&2; exit 1; }

echo "record-nginx: $total exchanges to http://127.0.0.1:$port/ (wrk -t 2 -c 8), capturing to $out" >&2
t0=$(date +%s.%N)
"${NICE_CMD[@]}" wrk -t 2 -c 8 -d 3600s --latency -s "$work/mix.lua" "http://127.0.0.1:$port/" >"$work/wrk.out" 2>&1 &
wrk_pid=$!
while kill -0 "$wrk_pid" 2>/dev/null; do
	n=$(find "$work" -maxdepth 1 -name 'done.*' | wc -l)
	((n >= 2)) && { kill -INT "$wrk_pid"; break; }
	sleep 0.2
done
wait "$wrk_pid" || { echo "record-nginx: wrk failed:" >&2; cat "$work/wrk.out" >&2; exit 1; }
wrk_pid=
t1=$(date +%s.%N)
sleep 0.5 # let the last packets reach the file
kill -INT "$tcpdump_pid"
wait "$tcpdump_pid" || true
tcpdump_pid=
kill -QUIT "$nginx_pid"
wait "$nginx_pid" || true
nginx_pid=

# --- check ------------------------------------------------------------------------
captured=$(awk '/packets captured/ {print $1}' "$work/tcpdump.err")
dropped=$(awk '/dropped by kernel/ {print $1}' "$work/tcpdump.err")
bytes=$(stat -c %s "$out")
if command -v capinfos >/dev/null 2>&1; then
	packets=$(capinfos -c -M "$out" 2>/dev/null | awk -F': *' '/Number of packets/ {print $2}')
	how="capinfos"
else
	packets=$("${NICE_CMD[@]}" "$TCPDUMP" -nn -q -t -r "$out" 2>/dev/null | wc -l)
	how="tcpdump -r | wc -l"
fi
requests=$(awk '/requests in/ {print $1}' "$work/wrk.out")
exchanges=unchecked
if [[ ${NO_CHECK:-0} != 1 ]]; then
	echo "record-nginx: counting exchanges with tapview open -o json..." >&2
	(cd "$root" && go build -o "$work/tapview" ./cmd/tapview)
	exchanges=$("${NICE_CMD[@]}" "$work/tapview" open -o json "$out" 2>/dev/null | grep -c '"type":"exchange"' || true)
fi

echo
echo "wrk:"
sed 's/^/  /' "$work/wrk.out"
echo
printf "%-22s %s\n" "file" "$out"
printf "%-22s %s bytes (%.1f MB)\n" "size" "$bytes" "$(echo "$bytes / 1000000" | bc -l)"
printf "%-22s %s (%s; tcpdump captured %s)\n" "packets" "$packets" "$how" "$captured"
printf "%-22s %s (tapview open -o json; wrk counted %s responses)\n" "exchanges" "$exchanges" "$requests"
printf "%-22s %s\n" "dropped by kernel" "$dropped"
printf "%-22s %.1f s at %s req/s\n" "wrk run" "$(echo "$t1 - $t0" | bc -l)" "$(awk '/Requests\/sec/ {print $2}' "$work/wrk.out")"

ok=1
if [[ $dropped != 0 ]]; then
	echo "record-nginx: FAIL: the kernel dropped $dropped packets (machine too busy? rerun)" >&2
	ok=0
fi
if ((bytes < min_bytes)); then
	echo "record-nginx: FAIL: $bytes bytes < $min_bytes for preset $size" >&2
	ok=0
fi
if [[ $exchanges != unchecked ]] && ((exchanges < min_ex)); then
	echo "record-nginx: FAIL: $exchanges exchanges < $min_ex for preset $size" >&2
	ok=0
fi
((ok)) || exit 1
