#!/usr/bin/env bash
#
# scrape.sh -- what serving /metrics costs.
#
# Four measurements, each beside a baseline taken in the same run:
#
#  1. Scrape latency: wrk on loopback, one thread and one connection
#     (sequential requests over one keep-alive connection, as Prometheus
#     makes them), for a fixed time; median and p99 from wrk's latency
#     histogram.  Three requests: /healthz (the HTTP round trip without a
#     render: the baseline), /metrics as plain text without compression,
#     and /metrics as Prometheus 2.x asks for it (its Accept header, which
#     prefers OpenMetrics, and Accept-Encoding: gzip).  The worker's own
#     render histogram (c5metrics_http_render_duration_seconds) gives the
#     mean server-side render time of the same requests.
#  2. Throughput: the same requests with wrk -t2 -c8 (8 is the default
#     per-address connection limit).
#  Both at two catalogs:
#     default  c5metrics.max_series and max_label_values at their defaults,
#              the reference shop tracked and paid sales flowing
#     cap      a second cluster with c5metrics.max_series = CAP_SERIES and
#              max_label_values = 128; a tracked table whose rows move
#              between 126 statuses in every (from, to) pair fills the
#              transition series until the cap stops them.
#  3. The worker's memory: VmRSS, VmHWM and RssAnon of the
#     "c5metrics http listener" process from /proc before and after the
#     load, beside the "logical replication launcher", an idle background
#     worker of the same cluster.
#  4. The effect of scraping at 10 Hz on the sale -> paid rate: pgbench
#     runs shop.pay_sale() on a fresh pending sale per transaction with 4
#     clients; short rounds with and without a 10 Hz scraper come in
#     adjacent pairs (ABBA).  It prints the ratio of the median tps, the
#     median of the pairs' ratios with a distribution-free ~95 % interval,
#     and the worker's CPU time per scrape under load, which bounds the
#     effect.  The scraper is wrk with a 100 ms delay between requests on
#     one connection, asking as Prometheus does.
#
# Run as root (it then runs every server process as the OS user postgres)
# or as a non-root user that can run initdb.  It needs c5metrics built and
# installed (make && make install) and installs wrk and curl with apt-get
# when they are missing.  Everything it creates is under OUT (default
# bench/out/scrape, git-ignored) and a private socket directory in /tmp;
# it stops every process it started, also on error or Ctrl-C.
#
# Usage: bench/scrape.sh [options]; see --help.

set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lib.sh"

PORT=${PORT:-56480}
HTTP_PORT=${HTTP_PORT:-}
OUT=${OUT:-$here/out/scrape}
LAT_SECONDS=${LAT_SECONDS:-8}		# per latency / throughput run
ROUNDS=${ROUNDS:-16}				# tps rounds with and without scraping, each
ROUND_SECONDS=${ROUND_SECONDS:-3}	# short rounds: outside load changes hit both sides of a pair alike
WARMUP_SECONDS=${WARMUP_SECONDS:-10}
CLIENTS=${CLIENTS:-4}
CAP_SERIES=${CAP_SERIES:-20000}
CAP_LABELS=128
SCRAPE_HZ=10
PRODUCTS=1000
TARGET_MEDIAN_MS=1.0				# issue target: median scrape <= 1 ms at the default catalog
TARGET_TPS_PCT=1.0					# issue target: <= 1 % effect on the transaction rate
keep_data=0

usage()
{
	cat <<EOF
Usage: $0 [options]

  --port N           PostgreSQL port, 56000-56999 (default $PORT; unix socket only)
  --http-port N      port of /metrics on 127.0.0.1, 56000-56999 (default port + 1)
  --out DIR          output directory (default $OUT)
  --lat-seconds N    duration of each wrk latency or throughput run (default $LAT_SECONDS)
  --rounds N         tps rounds with scraping and as many without (default $ROUNDS)
  --round-seconds N  duration of each tps round (default $ROUND_SECONDS)
  --clients N        pgbench clients (default $CLIENTS)
  --cap-series N     c5metrics.max_series of the cap cluster (default $CAP_SERIES)
  --quick            smoke run: --lat-seconds 2 --rounds 4 --round-seconds 2
  --keep-data        keep the data directories under OUT
  -h, --help         this help

Environment: PG_CONFIG (default pg_config) selects the PostgreSQL install.
Results: the table on stdout, also in OUT/results.txt; logs and raw wrk and
pgbench output in OUT/log.  About 4-5 minutes with the defaults.
EOF
}

while [[ $# -gt 0 ]]; do
	case $1 in
		--port) PORT=$2; shift ;;
		--http-port) HTTP_PORT=$2; shift ;;
		--out) OUT=$2; shift ;;
		--lat-seconds) LAT_SECONDS=$2; shift ;;
		--rounds) ROUNDS=$2; shift ;;
		--round-seconds) ROUND_SECONDS=$2; shift ;;
		--clients) CLIENTS=$2; shift ;;
		--cap-series) CAP_SERIES=$2; shift ;;
		--quick) LAT_SECONDS=2; ROUNDS=4; ROUND_SECONDS=2; WARMUP_SECONDS=3 ;;
		--keep-data) keep_data=1 ;;
		-h|--help) usage; exit 0 ;;
		*) echo "unknown option: $1 (see --help)" >&2; exit 2 ;;
	esac
	shift
