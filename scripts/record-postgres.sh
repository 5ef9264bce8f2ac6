#!/usr/bin/env bash
# Records PostgreSQL v3 traffic for decode/postgres (issue 23): a throwaway
# PostgreSQL 15 server (fresh initdb data directory, run as nobody since
# postgres refuses root, listening on 127.0.0.1 at a free port, password
# auth over TCP) and real clients, captured with tcpdump on lo:
#
#   - psql with sslmode=require (SSLRequest answered 'S', then TLS);
#     scripts/pgclient over TLS with its key log (tls.keys), so the
#     TLS connection can be decrypted; then the server turns SSL off;
#   - psql as a SCRAM-SHA-256 user (sslmode=prefer: SSLRequest answered
#     'N' first): CREATE, INSERT, a multi-row SELECT, UPDATE/DELETE, an
#     error (missing table), a notice, a transaction with a failed
#     statement, COPY FROM STDIN and TO STDOUT, LISTEN/NOTIFY, CREATE ROLE
#     and ALTER ROLE with a planted PASSWORD literal, a multi-statement
#     Query (psql -c);
#   - psql as an md5 user, and a login with a wrong password (28P01);
#   - scripts/pgclient (pgx, extended protocol): named prepared statements
#     (Parse/Describe/Sync, then Bind/Execute/Sync), binary results, an
#     error during Execute, Close;
#   - a pg_sleep cancelled by SIGINT (psql sends a CancelRequest).
#
# Truth: the server log (log_statement=all, log_connections, the SQLSTATE
# in each line's prefix) and psql's echoed output.
#
#   scripts/record-postgres.sh OUTDIR    write OUTDIR/postgres.pcap,
#                                        server.log, client.txt, secrets.txt,
#                                        tls.keys
#   scripts/record-postgres.sh --record  ... into testdata/postgres
#
# Needs root (tcpdump on lo, running the server as nobody), PostgreSQL 15
# (/usr/lib/postgresql/15/bin), psql, openssl, setpriv, tcpdump and go.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
if [ "${1:-}" = "--record" ]; then
  out="$repo/testdata/postgres"
else
  out="${1:?usage: record-postgres.sh OUTDIR | --record}"
fi
pgbin="${PGBIN:-/usr/lib/postgresql/15/bin}"
for c in "$pgbin/initdb" "$pgbin/postgres" psql openssl setpriv tcpdump go python3; do
  command -v "$c" >/dev/null || { echo "record-postgres: needs $c" >&2; exit 2; }
done
out="$(mkdir -p "$out" && cd "$out" && pwd)"

# The planted secrets: the export tests look for them byte for byte.
SUPERPASS='Planted-PG-Super-5120'
APPPASS='Planted-PG-Scram-7741'
MD5PASS='Planted-PG-Md5-3306'
SQLPASS='Planted-PG-SQL-Literal-9052'
SQLPASS2='Planted-PG-SQL-Alter-6618'
PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"

work="$(mktemp -d)"
chmod 755 "$work"
pids=()
cleanup() {
  set +e
  [ -f "$work/data/postmaster.pid" ] && setpriv --reuid=nobody --regid=nogroup --clear-groups "$pgbin/pg_ctl" -D "$work/data" -m immediate stop >/dev/null 2>&1
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
  rm -rf "$work"
}
trap cleanup EXIT
asnobody() { setpriv --reuid=nobody --regid=nogroup --clear-groups -- "$@"; }

(cd "$repo/scripts/pgclient" && go build -o "$work/pgclient" .)

mkdir "$work/data" "$work/run"
echo "$SUPERPASS" >"$work/superpass"
chown -R nobody:nogroup "$work/data" "$work/run" "$work/superpass"
asnobody "$pgbin/initdb" -D "$work/data" -U postgres --pwfile="$work/superpass" \
  --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 >"$work/initdb.log"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost \
  -keyout "$work/data/server.key" -out "$work/data/server.crt" 2>/dev/null
chown nobody:nogroup "$work/data/server.key" "$work/data/server.crt"
chmod 600 "$work/data/server.key"
cat >>"$work/data/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = '$work/run'
ssl = on
log_destination = 'stderr'
logging_collector = off
log_statement = 'all'
log_min_error_statement = 'error'
log_connections = on
log_line_prefix = '%m [%p] %q%u@%d %e '
lc_messages = 'C'
EOF
cat >"$work/data/pg_hba.conf" <<EOF
local all all trust
host all md5user 127.0.0.1/32 md5
host all all 127.0.0.1/32 scram-sha-256
EOF
asnobody "$pgbin/postgres" -D "$work/data" 2>"$work/server.log" &
pids+=($!)
for _ in $(seq 100); do
  psql -X -q -h "$work/run" -p "$PORT" -U postgres -d postgres -c 'SELECT 1' >/dev/null 2>&1 && break
  sleep 0.1
done
# Roles and the database are made over the Unix socket, outside the capture.
psql -X -q -h "$work/run" -p "$PORT" -U postgres -d postgres -v ON_ERROR_STOP=1 >/dev/null <<EOF
CREATE ROLE appuser LOGIN CREATEROLE PASSWORD '$APPPASS';
SET password_encryption = 'md5';
CREATE ROLE md5user LOGIN PASSWORD '$MD5PASS';
CREATE DATABASE appdb OWNER appuser;
EOF
: >"$work/server.log.mark"
start_line=$(($(wc -l <"$work/server.log") + 1))

