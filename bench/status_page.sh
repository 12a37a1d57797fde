#!/usr/bin/env bash
#
# status_page.sh -- what the status page at / costs (issue 19): its render
# time with a full 30-day SLI history, and the HTTP worker's memory.
#
#  1. The cluster: c5metrics preloaded, the HTTP worker on 127.0.0.1, the
#     reference shop (c5load --init) and a short c5load run, so that the
#     page's tables of transitions and exceptions have rows.  Then the SLI
#     ring is emptied and filled completely with c5metrics._sli_feed():
#     samples every 10 s over the last 2 h 15 min, every 2 min over the last
#     3 d 2 h and every 15 min over the last 30 d 21 h, on the tiers' grids
#     and in time order, so that every slot of every tier (fine 800 x 10 s,
#     medium 2200 x 2 min, coarse 2960 x 15 min) holds a sample.  The counts
#     follow a daily traffic wave and a daily error wave with incidents, so
#     that the sparklines have a shape and the SLOs' alerts differ.  Feeding
#     keeps the worker from sampling: the history stays as fed.
#  2. Requests: GET /, /slo.json, /metrics and /healthz (the baseline: the
#     same worker and HTTP path, no render), each without and with
#     Accept-Encoding: gzip, N requests each, sequential over keep-alive
#     connections (curl, one connection per batch of N / rounds requests;
#     the batches of the eight kinds take turns, round after round).  For /
#     and /slo.json the worker's own render time from its Server-Timing
#     header (render;dur=<ms>, the body built, gzip included): median, p90,
#     p99 and max.  For all of them curl's time_total (client side: request
#     sent to body received) and the worker's CPU time per request
#     (/proc/<pid>/schedstat).  Target: median render of / <= 2 ms.
#  3. The worker's memory: VmRSS, VmHWM, RssAnon, RssFile and RssShmem of
#     the "c5metrics http listener" process after start, before the
#     requests and after them, and how much of the SLI ring's shared memory
#     the worker has touched (/proc/<pid>/pagemap).  Target: VmRSS <= 16 MB.
#
# Run as root (it then runs every server process and c5load as the OS user
# postgres) or as a user who can run initdb.  It needs c5metrics built and
# installed (make && make install: it measures the installed copy) and
# test/c5load/c5load built.  Everything goes under OUT (default
# bench/out/status_page, git-ignored) and a private socket directory in
# /tmp; the server listens on that socket only, the HTTP worker on
# 127.0.0.1.  It stops every process it started, also on error or Ctrl-C.
#
# Usage: bench/status_page.sh [options]; see --help.

set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lib.sh"

PORT=${PORT:-56540}
HTTP_PORT=${HTTP_PORT:-}
OUT=${OUT:-$here/out/status_page}
REQUESTS=2000				# per kind of request
ROUNDS=5					# batches per kind, taking turns with the other kinds
LOAD_SECONDS=10				# c5load run before the ring is filled
CLIENTS=2
SEED=1
TARGET_RENDER_MS=2			# issue 19: median render of / <= 2 ms with a full ring
TARGET_RSS_KB=16000			# issue 19: worker RSS <= 16 MB (read as 16,000 kB of /proc's kB)
C5LOAD=${C5LOAD:-$bench_repo/test/c5load/c5load}
# The duration buckets the fill is written for (c5metrics.duration_buckets' default).
BUCKETS='0.005,0.01,0.025,0.05,0.1,0.25,0.5,0.8,1,2.5,5,10'
keep_data=0

