#!/usr/bin/env bash
# Records MariaDB classic-protocol traffic for decode/mysql (issue 23): a
# throwaway mariadbd (fresh datadir, password auth over TCP on the
# loopback of a network namespace of this script's own) and real clients:
#
#   - the mariadb client: CREATE, multi-row INSERT and SELECT, an error
#     (missing table), UPDATE with affected rows, CREATE USER ...
#     IDENTIFIED BY and SET PASSWORD = PASSWORD(...) literals, USE
#     (COM_INIT_DB), SQL-level PREPARE/EXECUTE (COM_QUERY), a multi-result
#     query, LOAD DATA LOCAL INFILE;
#   - a failed login (wrong password), mariadb-admin ping (COM_PING);
#   - an ed25519 user (the server switches the client to client_ed25519);
#   - scripts/mysqlclient (go-sql-driver/mysql, interpolateParams=false):
#     COM_STMT_PREPARE / EXECUTE / CLOSE with binary result sets;
#   - mariadb --compress (CLIENT_COMPRESS framing), with a SQL password
#     literal and an AWS key id in a reply the server compresses;
#   - scripts/mysql-change-user.py (libmariadb's mysql_change_user via
#     ctypes) on a compressed connection: COM_CHANGE_USER to the ed25519
#     user (auth switch) and back to app (auth switch again);
#   - mariadb --ssl (SSL request, then TLS).
#
# Truth: the server's general log (every command of every connection,
# with its thread id), and the clients' own output.
#
#   scripts/record-mysql.sh OUTDIR     write OUTDIR/mysql.pcap, general.log,
#                                      client.txt, secrets.txt
#   scripts/record-mysql.sh --record   ... into testdata/mysql
#
# Needs root (a network namespace), ip, mariadbd, mariadb-install-db, the
# mariadb client, libmariadb3, python3, openssl, tcpdump and go.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
if [ "${1:-}" = "--record" ]; then
  out="$repo/testdata/mysql"
else
  out="${1:?usage: record-mysql.sh OUTDIR | --record}"
fi
for c in ip mariadbd mariadb-install-db mariadb mariadb-admin openssl tcpdump go python3; do
  command -v "$c" >/dev/null || [ -x "/usr/sbin/$c" ] || { echo "record-mysql: needs $c" >&2; exit 2; }
done
[ "$(id -u)" = 0 ] || { echo "record-mysql: needs root (network namespace)" >&2; exit 2; }
out="$(mkdir -p "$out" && cd "$out" && pwd)"
mariadbd="$(command -v mariadbd || echo /usr/sbin/mariadbd)"

