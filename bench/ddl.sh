#!/usr/bin/env bash
# What c5metrics adds to DDL (bench/README.md, "ddl.sh"): since 1.4 a
# ProcessUtility hook follows renames and checks ALTER TABLE, GRANT,
# CREATE INDEX and CREATE TRIGGER against the attachments (src/ddl.c).
#
#   make && make install      # measures the installed c5metrics
#   sudo bench/ddl.sh         # about 1 minute
#
# One throwaway cluster (a private unix socket directory in /tmp, port
# 56612, as the OS user postgres), two databases with the reference shop:
# `withext` has c5metrics attached to it, `noext` has no extension.  Each
# statement runs 300 times in one pgbench session in each database, on a
# table no c5metrics trigger concerns (shop.products) and on one that is
# tracked and read by another trigger (shop.refunds).  Prints the mean
# latency of each, and the difference.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
PORT=${PORT:-56612}
bench_preflight postgres initdb pgbench
bench_as_postgres
OUT=$(mktemp -d /tmp/c5ddl.XXXXXX)
scratch=("$OUT")
bench_workdir
D=$OUT/data

bench_initdb "$D" "$OUT/initdb.log" <<CONF
c5metrics.listen_addresses = ''
CONF
bench_start "$D" "$OUT/server.log"

DB=postgres psql_ -c 'CREATE DATABASE withext' -c 'CREATE DATABASE noext'
DB=withext psql_ -c 'CREATE EXTENSION c5metrics' -c "SELECT c5metrics.create_reference_schema('shop')" >/dev/null
# the same tables, then no extension at all
DB=noext psql_ -c 'CREATE EXTENSION c5metrics' \
	-c "SELECT c5metrics.create_reference_schema('shop', track => false)" \
	-c 'DROP EXTENSION c5metrics' >/dev/null

latency() {
	printf '%s\n' "$2" >"$OUT/stmt.sql"
	as_pg "$BINDIR/pgbench" -h "$SOCK" -p "$PORT" -U "$dbuser" -n -f "$OUT/stmt.sql" -t 300 "$1" 2>&1 |
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