tcpdump -i lo -s 0 -U -w "$work/postgres.pcap" "tcp port $PORT" 2>"$work/tcpdump.log" &
tcpdump_pid=$!
pids+=($tcpdump_pid)
for _ in $(seq 50); do
  grep -q listening "$work/tcpdump.log" 2>/dev/null && break
  sleep 0.1
done

dsn() { echo "host=127.0.0.1 port=$PORT user=$1 dbname=$2 sslmode=${3:-prefer} gssencmode=disable application_name=$4"; }
: >"$work/client.txt"
pq() { # pq USER PASSWORD DB APP [SSLMODE] -- psql args...
  local user=$1 pass=$2 db=$3 app=$4 ssl=$5
  shift 6
  echo "### psql $user $app" >>"$work/client.txt"
  PGPASSWORD="$pass" psql -X -a "$(dsn "$user" "$db" "$ssl" "$app")" "$@" >>"$work/client.txt" 2>&1 || true
}

# 1. TLS: SSLRequest answered 'S'. Then the server turns SSL off (a
# reload), so the SSLRequests of the later psql runs (sslmode=prefer) are
# answered 'N' and they go on in plaintext.
pq appuser "$APPPASS" appdb psql-tls require -- -c "SELECT 'over tls' AS t"
echo "### pgclient-tls" >>"$work/client.txt"
"$work/pgclient" -tls "$work/tls.keys" "postgres://appuser:$APPPASS@127.0.0.1:$PORT/appdb?sslmode=require" >>"$work/client.txt" 2>&1
psql -X -q -h "$work/run" -p "$PORT" -U postgres -d postgres -c 'ALTER SYSTEM SET ssl = off' -c 'SELECT pg_reload_conf()' >/dev/null
sleep 0.5

# 2. SCRAM user, one connection running a script file statement by statement.
cat >"$work/workload.sql" <<EOF
CREATE TABLE items (id serial PRIMARY KEY, name text NOT NULL, qty int, note text);
INSERT INTO items (name, qty) VALUES ('apple', 3);
INSERT INTO items (name, qty, note) VALUES ('pear', 5, 'ripe'), ('plum', 7, NULL), ('fig', 9, 'tab	inside');
SELECT id, name, qty, note FROM items ORDER BY id;
SELECT count(*) AS n FROM items WHERE qty > 4;
UPDATE items SET qty = qty + 1 WHERE qty < 6;
DELETE FROM items WHERE name = 'fig';
SELECT * FROM nothere;
DROP TABLE IF EXISTS nothere;
BEGIN;
UPDATE items SET note = 'in tx' WHERE id = 1;
SELECT 1 / 0;
ROLLBACK;
BEGIN;
INSERT INTO items (name, qty) VALUES ('kiwi', 2);
COMMIT;
COPY items (name, qty, note) FROM STDIN;
cherry	11	copied
grape	12	\N
\.
COPY (SELECT name, qty FROM items ORDER BY id) TO STDOUT;
LISTEN jobs;
NOTIFY jobs, 'job-42 ready';
SELECT pg_notify('jobs', 'job-43 ready');
UNLISTEN jobs;
CREATE ROLE temp_role LOGIN PASSWORD '$SQLPASS';
ALTER ROLE temp_role WITH ENCRYPTED PASSWORD '$SQLPASS2';
SELECT 'it''s' AS quoted, NULL AS nothing, 1.5::numeric AS num, true AS flag;
EOF
pq appuser "$APPPASS" appdb psql-scram prefer -- -f "$work/workload.sql"
# 3. A multi-statement Query message (psql -c sends the string as is).
pq appuser "$APPPASS" appdb psql-multi prefer -- -c "SELECT 1 AS one; SELECT 'two' AS two; SELECT * FROM nothere2"
# 4. The md5 user, and a wrong password.
pq md5user "$MD5PASS" appdb psql-md5 prefer -- -c "SELECT current_user, current_database()"
pq appuser "wrong-password" appdb psql-wrong prefer -- -c "SELECT 1"
# 5. The extended protocol (pgx).
echo "### pgclient" >>"$work/client.txt"
"$work/pgclient" "postgres://appuser:$APPPASS@127.0.0.1:$PORT/appdb?sslmode=disable" >>"$work/client.txt" 2>&1
# 6. A cancelled statement: SIGINT makes psql send a CancelRequest.
echo "### psql appuser psql-cancel" >>"$work/client.txt"
PGPASSWORD="$APPPASS" psql -X -a "$(dsn appuser appdb disable psql-cancel)" -c "SELECT pg_sleep(20)" >>"$work/client.txt" 2>&1 &
cancel_pid=$!
sleep 2
kill -INT "$cancel_pid"
wait "$cancel_pid" || true

# Let the last packets reach the capture before it stops.
sleep 1.5
kill -INT "$tcpdump_pid"
wait "$tcpdump_pid" 2>/dev/null || true
sleep 0.3
tail -n +"$start_line" "$work/server.log" | grep -v 'checkpoint\|database system' >"$out/server.log" || true
cp "$work/postgres.pcap" "$work/client.txt" "$work/tls.keys" "$out/"
sed -i "s/port=$PORT/port=PORT/g; s/:$PORT\//:PORT\//g" "$out/client.txt"
printf '%s\n' "$SUPERPASS" "$APPPASS" "$MD5PASS" "$SQLPASS" "$SQLPASS2" >"$out/secrets.txt"
echo "$PORT" >"$out/port.txt"
ls -l "$out"