done
HTTP_PORT=${HTTP_PORT:-$((PORT + 1))}

for v in PORT HTTP_PORT LAT_SECONDS ROUNDS ROUND_SECONDS CLIENTS CAP_SERIES; do
	[[ ${!v} =~ ^[0-9]+$ ]] || die "$v must be a number"
done
((LAT_SECONDS > 0 && ROUNDS > 0 && ROUND_SECONDS > 0 && CLIENTS > 0)) ||
	die "durations, rounds and clients must be positive"
((PORT >= 56000 && PORT <= 56999)) || die "--port must be in 56000-56999"
((HTTP_PORT >= 56000 && HTTP_PORT <= 56999)) || die "--http-port must be in 56000-56999"
((PORT != HTTP_PORT)) || die "--port and --http-port must differ"
((CAP_SERIES >= 500 && CAP_SERIES <= 1000000)) || die "--cap-series must be in 500-1000000"

# ---------------------------------------------------------------------------
# Preflight
# ---------------------------------------------------------------------------

bench_preflight --http postgres initdb pgbench
bench_as_postgres
missing=()
command -v wrk >/dev/null || missing+=(wrk)
command -v curl >/dev/null || missing+=(curl)
bench_apt_install "${missing[@]}"

# ---------------------------------------------------------------------------
# Work directories and cleanup
# ---------------------------------------------------------------------------

mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
rm -rf "$OUT"/data-default "$OUT"/data-cap "$OUT"/log "$OUT"/lua
rm -f "$OUT"/results.txt
scratch=("$OUT"/data-default "$OUT"/data-cap)
bg_pids=()					# wrk / pgbench running in the background
bench_on_exit() { bench_kill "${bg_pids[@]}"; }
bench_workdir log lua

# ---------------------------------------------------------------------------
# wrk scripts
# ---------------------------------------------------------------------------

# One line a run: requests, bytes, errors and the latency distribution (us).
cat >"$OUT/lua/stats.lua" <<'EOF'
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "C5STATS requests=%d duration_us=%d bytes=%d errors=%d non2xx=%d p50_us=%.1f p90_us=%.1f p99_us=%.1f max_us=%.1f mean_us=%.1f\n",
    summary.requests, summary.duration, summary.bytes,
    e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, latency.mean))
end
EOF
# The same, with a pause between requests: a paced scraper.
{ cat "$OUT/lua/stats.lua"; echo "delay = function() return $((1000 / SCRAPE_HZ)) end"; } \
	>"$OUT/lua/paced.lua"

http_url() { echo "http://127.0.0.1:$HTTP_PORT$1"; }

# Header arguments of a request kind.
req_headers()				# kind
{
	case $1 in
		healthz|text) ;;
		prom) printf '%s\0' -H "Accept: $PROM_ACCEPT" -H "Accept-Encoding: gzip" ;;
	esac
}

req_path() { if [[ $1 == healthz ]]; then echo /healthz; else echo /metrics; fi; }

req_label()					# kind
{
	case $1 in
		healthz) echo "/healthz (baseline: no render)" ;;
		text) echo "/metrics text, identity" ;;
		prom) echo "/metrics as Prometheus (OM, gzip)" ;;
	esac
}

# wrk run -> "requests duration_us bytes errors non2xx p50 p90 p99 max mean"
wrk_run()					# name kind threads conns seconds [lua]
{
	local name=$1 kind=$2 t=$3 c=$4 d=$5 lua=${6:-stats} line
	local -a hdr=()

	mapfile -d '' -t hdr < <(req_headers "$kind")
	sleep 0.5			# the worker closes the previous run's connections first
	wrk -t"$t" -c"$c" -d"${d}s" --timeout 5s --latency "${hdr[@]}" -s "$OUT/lua/$lua.lua" \
		"$(http_url "$(req_path "$kind")")" >"$OUT/log/wrk.$name.log" 2>&1 ||
		die "wrk $name failed, see $OUT/log/wrk.$name.log"
	line=$(grep '^C5STATS ' "$OUT/log/wrk.$name.log") || die "no statistics from wrk $name"
	# shellcheck disable=SC2001
	echo "$line" | sed 's/^C5STATS //; s/[a-z0-9_]*=//g'
}

# Retries: right after a wrk run the worker may still hold its connections,
# and it refuses the ninth one from an address (http_max_connections_per_address).
curl_body()					# kind -> body on stdout (as sent)
{
	local -a hdr=()

	mapfile -d '' -t hdr < <(req_headers "$1")
	curl -sS --fail --max-time 10 --retry 5 --retry-delay 1 --retry-all-errors \
		"${hdr[@]}" "$(http_url "$(req_path "$1")")" ||
		{ echo "scrape: curl $(req_path "$1") failed" >&2; return 1; }
}