usage()
{
	cat <<EOF
Usage: $0 [options]

  --port N           PostgreSQL port, 56000-56999 (default $PORT; unix socket only)
  --http-port N      port of the HTTP worker on 127.0.0.1, 56000-56999 (default port + 1)
  --out DIR          output directory (default $OUT)
  --requests N       requests of each kind (default $REQUESTS)
  --rounds N         batches of each kind, taking turns (default $ROUNDS)
  --load-seconds N   c5load run before the ring is filled (default $LOAD_SECONDS)
  --quick            smoke run: --requests 200 --rounds 2 --load-seconds 3
  --keep-data        keep the data directory under OUT
  -h, --help         this help

Environment: PG_CONFIG (default pg_config) selects the PostgreSQL install;
C5LOAD (default test/c5load/c5load of this tree) the load generator.
Results: on stdout and in OUT/results.txt; the raw per-request lines, the
bodies and the server log in OUT/log.  About a minute with the defaults.
EOF
}

while [[ $# -gt 0 ]]; do
	case $1 in
		--port) PORT=$2; shift ;;
		--http-port) HTTP_PORT=$2; shift ;;
		--out) OUT=$2; shift ;;
		--requests) REQUESTS=$2; shift ;;
		--rounds) ROUNDS=$2; shift ;;
		--load-seconds) LOAD_SECONDS=$2; shift ;;
		--quick) REQUESTS=200; ROUNDS=2; LOAD_SECONDS=3 ;;
		--keep-data) keep_data=1 ;;
		-h|--help) usage; exit 0 ;;
		*) echo "unknown option: $1 (see --help)" >&2; exit 2 ;;
	esac
	shift
done
HTTP_PORT=${HTTP_PORT:-$((PORT + 1))}

for v in PORT HTTP_PORT REQUESTS ROUNDS LOAD_SECONDS; do
	[[ ${!v} =~ ^[0-9]+$ ]] || die "$v must be a number"
done
((REQUESTS >= 10 && ROUNDS > 0 && ROUNDS <= REQUESTS && LOAD_SECONDS > 0)) ||
	die "--requests >= 10, --rounds in 1..requests, --load-seconds > 0"
((PORT >= 56000 && PORT <= 56999)) || die "--port must be in 56000-56999"
((HTTP_PORT >= 56000 && HTTP_PORT <= 56999)) || die "--http-port must be in 56000-56999"
((PORT != HTTP_PORT)) || die "--port and --http-port must differ"

# ---------------------------------------------------------------------------
# Preflight
# ---------------------------------------------------------------------------

bench_preflight --http postgres initdb psql
[[ -x $C5LOAD ]] || die "$C5LOAD is not built: run 'make' in $bench_repo (or set C5LOAD)"
command -v perl >/dev/null || die "perl is missing"
bench_as_postgres
missing=()
command -v curl >/dev/null || missing+=(curl)
bench_apt_install "${missing[@]}"
# curl's -w %header{...} (7.84) reads the Server-Timing header of each request
curl_ver=$(curl --version | awk 'NR == 1 { print $2 }')
printf '%s\n7.84.0\n' "$curl_ver" | sort -V -C -r ||
	die "curl $curl_ver is too old: -w %header{} needs curl 7.84 or later"
# Before issue 19 the worker answers / and /slo.json with 404, and sends no
# Server-Timing header: say so now, not after the setup (the probe below
# checks the answers themselves).
grep -aq 'Server-Timing' "$PKGLIB/c5metrics_http.so" ||
	die "the installed c5metrics_http.so ($PKGLIB) serves no status page (/ and /slo.json, issue 19): install a c5metrics that has it"

# ---------------------------------------------------------------------------
# Work directories and cleanup
# ---------------------------------------------------------------------------

mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
rm -rf "$OUT"/data "$OUT"/log
rm -f "$OUT"/results.txt
scratch=("$OUT"/data)
load_pid=""
bench_on_exit() { bench_kill "$load_pid"; }
bench_workdir log

http_url() { echo "http://127.0.0.1:$HTTP_PORT$1"; }

# ---------------------------------------------------------------------------
# The cluster and the shop
# ---------------------------------------------------------------------------

