#!/usr/bin/env bash
#
# soak.sh -- a bounded soak: c5load at 4 clients for 10 minutes while
# /metrics is scraped at 10 Hz.  Not a test (CI does not run it); it
# measures and prints what it saw:
#
#  1. Exactness: c5load writes what its clients saw happen as JSON ground
#     truth ({"series": [{metric, labels, value}]}); at the end every series
#     is compared with c5metrics.metrics (as test/t/006_exactness.pl does):
#     events lost (truth above the counter) and doubled (below), and the
#     tables' own counts (paid sales, refunds, refund-ins, leads).
#  2. The HTTP worker's memory: VmRSS, RssAnon (its private memory: a leak
#     shows here), VmHWM and RssShmem of the "c5metrics http listener" child
#     of this run's postmaster (found through postmaster.pid, not by name:
#     other clusters run on the machine), every --sample seconds; first, last
#     and max, and whether RssAnon stayed within --flat-kb from the first
#     sample after the worker's second SLI checkpoint to the last (each
#     checkpoint copies the 3.4 MB SLI ring into a buffer, which glibc keeps
#     in its heap from the second one on: a one-time step, then flat).
#  3. Lock waits: every --sample seconds the sessions of pg_stat_activity
#     waiting on a heavyweight lock (wait_event_type = 'Lock'), with the lock
#     (pg_locks: lock type, the relation of the row or object) and what the
#     blockers (pg_blocking_pids) run.  Classified as
#       c5metrics      a lock on an object of the c5metrics schema, an
#                      advisory lock, or a c5metrics.* statement on either
#                      side: c5metrics must never cause one;
#       guard/refund   a refund waiting on the over-refund guard's row lock
#                      of its sale, held by another refund of the same sale:
#                      the guard working (it serializes refunds of a sale);
#       guard/sale     the same row lock between a refund and an update of
#                      the sale (payment, cancellation);
#       workload       the load's own locks: payments queueing on the stock
#                      lot row (FEFO), c5load's injected lock timeouts,
#                      inserts waiting on a duplicate idempotency key, ...
#  4. The scraper: a curl loop paced at --hz against the wall clock, asking
#     as Prometheus does (OpenMetrics preferred, gzip); scrapes done, failed
#     (not 200 or no body) and the achieved rate.
#
# Run as root (it then runs every server process and c5load as the OS user
# postgres) or as a user who can run initdb.  It needs c5metrics built and
# installed (make && make install: it measures the installed copy, which is
# what users run) and test/c5load/c5load built.  Everything goes under OUT
# (default bench/out/soak, git-ignored) and a private socket directory in
# /tmp; the server listens on that socket only, /metrics on 127.0.0.1.  It
# stops every process it started, also on error or Ctrl-C.
#
# Usage: bench/soak.sh [--seconds N] [options]; see --help.

set -euo pipefail

orig_args="$*"
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
. "$here/lib.sh"

PORT=${PORT:-56600}
HTTP_PORT=${HTTP_PORT:-}
OUT=${OUT:-$here/out/soak}
SECONDS_RUN=600
CLIENTS=4
HZ=10
SAMPLE=5
SEED=1
FLAT_KB=256					# RssAnon may grow by this much, first to last sample
keep_data=0
C5LOAD=$repo/test/c5load/c5load
bench_db=soak

usage()
{
	cat <<EOF
Usage: $0 [options]

  --seconds N      duration of the load (default $SECONDS_RUN)
  --clients N      c5load clients (default $CLIENTS)
  --hz N           scrapes per second (default $HZ)
  --sample N       seconds between memory and lock samples (default $SAMPLE)
  --seed N         c5load seed (default $SEED)
  --flat-kb N      allowed growth of the worker's RssAnon, kB (default $FLAT_KB)
  --port N         PostgreSQL port, 56600-56699 (default $PORT; unix socket only)
  --http-port N    port of /metrics on 127.0.0.1, 56600-56699 (default port + 1)
  --out DIR        output directory (default $OUT)
  --keep-data      keep the data directory under OUT
  -h, --help       this help

Environment: PG_CONFIG (default pg_config) selects the PostgreSQL install.
Results: a table on stdout and OUT/report.md; raw samples and logs in OUT/log.
EOF
}