metric_value()				# name [body file] -> value of an unlabelled sample
{
	awk -v m="$1" '$1 == m { print $2; exit }' "$2"
}

# Sum and count of the worker's render histogram, from a plain scrape.
render_stats()
{
	local f=$OUT/log/render.txt

	curl_body text >"$f"
	echo "$(metric_value c5metrics_http_render_duration_seconds_sum "$f") $(metric_value c5metrics_http_render_duration_seconds_count "$f")"
}

# ---------------------------------------------------------------------------
# Cluster helpers
# ---------------------------------------------------------------------------

make_cluster()				# datadir extra-settings...
{
	local dir=$1

	shift
	{
		cat <<EOF
c5metrics.listen_addresses = '127.0.0.1'
c5metrics.port = $HTTP_PORT
jit = off
autovacuum = off		# no background work between and during rounds
fsync = off			# throwaway cluster: CPU-bound transactions, the worst case for the ratio
huge_pages = off
shared_buffers = 256MB
max_wal_size = 8GB		# no checkpoint inside a round
checkpoint_timeout = 1h
lc_messages = 'C'
EOF
		if (($#)); then printf '%s\n' "$@"; fi
	} | bench_initdb "$dir" "$OUT/log/initdb.$(basename "$dir").log" -E UTF8 --locale=C --no-sync
}

start_server()				# datadir
{
	bench_start "$1" "$OUT/log/server.$(basename "$1").log" "$HTTP_PORT"
}

declare -A mem				# [catalog.moment.process] = "VmRSS VmHWM RssAnon"
mem_moments=()

mem_sample()				# catalog moment
{
	local w l

	w=$(backend_pid 'c5metrics http listener')
	l=$(backend_pid 'logical replication launcher')
	[[ -n $w ]] || die "no c5metrics http listener among the children of the postmaster"
	mem[$1.$2.worker]=$(proc_mem "$w" VmRSS VmHWM RssAnon)
	[[ -n $l ]] && mem[$1.$2.launcher]=$(proc_mem "$l" VmRSS VmHWM RssAnon)
	mem_moments+=("$1.$2")
}

# ---------------------------------------------------------------------------
# Scrape latency and throughput at one catalog
# ---------------------------------------------------------------------------

declare -A res				# [catalog.kind.lat|thr] = wrk fields; [catalog.kind.render] = mean us
declare -A cat_info			# [catalog.series|limit|lines|bytes_text|bytes_prom]

describe_catalog()			# catalog
{
	local f=$OUT/log/body.$1.txt

	curl_body text >"$f"
	cat_info[$1.series]=$(metric_value c5metrics_series "$f")
	cat_info[$1.limit]=$(metric_value c5metrics_series_limit "$f")
	cat_info[$1.overflow]=$(metric_value c5metrics_series_overflow_total "$f")
	cat_info[$1.samples]=$(grep -vc '^#' "$f")
	cat_info[$1.bytes_text]=$(wc -c <"$f")
	curl_body prom >"$OUT/log/body.$1.om.gz"
	cat_info[$1.bytes_prom]=$(wc -c <"$OUT/log/body.$1.om.gz")
	gzip -t "$OUT/log/body.$1.om.gz" 2>/dev/null ||
		die "the Prometheus-style scrape did not return gzip"
	zcat "$OUT/log/body.$1.om.gz" | tail -n 1 | grep -q '^# EOF' ||
		note "warning: the Prometheus-style scrape is not OpenMetrics (no # EOF)"
}

measure_scrapes()			# catalog
{
	local c=$1 kind r0 r1 f cpu0 req

	describe_catalog "$c"
	note "$c catalog: ${cat_info[$c.series]} series (limit ${cat_info[$c.limit]}), ${cat_info[$c.bytes_text]} bytes"
	# warm the connection path and the worker's memory
	wrk_run "$c.warm" text 1 1 1 >/dev/null
	for kind in healthz text prom; do
		note "$c catalog: latency of $(req_label "$kind"), ${LAT_SECONDS} s, -t1 -c1"
		r0=$(render_stats)
		cpu0=$(cpu_ns "$worker_pid")
		res[$c.$kind.lat]=$(wrk_run "$c.$kind.latency" "$kind" 1 1 "$LAT_SECONDS")
		read -r req _ <<<"${res[$c.$kind.lat]}"
		res[$c.$kind.cpu]=$(awk -v a="$cpu0" -v b="$(cpu_ns "$worker_pid")" -v n="$req" \
			'BEGIN { printf "%.1f", (b - a) / n / 1000 }')
		r1=$(render_stats)
		if [[ $kind != healthz ]]; then
			# the render_stats scrape itself adds one render to the delta
			res[$c.$kind.render]=$(awk -v a="$r0" -v b="$r1" 'BEGIN {
				split(a, x, " "); split(b, y, " ")
				n = y[2] - x[2]; s = y[1] - x[1]
				if (n > 0) printf "%.1f", 1e6 * s / n; else print "-" }')
		fi
	done
	for kind in healthz text prom; do
		note "$c catalog: throughput of $(req_label "$kind"), ${LAT_SECONDS} s, -t2 -c8"
		res[$c.$kind.thr]=$(wrk_run "$c.$kind.throughput" "$kind" 2 8 "$LAT_SECONDS")
	done
	sleep 1					# let the worker close wrk's connections: a refusal here would be ours
	curl_body text >"$OUT/log/after.$c.txt"
	cat_info[$c.refused]=$(awk '$1 ~ /^c5metrics_http_refused_connections_total/ { n += $2 } END { print n + 0 }' \
		"$OUT/log/after.$c.txt")
	for f in "${!res[@]}"; do
		[[ $f == "$c".*.lat || $f == "$c".*.thr ]] || continue
		read -r _ _ _ err non2xx _ <<<"${res[$f]}"
		((err == 0 && non2xx == 0)) ||
			note "warning: $f had $err socket errors and $non2xx non-2xx answers (see $OUT/log)"
	done
}

# ---------------------------------------------------------------------------
# The reference shop and the sale -> paid rate
# ---------------------------------------------------------------------------

seeded=0					# highest sale id created

add_sales()					# n: pending sales seeded+1 .. seeded+n, two items each
{
	local lo=$((seeded + 1)) hi=$((seeded + $1))

	psql_ <<EOF
INSERT INTO shop.sales (id, status, total) SELECT g, 'pending', 65 FROM generate_series($lo, $hi) g;
-- products 2g and 2g+1 (mod $PRODUCTS), ascending: consecutive sales share no lot
INSERT INTO shop.sale_items (sale_id, product_id, quantity, unit_price)
SELECT g, p, 1, 25
  FROM generate_series($lo, $hi) g,
       LATERAL (VALUES ((2 * g) % $PRODUCTS + 1), ((2 * g + 1) % $PRODUCTS + 1)) v(p)
 ORDER BY g, p;
VACUUM ANALYZE shop.sales, shop.sale_items;
EOF
	seeded=$hi
}

setup_shop()
{
	DB=postgres psql_ -c "CREATE DATABASE bench" >/dev/null
	psql_ <<EOF >/dev/null
SET client_min_messages = warning;
CREATE EXTENSION c5metrics;
SELECT c5metrics.create_reference_schema('shop');
INSERT INTO shop.products (id, sku, name, price)
SELECT g, 'SKU-' || g, 'Product ' || g, 25 FROM generate_series(1, $PRODUCTS) g;
-- per product: an expired lot (skipped), then the lot consumed first-expired-first-out
INSERT INTO shop.stock_lots (product_id, expires_on, quantity_on_hand)
SELECT g, d, q FROM generate_series(1, $PRODUCTS) g,
  (VALUES (current_date - 10, 1000), (current_date + 3650, 2000000000)) v(d, q) ORDER BY g, d;
CREATE SEQUENCE bench_next_sale;
EOF
	psql_ -c "VACUUM ANALYZE" -c CHECKPOINT >/dev/null
	echo "SELECT shop.pay_sale(nextval('bench_next_sale'));" >"$OUT/log/pay_sale.sql"
	chmod 644 "$OUT/log/pay_sale.sql"
}

tps_max=0					# highest tps seen, to size the pending sales

# Enough pending sales for one round at 1.5x the fastest rate seen so far.
ensure_pending()			# seconds
{
	local used need

	used=$(psql_ -At -c "SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM bench_next_sale")
	need=$(awk -v t="$tps_max" -v s="$1" 'BEGIN { t = (t > 0) ? t : 10000; printf "%d", 1.5 * t * s + 1000 }')
	if ((seeded - used < need)); then
		need=$((need * 2 > 400000 ? need * 2 : 400000))	# fewer, larger top-ups
		note "adding $need pending sales"
		add_sales "$need" >/dev/null
	fi
}

round_tps=""				# tps of the last pgbench_round
round_cpu=0					# CPU ns the HTTP worker used during it
round_ns=0					# wall ns of it
worker_pid=""

pgbench_round()				# name seconds scrape(0|1); sets round_tps
{
	local name=$1 secs=$2 scrape=$3 tps wpid="" round_cpu0 round_t0

	psql_ -c CHECKPOINT >/dev/null
	round_cpu0=$(cpu_ns "$worker_pid")
	round_t0=$(date +%s%N)
	if ((scrape)); then
		# the paced scraper runs a little longer than the round, on both sides
		wrk -t1 -c1 -d"$((secs + 1))s" --timeout 5s -H "Accept: $PROM_ACCEPT" \
			-H "Accept-Encoding: gzip" -s "$OUT/lua/paced.lua" "$(http_url /metrics)" \
			>"$OUT/log/wrk.$name.scraper.log" 2>&1 &
		wpid=$!
		bg_pids+=("$wpid")
		sleep 0.3
	fi
	as_pg "$BINDIR/pgbench" -h "$SOCK" -p "$PORT" -U "$dbuser" -n -c "$CLIENTS" -j 2 \
		-T "$secs" -f "$OUT/log/pay_sale.sql" bench >"$OUT/log/pgbench.$name.log" 2>&1 ||
		die "pgbench $name failed, see $OUT/log/pgbench.$name.log"
	if [[ -n $wpid ]]; then
		wait "$wpid" || die "the scraper failed, see $OUT/log/wrk.$name.scraper.log"
		bg_pids=()
	fi
	# the worker's CPU over the whole round, the scraper's lead and tail included
	round_cpu=$(($(cpu_ns "$worker_pid") - round_cpu0))
	round_ns=$(($(date +%s%N) - round_t0))
	tps=$(awk '/^tps = .*without initial connection time/ { print $3 }' "$OUT/log/pgbench.$name.log")
	[[ -n $tps ]] || die "no tps from pgbench $name"
	grep -q '^number of failed transactions: 0 ' "$OUT/log/pgbench.$name.log" ||
		! grep -q '^number of failed transactions' "$OUT/log/pgbench.$name.log" ||
		die "pgbench $name had failed transactions, see $OUT/log/pgbench.$name.log"
	tps_max=$(awk -v a="$tps" -v b="$tps_max" 'BEGIN { print (a > b) ? a : b }')
	round_tps=$tps
}

declare -A tps_list			# [on|off] = "tps tps ..."
declare -A worker_cpu		# [on|off] = CPU ns of the HTTP worker over all such rounds
declare -A worker_wall		# [on|off] = wall ns of these rounds
pair_ratios=""				# tps on / tps off of each adjacent pair of rounds
scrapes_on=0				# scrapes made during the "on" rounds
scrape_rate=""				# achieved scrapes per second, "min-max"
scrape_p50=""				# the scraper's median latency per round, ms
scrape_p99=""				# and its p99

measure_tps()
{
	local r mode order secs=$ROUND_SECONDS line req dur p50 p99 rates="" prev

	for ((r = 1; r <= ROUNDS; r++)); do
		# ABBA: off on | on off | off on ... cancels a linear drift
		if ((r % 2)); then order=(off on); else order=(on off); fi
		ensure_pending $((2 * secs))	# before the pair, not between its rounds
		for mode in "${order[@]}"; do
			note "tps round $r/$ROUNDS, $CLIENTS clients, ${secs} s, scraping at ${SCRAPE_HZ} Hz: $mode"
			pgbench_round "r$r.$mode" "$secs" "$([[ $mode == on ]] && echo 1 || echo 0)"
			tps_list[$mode]+="$round_tps "
			worker_cpu[$mode]=$((${worker_cpu[$mode]:-0} + round_cpu))
			worker_wall[$mode]=$((${worker_wall[$mode]:-0} + round_ns))
			if [[ $mode == "${order[1]}" ]]; then
				# the ratio on/off of the two adjacent rounds
				if [[ $mode == on ]]; then
					pair_ratios+="$(awk -v a="$round_tps" -v b="$prev" 'BEGIN { printf "%.4f", a / b }') "
				else
					pair_ratios+="$(awk -v a="$prev" -v b="$round_tps" 'BEGIN { printf "%.4f", a / b }') "
				fi
			fi
			prev=$round_tps
			if [[ $mode == on ]]; then
				line=$(grep '^C5STATS ' "$OUT/log/wrk.r$r.on.scraper.log" | sed 's/^C5STATS //; s/[a-z0-9_]*=//g')
				read -r req dur _ _ _ p50 _ p99 _ <<<"$line"
				scrapes_on=$((scrapes_on + req))
				rates+="$(awk -v n="$req" -v d="$dur" 'BEGIN { printf "%.2f", n / (d / 1e6) }') "
				scrape_p50+="$(ms "$p50") "
				scrape_p99+="$(ms "$p99") "
			fi
		done
	done
	scrape_rate=$(tr ' ' '\n' <<<"$rates" | awk NF | sort -g | awk 'NR == 1 { a = $1 } { b = $1 } END { printf "%s-%s", a, b }')
}

# "median min max" of a list
stats()						# list [printf format of one value]
{
	tr ' ' '\n' <<<"$1" | awk NF | sort -g | awk -v f="${2:-%.1f}" '
		{ v[NR] = $1 }
		END {
			m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
			printf f " " f " " f "\n", m, v[1], v[NR]
		}'
}

# Distribution-free ~95 % interval of the median of a list (sign test):
# the k-th smallest and k-th largest values, k = floor(n/2 - 0.98 sqrt(n)).
median_ci()					# list -> "lo hi"
{
	tr ' ' '\n' <<<"$1" | awk NF | sort -g | awk '
		{ v[NR] = $1 }
		END {
			k = int(NR / 2 - 0.98 * sqrt(NR)); if (k < 1) k = 1
			printf "%.4f %.4f\n", v[k], v[NR + 1 - k]
		}'
}

# Check that c5metrics counted every payment: the business series are real.
check_counted()
{
	local paid counted

	paid=$(psql_ -At -c "SELECT count(*) FROM shop.sales WHERE status = 'paid'")
	counted=$(psql_ -At -c "SELECT coalesce(sum(value), 0)::bigint FROM c5metrics.metrics
		WHERE metric = 'sales_transition_total' AND labels->>'from_status' = 'pending'
		  AND labels->>'to_status' = 'paid' AND labels->>'result' = 'success'")
	[[ $paid == "$counted" ]] || die "c5metrics counted $counted payments, the table has $paid"
	echo "$paid"
}

# ---------------------------------------------------------------------------
# The cap catalog
# ---------------------------------------------------------------------------

fill_cap()
{
	local n=$((CAP_LABELS - 2))	# two label values are reserved: other, none

	DB=postgres psql_ -c "CREATE DATABASE bench" >/dev/null
	# Rows in random order, one per (from, to) pair of n statuses; one
	# UPDATE moves each to its "to": every pair claims its series until
	# the cap stops it.
	psql_ <<EOF >/dev/null
SET client_min_messages = warning;
CREATE EXTENSION c5metrics;
CREATE SCHEMA wide;
CREATE TABLE wide.sales (id bigint PRIMARY KEY, status text NOT NULL, next_status text NOT NULL);
SELECT c5metrics.track_sales('wide.sales');
INSERT INTO wide.sales
SELECT row_number() OVER (ORDER BY random()), 'status_' || lpad(a::text, 3, '0'), 'status_' || lpad(b::text, 3, '0')
  FROM generate_series(1, $n) a, generate_series(1, $n) b WHERE a <> b;
UPDATE wide.sales SET status = next_status;
EOF
}

# ---------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------

ms() { awk -v u="$1" 'BEGIN { printf "%.3f", u / 1000 }'; }

report()
{
	local c kind req dur bytes err non2xx p50 p90 p99 base ratio rps mbs k eff
	local med_on min_on max_on med_off min_off max_off pr_med pr_min pr_max m w1 w2 w3 l
	local cpu_on cpu_off ci_lo ci_hi per_scrape share

	out ""
	out "Catalogs"
	out "$(printf '  %-8s %7s %7s %10s %8s %11s %10s %8s' catalog series limit overflowed samples 'text bytes' 'OM+gzip B' refused)"
	for c in default cap; do
		out "$(printf '  %-8s %7s %7s %10s %8s %11s %10s %8s' "$c" "${cat_info[$c.series]}" "${cat_info[$c.limit]}" \
			"${cat_info[$c.overflow]}" "${cat_info[$c.samples]}" "${cat_info[$c.bytes_text]}" \
			"${cat_info[$c.bytes_prom]}" "${cat_info[$c.refused]}")"
	done
	out "  series: c5metrics_series; overflowed: c5metrics_series_overflow_total (observations"
	out "  folded into (other, other)); samples: non-comment lines of the text body; refused:"
	out "  c5metrics_http_refused_connections_total after the catalog's wrk runs"

	out ""
	out "Scrape latency: wrk -t1 -c1 --latency, ${LAT_SECONDS} s each, one keep-alive connection to 127.0.0.1"
	out "$(printf '  %-8s %-34s %8s %8s %8s %8s %10s %10s %8s' catalog request requests 'med ms' 'p90 ms' 'p99 ms' \
		'render us' 'worker us' 'med/hz')"
	for c in default cap; do
		read -r _ _ _ _ _ base _ <<<"${res[$c.healthz.lat]}"
		for kind in healthz text prom; do
			read -r req dur bytes err non2xx p50 p90 p99 _ <<<"${res[$c.$kind.lat]}"
			ratio=$(awk -v a="$p50" -v b="$base" 'BEGIN { printf "%.2f", a / b }')
			out "$(printf '  %-8s %-34s %8d %8s %8s %8s %10s %10s %8s' "$c" "$(req_label "$kind")" "$req" \
				"$(ms "$p50")" "$(ms "$p90")" "$(ms "$p99")" "${res[$c.$kind.render]:--}" \
				"${res[$c.$kind.cpu]}" "$ratio")"
		done
	done
	out "  render us: mean of c5metrics_http_render_duration_seconds over these requests (the"
	out "  worker's own render + gzip time); worker us: CPU time of the worker process per request"
	out "  (/proc/<pid>/schedstat); med/hz: median over the median of /healthz"

	out ""
	out "Throughput: wrk -t2 -c8, ${LAT_SECONDS} s each ($(nproc) CPUs, shared by wrk and the worker)"
	out "$(printf '  %-8s %-34s %9s %8s %8s %8s %8s %10s' catalog request 'req/s' 'MB/s' 'med ms' 'p99 ms' errors 'vs healthz')"
	for c in default cap; do
		read -r req dur _ <<<"${res[$c.healthz.thr]}"
		base=$(awk -v n="$req" -v d="$dur" 'BEGIN { print n / (d / 1e6) }')
		for kind in healthz text prom; do
			read -r req dur bytes err non2xx p50 p90 p99 _ <<<"${res[$c.$kind.thr]}"
			rps=$(awk -v n="$req" -v d="$dur" 'BEGIN { printf "%.0f", n / (d / 1e6) }')
			mbs=$(awk -v n="$bytes" -v d="$dur" 'BEGIN { printf "%.1f", n / (d / 1e6) / 1e6 }')
			ratio=$(awk -v a="$rps" -v b="$base" 'BEGIN { printf "%.4f", a / b }')
			out "$(printf '  %-8s %-34s %9s %8s %8s %8s %8s %10s' "$c" "$(req_label "$kind")" "$rps" "$mbs" \
				"$(ms "$p50")" "$(ms "$p99")" "$((err + non2xx))" "$ratio")"
		done
	done
	out "  errors: wrk socket errors + non-2xx answers (MB/s counts the bytes as sent, gzip or not)"

	out ""
	out "Memory (kB, /proc/<pid>/status): the c5metrics http listener beside the logical"
	out "replication launcher, an idle background worker of the same cluster"
	out "$(printf '  %-38s %7s %7s %7s   %s' moment VmRSS VmHWM RssAnon 'launcher VmRSS/VmHWM/RssAnon')"
	for m in "${mem_moments[@]}"; do
		read -r w1 w2 w3 <<<"${mem[$m.worker]}"
		l=${mem[$m.launcher]:-"- - -"}
		out "$(printf '  %-38s %7s %7s %7s   %s' "$(mem_label "$m")" "$w1" "$w2" "$w3" "${l// //}")"
	done

	out ""
	read -r med_off min_off max_off <<<"$(stats "${tps_list[off]}")"
	read -r med_on min_on max_on <<<"$(stats "${tps_list[on]}")"
	read -r pr_med pr_min pr_max <<<"$(stats "$pair_ratios" %.4f)"
	read -r ci_lo ci_hi <<<"$(median_ci "$pair_ratios")"
	eff=$(awk -v a="$med_on" -v b="$med_off" 'BEGIN { printf "%+.2f", 100 * (a - b) / b }')
	cpu_on=$(awk -v n="${worker_cpu[on]}" -v s="${worker_wall[on]}" 'BEGIN { printf "%.2f", 1000 * n / s }')
	cpu_off=$(awk -v n="${worker_cpu[off]}" -v s="${worker_wall[off]}" 'BEGIN { printf "%.2f", 1000 * n / s }')
	# CPU per scrape: the worker's CPU in the rounds with scraping, less its idle rate
	per_scrape=$(awk -v c="${worker_cpu[on]}" -v w="${worker_wall[on]}" -v r="$cpu_off" -v n="$scrapes_on" \
		'BEGIN { printf "%.0f", (c - r / 1000 * w) / n / 1000 }')
	share=$(awk -v u="$per_scrape" -v hz="$SCRAPE_HZ" 'BEGIN { printf "%.3f", u * hz / 1e4 }')
	out "sale -> paid rate at the default catalog: pgbench -c $CLIENTS, shop.pay_sale() on a fresh"
	out "pending sale (2 items, FEFO), ${ROUND_SECONDS} s rounds, $ROUNDS with and $ROUNDS without a ${SCRAPE_HZ} Hz"
	out "scraper (wrk, one connection, as Prometheus: OpenMetrics + gzip), in pairs, ABBA"
	out "$(printf '  %-20s %10s %9s %9s %18s %14s' '' 'median tps' 'min tps' 'max tps' 'ratio of medians' 'worker CPU')"
	out "$(printf '  %-20s %10s %9.0f %9.0f %18s %14s' 'without scraping' "$med_off" "$min_off" "$max_off" "1.0000" \
		"$cpu_off ms/s")"
	out "$(printf '  %-20s %10s %9.0f %9.0f %18s %14s' "scraping at ${SCRAPE_HZ} Hz" "$med_on" "$min_on" "$max_on" \
		"$(awk -v a="$med_on" -v b="$med_off" 'BEGIN { printf "%.4f", a / b }') ($eff %)" "$cpu_on ms/s")"
	out "  pairs (tps on / tps off of adjacent rounds): median $pr_med, ~95 % interval of the median"
	out "  [$ci_lo, $ci_hi], min $pr_min, max $pr_max"
	out "  per pair:        ${pair_ratios% }"
	out "  per round, off:  $(printf '%.0f ' ${tps_list[off]})"
	out "  per round, on:   $(printf '%.0f ' ${tps_list[on]})"
	out "  scraper: $scrapes_on scrapes at $scrape_rate /s; latency under load: median of the rounds'"
	out "  medians $(stats "$scrape_p50" %.3f | cut -d' ' -f1) ms, p99 of the rounds $(stats "$scrape_p99" %.3f | awk '{ print $2 "-" $3 }') ms"
	out "  worker CPU per scrape under load: $per_scrape us; at ${SCRAPE_HZ} Hz, $share % of one CPU."
	out "  With every CPU busy, scraping can take at most about its CPU share from the"
	out "  transactions: $(awk -v s="$share" -v c="$(nproc)" 'BEGIN { printf "%.3f", s / c }') % of the $(nproc) CPUs here (wrk's own CPU not counted)"
	out "  payments counted by c5metrics = paid sales in the table: $paid_total"

	out ""
	read -r _ _ _ _ _ p50 _ <<<"${res[default.text.lat]}"
	k=$(awk -v a="$p50" -v t="$TARGET_MEDIAN_MS" 'BEGIN { exit !(a / 1000 <= t) }' && echo 1 || echo 0)
	verdict "median scrape <= $TARGET_MEDIAN_MS ms at the default catalog, text" "$k" "$(ms "$p50") ms"
	read -r _ _ _ _ _ p50 _ <<<"${res[default.prom.lat]}"
	k=$(awk -v a="$p50" -v t="$TARGET_MEDIAN_MS" 'BEGIN { exit !(a / 1000 <= t) }' && echo 1 || echo 0)
	verdict "median scrape <= $TARGET_MEDIAN_MS ms at the default catalog, as Prometheus" "$k" "$(ms "$p50") ms"
	# MET when the whole interval of the median pair ratio lies within the
	# target, NOT MET when it lies wholly beyond, otherwise not resolved
	k=2
	awk -v lo="$ci_lo" -v t="$TARGET_TPS_PCT" 'BEGIN { exit !(lo >= 1 - t / 100) }' && k=1
	awk -v hi="$ci_hi" -v t="$TARGET_TPS_PCT" 'BEGIN { exit !(hi < 1 - t / 100) }' && k=0
	verdict "scraping at ${SCRAPE_HZ} Hz costs <= $TARGET_TPS_PCT % of the sale -> paid rate" "$k" \
		"median pair $(awk -v m="$pr_med" 'BEGIN { printf "%+.2f", 100 * (m - 1) }') %, interval $(awk -v a="$ci_lo" -v b="$ci_hi" \
		'BEGIN { printf "%+.2f..%+.2f", 100 * (a - 1), 100 * (b - 1) }') % (ratio of medians $eff %)"
}

mem_label()					# catalog.moment
{
	case ${1#*.} in
		start) echo "${1%%.*}: after start, no scrape yet" ;;
		filled) echo "${1%%.*}: series filled, no scrape yet" ;;
		scraped) echo "${1%%.*}: after latency + throughput" ;;
		end) echo "${1%%.*}: after the tps rounds" ;;
		*) echo "$1" ;;
	esac
}

