#!/usr/bin/env bash
# The main job, end to end: build and install c5metrics, start a throwaway
# cluster with the extension preloaded, load the reference shop, drive a
# short workload over every flow (successes and each kind of failure) with
# c5load, and show the metrics as psql and as Prometheus see them.
#
#   bash test/demo.sh           # everything, then stops the cluster
#   bash test/demo.sh --keep    # leaves the cluster running, says how to stop it
#   PG_CONFIG=$(bash test/pg-build.sh 18) bash test/demo.sh   # on another major
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
c5metrics.sli_sample_interval = 1
EOF
c5_as_user pg_ctl -D "$dir/data" -l "$dir/server.log" -w start >/dev/null ||
	die "the server did not start; see $dir/server.log"

psql_demo() {
	c5_as_user psql -X -q -h "$dir" -p "$port" -U postgres -d postgres \
		-v ON_ERROR_STOP=0 "$@"
}

say "Loading the reference shop..."
c5_as_user test/c5load/c5load -d "host=$dir port=$port user=postgres dbname=postgres" \
	--init --transactions=0 || die "c5load --init failed"

say "Driving the workload with c5load: 4 clients, every flow, injected failures..."
c5_as_user test/c5load/c5load -d "host=$dir port=$port user=postgres dbname=postgres" \
	--throttle --clients=4 --transactions=${C5_DEMO_TRANSACTIONS:-4000} --seed=1 \
	--json="$dir/ground-truth.json" || die "c5load failed"
say "(its ground truth, what the clients saw happen, is in $dir/ground-truth.json)"

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
say "=== GET / : the status page for a browser (its headers; the SLO rows and alerts it shows) ==="
curl -s -D "$dir/status-headers" -o "$dir/status.html" --max-time 5 "http://127.0.0.1:$http_port/"
grep -iE '^(HTTP|content-type|content-security-policy|server-timing)' "$dir/status-headers"
grep -o '<tr data-slo="[^"]*" data-alert="[^"]*"' "$dir/status.html" | sed 's/<tr /  /'
say "(its data as JSON: GET /slo.json; the page is $dir/status.html)"
sleep 2	# one more SLI sample after the last transaction
say ""
say "=== c5metrics.sli: the SLOs over the last 5 minutes and 1 hour (history started with this cluster) ==="
psql_demo <<'SQL'
SELECT slo, window_name, good, total, round(sli::numeric, 4) AS sli, objective,
       round(burn_rate::numeric, 1) AS burn_rate, round(coverage::numeric, 3) AS coverage
  FROM c5metrics.sli WHERE window_name IN ('5m', '1h') ORDER BY slo, window_seconds;
SQL
say ""
say "=== c5metrics.error_budget: budget over 30 days, and the burn-rate alerts that hold now ==="
psql_demo <<'SQL'
SELECT slo, good, total, round(budget_consumed::numeric, 2) AS consumed,
       page_1h_5m, page_6h_30m, ticket_1d_2h, ticket_3d_6h, alerting
  FROM c5metrics.error_budget ORDER BY slo;
SQL

if $keep; then
	say ""
	say "The cluster keeps running. Connect with:"
	say "  runuser -u $C5_USER -- psql -h $dir -p $port -U postgres"
	say "  curl http://127.0.0.1:$http_port/metrics"
	say "  http://127.0.0.1:$http_port/ in a browser: the status page (from another machine:"
	say "  ssh -L $http_port:127.0.0.1:$http_port <this host>, then the same address there)"
	say "Stop it with:"
	say "  runuser -u $C5_USER -- $PGBIN/pg_ctl -D $dir/data stop && rm -rf $dir"
fi