while [[ $# -gt 0 ]]; do
	case $1 in
		--seconds) SECONDS_RUN=$2; shift ;;
		--clients) CLIENTS=$2; shift ;;
		--hz) HZ=$2; shift ;;
		--sample) SAMPLE=$2; shift ;;
		--seed) SEED=$2; shift ;;
		--flat-kb) FLAT_KB=$2; shift ;;
		--port) PORT=$2; shift ;;
		--http-port) HTTP_PORT=$2; shift ;;
		--out) OUT=$2; shift ;;
		--keep-data) keep_data=1 ;;
		-h|--help) usage; exit 0 ;;
		*) echo "unknown option: $1 (see --help)" >&2; exit 2 ;;
	esac
	shift
done
HTTP_PORT=${HTTP_PORT:-$((PORT + 1))}

note() { echo "# $(date -u +%H:%M:%S) $*" >&2; }

for v in SECONDS_RUN CLIENTS HZ SAMPLE SEED FLAT_KB PORT HTTP_PORT; do
	[[ ${!v} =~ ^[0-9]+$ ]] || die "$v must be a number"
done
((SECONDS_RUN >= 10 && CLIENTS > 0 && HZ > 0 && HZ <= 100 && SAMPLE > 0)) ||
	die "--seconds >= 10, --clients > 0, --hz in 1-100, --sample > 0"
((PORT >= 56600 && PORT <= 56699)) || die "--port must be in 56600-56699"
((HTTP_PORT >= 56600 && HTTP_PORT <= 56699)) || die "--http-port must be in 56600-56699"
((PORT != HTTP_PORT)) || die "--port and --http-port must differ"

# ---------------------------------------------------------------------------
# Preflight
# ---------------------------------------------------------------------------

bench_preflight --http postgres initdb psql
[[ -x $C5LOAD ]] || die "$C5LOAD is not built: run 'make' in $repo"
command -v curl >/dev/null || die "curl is missing (apt-get install curl)"
command -v perl >/dev/null || die "perl is missing"
bench_as_postgres

# ---------------------------------------------------------------------------
# Work directories and cleanup
# ---------------------------------------------------------------------------

mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
rm -rf "$OUT"/data "$OUT"/log
rm -f "$OUT"/report.md
scratch=("$OUT"/data)
load_pid=""
scraper_pid=""
STOP=$OUT/log/scraper.stop

# The scraper stops by itself when STOP exists; the server gets a clean
# shutdown first (bench_cleanup stops it at once if that fails).
bench_on_exit()
{
	touch "$STOP" 2>/dev/null || true
	bench_kill "$load_pid"
	if [[ -n $scraper_pid ]] && kill -0 "$scraper_pid" 2>/dev/null; then
		wait "$scraper_pid" 2>/dev/null || true
	fi
	if [[ -n $server_dir && -f $server_dir/postmaster.pid ]]; then
		as_pg "$BINDIR/pg_ctl" -D "$server_dir" -m fast -w -t 60 stop >/dev/null 2>&1 || true
	fi
}
bench_workdir log

# ---------------------------------------------------------------------------
# The cluster
# ---------------------------------------------------------------------------

bench_initdb "$OUT/data" "$OUT/log/initdb.log" -E UTF8 --locale=C --no-sync <<EOF
c5metrics.listen_addresses = '127.0.0.1'
c5metrics.port = $HTTP_PORT
max_connections = 40
shared_buffers = 128MB
fsync = off				# throwaway cluster on a shared machine
synchronous_commit = off
jit = off
lc_messages = 'C'
log_lock_waits = on		# deadlock_timeout (1 s) and longer waits go to the log too
EOF
bench_start "$OUT/data" "$OUT/log/server.log" "$HTTP_PORT"

# The worker: the child of this run's postmaster (found through
# postmaster.pid, not by name: other clusters run on the machine).
worker_pid() { backend_pid 'c5metrics http listener'; }

