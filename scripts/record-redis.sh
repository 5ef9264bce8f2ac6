#!/usr/bin/env bash
# Records real Redis traffic for decode/redis (issue 23): redis-server on
# 127.0.0.1 (throwaway directory, requirepass for "default" and ACL
# users "alice" and "carol"), tcpdump on lo for the server's port, and a
# redis-cli workload:
#
#   resp2     one connection: AUTH with the planted default password,
#             SELECT, SET/GET, INCR, HSET/HGETALL, lists, sets, a WRONGTYPE
#             error, an unknown command, CLIENT SETNAME, MULTI/EXEC (one
#             queued command fails at EXEC), a 12 KB value
#   resp3     RESP2 first (PING answered -NOAUTH), then HELLO 3 AUTH alice
#             <planted> SETNAME (protocol switch mid-connection), then
#             replies of every RESP3 type from the server itself (DEBUG
#             PROTOCOL map/set/double/true/false/null/verbatim and real
#             commands: HGETALL, SMEMBERS, ZSCORE)
#   resp3raw  HELLO 3 AUTH over bash's /dev/tcp, then DEBUG PROTOCOL
#             attrib/bignum/push (this redis-cli cannot read them)
#   inline    telnet-style inline commands over bash's /dev/tcp: PING,
#             AUTH carol <planted>, then AUTH alice <planted> (cut across
#             two segments), GET, then a RESP array mixed with inline ECHO,
#             AUTH <planted>, AUTH carol <planted>, QUIT
#   pipe      redis-cli --pipe: many pipelined commands, some inline
#   pubsub    SUBSCRIBE/PSUBSCRIBE in RESP2 and RESP3 (pushes), PUBLISH
#             from another client, subscribers stopped by timeout
#
# redis-cli MONITOR on its own connection writes the truth: every command
# the server ran with its client address (the monitor's own connection
# never appears there; its port is written to monitor-port.txt).
#
#   scripts/record-redis.sh OUTDIR     write OUTDIR/redis.pcap, monitor.txt,
#                                      monitor-port.txt, passwords.txt
#   scripts/record-redis.sh --record   ... into testdata/redis
#
# Needs redis-server, redis-cli, tcpdump and root (capturing on lo).
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
if [ "${1:-}" = "--record" ]; then
  out="$repo/testdata/redis"
else
  out="${1:?usage: record-redis.sh OUTDIR | --record}"
fi
for c in redis-server redis-cli tcpdump timeout; do
  command -v "$c" >/dev/null || { echo "record-redis: needs $c" >&2; exit 2; }
done
out="$(mkdir -p "$out" && cd "$out" && pwd)"

# The planted secrets: the export tests look for them byte for byte.
DEFPASS='Planted-Redis-Default-7391'
ALICEPASS='Planted-Redis-Alice-2288'
# carol's is short on purpose: packet export searches the packets for
# the values the decoder found only from 6 bytes on, so only the stream
# walker (export/streammask) can overwrite this one.
CAROLPASS='Kq7Zx'
PORT="${REDIS_PORT:-$((20000 + $$ % 20000))}"

work="$(mktemp -d)"
pids=()
cleanup() {
  set +e
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
  rm -rf "$work"
}
trap cleanup EXIT

redis-server --port "$PORT" --bind 127.0.0.1 --dir "$work" --save '' --appendonly no \
  --enable-debug-command local --requirepass "$DEFPASS" \
  --user alice on ">$ALICEPASS" '~*' '&*' '+@all' \
  --user carol on ">$CAROLPASS" '~*' '&*' '+@all' \
  --logfile "$work/server.log" &
pids+=($!)
for _ in $(seq 50); do
  redis-cli -p "$PORT" --no-auth-warning -a "$DEFPASS" PING >/dev/null 2>&1 && break
  sleep 0.1
done

tcpdump -i lo -s 0 -U -w "$work/redis.pcap" "tcp port $PORT" 2>"$work/tcpdump.log" &
tcpdump_pid=$!
pids+=($tcpdump_pid)
for _ in $(seq 50); do
  grep -q listening "$work/tcpdump.log" 2>/dev/null && break
  sleep 0.1
done

cli() { redis-cli -p "$PORT" "$@"; }

# The truth: MONITOR on its own connection (authenticated by redis-cli).
REDISCLI_AUTH="$DEFPASS" cli MONITOR >"$work/monitor.txt" 2>/dev/null &
mon_pid=$!
pids+=($mon_pid)
sleep 0.5
cli --no-auth-warning -a "$DEFPASS" CLIENT LIST | sed -n 's/.* addr=127.0.0.1:\([0-9]*\) .*cmd=monitor.*/\1/p' >"$out/monitor-port.txt"

big="$(head -c 12288 /dev/zero | tr '\0' 'x')"

