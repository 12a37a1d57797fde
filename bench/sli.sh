#!/usr/bin/env bash
#
# sli.sh -- what the SLI history costs.
#
#  1. Query time with a full ring: the ring is filled with 31 days of
#     samples every 10 s (c5metrics._sli_feed, 267,841 samples; every slot
#     of every tier holds one), then pgbench runs each query alone on one
#     connection for a fixed time: SELECT * FROM c5metrics.sli (40 rows),
#     SELECT * FROM c5metrics.error_budget (5 rows), a histogram_quantile
#     over 30 days, and, as the baseline beside them, SELECT * FROM
#     c5metrics.metrics (the registry view, about 160 rows).  Target: sli
#     under 5 ms.
#  2. The worker's sampling cost: CPU time of the "c5metrics http listener"
#     process (/proc/<pid>/schedstat, ns) over a fixed time, with nothing
#     scraping it, at c5metrics.sli_sample_interval = 10 s (the default)
#     and 1 s, with the default 60 s checkpoint; and the same worker with
#     sampling paused (the baseline: its idle wait loop).  Target: under
#     1 % of a core.
#  3. Shared memory: pg_shmem_allocations for the ring beside the registry.
#
# Run as root (it then runs the server as the OS user postgres) or as a
# user that can run initdb; it needs c5metrics built and installed.  Files
# go to OUT (default bench/out/sli, git-ignored); it stops what it starts,
# also on error or Ctrl-C.  About 3 minutes.
#
# Usage: bench/sli.sh [--port N] [--out DIR] [--seconds N]

set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lib.sh"
PORT=56530
OUT=$here/out/sli
SECONDS_CPU=60
QUERY_SECONDS=10

while (($#)); do
	case $1 in
		--port) PORT=$2; shift 2 ;;
		--out) OUT=$2; shift 2 ;;
		--seconds) SECONDS_CPU=$2; shift 2 ;;
		-h|--help) sed -n '2,27p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
		*) echo "sli.sh: unknown option $1 (try --help)" >&2; exit 2 ;;
	esac
done

bench_preflight --http postgres initdb pgbench
bench_as_postgres
rm -rf "$OUT"; mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
bench_workdir
bench_db=postgres
DATA=$OUT/data

bench_initdb "$DATA" "$OUT/initdb.log" <<EOF
c5metrics.listen_addresses = ''
jit = off
EOF
bench_start "$DATA" "$OUT/server.log"
psql_ -c "CREATE EXTENSION c5metrics" -c "SELECT c5metrics.create_reference_schema()" >/dev/null

echo "# c5metrics SLI history benchmark, $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs"
echo

# 1. query time with a full ring
t0=$(date +%s.%N)
psql_ -c "SELECT count(*) FROM (SELECT c5metrics._sli_feed(t,
	ARRAY[n * 999, n * 1990, n * 99], ARRAY[n * 1000, n * 2000, n * 100],
	array_fill(n, ARRAY[13]), array_fill(n * 2, ARRAY[13]))
	FROM (SELECT t, extract(epoch FROM t - now() + '31 days')::bigint / 10 AS n
	        FROM generate_series(now() - '31 days'::interval, now(), '10 s') t) g) f" >/dev/null
t1=$(date +%s.%N)
filled=$(psql_ -At -c "SELECT round(min(coverage)::numeric, 3) FROM c5metrics.sli")
printf '1. query time, ring filled with 31 days of 10 s samples in %.1f s (smallest window coverage %s)\n\n' \
	"$(echo "$t1 - $t0" | bc)" "$filled"
printf '   %-58s %10s %10s\n' query "ms (mean)" "x baseline"
declare -A q=(
	[metrics]="SELECT * FROM c5metrics.metrics"
	[sli]="SELECT * FROM c5metrics.sli"
	[error_budget]="SELECT * FROM c5metrics.error_budget"
	[quantile]="SELECT c5metrics.histogram_quantile(0.95, 'sale_refund_duration_seconds', '30 days')"
)
declare -A ms
for k in metrics sli error_budget quantile; do
	echo "${q[$k]};" >"$OUT/$k.sql"
	if ((EUID == 0)); then chown postgres "$OUT/$k.sql"; fi
	ms[$k]=$(as_pg "$BINDIR/pgbench" -h "$SOCK" -p "$PORT" -n -c 1 -T "$QUERY_SECONDS" -f "$OUT/$k.sql" postgres 2>&1 |
		awk '/^latency average/ { print $4 }')
done
for k in metrics sli error_budget quantile; do
	printf '   %-58s %10.3f %10.2f\n' "${q[$k]:0:58}" "${ms[$k]}" "$(echo "${ms[$k]} / ${ms[metrics]}" | bc -l)"
done
verdict=$(echo "${ms[sli]} < 5" | bc)
echo
echo "   target: c5metrics.sli under 5 ms: $([[ $verdict == 1 ]] && echo met || echo NOT met)"
echo

# 2. the worker's sampling cost
worker_pid() { backend_pid 'c5metrics http listener'; }
measure()	# label
{
	local pid a b
	pid=$(worker_pid)
	a=$(cpu_ns "$pid"); sleep "$SECONDS_CPU"; b=$(cpu_ns "$pid")
	printf '   %-40s %8.4f %% of a core (%.1f ms of CPU in %d s)\n' "$1" \
		"$(echo "100 * ($b - $a) / ($SECONDS_CPU * 10^9)" | bc -l)" "$(echo "($b - $a) / 10^6" | bc -l)" "$SECONDS_CPU"
}
echo "2. worker CPU over $SECONDS_CPU s, nothing scraping"
measure "sampling paused (baseline)"
psql_ -c "SELECT c5metrics._sli_clear(false)" >/dev/null
measure "sampling every 10 s, checkpoint 60 s"
psql_ -c "ALTER SYSTEM SET c5metrics.sli_sample_interval = 1" -c "SELECT pg_reload_conf()" >/dev/null
sleep 1
measure "sampling every 1 s, checkpoint 60 s"
echo "   target: under 1 % of a core at the default interval"
echo

# 3. memory
echo "3. shared memory"
psql_ -At -c "SELECT '   ' || rpad(name, 38) || pg_size_pretty(allocated_size) FROM pg_shmem_allocations
	WHERE name LIKE 'c5metrics%' ORDER BY name"