DB=postgres psql_ -c "CREATE DATABASE soak" >/dev/null
psql_ -c "CREATE EXTENSION c5metrics" >/dev/null
CONNINFO="host=$SOCK port=$PORT user=$dbuser dbname=soak"
as_pg "$C5LOAD" -d "$CONNINFO" --init -t 0 -q >"$OUT/log/c5load-init.log" 2>&1 ||
	die "c5load --init failed, see $OUT/log/c5load-init.log"
psql_ -c "SELECT c5metrics.reset()" >/dev/null
sli_ckpt=$(psql_ -At -c "SELECT setting FROM pg_settings WHERE name = 'c5metrics.sli_checkpoint_interval'")
wpid0=$(worker_pid)
[[ -n $wpid0 ]] || die "no c5metrics http listener among the children of the postmaster"

# ---------------------------------------------------------------------------
# The scraper: curl paced at HZ against the wall clock; one line a scrape:
# "epoch_us http_code bytes seconds"
# ---------------------------------------------------------------------------

scraper()
{
	local period=$((1000000 / HZ)) next now wait line

	next=${EPOCHREALTIME/./}
	while [[ ! -e $STOP ]]; do
		line=$(curl -s -o /dev/null --max-time 5 -H "Accept: $PROM_ACCEPT" -H 'Accept-Encoding: gzip' \
			-w '%{http_code} %{size_download} %{time_total}' "http://127.0.0.1:$HTTP_PORT/metrics" 2>/dev/null) ||
			line=${line:-000 0 0}
		echo "${EPOCHREALTIME/./} $line"
		next=$((next + period))
		now=${EPOCHREALTIME/./}
		wait=$((next - now))
		if ((wait > 0)); then
			sleep "$(printf '%d.%06d' $((wait / 1000000)) $((wait % 1000000)))"
		elif ((wait < -period)); then
			next=$now			# fell behind by more than a period: do not burst
		fi
	done
}

# ---------------------------------------------------------------------------
# Samples
# ---------------------------------------------------------------------------

# One row per session waiting on a heavyweight lock, tab-separated:
# class, lock type, relation, waiter operation, blocker operations, waiter query, blocker queries
LOCK_SQL=$(cat <<'EOF'
WITH w AS (
  SELECT a.pid, a.query,
         l.locktype,
         coalesce(l.relation, t.relation) AS rel,
         pg_blocking_pids(a.pid) AS blockers
    FROM pg_stat_activity a
    JOIN pg_locks l ON l.pid = a.pid AND NOT l.granted
    LEFT JOIN LATERAL (SELECT relation FROM pg_locks t
                        WHERE t.pid = a.pid AND t.locktype = 'tuple' LIMIT 1) t ON true
   WHERE a.wait_event_type = 'Lock' AND a.pid <> pg_backend_pid()
), x AS (
  SELECT w.*, c.relname, n.nspname,
         (SELECT string_agg(b.query, ' | ') FROM pg_stat_activity b WHERE b.pid = ANY (w.blockers)) AS bquery
    FROM w LEFT JOIN pg_class c ON c.oid = w.rel LEFT JOIN pg_namespace n ON n.oid = c.relnamespace
), y AS (
  SELECT x.*,
         CASE WHEN query ~* 'insert into\s+\S*refunds\W' THEN 'refund'
              WHEN query ~* 'pay_sale' THEN 'pay'
              WHEN query ~* 'update\s+\S*sales\W' THEN 'sale update'
              WHEN query ~* 'insert into\s+\S*stock_movements\W' THEN 'stock movement'
              WHEN query ~* 'insert into\s+\S*public_leads\W' THEN 'lead'
              ELSE 'other' END AS wop,
         coalesce((SELECT string_agg(DISTINCT
                     CASE WHEN b.query ~* 'insert into\s+\S*refunds\W' THEN 'refund'
                          WHEN b.query ~* 'pay_sale' THEN 'pay'
                          WHEN b.query ~* 'for update' THEN 'select for update'
                          WHEN b.query ~* 'update\s+\S*sales\W' THEN 'sale update'
                          WHEN b.query ~* 'insert into\s+\S*stock_movements\W' THEN 'stock movement'
                          WHEN b.query ~* 'insert into\s+\S*public_leads\W' THEN 'lead'
                          ELSE 'other' END, '+')
                     FROM pg_stat_activity b WHERE b.pid = ANY (x.blockers)), 'none') AS bop
    FROM x
)
SELECT CASE WHEN nspname = 'c5metrics' OR locktype = 'advisory'
                 OR query ~* 'c5metrics\.' OR coalesce(bquery, '') ~* 'c5metrics\.' THEN 'c5metrics'
            WHEN wop = 'refund' AND relname = 'sales' AND bop = 'refund' THEN 'guard/refund'
            WHEN relname = 'sales' AND ((wop = 'refund' AND bop <> 'refund')
                                        OR (wop <> 'refund' AND bop = 'refund')) THEN 'guard/sale'
            ELSE 'workload' END,
       locktype, coalesce(nspname || '.' || relname, '-'), wop, bop,
       left(regexp_replace(query, '\s+', ' ', 'g'), 100),
       left(regexp_replace(coalesce(bquery, ''), '\s+', ' ', 'g'), 160)
  FROM y
EOF
)

