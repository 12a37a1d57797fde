#!/usr/bin/env bash
# The refund that puts stock back, bare tables against c5metrics, in one
# pgbench run that mixes both variants 1:1 (bench/README.md, "restock.sh").
#
#   make && make install      # measures the installed c5metrics
#   sudo bench/restock.sh     # about 1 minute
#
# One throwaway cluster (a private unix socket directory in /tmp, port
# 56611, as the OS user postgres) holds create_reference_schema('shop') and, untracked,
# create_reference_schema('bare', track => false), each with 1000 products
# and lots and 20,000 paid sales of one item.  A transaction is
# <schema>.refund_sale(random sale, 0.01, 'partial', random key, true): the
# refund row, the lot's quantity put back, a refund_in movement, the sale's
# status; in c5metrics the over-refund guard and the refund-in check run
# too.  Five rounds of 8 s at 4 clients, then a control round mixing bare
# with itself.  Prints latency bare / latency c5metrics per round (the rate
# c5metrics keeps beside bare when the CPUs are the limit).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
PORT=${PORT:-56611}
bench_preflight postgres initdb pgbench
bench_as_postgres
OUT=$(mktemp -d /tmp/c5restock.XXXXXX)
scratch=("$OUT")
bench_workdir
bench_db=postgres
D=$OUT/data

bench_initdb "$D" "$OUT/initdb.log" <<CONF
c5metrics.listen_addresses = ''
synchronous_commit = off
autovacuum = off
CONF
bench_start "$D" "$OUT/server.log"

psql_ <<'SQL'
CREATE EXTENSION c5metrics;
SELECT c5metrics.create_reference_schema('shop');
SELECT c5metrics.create_reference_schema('bare', track => false);
DO $$
DECLARE s text;
BEGIN
  FOREACH s IN ARRAY ARRAY['shop', 'bare'] LOOP
    EXECUTE format($q$
      INSERT INTO %1$I.products (sku, name, price) SELECT 'P' || g, 'p', 10 FROM generate_series(1, 1000) g;
      INSERT INTO %1$I.stock_lots (product_id, expires_on, quantity_on_hand)
        SELECT g, current_date + 365, 1000000 FROM generate_series(1, 1000) g;
      INSERT INTO %1$I.sales (id, total) SELECT g, 1000000 FROM generate_series(1, 20000) g;
      INSERT INTO %1$I.sale_items (sale_id, product_id, quantity, unit_price)
        SELECT g, (g %% 1000) + 1, 1, 10 FROM generate_series(1, 20000) g;
      SELECT %1$I.pay_sale(g) FROM generate_series(1, 20000) g;
      ANALYZE %1$I.sales, %1$I.refunds, %1$I.stock_movements, %1$I.stock_lots, %1$I.sale_items;
    $q$, s);
  END LOOP;
END $$;
CHECKPOINT;
SQL
for s in shop bare; do
	printf '\\set id random(1, 20000)\nSELECT %s.refund_sale(:id, 0.01, '"'"'partial'"'"', md5(random()::text), true);\n' \
		"$s" >"$OUT/$s.sql"
done
chmod 644 "$OUT"/*.sql

# mix A B: one 8 s run of both scripts 1:1; prints "latency-A latency-B" (ms)
mix() {
	as_pg "$BINDIR/pgbench" -h "$SOCK" -p "$PORT" -U "$dbuser" -n -c 4 -j 2 -T 8 \
		-f "$OUT/$1.sql@1" -f "$OUT/$2.sql@1" postgres 2>&1 |
		grep -A8 '^SQL script' | grep 'latency average' |
		sed 's/.*= \([0-9.]*\) ms.*/\1/' | paste -sd' '
}
mix bare shop >/dev/null		# warm-up
for r in 1 2 3 4 5; do
	read -r a b <<<"$(mix bare shop)"
	echo "round $r: latency bare $a ms, c5metrics $b ms: bare / c5metrics $(awk -v a="$a" -v b="$b" 'BEGIN {printf "%.3f", a / b}')"
done
read -r a b <<<"$(mix bare bare)"
echo "control: bare / bare $(awk -v a="$a" -v b="$b" 'BEGIN {printf "%.3f", a / b}')"
psql_ -Atc "SELECT 'refund-in movements counted: ' || value FROM c5metrics.metrics
           WHERE metric = 'stock_refund_in_total' AND labels ->> 'result' = 'success'"