verdict()					# text ok(0|1|2) figures
{
	case $2 in
		1) out "target ($1): MET, $3" ;;
		0) out "target ($1): NOT MET, $3" ;;
		*) out "target ($1): NOT RESOLVED by this run, $3: the rounds vary more than the target; see the CPU bound" ;;
	esac
}

# ---------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------

rev=$(bench_rev)
out "c5metrics scrape cost -- $(date -u '+%Y-%m-%d %H:%M UTC'), c5metrics $rev,"
out "$("$BINDIR/postgres" --version), $(wrk --version 2>&1 | head -n 1 | cut -d' ' -f1-2), $(nproc) CPUs"

start=$SECONDS

# 1. The default catalog, with the reference shop.
make_cluster "$OUT/data-default"
start_server "$OUT/data-default"
worker_pid=$(backend_pid 'c5metrics http listener')
mem_sample default start
note "seeding the reference shop"
setup_shop
note "a first round of payments, so that the shop's series are live"
ensure_pending "$WARMUP_SECONDS"
pgbench_round first "$WARMUP_SECONDS" 0
measure_scrapes default
mem_sample default scraped
measure_tps
mem_sample default end
paid_total=$(check_counted)
bench_stop

# 2. The series cap.
make_cluster "$OUT/data-cap" "c5metrics.max_series = $CAP_SERIES" "c5metrics.max_label_values = $CAP_LABELS"
start_server "$OUT/data-cap"
worker_pid=$(backend_pid 'c5metrics http listener')
mem_sample cap start
note "filling the transition series of $((CAP_LABELS - 2)) statuses up to the cap of $CAP_SERIES"
fill_cap
mem_sample cap filled
measure_scrapes cap
mem_sample cap scraped
bench_stop

report
out ""
out "done in $((SECONDS - start)) s; files in $OUT"