# resp2: one connection, commands one at a time (redis-cli reads stdin).
cli >/dev/null <<EOF
AUTH $DEFPASS
PING
SELECT 2
SET user:1 alice
GET user:1
INCR counter
INCR counter
HSET h:1 name bob age 42
HGETALL h:1
RPUSH list:1 a b c
LRANGE list:1 0 -1
GET list:1
NOSUCHCOMMAND x
CLIENT SETNAME tapview-resp2
SADD set:1 x y z
SMEMBERS set:1
EXISTS user:1 nokey
MULTI
SET tx:1 10
INCR tx:1
LPOP tx:1
EXEC
SET big:1 $big
STRLEN big:1
GET big:1
GET missing:1
DEL user:1 counter
EOF

# resp3: protocol switch mid-connection with HELLO ... AUTH.
cli >/dev/null <<EOF
PING
HELLO 3 AUTH alice $ALICEPASS SETNAME tapview-resp3
SELECT 2
HGETALL h:1
SMEMBERS set:1
ZADD z:1 1.5 one 2 two
ZSCORE z:1 one
DEBUG PROTOCOL map
DEBUG PROTOCOL set
DEBUG PROTOCOL double
DEBUG PROTOCOL true
DEBUG PROTOCOL false
DEBUG PROTOCOL null
DEBUG PROTOCOL verbatim
GET list:1
GET nothing:here
EOF

# resp3raw: the RESP3 replies this redis-cli cannot print (it exits on an
# attribute, a big number or an out-of-band push) asked for over bash's
# /dev/tcp: HELLO 3 with the planted password, then DEBUG PROTOCOL attrib,
# bignum and push, pipelined.
resp() { # resp ARG... writes one RESP array of bulk strings
  printf '*%d\r\n' "$#"
  for a in "$@"; do printf '$%d\r\n%s\r\n' "${#a}" "$a"; done
}
exec 3<>"/dev/tcp/127.0.0.1/$PORT"
{
  resp HELLO 3 AUTH alice "$ALICEPASS"
  resp DEBUG PROTOCOL attrib
  resp DEBUG PROTOCOL bignum
  resp DEBUG PROTOCOL push
  resp PING
  resp QUIT
} >&3
timeout 2 cat <&3 >/dev/null || true
exec 3<&-

# inline: telnet-style commands over bash's /dev/tcp, typed one after
# another as at nc or telnet: PING and an inline AUTH carol <short> after
# it, then AUTH alice <planted> (written in two pieces a moment apart, so
# the password is cut across two segments), GET, then a RESP array and
# more inline commands written together (AUTH with the default password,
# AUTH carol again among them), QUIT.
exec 3<>"/dev/tcp/127.0.0.1/$PORT"
printf 'PING\r\nAUTH carol %s\r\n' "$CAROLPASS" >&3
sleep 0.2
printf 'AUTH alice %s' "${ALICEPASS:0:12}" >&3
sleep 0.2
printf '%s\r\nGET inline:0\r\n' "${ALICEPASS:12}" >&3
sleep 0.2
{
  resp SELECT 2
  printf 'ECHO inline\r\nAUTH %s\r\n' "$DEFPASS"
  resp PING
  printf 'AUTH carol %s\r\nQUIT\r\n' "$CAROLPASS"
} >&3
timeout 2 cat <&3 >/dev/null || true
exec 3<&-

# pipe: raw protocol written at once, mixing RESP arrays and inline
# commands; redis-cli --pipe adds an ECHO of its own at the end.
{
  resp AUTH "$DEFPASS"
  for i in $(seq 1 40); do resp SET "pipe:$i" "$i"; done
  printf 'SET inline:1 "hello world"\r\nGET inline:1\r\nINCR inline:2\r\n'
  for i in $(seq 1 40); do resp GET "pipe:$i"; done
} | cli --pipe >/dev/null

# pubsub: RESP2 and RESP3 subscribers, a publisher.
REDISCLI_AUTH="$DEFPASS" timeout 2 redis-cli -p "$PORT" SUBSCRIBE news sport >/dev/null &
sub2=$!
REDISCLI_AUTH="$DEFPASS" timeout 2 redis-cli -p "$PORT" -3 PSUBSCRIBE 'new*' >/dev/null &
sub3=$!
sleep 0.7
REDISCLI_AUTH="$DEFPASS" cli PUBLISH news "first message" >/dev/null
REDISCLI_AUTH="$DEFPASS" cli PUBLISH sport goal >/dev/null
REDISCLI_AUTH="$DEFPASS" cli PUBLISH news "second message" >/dev/null
wait "$sub2" "$sub3" 2>/dev/null || true

sleep 0.5
kill "$mon_pid"
sleep 0.5
kill "$tcpdump_pid"
wait "$tcpdump_pid" 2>/dev/null || true

cp "$work/redis.pcap" "$out/redis.pcap"
grep -v '^OK$' "$work/monitor.txt" >"$out/monitor.txt" || true
printf '%s\n%s\n%s\n' "$DEFPASS" "$ALICEPASS" "$CAROLPASS" >"$out/passwords.txt"
echo "record-redis: wrote $out/redis.pcap ($(wc -c <"$out/redis.pcap") bytes), $(wc -l <"$out/monitor.txt") monitor lines"