bench_initdb "$OUT/data" "$OUT/log/initdb.log" -E UTF8 --locale=C --no-sync <<EOF
c5metrics.listen_addresses = '127.0.0.1'
c5metrics.port = $HTTP_PORT
shared_buffers = 128MB
huge_pages = off		# 4 kB pages: the worker's share of the SLI ring is read page by page
fsync = off			# throwaway cluster
synchronous_commit = off
jit = off
lc_messages = 'C'
EOF
bench_start "$OUT/data" "$OUT/log/server.log" "$HTTP_PORT"
worker_pid=$(backend_pid 'c5metrics http listener')
[[ -n $worker_pid ]] || die "no c5metrics http listener among the children of the postmaster"

declare -A mem				# [moment] = "VmRSS VmHWM RssAnon RssFile RssShmem"
mem_moments=()
mem_sample()				# moment
{
	[[ $(backend_pid 'c5metrics http listener') == "$worker_pid" ]] ||
		die "the c5metrics http listener is no longer pid $worker_pid (restarted?), see $OUT/log/server.log"
	mem[$1]=$(proc_mem "$worker_pid" VmRSS VmHWM RssAnon RssFile RssShmem)
	mem_moments+=("$1")
}
mem_sample start

DB=postgres psql_ -c "CREATE DATABASE bench" >/dev/null
psql_ -c "CREATE EXTENSION c5metrics" >/dev/null
[[ $(psql_ -At -c "SHOW c5metrics.duration_buckets") == "$BUCKETS" ]] ||
	die "c5metrics.duration_buckets is not its default ($BUCKETS): the ring fill is written for it"
CONNINFO="host=$SOCK port=$PORT user=$dbuser dbname=$bench_db"
note "c5load --init, then c5load at $CLIENTS clients for $LOAD_SECONDS s"
as_pg "$C5LOAD" -d "$CONNINFO" --init -t 0 -q >"$OUT/log/c5load-init.log" 2>&1 ||
	die "c5load --init failed, see $OUT/log/c5load-init.log"
as_pg "$C5LOAD" -d "$CONNINFO" --clients="$CLIENTS" --time="$LOAD_SECONDS" --seed="$SEED" -q \
	>"$OUT/log/c5load.log" 2>&1 || die "c5load failed, see $OUT/log/c5load.log"
read -r n_transitions n_exceptions n_series <<<"$(psql_ -At -F ' ' -c "
	SELECT count(*) FILTER (WHERE metric = 'sales_transition_total' AND value > 0),
	       count(*) FILTER (WHERE metric = 'exceptions_total' AND value > 0),
	       (SELECT value FROM c5metrics.metrics WHERE metric = 'c5metrics_series')::bigint
	  FROM c5metrics.metrics")"
((n_transitions > 0 && n_exceptions > 0)) ||
	die "after c5load: $n_transitions transition series and $n_exceptions exception series counted; expected some of each"

# ---------------------------------------------------------------------------
# The full ring
# ---------------------------------------------------------------------------

# Times: unix seconds on the tiers' grids, the latest E = now rounded down to
# 10 s.  Each kind of event has a rate (events/s, with a daily traffic wave)
# and a bad fraction (a daily wave plus incidents at fixed ages); the fed
# counts are the floors of their running sums, good and bad apart, so each
# count, each total - good and each bucket never decreases.  Latency: fast
# events in the buckets up to 0.25 s, slow ones from 1 s up (both latency
# thresholds, 0.5 and 0.8 s, lie between).
#   sale_paid_availability  2/s x traffic; 0.02-0.06 % bad; 2 % for 3 h 9 days
#                           ago; 3 % in the last 70 min (a page alert)
#   stock_consume_latency   the good payments; 1-3 % slow; 30 % for 6 h 20 days ago
#   refund_availability     0.3/s x traffic; 0.1-0.3 % bad; 1.8 % in the last 2 days (a ticket)
#   refund_latency          the good refunds; 1-3 % slow; 50 % for 4 h 12 days ago
#   leads_availability      0.5/s x traffic; 0.2-0.6 % bad; 20 % for 1 h 25 days ago
fill_sql()
{
	cat "$here/../test/sli-feed-30d.sql"
	cat <<'EOF'
-- samples fed, and the slots of each tier that hold one of them: the
-- distinct epochs among the tier's last nslots epochs
SELECT count(*),
       count(DISTINCT s / 10) FILTER (WHERE s / 10 > e / 10 - 800),
       count(DISTINCT s / 120) FILTER (WHERE s / 120 > e / 120 - 2200),
       count(DISTINCT s / 900) FILTER (WHERE s / 900 > e / 900 - 2960),
       to_char(to_timestamp(e) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
  FROM feed, (SELECT max(s) AS e FROM feed) m
 GROUP BY e;
EOF
}

note "filling the SLI ring: 30 days on the three tiers' grids"
t0=$(date +%s%N)
read -r fed_samples slots_fine slots_medium slots_coarse fed_as_of <<<"$(fill_sql | psql_ -At -F ' ' |
	awk 'NF == 5')"
