#!/usr/bin/env bash
# The main job, end to end: build and install c5metrics, start a throwaway
# cluster with the extension preloaded, load the reference shop, drive a
# short workload over every flow (successes and each kind of failure), and
# show the metrics as psql and as Prometheus see them.
#
#   bash test/demo.sh           # everything, then stops the cluster
#   bash test/demo.sh --keep    # leaves the cluster running, says how to stop it
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
. test/lib.sh

keep=false
[ "${1:-}" = --keep ] && keep=true
port=${C5_DEMO_PORT:-55439}
http_port=${C5_DEMO_HTTP_PORT:-15187}

c5_ensure_packages make gcc postgresql-15 postgresql-server-dev-15 libmicrohttpd-dev zlib1g-dev curl
c5_ensure_user
export PATH="$PGBIN:$PATH"
say "Building and installing c5metrics..."
c5_build_install

dir=$(mktemp -d /tmp/c5metrics-demo.XXXXXX)
chown "$C5_USER" "$dir" 2>/dev/null || true
chmod 755 "$dir"
stop_cluster() {
	c5_as_user pg_ctl -D "$dir/data" -m fast stop >/dev/null 2>&1
	rm -rf "$dir"
}
$keep || trap stop_cluster EXIT

say "Starting a throwaway cluster in $dir (port $port)..."
c5_as_user initdb -D "$dir/data" -A trust -U postgres >/dev/null || die "initdb failed"
cat >>"$dir/data/postgresql.conf" <<EOF
shared_preload_libraries = 'c5metrics'
listen_addresses = ''
unix_socket_directories = '$dir'
port = $port
max_prepared_transactions = 4
c5metrics.listen_addresses = '127.0.0.1'
c5metrics.port = $http_port
EOF
c5_as_user pg_ctl -D "$dir/data" -l "$dir/server.log" -w start >/dev/null ||
	die "the server did not start; see $dir/server.log"

psql_demo() {
	c5_as_user psql -X -q -h "$dir" -p "$port" -U postgres -d postgres \
		-v ON_ERROR_STOP=0 "$@"
}

say "Loading the reference shop and driving the workload..."
psql_demo -v VERBOSITY=terse <<'SQL' 2>&1 | sed 's/^/    /'
\set VERBOSITY terse
CREATE EXTENSION c5metrics;
SELECT c5metrics.create_reference_schema('shop');
INSERT INTO shop.products (sku, name, price) VALUES ('NIGHT', 'Night cream', 25), ('SERUM', 'Serum', 40);
INSERT INTO shop.stock_lots (product_id, expires_on, quantity_on_hand) VALUES
  (1, current_date + 20, 30), (1, current_date + 90, 30), (2, current_date + 60, 20),
  (2, current_date - 3, 100);
INSERT INTO shop.sales (total) SELECT 65 FROM generate_series(1, 40);
INSERT INTO shop.sale_items (sale_id, product_id, quantity, unit_price)
SELECT s, 1, 1, 25 FROM generate_series(1, 40) s
UNION ALL SELECT s, 2, 1, 40 FROM generate_series(1, 40) s;
UPDATE shop.sale_items SET quantity = 50 WHERE sale_id = 17 AND product_id = 2;

-- Flow 1: sales become paid and consume stock first-expired-first-out.
-- One transaction per payment, as the application makes them.
SELECT format('SELECT shop.pay_sale(%s)', s) FROM generate_series(1, 16) s \gexec
-- more serum than there is: insufficient stock, rejected
SELECT shop.pay_sale(17);
-- a checkout abandoned by the application: rolled back
BEGIN; SELECT shop.pay_sale(18); ROLLBACK;
-- paid by a manual fix without consuming stock: "missing"
UPDATE shop.sales SET status = 'paid' WHERE id = 19;
-- a status the table refuses
UPDATE shop.sales SET status = 'shipped' WHERE id = 20;
-- a slow payment: over the 0.5 s consume-latency objective
BEGIN; SELECT shop.pay_sale(21); SELECT pg_sleep(0.6); COMMIT;

-- Flow 2: refunds, full and partial, with restock; duplicates; over-refund.
SELECT shop.refund_sale(1, 65, 'full', 'rf-1', true);
SELECT shop.refund_sale(2, 20, 'partial', 'rf-2');
SELECT shop.refund_sale(2, 20, 'partial', 'rf-2');            -- retry: unique violation
INSERT INTO shop.refunds (sale_id, amount, refund_type, idempotency_key)
VALUES (2, 20, 'partial', 'rf-2') ON CONFLICT DO NOTHING;      -- retry: skipped
SELECT shop.refund_sale(3, 500, 'partial', 'rf-3');           -- over-refund: blocked
BEGIN; SELECT shop.refund_sale(4, 10, 'partial', 'rf-4'); ROLLBACK;
-- refund-in with no refund and beyond what was consumed
INSERT INTO shop.stock_movements (movement_type, product_id, sale_id, quantity)
VALUES ('refund_in', 1, 5, 9);

-- Flow 3: public leads, then a burst from one address with the throttle on.
INSERT INTO shop.public_leads (email, source_ip)
SELECT 'visitor' || g || '@example.com', ('192.0.2.' || g)::inet FROM generate_series(1, 8) g;
INSERT INTO shop.public_leads (email, source_ip) VALUES ('not-an-email', '192.0.2.50');
SET c5metrics.lead_throttle = on;
SELECT format('INSERT INTO shop.public_leads (email, source_ip) VALUES (%L, %L)',
              'bot' || i || '@example.com', '198.51.100.66')
  FROM generate_series(1, 8) i \gexec

-- Two-phase commit: counted when COMMIT PREPARED runs.
BEGIN;
SELECT shop.pay_sale(22);
PREPARE TRANSACTION 'demo-2pc';
COMMIT PREPARED 'demo-2pc';
SQL

say ""
say "=== c5metrics.metrics: the business series that are not zero ==="
psql_demo <<'SQL'
SELECT metric, labels, value
  FROM c5metrics.metrics
 WHERE value <> 0 AND metric NOT LIKE '%\_bucket' AND metric NOT LIKE 'c5metrics\_%'
 ORDER BY metric COLLATE "C", labels::text COLLATE "C";
SQL

say ""
say "=== GET http://127.0.0.1:$http_port/metrics: what Prometheus scrapes (first 60 lines) ==="
curl -s -i --max-time 5 "http://127.0.0.1:$http_port/metrics" | head -n 66
total=$(psql_demo -At -c 'SELECT count(*) FROM c5metrics.metrics')
say "... $total series in all; the same text is SELECT c5metrics.exposition()."
say ""
say "=== GET /readyz ==="
curl -s --max-time 5 "http://127.0.0.1:$http_port/readyz"
say ""
say "(The SLI view is not built yet: see the README.)"

if $keep; then
	say ""
	say "The cluster keeps running. Connect with:"
	say "  runuser -u $C5_USER -- psql -h $dir -p $port -U postgres"
	say "  curl http://127.0.0.1:$http_port/metrics"
	say "Stop it with:"
	say "  runuser -u $C5_USER -- $PGBIN/pg_ctl -D $dir/data stop && rm -rf $dir"
fi