# ---------------------------------------------------------------------------
# The run
# ---------------------------------------------------------------------------

rev=$(bench_rev)
note "soak: c5load $CLIENTS clients for $SECONDS_RUN s, scrapes at $HZ Hz, samples every $SAMPLE s"
rm -f "$STOP"
scraper >"$OUT/log/scrapes.log" 2>/dev/null &
scraper_pid=$!
sleep 3						# the worker has served its first scrapes: its buffers exist

echo -e "t\tpid\tVmRSS\tRssAnon\tVmHWM\tRssShmem\tuptime" >"$OUT/log/memory.tsv"
: >"$OUT/log/lockwaits.tsv"
JSON=$OUT/log/truth.json
t0=${EPOCHREALTIME/./}
as_pg "$C5LOAD" -d "$CONNINFO" --throttle --clients="$CLIENTS" --time="$SECONDS_RUN" --seed="$SEED" \
	--json="$JSON" >"$OUT/log/c5load.log" 2>&1 &
load_pid=$!

nsamples=0
sample()
{
	local w t

	t=$(( (${EPOCHREALTIME/./} - t0) / 1000000 ))
	w=$(worker_pid)
	if [[ -n $w ]]; then
		echo -e "$t\t$w\t$(proc_mem "$w" VmRSS RssAnon VmHWM RssShmem | tr ' ' '\t')\t$(ps -o etimes= -p "$w" | tr -d ' ')" >>"$OUT/log/memory.tsv"
	else
		echo -e "$t\t-\t0\t0\t0\t0\t0" >>"$OUT/log/memory.tsv"
	fi
	psql_ -At -F $'\t' -c "$LOCK_SQL" 2>>"$OUT/log/sampler.err" | sed "s/^/$t\t/" >>"$OUT/log/lockwaits.tsv" || true
	nsamples=$((nsamples + 1))
}

next=$t0
while kill -0 "$load_pid" 2>/dev/null; do
	sample
	next=$((next + SAMPLE * 1000000))
	while kill -0 "$load_pid" 2>/dev/null && ((${EPOCHREALTIME/./} < next)); do
		sleep 0.2
	done
done
load_rc=0
wait "$load_pid" || load_rc=$?
load_pid=""
elapsed_us=$((${EPOCHREALTIME/./} - t0))
sample						# the last one, after the load
touch "$STOP"
wait "$scraper_pid" || true
scraper_pid=""
note "load finished (exit code $load_rc); checking"
[[ -s $JSON ]] || die "c5load wrote no ground truth, see $OUT/log/c5load.log"

# ---------------------------------------------------------------------------
# Exactness: every series of the ground truth against c5metrics.metrics
# ---------------------------------------------------------------------------

psql_ -At -F $'\t' -v truth="$(cat "$JSON")" >"$OUT/log/exactness.tsv" <<'EOF'
WITH t AS (
  SELECT s->>'metric' AS metric, s->'labels' AS labels, (s->>'value')::numeric AS truth
    FROM jsonb_array_elements((:'truth')::jsonb->'series') s
)
SELECT t.metric, t.labels::text, t.truth, coalesce(m.value, 0)::numeric
  FROM t LEFT JOIN c5metrics.metrics m ON m.metric = t.metric AND m.labels = t.labels
 ORDER BY 1, 2;