fill_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
[[ -n ${fed_as_of:-} ]] || die "the ring fill printed no summary"
((slots_fine == 800 && slots_medium == 2200 && slots_coarse == 2960)) ||
	die "the fill reached $slots_fine/800, $slots_medium/2200, $slots_coarse/2960 slots"

# What the ring says: the latest sample, and each window's coverage.
ring_as_of=$(psql_ -At -c "SELECT to_char(max(as_of) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')
	FROM c5metrics.sli")
[[ $ring_as_of == "$fed_as_of" ]] || die "c5metrics.sli is as of $ring_as_of, the last sample fed is $fed_as_of"
coverage=$(psql_ -At -F ' ' -c "SELECT window_name, round(min(coverage)::numeric, 5)
	FROM c5metrics.sli GROUP BY window_name, window_seconds ORDER BY window_seconds" | tr '\n' ' ')
cov30=$(psql_ -At -c "SELECT min(coverage) FROM c5metrics.sli WHERE window_name = '30d'")
awk -v c="$cov30" 'BEGIN { exit !(c >= 0.999) }' ||
	die "c5metrics.sli covers $cov30 of the 30d window after the fill: the ring is not full"
psql_ -c "SELECT slo, window_name, good, total, round(sli::numeric, 6) AS sli,
	round(burn_rate::numeric, 3) AS burn_rate, round(coverage::numeric, 5) AS coverage
	FROM c5metrics.sli ORDER BY slo, window_seconds" >"$OUT/log/sli.txt"
psql_ -c "SELECT * FROM c5metrics.error_budget ORDER BY slo" >"$OUT/log/error_budget.txt"
alerts=$(psql_ -At -F '=' -c "SELECT slo, alerting FROM c5metrics.error_budget ORDER BY slo" | tr '\n' ' ')

# ---------------------------------------------------------------------------
# Requests
# ---------------------------------------------------------------------------

kinds=(page.id page.gz json.id json.gz metrics.id metrics.gz healthz.id healthz.gz)

kind_path()
{
	case ${1%.*} in
		page) echo / ;;
		json) echo /slo.json ;;
		metrics) echo /metrics ;;
		healthz) echo /healthz ;;
	esac
}

