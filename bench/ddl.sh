#!/usr/bin/env bash
# What c5metrics adds to DDL (bench/README.md, "ddl.sh"): since 1.4 a
# ProcessUtility hook follows renames and checks ALTER TABLE, GRANT,
# CREATE INDEX and CREATE TRIGGER against the attachments (src/ddl.c).
#
#   make && make install      # measures the installed c5metrics
#   sudo bench/ddl.sh         # about 1 minute
#
# One throwaway cluster (unix socket in /tmp, port 56612, as the OS user
# postgres), two databases with the reference shop: `withext` has
# c5metrics attached to it, `noext` has no extension.  Each statement runs
# 300 times in one pgbench session in each database, on a table no
# c5metrics trigger concerns (shop.products) and on one that is tracked
# and read by another trigger (shop.refunds).  Prints the mean latency of
# each, and the difference.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
bench_as_postgres
PORT=${PORT:-56612}
BIN=$(pg_config --bindir)
OUT=$(mktemp -d /tmp/c5ddl.XXXXXX)
chmod 755 "$OUT"
chown "${dbuser}" "$OUT" 2>/dev/null || true
D=$OUT/data

as_pg "$BIN/initdb" -D "$D" -A trust -U "$dbuser" >/dev/null
cat >>"$D/postgresql.conf" <<CONF
shared_preload_libraries = 'c5metrics'
c5metrics.listen_addresses = ''
listen_addresses = ''
unix_socket_directories = '/tmp'
port = $PORT
CONF
as_pg "$BIN/pg_ctl" -D "$D" -l "$OUT/server.log" -w start >/dev/null
trap 'as_pg "$BIN/pg_ctl" -D "$D" -m fast -w stop >/dev/null; rm -rf "$OUT"' EXIT
sql() { as_pg "$BIN/psql" -h /tmp -p "$PORT" -U "$dbuser" -X -q -v ON_ERROR_STOP=1 "$@"; }

sql -d postgres -c 'CREATE DATABASE withext' -c 'CREATE DATABASE noext'
sql -d withext -c 'CREATE EXTENSION c5metrics' -c "SELECT c5metrics.create_reference_schema('shop')" >/dev/null
# the same tables, then no extension at all
sql -d noext -c 'CREATE EXTENSION c5metrics' \
	-c "SELECT c5metrics.create_reference_schema('shop', track => false)" \
	-c 'DROP EXTENSION c5metrics' >/dev/null

latency() {
	printf '%s\n' "$2" >"$OUT/stmt.sql"
	as_pg "$BIN/pgbench" -h /tmp -p "$PORT" -U "$dbuser" -n -f "$OUT/stmt.sql" -t 300 "$1" 2>&1 |
		sed -n 's/^latency average = \([0-9.]*\) ms$/\1/p'
}

printf '%-80s %10s %10s %10s\n' statement 'no ext ms' 'c5m ms' 'added ms'
while IFS= read -r stmt; do
	a=$(latency noext "$stmt")
	b=$(latency withext "$stmt")
	printf '%-80s %10s %10s %10.3f\n' "${stmt:0:80}" "$a" "$b" "$(awk -v a="$a" -v b="$b" 'BEGIN { print b - a }')"
done <<'STMTS'
ALTER TABLE shop.products ALTER COLUMN name SET STATISTICS 100
ALTER TABLE shop.refunds ALTER COLUMN amount SET STATISTICS 100
GRANT SELECT ON shop.products TO PUBLIC
GRANT SELECT ON shop.refunds TO PUBLIC
ALTER TABLE shop.products RENAME COLUMN name TO name2; ALTER TABLE shop.products RENAME COLUMN name2 TO name
ALTER TABLE shop.refunds RENAME COLUMN amount TO amt; ALTER TABLE shop.refunds RENAME COLUMN amt TO amount
STMTS