NS="${MYSQL_NS:-mysql$$}"
work="$(mktemp -d)"
chmod 755 "$work"
pids=()
cleanup() {
  rc=$?
  set +e
  if [ "$rc" != 0 ] && [ -f "$work/client.txt" ]; then
    echo "record-mysql: failed; the clients said:" >&2
    tail -n 20 "$work/client.txt" >&2
  fi
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
  ip netns del "$NS" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
ip netns add "$NS"
ip -n "$NS" link set lo up
in_ns() { ip netns exec "$NS" "$@"; }

# The planted secrets: each must reach the wire once and never survive a
# masked export.
APP_PW=plantedAppPw7781      # mysql_native_password login (scrambled on the wire)
BAD_PW=plantedWrongPw5521    # the failed login
ED_PW=plantedEdPw3390        # client_ed25519 login after an auth switch
SQL_PW=plantedSqlPw4412      # CREATE USER ... IDENTIFIED BY
SQL_PW2=plantedSqlPw2207     # SET PASSWORD = PASSWORD(...)
ZIP_PW=plantedZipPw6630      # the same on a compressed connection
ZIP_KEY=PLANTEDZIP7KEY66     # AKIA+this (an AWS key id) in a compressed reply
PORT=3307

go build -C "$repo/scripts/mysqlclient" -o "$work/mysqlclient" .
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$work/key.pem" -out "$work/cert.pem" \
  -days 3650 -subj /CN=tapview.test 2>/dev/null
mkdir "$work/data"
mariadb-install-db --no-defaults --user=root --datadir="$work/data" --auth-root-authentication-method=socket >/dev/null
ip netns exec "$NS" "$mariadbd" --no-defaults --user=root --datadir="$work/data" --socket="$work/sock" \
  --port=$PORT --bind-address=127.0.0.1 --skip-networking=0 --pid-file="$work/pid" \
  --general-log=0 --general-log-file="$work/general.log" --log-error="$work/error.log" \
  --plugin-load-add=auth_ed25519 --local-infile=1 \
  --ssl-cert="$work/cert.pem" --ssl-key="$work/key.pem" 2>/dev/null &
pids+=($!)
for _ in $(seq 100); do [ -S "$work/sock" ] && break; sleep 0.1; done
[ -S "$work/sock" ] || { cat "$work/error.log" >&2; exit 1; }
sock() { in_ns mariadb --no-defaults -S "$work/sock" -u root "$@"; }
sock <<SQL
CREATE DATABASE shop;
CREATE DATABASE other;
CREATE USER 'app'@'127.0.0.1' IDENTIFIED BY '$APP_PW';
GRANT ALL ON *.* TO 'app'@'127.0.0.1' WITH GRANT OPTION;
CREATE USER 'ed'@'127.0.0.1' IDENTIFIED VIA ed25519 USING PASSWORD('$ED_PW');
GRANT ALL ON shop.* TO 'ed'@'127.0.0.1';
SET GLOBAL general_log = 1;
SQL

ip netns exec "$NS" tcpdump -i lo -s 0 -U -w "$work/mysql.pcap" "tcp port $PORT" 2>/dev/null &
pids+=($!)
sleep 1

# The mariadb client turns TLS on whenever the server offers it; only the
# last connection should.
cli() { in_ns mariadb --no-defaults -h 127.0.0.1 -P $PORT --protocol=TCP "$@"; }
plain() { cli --skip-ssl "$@"; }
printf '10\tten\t1\n11\televen\t2\n' >"$work/pets.tsv"
{
  echo "== main"
  plain -u app -p"$APP_PW" --force --local-infile=1 --table shop <<SQL 2>&1
CREATE TABLE pets (id INT PRIMARY KEY, name VARCHAR(32) NOT NULL, qty INT, born DATE);
INSERT INTO pets VALUES (1,'cat',3,'2020-01-02'),(2,'dog',NULL,'2019-05-06'),(3,'emu',7,NULL),(4,'yak',0,'2021-12-31');
SELECT id, name, qty, born FROM pets ORDER BY id;
SELECT * FROM missing_table;
UPDATE pets SET qty = 9 WHERE id >= 3;
CREATE USER 'x'@'localhost' IDENTIFIED BY '$SQL_PW';
SET PASSWORD FOR 'x'@'localhost' = PASSWORD('$SQL_PW2');
USE other
USE shop
PREPARE s FROM 'SELECT name FROM pets WHERE id = ?';
SET @i = 2;
EXECUTE s USING @i;
DEALLOCATE PREPARE s;
delimiter //
SELECT COUNT(*) AS n FROM pets; SELECT MAX(id) AS top FROM pets//
delimiter ;
LOAD DATA LOCAL INFILE '$work/pets.tsv' INTO TABLE pets (id, name, qty);
DELETE FROM pets WHERE id >= 10;
SQL
  echo "== badlogin"
  plain -u app -p"$BAD_PW" -e 'SELECT 1' 2>&1 || true
  echo "== ping"
  in_ns mariadb-admin --no-defaults -h 127.0.0.1 -P $PORT --protocol=TCP --skip-ssl -u app -p"$APP_PW" ping 2>&1
  echo "== ed25519"
  plain -u ed -p"$ED_PW" --table shop -e 'SELECT name FROM pets WHERE qty IS NULL' 2>&1
  echo "== binary"
  in_ns "$work/mysqlclient" -dsn "app:$APP_PW@tcp(127.0.0.1:$PORT)/shop" 2>&1
  echo "== compress"
  plain -u app -p"$APP_PW" --compress --table shop <<SQL 2>&1
SELECT id, name FROM pets ORDER BY id DESC;
SELECT REPEAT("z", 300) AS pad;
SELECT REPEAT('q', 100) AS pad, CONCAT('AKIA', '$ZIP_KEY') AS k;
CREATE USER 'zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz'@'localhost' IDENTIFIED BY '$ZIP_PW';
SQL
  echo "== changeuser"
  in_ns python3 "$repo/scripts/mysql-change-user.py" 127.0.0.1 $PORT app "$APP_PW" shop ed "$ED_PW" 2>&1
  echo "== ssl"
  cli -u app -p"$APP_PW" --ssl --ssl-verify-server-cert=0 shop -e 'SELECT 42' 2>&1
} >"$work/client.txt"
sleep 1
kill "${pids[1]}"; wait "${pids[1]}" 2>/dev/null || true
# Scrub the secrets the general log itself shows, so the committed truth
# does not carry them (secrets.txt lists them for the leak test).
sed -e "s/$SQL_PW/<SQL_PW>/g; s/$SQL_PW2/<SQL_PW2>/g; s/$ZIP_PW/<ZIP_PW>/g; s/$ED_PW/<ED_PW>/g" "$work/general.log" >"$out/general.log"
cp "$work/mysql.pcap" "$out/mysql.pcap"
sed -e "s/$SQL_PW/<SQL_PW>/g; s/$SQL_PW2/<SQL_PW2>/g; s/$ZIP_PW/<ZIP_PW>/g; s/$ED_PW/<ED_PW>/g; s/$APP_PW/<APP_PW>/g; s/$BAD_PW/<BAD_PW>/g" "$work/client.txt" >"$out/client.txt"
printf 'app\t%s\nbad\t%s\ned\t%s\nsql\t%s\nsql2\t%s\nsqlzip\t%s\n' "$APP_PW" "$BAD_PW" "$ED_PW" "$SQL_PW" "$SQL_PW2" "$ZIP_PW" >"$out/secrets.txt"
printf 'zipkey\tAKIA%s\n' "$ZIP_KEY" >>"$out/secrets.txt"
echo "record-mysql: wrote $out ($(wc -c <"$out/mysql.pcap") bytes of capture)"