kind_label()
{
	local enc="identity"

	[[ ${1#*.} == gz ]] && enc="gzip"
	printf '%-9s %s' "$(kind_path "$1")" "$enc"
}

# One line a request, tab-separated: status, connections opened for it,
# bytes received (as sent: gzip stays compressed), curl's time_total (s),
# the Server-Timing and Content-Encoding headers.
CURL_FMT='%{http_code}\t%{num_connects}\t%{size_download}\t%{time_total}\t%header{server-timing}\t%header{content-encoding}\n'

# curl_batch kind n file: n requests of the kind over one keep-alive
# connection, their lines appended to file.
curl_batch()
{
	local kind=$1 n=$2 cfg=$OUT/log/curl.${1%.*}.$2.cfg i
	local -a hdr=()

	if [[ ! -f $cfg ]]; then
		for ((i = 0; i < n; i++)); do
			printf 'url = "%s"\noutput = "/dev/null"\n' "$(http_url "$(kind_path "$kind")")"
		done >"$cfg"
	fi
	[[ ${kind#*.} == gz ]] && hdr=(-H "Accept-Encoding: gzip")
	curl -sS --max-time $((30 + n / 20)) "${hdr[@]}" -w "$CURL_FMT" -K "$cfg" >>"$3" ||
		die "curl $(kind_label "$kind") failed"
}

# Probe / and /slo.json: the status page must be there, with Server-Timing.
probe()						# kind
{
	local kind=$1 path code timing
	local -a hdr=()

	path=$(kind_path "$kind")
	[[ ${kind#*.} == gz ]] && hdr=(-H "Accept-Encoding: gzip")
	code=$(curl -sS --max-time 10 "${hdr[@]}" -D "$OUT/log/headers.$kind.txt" -o "$OUT/log/body.$kind" \
		-w '%{http_code}' "$(http_url "$path")") || die "GET $path failed"
	if [[ $code == 404 ]]; then
		die "GET $path answered 404: this c5metrics has no status page (issue 19); install one that has"
	fi
	[[ $code == 200 ]] || die "GET $path answered $code, see $OUT/log/headers.$kind.txt"
	timing=$(tr -d '\r' <"$OUT/log/headers.$kind.txt" | awk -F': *' 'tolower($1) == "server-timing" { print $2 }')
	[[ $timing =~ render\;dur=[0-9.]+ ]] ||
		die "GET $path has no 'Server-Timing: render;dur=<ms>' header, see $OUT/log/headers.$kind.txt"
}

mem_sample before
for k in page.id page.gz json.id json.gz; do
	probe "$k"
done
for k in metrics.id metrics.gz healthz.id healthz.gz; do
	hdr=()
	[[ ${k#*.} == gz ]] && hdr=(-H "Accept-Encoding: gzip")
	curl -sS --fail --max-time 10 "${hdr[@]}" -o "$OUT/log/body.$k" "$(http_url "$(kind_path "$k")")" ||
		die "GET $(kind_path "$k") failed"
done
gzip -t "$OUT/log/body.page.gz" 2>/dev/null || die "GET / with Accept-Encoding: gzip did not answer gzip"

# What the page shows, from the bodies just fetched.
page_rows=$( (grep -o 'data-slo="[a-z_]*"' "$OUT/log/body.page.id" || true) | sort -u | wc -l)
page_svgs=$( (grep -o '<svg[^>]*data-spark=' "$OUT/log/body.page.id" || true) | wc -l)
spark_points=$(perl -MJSON::PP -e '
	local $/; my $j = decode_json(<STDIN>); my ($n, $null, $slos) = (0, 0, 0);
	for my $s (@{$j->{slos}}) {
		$slos++;
		for my $k (qw(spark_24h spark_30d)) {
			for my $p (@{$s->{$k}{points}}) { $n++; $null++ unless defined $p->[1] }
		}
	}
	printf "%d %d %d %d %d %s\n", $slos, $n, $null, scalar @{$j->{transitions} || []},
		scalar @{$j->{exceptions} || []}, $j->{as_of} // "null";
' <"$OUT/log/body.json.id") || die "/slo.json is not the JSON of the contract, see $OUT/log/body.json.id"
read -r json_slos json_points json_nulls json_transitions json_exceptions json_as_of <<<"$spark_points"
page_as_of=$(perl -0777 -ne 'print $1 if /<p id="as-of">.*?<time[^>]* data-v="([^"]*)"/s' "$OUT/log/body.page.id")
# the page and /slo.json give microseconds; the samples fed are whole seconds
page_as_of=${page_as_of/.000000Z/Z}
json_as_of=${json_as_of/.000000Z/Z}
[[ $page_as_of == "$fed_as_of" && $json_as_of == "$fed_as_of" ]] ||
	die "the page is as of '$page_as_of' and /slo.json as of '$json_as_of', the last sample fed is $fed_as_of"

declare -A nreq cpu			# [kind] = requests made, worker CPU ns
note "warming up: 20 requests of each kind"
for k in "${kinds[@]}"; do
	curl_batch "$k" 20 "$OUT/log/warmup.txt"
done

batch=$(( (REQUESTS + ROUNDS - 1) / ROUNDS ))
for ((r = 0; r < ROUNDS; r++)); do
	note "round $((r + 1))/$ROUNDS: $batch requests of each of the ${#kinds[@]} kinds"
	for ((i = 0; i < ${#kinds[@]}; i++)); do
		k=${kinds[(i + r) % ${#kinds[@]}]}		# each round starts one kind later
		c0=$(cpu_ns "$worker_pid")
		curl_batch "$k" "$batch" "$OUT/log/req.$k.txt"
		cpu[$k]=$(( ${cpu[$k]:-0} + $(cpu_ns "$worker_pid") - c0 ))
		nreq[$k]=$(( ${nreq[$k]:-0} + batch ))
	done
done
mem_sample after

# ---------------------------------------------------------------------------
# The worker's share of the SLI ring
# ---------------------------------------------------------------------------

# Pages of the ring present in the worker's page tables (what RssShmem
# counts of it): the main shared memory segment is the largest
# "/dev/zero (deleted)" mapping, and pg_shmem_allocations gives the ring's
# offset in it.  Prints "resident_kB ring_kB", or nothing if pagemap cannot
# be read.
ring_resident()
{
	local off size

	read -r off size <<<"$(psql_ -At -F ' ' -c "SELECT off, allocated_size FROM pg_shmem_allocations
		WHERE name = 'c5metrics sli ring'")"
	[[ -n $off ]] || die "no 'c5metrics sli ring' in pg_shmem_allocations"
	perl -e '
		use strict;
		my ($pid, $off, $size) = @ARGV;
		my $ps = 4096;
		my ($base, $len) = (0, 0);
		open(my $m, "<", "/proc/$pid/maps") or exit 0;
		while (<$m>) {
			next unless m{^([0-9a-f]+)-([0-9a-f]+) \S+ \S+ \S+ \S+\s+/dev/zero \(deleted\)};
			my ($a, $b) = (hex $1, hex $2);
			($base, $len) = ($a, $b - $a) if $b - $a > $len;
		}
		exit 0 unless $len >= $off + $size;
		open(my $pm, "<:raw", "/proc/$pid/pagemap") or exit 0;
		my $first = int(($base + $off) / $ps);
		my $last = int(($base + $off + $size - 1) / $ps);
		seek($pm, $first * 8, 0) or exit 0;
		my $n = $last - $first + 1;
		read($pm, my $buf, $n * 8) == $n * 8 or exit 0;
		my $present = grep { $_ & (1 << 63) } unpack("Q<*", $buf);
		printf "%d %d\n", $present * $ps / 1024, $n * $ps / 1024;
	' "$worker_pid" "$off" "$size"
}
read -r ring_kb_resident ring_kb <<<"$(ring_resident)"

# ---------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------

# "median p90 p99 max" (nearest rank) of column col of tab-separated files,
# times mult, printed with 3 decimals
quantiles()					# col mult file...
{
	local col=$1 mult=$2

	shift 2
	awk -F'\t' -v c="$col" -v m="$mult" '{ print $c * m }' "$@" | sort -g | awk '
		{ v[NR] = $1 }
		function q(p,  k) { k = int(p * NR); if (k < p * NR) k++; if (k < 1) k = 1; return v[k] }
		END { printf "%.3f %.3f %.3f %.3f\n", q(0.5), q(0.9), q(0.99), v[NR] }'
}

rev=$(bench_rev)
out "c5metrics status page cost -- $(date -u '+%Y-%m-%d %H:%M UTC'), c5metrics $rev,"
out "$("$BINDIR/postgres" --version), curl $curl_ver, $(nproc) CPUs"
out ""
out "Catalog: $n_series series (c5metrics_series) after c5load --init and $LOAD_SECONDS s of c5load"
out "  at $CLIENTS clients: $n_transitions transition series and $n_exceptions exception series counted."
out "SLI ring: $fed_samples samples fed in $fill_ms ms, the latest at $fed_as_of (the page's as-of);"
out "  slots holding one: fine $slots_fine/800, medium $slots_medium/2200, coarse $slots_coarse/2960."
out "  c5metrics.sli coverage by window (smallest over the SLOs): $coverage"
out "  alerts (c5metrics.error_budget): $alerts"
out "Page: as of $page_as_of, $page_rows SLO rows, $page_svgs sparklines; /slo.json: as of $json_as_of,"
out "  $json_slos SLOs, $json_points spark points of which $json_nulls without data, $json_transitions transitions,"
out "  $json_exceptions exceptions."


declare -A st				# [kind.field]: bytes conns enc cmed cp99 rmed r90 r99 rmax cpu
for k in "${kinds[@]}"; do
	f=$OUT/log/req.$k.txt
	bad=$(awk -F'\t' '$1 != 200' "$f" | wc -l)
	((bad == 0)) || die "$bad requests of $(kind_label "$k") did not answer 200, see $f"
	st[$k.conns]=$(awk -F'\t' '{ n += $2 } END { print n }' "$f")
	st[$k.bytes]=$(awk -F'\t' 'NR == 1 { print $3 }' "$f")
	st[$k.enc]=$(awk -F'\t' '{ e[$6 == "" ? "identity" : $6]++ }
		END { for (k in e) { printf "%s%s", s, k; s = "," } }' "$f")
	read -r "st[$k.cmed]" _ "st[$k.cp99]" _ <<<"$(quantiles 4 1000 "$f")"
	st[$k.cpu]=$(awk -v c="${cpu[$k]}" -v n="${nreq[$k]}" 'BEGIN { printf "%.1f", c / n / 1000 }')
	if [[ $k == page.* || $k == json.* ]]; then
		awk -F'\t' '{ if (match($5, /render;dur=[0-9.]+/)) print "\t\t" substr($5, RSTART + 11, RLENGTH - 11) }' \
			"$f" >"$OUT/log/render.$k.txt"
		[[ $(wc -l <"$OUT/log/render.$k.txt") -eq $(wc -l <"$f") ]] ||
			die "some answers of $(kind_label "$k") had no Server-Timing render;dur, see $f"
		read -r "st[$k.rmed]" "st[$k.r90]" "st[$k.r99]" "st[$k.rmax]" <<<"$(quantiles 3 1 "$OUT/log/render.$k.txt")"
	fi
done

out ""
out "Requests: ${nreq[page.id]} of each kind in $ROUNDS rounds of $batch, sequential over keep-alive"
out "connections to 127.0.0.1 (curl, one connection a batch; the kinds take turns)"
out "$(printf '  %-20s %8s %5s | %8s %8s %8s %8s | %8s %8s %7s | %7s' '' '' '' \
	'render' 'render' 'render' 'render' 'client' 'client' 'client' 'worker')"
out "$(printf '  %-20s %8s %5s | %8s %8s %8s %8s | %8s %8s %7s | %7s' request bytes conns \
	'med ms' 'p90 ms' 'p99 ms' 'max ms' 'med ms' 'p99 ms' '/healthz' 'us/req')"
for k in "${kinds[@]}"; do
	hz=healthz.${k#*.}
	out "$(printf '  %-20s %8s %5s | %8s %8s %8s %8s | %8s %8s %7s | %7s' "$(kind_label "$k")" \
		"${st[$k.bytes]}" "${st[$k.conns]}" "${st[$k.rmed]:--}" "${st[$k.r90]:--}" "${st[$k.r99]:--}" \
		"${st[$k.rmax]:--}" "${st[$k.cmed]}" "${st[$k.cp99]}" \
		"$(awk -v a="${st[$k.cmed]}" -v b="${st[$hz.cmed]}" 'BEGIN { printf "%.2f", a / b }')" "${st[$k.cpu]}")"
done
out "  bytes: the body as sent (gzip: compressed); conns: connections curl opened (one a batch"
out "  while keep-alive holds); render: the worker's Server-Timing render;dur (the body built,"
out "  gzip included); client: curl's time_total (request sent to last byte received, curl's"
out "  own work included), and its median over /healthz's with the same Accept-Encoding;"
out "  worker: the worker process's CPU time per request (/proc/<pid>/schedstat)."
for k in "${kinds[@]}"; do
	if [[ $k == *.gz && $k != healthz.gz && ${st[$k.enc]} != gzip ]]; then
		out "  warning: $(kind_label "$k") asked for gzip and came back as ${st[$k.enc]}"
	elif [[ $k == *.id && ${st[$k.enc]} != identity ]]; then
		out "  warning: $(kind_label "$k") came back as ${st[$k.enc]}"
	fi
done

out ""
out "Memory of the c5metrics http listener (pid $worker_pid), kB, /proc/<pid>/status"
out "$(printf '  %-44s %7s %7s %7s %7s %8s' moment VmRSS VmHWM RssAnon RssFile RssShmem)"
for m in "${mem_moments[@]}"; do
	case $m in
		start) l="after start" ;;
		before) l="shop loaded, ring filled, before any request" ;;
		after) l="after the requests" ;;
	esac
	read -r a b c d e <<<"${mem[$m]}"
	out "$(printf '  %-44s %7s %7s %7s %7s %8s' "$l" "$a" "$b" "$c" "$d" "$e")"
done
out "  VmRSS = RssAnon (the worker's private memory) + RssFile (the postgres binary and the"
out "  libraries it maps, shared with every process that maps them) + RssShmem (the pages of"
out "  the cluster's shared memory it has touched: the registry, the SLI ring)."
read -r rss_after _ <<<"${mem[after]}"
if [[ -n ${ring_kb:-} ]]; then
	rss_bound=$((rss_after + ring_kb - ring_kb_resident))
	out "  SLI ring: $ring_kb_resident of its $ring_kb kB resident in the worker (/proc/<pid>/pagemap). In"
	out "  normal operation the worker's SLI checkpoint (every c5metrics.sli_checkpoint_interval)"
	out "  reads the whole ring; a fed ring keeps sampling and checkpoints off, so the rest is"
	out "  added: VmRSS with the whole ring touched = $rss_after + $((ring_kb - ring_kb_resident)) = $rss_bound kB."
else
	ring_kb=$(psql_ -At -c "SELECT allocated_size / 1024 FROM pg_shmem_allocations WHERE name = 'c5metrics sli ring'")
	rss_bound=$((rss_after + ring_kb))
	out "  SLI ring: /proc/<pid>/pagemap could not be read; the whole ring ($ring_kb kB) is added as if"
	out "  untouched (an upper bound): $rss_bound kB."
fi

out ""
# Twice: the render itself (identity), and as a browser asks for the page
# (Accept-Encoding: gzip, the compression in the render time).
for e in id gz; do
	k=$(awk -v a="${st[page.$e.rmed]}" -v t="$TARGET_RENDER_MS" 'BEGIN { exit !(a <= t) }' && echo MET || echo "NOT MET")
	out "target (median render of / <= $TARGET_RENDER_MS ms, default catalog, full 30-day ring, $([[ $e == id ]] &&
		echo identity || echo 'gzip as a browser asks')): $k, ${st[page.$e.rmed]} ms (/slo.json ${st[json.$e.rmed]} ms)"
done
k=$( ((rss_bound <= TARGET_RSS_KB)) && echo MET || echo "NOT MET")
out "target (worker VmRSS <= 16 MB, read as $TARGET_RSS_KB kB, with the whole ring touched): $k, $rss_bound kB"
out "  (measured after the requests: $rss_after kB)"
out ""
out "done in $SECONDS s; files in $OUT"