EOF
psql_ -At -F $'\t' >"$OUT/log/tables.tsv" <<'EOF'
SELECT 'paid sales', count(*) FROM shop.sales WHERE paid_at IS NOT NULL
UNION ALL SELECT 'cancelled sales', count(*) FROM shop.sales WHERE status = 'cancelled'
UNION ALL SELECT 'refunds', count(*) FROM shop.refunds
UNION ALL SELECT 'refund-in movements', count(*) FROM shop.stock_movements WHERE movement_type = 'refund_in'
UNION ALL SELECT 'leads', count(*) FROM shop.public_leads;
EOF
events_lost=$(psql_ -At -c "SELECT value FROM c5metrics.metrics WHERE metric = 'c5metrics_events_lost_total'")
read -r http_ok http_other < <(psql_ -At -F ' ' -c "SELECT coalesce(sum(value) FILTER (WHERE labels->>'code' = '200'), 0),
	coalesce(sum(value) FILTER (WHERE labels->>'code' <> '200'), 0) FROM c5metrics.metrics
	WHERE metric = 'c5metrics_http_requests_total' AND labels->>'path' = '/metrics'")
wpid1=$(worker_pid)

# ---------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------

export S_OUT=$OUT S_JSON=$JSON S_ELAPSED_US=$elapsed_us S_NSAMPLES=$nsamples S_FLAT_KB=$FLAT_KB \
	S_WPID0=$wpid0 S_WPID1=${wpid1:-none} S_EVENTS_LOST=${events_lost:-?} S_LOAD_RC=$load_rc S_HZ=$HZ \
	S_CLIENTS=$CLIENTS S_SAMPLE=$SAMPLE S_REV=$rev S_PGVER="$("$BINDIR/postgres" --version)" \
	S_HTTP_OK=$http_ok S_HTTP_OTHER=$http_other S_ARGS=$orig_args S_SLI_CKPT=${sli_ckpt:-60}
perl - <<'PERL' | tee "$OUT/report.md"
use strict;
use warnings;
use JSON::PP;
my ($out, $json, $elapsed_us, $nsamples, $flat_kb, $wpid0, $wpid1, $events_lost, $load_rc, $hz,
	$clients, $sample, $rev, $pgver, $http_ok, $http_other, $args) = @ENV{qw(S_OUT S_JSON S_ELAPSED_US
	S_NSAMPLES S_FLAT_KB S_WPID0 S_WPID1 S_EVENTS_LOST S_LOAD_RC S_HZ S_CLIENTS S_SAMPLE S_REV S_PGVER
	S_HTTP_OK S_HTTP_OTHER S_ARGS)};
my $sli_ckpt = $ENV{S_SLI_CKPT};
sub slurp { open my $f, '<', $_[0] or die "$_[0]: $!"; local $/; return scalar <$f>; }
sub lines { return grep { length } split /\n/, slurp($_[0]); }
my $truth = decode_json(slurp($json));
my $elapsed = $elapsed_us / 1e6;

# exactness
my ($nseries, $lost, $doubled, @bad) = (0, 0, 0);
my %by;
foreach (lines("$out/log/exactness.tsv"))
{
	my ($m, $l, $t, $got) = split /\t/;
	$nseries++;
	$by{$m}{truth} += $t;
	$by{$m}{got} += $got;
	next if $t == $got;
	push @bad, "$m $l: ground truth $t, c5metrics $got";
	$lost += $t - $got if $t > $got;
	$doubled += $got - $t if $got > $t;
}
my %tv = map { my ($k, $v) = split /\t/; ($k => $v) } lines("$out/log/tables.tsv");
sub tr_of
{
	my ($metric, %labels) = @_;
	my $sum = 0;
	foreach my $s (@{ $truth->{series} })
	{
		next unless $s->{metric} eq $metric;
		next if grep { ($s->{labels}{$_} // '') ne $labels{$_} } keys %labels;
		$sum += $s->{value};
	}
	return $sum;
}
my @table_checks = (
	[ 'paid sales', tr_of('sales_transition_total', to_status => 'paid', result => 'success') ],
	[ 'cancelled sales', tr_of('sales_transition_total', to_status => 'cancelled', result => 'success') ],
	[ 'refunds', tr_of('sale_refunds_total', result => 'success') ],
	[ 'refund-in movements', tr_of('stock_refund_in_total', result => 'success') ],
	[ 'leads', tr_of('public_leads_requests_total', result => 'created') ],
);
my $table_bad = grep { $tv{ $_->[0] } != $_->[1] } @table_checks;

# memory
my @mem = map { [ split /\t/ ] } lines("$out/log/memory.tsv");
shift @mem;
my @pids = do { my %s; grep { !$s{$_}++ } map { $_->[1] } @mem };
my ($first, $last) = ($mem[0], $mem[-1]);
my ($maxrss, $maxanon, $hwm) = (0, 0, 0);
foreach (@mem)
{
	$maxrss = $_->[2] if $_->[2] > $maxrss;
	$maxanon = $_->[3] if $_->[3] > $maxanon;
	$hwm = $_->[4] if $_->[4] > $hwm;
}
# The worker's SLI checkpoint (every c5metrics.sli_checkpoint_interval)
# copies the 3.4 MB ring into a palloc'd buffer; glibc returns the first one
# to the system (mmap) but keeps the next ones in its heap (the mmap
# threshold rises after the first free).  So RssAnon steps up once, at the
# second checkpoint, and RssShmem at the first (the whole ring is touched).
# Flatness is judged from the first sample after two checkpoints (with a
# margin of one sample) to the last.
my ($settled) = grep { $_->[6] >= 2 * $sli_ckpt + $sample } @mem;
my $base = $settled // $first;
my $mid = $mem[ int(@mem / 2) ];
my $anon_growth = $last->[3] - $base->[3];
my $flat = $anon_growth <= $flat_kb && @pids == 1 && $wpid0 eq $wpid1;

# lock waits
my @lw = map { [ split /\t/ ] } lines("$out/log/lockwaits.tsv");
my (%cls, %kind, %samples_with);
foreach (@lw)
{
	my ($t, $class, $locktype, $rel, $wop, $bop) = @$_;
	$cls{$class}++;
	$kind{"$class\t$locktype\t$rel\t$wop <- $bop"}++;
	$samples_with{$t} = 1;
}
my $attributable = $cls{c5metrics} // 0;

# scrapes
my ($scr, $fail, @lat, $ts0, $ts1) = (0, 0);
foreach (lines("$out/log/scrapes.log"))
{
	my ($ts, $code, $bytes, $time) = split / /;
	$ts0 //= $ts;
	$ts1 = $ts;
	$scr++;
	if ($code ne '200' || !$bytes) { $fail++; } else { push @lat, $time; }
}
@lat = sort { $a <=> $b } @lat;
my $pct = sub { @lat ? sprintf('%.1f', 1000 * $lat[ int($_[0] * $#lat) ]) : '-' };

my $verdict = ($lost == 0 && $doubled == 0 && !$table_bad && $events_lost eq '0' && $flat
	  && $attributable == 0 && $fail == 0 && $load_rc == 0) ? 'PASS' : 'ATTENTION';

my $r = '';
$r .= "# c5metrics soak -- " . gmtime() . " UTC\n\n";
$r .= "c5metrics $rev, $pgver, " . `nproc` =~ s/\s+//r . " CPUs; load average at the end: "
  . (split / /, slurp('/proc/loadavg'))[0] . "\n\n";
$r .= "Command: `bench/soak.sh" . ($args ne '' ? " $args" : '') . "`\n\n";
$r .= sprintf("| what | figure |\n|---|---|\n");
$r .= sprintf("| duration | %.1f s of c5load, %d clients, seed %d |\n", $truth->{seconds}, $clients, $truth->{seed});
$r .= sprintf("| operations | %d (%.0f/s), %d rolled back, %d connections lost, %d outcomes unknown; c5load exit code %d |\n",
	$truth->{operations}, $truth->{operations} / ($truth->{seconds} || 1), $truth->{rolled_back},
	$truth->{lost_connections}, $truth->{unknown_outcomes}, $load_rc);
$r .= sprintf("| exactness | %d series compared: %d events lost, %d doubled; %d series differ |\n",
	$nseries, $lost, $doubled, scalar(@bad));
$r .= sprintf("| tables vs ground truth | %s |\n",
	join(', ', map { "$_->[0] $tv{$_->[0]}" . ($tv{ $_->[0] } == $_->[1] ? '' : " (truth $_->[1])") } @table_checks));
$r .= sprintf("| c5metrics_events_lost_total | %s |\n", $events_lost);
$r .= sprintf("| worker VmRSS (kB) | first %d, last %d, max %d; VmHWM %d |\n", $first->[2], $last->[2], $maxrss, $hwm);
$r .= sprintf("| worker RssAnon (kB) | first %d, middle %d, last %d, max %d |\n",
	$first->[3], $mid->[3], $last->[3], $maxanon);
$r .= sprintf("| worker memory flat? | RssAnon %d kB at t = %d s (%s), %d kB at the end: %+d kB (bound %d): **%s** |\n",
	$base->[3], $base->[0], $settled ? "the worker's first sample after 2 SLI checkpoints of ${sli_ckpt} s"
	  : 'first sample: the run is shorter than 2 SLI checkpoints', $last->[3], $anon_growth, $flat_kb,
	$flat ? 'flat' : 'NOT FLAT');
$r .= sprintf("| worker RssShmem (kB) | first %d, last %d |\n", $first->[5], $last->[5]);
$r .= sprintf("| worker process | %s (%s) |\n", join(', ', @pids),
	@pids == 1 && $wpid0 eq $wpid1 ? 'never restarted' : 'RESTARTED');
$r .= sprintf("| memory / lock samples | %d / %d, every %d s |\n", scalar(@mem), $nsamples, $sample);
$r .= sprintf("| lock waits sampled | %d in %d of %d samples: c5metrics %d, guard/refund %d, guard/sale %d, workload %d |\n",
	scalar(@lw), scalar(keys %samples_with), $nsamples, $attributable, $cls{'guard/refund'} // 0,
	$cls{'guard/sale'} // 0, $cls{workload} // 0);
my $span = $scr > 1 ? ($ts1 - $ts0) / 1e6 : 0;
$r .= sprintf("| scrapes | %d done in %.1f s (%.2f Hz, target %d; from 3 s before the load to its end), %d failed; "
	  . "latency p50 %s ms, p99 %s ms, max %s ms |\n",
	$scr, $span, $span ? ($scr - 1) / $span : 0, $hz, $fail, $pct->(0.5), $pct->(0.99), $pct->(1));
$r .= sprintf("| worker's count of /metrics | %d answered 200, %d other |\n", $http_ok, $http_other);
$r .= "| verdict | **$verdict** |\n\n";

$r .= "Business counters (sum of each family):\n\n| metric | ground truth | c5metrics |\n|---|---:|---:|\n";
$r .= sprintf("| %s | %d | %d |\n", $_, $by{$_}{truth}, $by{$_}{got}) foreach sort keys %by;
if (@bad)
{
	$r .= "\nSeries that differ:\n\n";
	$r .= "    $_\n" foreach @bad;
}
$r .= "\nLock waits by kind (waiter <- blockers), counted over the samples:\n\n"
  . "| class | lock type | relation | operations | count |\n|---|---|---|---|---:|\n";
$r .= sprintf("| %s | %s | %s | %s | %d |\n", (split /\t/, $_), $kind{$_})
  foreach sort { $kind{$b} <=> $kind{$a} } keys %kind;
$r .= "| (none) | | | | 0 |\n" unless %kind;
$r .= "\nClasses: c5metrics = a lock on a c5metrics object, an advisory lock or a c5metrics.* statement "
  . "(must be 0); guard/refund = a refund waiting for another refund of the same sale on the over-refund "
  . "guard's row lock (the guard working); guard/sale = the same row lock between a refund and a payment "
  . "or cancellation of its sale; workload = the load's own locks.\n";
$r .= "\nRaw data: $out/log (memory.tsv, lockwaits.tsv, scrapes.log, exactness.tsv, c5load.log, server.log).\n";
print $r;
exit($verdict eq 'PASS' ? 0 : 3);
PERL
