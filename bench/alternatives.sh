#!/usr/bin/env bash
#
# alternatives.sh -- c5metrics against what a user would do without it.
#
# Four variants, side by side in one cluster and one run, each on its own
# copy of the reference tables (c5metrics.create_reference_schema):
#
#   A  bare       schema bare, no triggers: the baseline
#   B  c5metrics  schema shop, tracked by c5metrics
#   C  plpgsql    schema plpg, untracked, with the PL/pgSQL counter
#                 triggers a user would write: AFTER ROW triggers on the
#                 sales status change, on stock movements and on refunds,
#                 each doing INSERT ... ON CONFLICT (metric, labels) DO
#                 UPDATE SET value = value + 1 into plpg.counters
#   D  exporter   schema exp, untracked, no triggers; Debian's
#                 prometheus-postgres-exporter computes the business
#                 metrics with count(*) ... GROUP BY over the tables at
#                 every scrape (--extend.query-path; default collectors off)
#   B' shopng     B with its refunds attached without sales_table (no
#                 over-refund guard), in the refund rate rounds only
#   A+G bareg     A with the over-refund check a user would write without
#                 c5metrics: a PL/pgSQL BEFORE INSERT trigger on refunds
#                 that locks the sale (SELECT ... FOR NO KEY UPDATE), sums
#                 its refunds and raises; refund rate rounds only.  B's
#                 guard is business work that A does not do: A+G is the
#                 baseline that does the same work
#
# Measurements, every one beside A in the same run:
#
#  1. Transaction rates with pgbench: the sale -> paid flow (pay_sale() on
#     a fresh pending sale with one item: the paid transition and FEFO
#     consumption) and the refund flow (refund_sale() on a fresh paid sale,
#     a unique idempotency key each), at 1 and 4 clients, with
#     synchronous_commit = off.  Short rounds, the variants in turn,
#     ABCD then DCBA (a linear drift cancels over each pair of rounds);
#     median, min and max tps, and the ratio to A.  In each round of B, C
#     and D their metrics are read once, half-way: /metrics of c5metrics,
#     the counters table with psql, the exporter's /metrics.
#     Interleaved rounds, at the largest client count: one pgbench run
#     mixes two variants' transactions 1:1 at random, so that every moment
#     of the host's load hits both alike; each one's mean latency
#     (pgbench's per-transaction log, fastest 98 %), ratio A / X: the rate
#     X keeps beside A when the CPUs are the limit, to about half a
#     percent where the rate rounds scatter by several percent on a
#     shared machine.  Beside them, deterministically: instructions
#     per transaction of both flows under callgrind (single-user backend,
#     the difference of two runs).
#  2. Per-row capture cost of a bulk INSERT ... SELECT of consume
#     movements: instructions per row with callgrind, the method of
#     bench/capture_cost.sh ((Ir(N rows) - Ir(0 rows)) / N in a single-user
#     backend running one statement on a fresh copy of one template), and
#     wall time in ns/row through psql at several row counts up to 200k.
#     C's per-row cost grows with the rows of one statement (every row
#     updates the same counter row in one transaction: a version chain
#     that each update walks), so C stops at --plpg-max-rows; its 200k
#     figure is extrapolated from a fit of time = a n + b n^2.
#  3. Scrape time against table size (10^4, 10^5, 10^6 sales, with items,
#     movements and refunds): curl -w '%{time_total}' on c5metrics'
#     endpoint and on the exporter, alternating, median of --scrapes.
#  4. Memory: c5metrics' shared memory (pg_shmem_allocations), the HTTP
#     worker's resident memory, the exporter's and its backend's, and
#     the size of C's counters table after the rate rounds.
#
# Run as root (it then runs every server process, and the exporter, as the
# OS user postgres) or as a non-root user that can run initdb.  It needs
# c5metrics built and installed (make && make install) and installs
# valgrind, curl and prometheus-postgres-exporter with apt-get when they
# are missing.  Everything it creates is under OUT (default
# bench/out/alternatives, git-ignored) and a private socket directory in
# /tmp; it stops every process it started, also on error or Ctrl-C.
#
# Usage: bench/alternatives.sh [options]; see --help.

set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)

PORT=${PORT:-56490}
HTTP_PORT=${HTTP_PORT:-}
EXPORTER_PORT=${EXPORTER_PORT:-}
OUT=${OUT:-$here/out/alternatives}
PG_CONFIG=${PG_CONFIG:-pg_config}
ROUNDS=${ROUNDS:-5}					# rate rounds per variant, flow and client count
ROUND_SECONDS=${ROUND_SECONDS:-5}
MIX_ROUNDS=${MIX_ROUNDS:-9}			# interleaved rounds (each runs every pair once)
MIX_SECONDS=${MIX_SECONDS:-8}
CLIENT_COUNTS=${CLIENT_COUNTS:-"1 4"}
CG_ROWS=${CG_ROWS:-20000}			# callgrind statement rows (as capture_cost.sh)
CG_SMALL=${CG_SMALL:-2000}			# a second, smaller statement: how C grows
TX_N1=50							# transactions of the two per-transaction runs
TX_N2=300
TX_PRE=5000							# refunds already in the template's tables
WALL_SIZES=${WALL_SIZES:-"10000 50000 200000"}
WALL_ROUNDS=${WALL_ROUNDS:-3}
PLPG_MAX_ROWS=${PLPG_MAX_ROWS:-50000}	# C's bulk statements stop here (quadratic)
SCRAPE_SIZES=${SCRAPE_SIZES:-"10000 100000 1000000"}
SCRAPES=${SCRAPES:-10}
PRODUCTS=1000
REF_BASE=100000000					# ids of the paid sales refunded by the refund flow
TARGET_TPS=0.97						# issue: B >= 0.97 x A on both flows at 4 clients
TARGET_IR_PCT=1.0					# issue: B adds <= 1 % instructions per row
TARGET_SCRAPE_X=100					# issue: B scrapes >= 100 x faster at 10^6 sales
FLAT_SLOPE=0.1						# "flat": time grows at most as size^0.1
do_callgrind=1
cg_plpg_full=0
do_tps=1
do_bulk=1
do_scrape=1
keep_data=0

# Figures measured earlier on a 2-CPU machine of this kind (the issue).
declare -A EARLIER=(
	[tps.pay.plpg.4]=0.32 [tps.refund.plpg.4]=0.37
	[scrape.10000]=9 [scrape.100000]=55 [scrape.1000000]=490
)

# What Prometheus 2.x sends (scrape_protocols default), to both endpoints.
PROM_ACCEPT='application/openmetrics-text;version=1.0.0;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2'

ORIG_ARGS=("$@")

usage()
{
	cat <<EOF
Usage: $0 [options]

  --port N            PostgreSQL port, 56000-56999 (default $PORT; unix socket only)
  --http-port N       c5metrics' /metrics on 127.0.0.1 (default port + 1)
  --exporter-port N   prometheus-postgres-exporter on 127.0.0.1 (default port + 2)
  --out DIR           output directory (default $OUT)
  --rounds N          rate rounds of each variant, flow and client count (default $ROUNDS)
  --round-seconds N   duration of a rate round (default $ROUND_SECONDS)
  --mix-rounds N      interleaved rounds, each running every pair once; 0 for none
                      (default $MIX_ROUNDS)
  --mix-seconds N     duration of one pair's run in a round (default $MIX_SECONDS)
  --clients "N ..."   pgbench client counts (default "$CLIENT_COUNTS")
  --cg-rows N         rows of the callgrind statements (default $CG_ROWS; C runs at
                      $((CG_SMALL / 2)) and $CG_SMALL rows and is extrapolated to N)
  --cg-plpg-full      run C under callgrind at --cg-rows too (about 10 minutes more)
  --wall-sizes "N ..."  row counts of the timed bulk inserts (default "$WALL_SIZES")
  --wall-rounds N     rounds of the timed bulk inserts, after a warm-up (default $WALL_ROUNDS)
  --plpg-max-rows N   largest bulk insert timed for C (default $PLPG_MAX_ROWS; C at
                      200000 rows takes about 5 minutes per statement)
  --scrape-sizes "N ..."  sales in the tables when scraping (default "$SCRAPE_SIZES")
  --scrapes N         timed scrapes per endpoint and size (default $SCRAPES)
  --quick             smoke run: --rounds 1, 2 s rounds, --cg-rows 2000, small sizes
  --no-callgrind, --no-tps, --no-bulk, --no-scrape   skip a part
  --keep-data         keep the data directories under OUT
  -h, --help          this help

Environment: PG_CONFIG (default pg_config) selects the PostgreSQL install.
Results: the tables on stdout, also in OUT/results.txt; a markdown report
in OUT/report.md; logs, callgrind files and raw pgbench output in OUT/log
and OUT/callgrind.  About 23 minutes with the defaults on 2 CPUs.
EOF
}

while [[ $# -gt 0 ]]; do
	case $1 in
		--port) PORT=$2; shift ;;
		--http-port) HTTP_PORT=$2; shift ;;
		--exporter-port) EXPORTER_PORT=$2; shift ;;
		--out) OUT=$2; shift ;;
		--rounds) ROUNDS=$2; shift ;;
		--round-seconds) ROUND_SECONDS=$2; shift ;;
		--mix-rounds) MIX_ROUNDS=$2; shift ;;
		--mix-seconds) MIX_SECONDS=$2; shift ;;
		--clients) CLIENT_COUNTS=$2; shift ;;
		--cg-rows) CG_ROWS=$2; shift ;;
		--wall-sizes) WALL_SIZES=$2; shift ;;
		--wall-rounds) WALL_ROUNDS=$2; shift ;;
		--plpg-max-rows) PLPG_MAX_ROWS=$2; shift ;;
		--scrape-sizes) SCRAPE_SIZES=$2; shift ;;
		--scrapes) SCRAPES=$2; shift ;;
		--quick) ROUNDS=1; ROUND_SECONDS=2; MIX_ROUNDS=1; MIX_SECONDS=3; CG_ROWS=2000; CG_SMALL=500; WALL_SIZES="2000 10000 20000"
			WALL_ROUNDS=1; PLPG_MAX_ROWS=10000; SCRAPE_SIZES="10000 100000"; SCRAPES=3 ;;
		--no-callgrind) do_callgrind=0 ;;
		--cg-plpg-full) cg_plpg_full=1 ;;
		--no-tps) do_tps=0 ;;
		--no-bulk) do_bulk=0 ;;
		--no-scrape) do_scrape=0 ;;
		--keep-data) keep_data=1 ;;
		-h|--help) usage; exit 0 ;;
		*) echo "unknown option: $1 (see --help)" >&2; exit 2 ;;
	esac
	shift
done
HTTP_PORT=${HTTP_PORT:-$((PORT + 1))}
EXPORTER_PORT=${EXPORTER_PORT:-$((PORT + 2))}

die() { echo "alternatives: $*" >&2; exit 1; }
note() { echo "# $*" >&2; }

for v in PORT HTTP_PORT EXPORTER_PORT ROUNDS ROUND_SECONDS CG_ROWS CG_SMALL WALL_ROUNDS PLPG_MAX_ROWS SCRAPES; do
	[[ ${!v} =~ ^[0-9]+$ ]] || die "$v must be a number"
done
for v in CLIENT_COUNTS WALL_SIZES SCRAPE_SIZES; do
	[[ ${!v} =~ ^[0-9]+( [0-9]+)*$ ]] || die "$v must be a list of numbers"
done
((ROUNDS > 0 && ROUND_SECONDS > 1 && CG_ROWS > CG_SMALL && CG_SMALL > 0 && WALL_ROUNDS > 0 && SCRAPES > 0)) ||
	die "rounds, durations and row counts must be positive (and --round-seconds at least 2)"
for v in PORT HTTP_PORT EXPORTER_PORT; do
	((${!v} >= 56000 && ${!v} <= 56999)) || die "${v,,} must be in 56000-56999"
done
((PORT != HTTP_PORT && PORT != EXPORTER_PORT && HTTP_PORT != EXPORTER_PORT)) || die "the three ports must differ"
read -r -a clients_list <<<"$CLIENT_COUNTS"
read -r -a wall_sizes <<<"$WALL_SIZES"
read -r -a scrape_sizes <<<"$SCRAPE_SIZES"

# ---------------------------------------------------------------------------
# Preflight
# ---------------------------------------------------------------------------

command -v "$PG_CONFIG" >/dev/null || die "$PG_CONFIG not found (install postgresql-server-dev-15)"
BINDIR=$("$PG_CONFIG" --bindir)
PKGLIB=$("$PG_CONFIG" --pkglibdir)
SHAREDIR=$("$PG_CONFIG" --sharedir)
[[ -x $BINDIR/postgres && -x $BINDIR/initdb && -x $BINDIR/pgbench ]] ||
	die "no PostgreSQL server or pgbench in $BINDIR"
[[ -f $PKGLIB/c5metrics.so && -f $PKGLIB/c5metrics_http.so && -f $SHAREDIR/extension/c5metrics.control ]] ||
	die "c5metrics is not installed: run 'make && make install' in $repo"
for f in "$repo"/src/*.c "$repo"/src/*.h "$repo"/src/http/*.[ch] "$repo"/sql/*--*.sql; do
	if [[ $f -nt $PKGLIB/c5metrics.so && $f -nt $PKGLIB/c5metrics_http.so ]]; then
		note "warning: $f is newer than the installed c5metrics: run 'make && make install' to measure it"
		break
	fi
done

. "$here/lib.sh"
bench_as_postgres
# A process to keep the pid of is started in the background as a simple
# command, "${pg_prefix[@]}" ... &, not through the function as_pg (that
# would fork a subshell): setpriv and env exec, so $! is the process itself.

EXPORTER=prometheus-postgres-exporter
missing=()
command -v curl >/dev/null || missing+=(curl)
((do_callgrind)) && ! { command -v valgrind && command -v callgrind_annotate; } >/dev/null && missing+=(valgrind)
((do_tps || do_scrape)) && ! command -v "$EXPORTER" >/dev/null && missing+=(prometheus-postgres-exporter)
if ((${#missing[@]})); then
	[[ $EUID -eq 0 ]] && command -v apt-get >/dev/null ||
		die "missing: ${missing[*]}: install them (apt-get install ${missing[*]})"
	note "installing ${missing[*]}"
	# the package's service must not start on its own: it would take port 9187
	apt-get install -y "${missing[@]}" >/dev/null 2>&1 ||
		{ apt-get update >/dev/null && apt-get install -y "${missing[@]}" >/dev/null; } ||
		die "could not install ${missing[*]}"
fi
exporter_version=""
if ((do_tps || do_scrape)); then
	exporter_version=$("$EXPORTER" --version 2>&1 | awk '!v && /version/ { v = $3 } END { print v }')
	# not "| grep -q": with pipefail, the exporter's SIGPIPE would fail the test
	[[ $("$EXPORTER" --help 2>&1) == *--extend.query-path* ]] ||
		die "$EXPORTER has no --extend.query-path"
fi

# ---------------------------------------------------------------------------
# Work directories and cleanup
# ---------------------------------------------------------------------------

mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
rm -rf "$OUT"/template "$OUT"/run "$OUT"/data "$OUT"/log "$OUT"/callgrind "$OUT"/exporter
rm -f "$OUT"/results.txt "$OUT"/report.md
mkdir -p "$OUT"/log "$OUT"/log/mix "$OUT"/callgrind "$OUT"/exporter
SOCK=$(mktemp -d /tmp/c5bench.XXXXXX)
if [[ $EUID -eq 0 ]]; then
	chown postgres: "$OUT" "$OUT"/log "$OUT"/log/mix "$OUT"/callgrind "$OUT"/exporter "$SOCK"
fi
chmod 700 "$SOCK"
as_pg test -w "$OUT" -a -x "$OUT" ||
	die "$OUT is not usable by user postgres (is a parent directory closed?); use --out /tmp/..."
cd "$OUT"					# a working directory every user can enter

server_dir=""				# data directory of the server we started, if running
child=""					# pid of the single-user backend under valgrind, if running
exporter_pid=""				# the exporter we started, if running
bg_pids=()					# pgbench / mid-round scrapes in the background

cleanup()
{
	local rc=$? p

	trap - EXIT INT TERM
	for p in "${bg_pids[@]}" "$child" "$exporter_pid"; do
		if [[ -n $p ]] && kill -0 "$p" 2>/dev/null; then
			kill -TERM "$p" 2>/dev/null || true
			wait "$p" 2>/dev/null || true
		fi
	done
	if [[ -n $server_dir && -f $server_dir/postmaster.pid ]]; then
		as_pg "$BINDIR/pg_ctl" -D "$server_dir" -m immediate -w stop >/dev/null 2>&1 || true
	fi
	rm -rf "$SOCK"
	if ((!keep_data)); then
		rm -rf "$OUT"/template "$OUT"/run "$OUT"/data
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------------------
# Output: aligned text on stdout and in results.txt, markdown in report.md
# ---------------------------------------------------------------------------

out() { echo "$*" | tee -a "$OUT/results.txt"; }
md() { echo "$*" >>"$OUT/report.md"; }
say() { out "$*"; md "$*"; }			# a line of prose, in both
blank() { out ""; md ""; }

T_W=()						# column widths of the current table
T_A=""						# alignment of its columns, l or r each (default: l then r...)
thead()						# header cells...; widths in T_W
{
	local i sep="|" a
	trow "$@"
	for ((i = 0; i < $#; i++)); do
		a=${T_A:$i:1}; [[ -n $a ]] || { ((i == 0)) && a=l || a=r; }
		if [[ $a == l ]]; then sep+=":---|"; else sep+="---:|"; fi
	done
	md "$sep"
}

trow()						# cells...: first left-aligned, the rest right-aligned
{
	local i line=" " cells=("$@") w a
	for ((i = 0; i < ${#cells[@]}; i++)); do
		w=${T_W[$i]:-10}
		a=${T_A:$i:1}; [[ -n $a ]] || { ((i == 0)) && a=l || a=r; }
		if [[ $a == l ]]; then line+=$(printf ' %-*s' "$w" "${cells[$i]}"); else line+=$(printf ' %*s' "$w" "${cells[$i]}"); fi
	done
	out "$line"
	line="|"
	for ((i = 0; i < ${#cells[@]}; i++)); do line+=" ${cells[$i]} |"; done
	md "$line"
}

section() { out ""; out "$*"; md ""; md "## $*"; md ""; T_A=""; }

# ---------------------------------------------------------------------------
# Small statistics
# ---------------------------------------------------------------------------

# "median min max" of a list, with a printf format
stats()						# list [format]
{
	tr ' ' '\n' <<<"$1" | awk NF | sort -g | awk -v f="${2:-%.1f}" '
		{ v[NR] = $1 }
		END {
			if (NR == 0) { print "- - -"; exit }
			m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
			printf f " " f " " f "\n", m, v[1], v[NR]
		}'
}
median() { stats "$1" "${2:-%.6g}" | cut -d' ' -f1; }
calc() { awk "BEGIN { printf ${1}${2:+, $2} }"; }	# calc '"%.2f", 1 / 3' or calc '"%.2f"' '1 / 3'

# ---------------------------------------------------------------------------
# Variants and their SQL
# ---------------------------------------------------------------------------

variants=(bare shop plpg exp)			# A B C D, as schemas
schemas=(bare shop shopng bareg plpg exp)	# and B', A+G (rate rounds of the refund flow only)
declare -A LETTER=([bare]=A [shop]=B [shopng]="B'" [bareg]="A+G" [plpg]=C [exp]=D)
declare -A LABEL=([bare]="A no triggers" [shop]="B c5metrics" [shopng]="B' c5m. no guard"
	[bareg]="A+G A + PL/pgSQL guard"
	[plpg]="C PL/pgSQL counters" [exp]="D exporter")
# The variants of each flow's rate rounds.  B' is B without the over-refund
# guard (refunds attached without sales_table): it shows what the guard,
# which A, C and D do not have, costs in the refund flow.
declare -A FLOW_VARIANTS=([pay]="bare shop plpg exp" [refund]="bare bareg shop shopng plpg exp")
reversed()					# "x y z" -> "z y x"
{
	local -a words r=()
	local i
	read -r -a words <<<"$1"
	for ((i = ${#words[@]} - 1; i >= 0; i--)); do r+=("${words[$i]}"); done
	echo "${r[*]}"
}

setup_sql()
{
	cat <<'EOF'
SET client_min_messages = warning;
CREATE EXTENSION c5metrics;
SELECT c5metrics.create_reference_schema('bare', track => false);
SELECT c5metrics.create_reference_schema('shop');
SELECT c5metrics.create_reference_schema('exp', track => false);
SELECT c5metrics.create_reference_schema('plpg', track => false);
-- B': shop again, its refunds attached without sales_table: no over-refund guard
SELECT c5metrics.create_reference_schema('shopng');
SELECT c5metrics.track_refunds('shopng.refunds');

-- (A+G) A with the over-refund check a user would write without c5metrics:
-- lock the sale, sum its refunds (a fresh READ COMMITTED snapshot after the
-- lock sees every committed refund), raise if the refund is too large.
SELECT c5metrics.create_reference_schema('bareg', track => false);
CREATE FUNCTION bareg.refund_guard() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  v_total numeric;
  v_refunded numeric;
BEGIN
  SELECT total INTO v_total FROM bareg.sales WHERE id = NEW.sale_id FOR NO KEY UPDATE;
  SELECT coalesce(sum(amount), 0) INTO v_refunded FROM bareg.refunds WHERE sale_id = NEW.sale_id;
  IF NEW.amount > v_total - v_refunded THEN
    RAISE EXCEPTION 'refund exceeds the refundable remainder of its sale'
      USING ERRCODE = 'C5M01';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER refund_guard BEFORE INSERT ON bareg.refunds
  FOR EACH ROW EXECUTE FUNCTION bareg.refund_guard();

-- (C) What a user would write without c5metrics: one row per series in a
-- counters table, incremented by AFTER ROW triggers in the writing
-- transaction.  Only committed work is counted (a rolled-back
-- transaction takes its increments with it), and nothing about failures.
CREATE TABLE plpg.counters (
  metric text NOT NULL,
  labels text NOT NULL,
  value bigint NOT NULL,
  PRIMARY KEY (metric, labels));

CREATE FUNCTION plpg.count_sales_transition() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO plpg.counters AS c (metric, labels, value)
  VALUES ('sales_transition_total',
          format('from_status="%s",to_status="%s"', OLD.status, NEW.status), 1)
  ON CONFLICT (metric, labels) DO UPDATE SET value = c.value + 1;
  RETURN NULL;
END $$;
CREATE TRIGGER count_sales_transition AFTER UPDATE OF status ON plpg.sales
  FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status)
  EXECUTE FUNCTION plpg.count_sales_transition();

CREATE FUNCTION plpg.count_stock_movement() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO plpg.counters AS c (metric, labels, value)
  VALUES ('stock_movements_total', format('movement_type="%s"', NEW.movement_type), 1)
  ON CONFLICT (metric, labels) DO UPDATE SET value = c.value + 1;
  RETURN NULL;
END $$;
CREATE TRIGGER count_stock_movement AFTER INSERT ON plpg.stock_movements
  FOR EACH ROW EXECUTE FUNCTION plpg.count_stock_movement();

CREATE FUNCTION plpg.count_refund() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO plpg.counters AS c (metric, labels, value)
  VALUES ('sale_refunds_total', format('type="%s"', NEW.refund_type), 1)
  ON CONFLICT (metric, labels) DO UPDATE SET value = c.value + 1;
  RETURN NULL;
END $$;
CREATE TRIGGER count_refund AFTER INSERT ON plpg.refunds
  FOR EACH ROW EXECUTE FUNCTION plpg.count_refund();
EOF
	local s
	for s in "${schemas[@]}"; do
		cat <<EOF
-- $PRODUCTS products, one large unexpired lot each (lot id = product id)
INSERT INTO $s.products (id, sku, name, price)
SELECT g, 'SKU-' || g, 'Product ' || g, 65 FROM generate_series(1, $PRODUCTS) g;
INSERT INTO $s.stock_lots (id, product_id, expires_on, quantity_on_hand)
SELECT g, g, '2099-12-31', 2000000000 FROM generate_series(1, $PRODUCTS) g;
CREATE SEQUENCE $s.bench_pay;
CREATE SEQUENCE $s.bench_refund START $REF_BASE;
EOF
	done
}

# (D) The exporter's queries: the same business figures, computed from the
# tables at every scrape.  Tables cannot tell transitions, rollbacks or
# failures: only where the rows are now.
EXP_Q_NAMES=(c5_sales c5_sales_paid c5_sale_refunds c5_stock_movements)
declare -A EXP_Q=(
	# sales by current status (what the tables can say of sales_transition_total)
	[c5_sales]="SELECT status, count(*) AS count FROM exp.sales GROUP BY status"
	# sales that reached paid, and whether stock was consumed for them
	# (sales_paid_stock_consume_total{result=\"success\"|\"missing\"})
	[c5_sales_paid]="SELECT CASE WHEN EXISTS (SELECT 1 FROM exp.stock_movements m WHERE m.sale_id = s.id AND m.movement_type = 'consume') THEN 'success' ELSE 'missing' END AS result, count(*) AS count FROM exp.sales s WHERE s.paid_at IS NOT NULL GROUP BY 1"
	# refunds by type (sale_refunds_total{result=\"success\"}) and amount
	[c5_sale_refunds]="SELECT refund_type AS type, count(*) AS count, sum(amount) AS amount FROM exp.refunds GROUP BY refund_type"
	# stock movements by type (consumption, stock_refund_in_total)
	[c5_stock_movements]="SELECT movement_type, count(*) AS count FROM exp.stock_movements GROUP BY movement_type"
)
declare -A EXP_M=(			# "label column, gauge columns..."
	[c5_sales]="status count" [c5_sales_paid]="result count"
	[c5_sale_refunds]="type count amount" [c5_stock_movements]="movement_type count"
)

write_exporter_queries()
{
	local q c first f=$OUT/exporter/queries.yaml

	: >"$f"
	for q in "${EXP_Q_NAMES[@]}"; do
		{
			echo "$q:"
			echo "  query: \"${EXP_Q[$q]}\""
			echo "  master: true"
			echo "  cache_seconds: 0"
			echo "  metrics:"
			first=1
			for c in ${EXP_M[$q]}; do
				echo "    - $c:"
				if ((first)); then echo "        usage: \"LABEL\""; else echo "        usage: \"GAUGE\""; fi
				echo "        description: \"$c\""
				first=0
			done
		} >>"$f"
	done
	chmod 644 "$f"
}

bulk_sql()					# schema rows: the measured statement
{
	echo "INSERT INTO $1.stock_movements (movement_type, product_id, lot_id, sale_id, quantity) SELECT 'consume', 1, 1, g, 1 FROM generate_series(1, $2) g;"
}

# Sales 1..rows pending, no movements, frozen and analyzed; C's counters empty.
reload_sql()				# schema rows
{
	cat <<EOF
SET client_min_messages = warning;
TRUNCATE $1.stock_movements, $1.refunds, $1.sale_items, $1.sales;
INSERT INTO $1.sales (id, status, total) SELECT g, 'pending', 65 FROM generate_series(1, $2) g;
VACUUM (FREEZE, ANALYZE) $1.sales, $1.stock_movements;
EOF
	[[ $1 == plpg ]] && echo "TRUNCATE plpg.counters;"
	return 0
}

# ---------------------------------------------------------------------------
# Cluster helpers
# ---------------------------------------------------------------------------

psql_()						# psql on the running server, database bench
{
	as_pg "$BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -h "$SOCK" -p "$PORT" -U "$dbuser" \
		-d "${DB:-bench}" "$@"
}

start_server()				# datadir
{
	local i

	as_pg "$BINDIR/pg_ctl" -D "$1" -l "$OUT/log/server.log" -w -t 120 \
		-o "-p $PORT -k $SOCK" start >/dev/null ||
		die "server did not start, see $OUT/log/server.log"
	server_dir=$1
	for ((i = 0; i < 100; i++)); do
		curl -sf -o /dev/null --max-time 1 "http://127.0.0.1:$HTTP_PORT/healthz" && return 0
		sleep 0.1
	done
	die "c5metrics' /healthz does not answer on 127.0.0.1:$HTTP_PORT, see $OUT/log/server.log"
}

stop_server()
{
	as_pg "$BINDIR/pg_ctl" -D "$server_dir" -m fast -w -t 120 stop >/dev/null
	server_dir=""
}

single_opts=(-c "shared_preload_libraries=c5metrics")

# First value of a one-column query, from a single-user backend.
single_value()				# datadir sql
{
	echo "$2" | as_pg "$BINDIR/postgres" --single -D "$1" "${single_opts[@]}" bench 2>&1 |
		sed -n 's/^[[:space:]]*1: [a-z_]* = "\([^"]*\)".*/\1/p' | awk 'NR == 1'	# reads all: no SIGPIPE
}

make_template()
{
	local dir=$OUT/template s

	note "initdb $dir"
	as_pg "$BINDIR/initdb" -D "$dir" -U "$dbuser" -A trust -E UTF8 --locale=C --no-sync \
		>"$OUT/log/initdb.log" 2>&1 || die "initdb failed, see $OUT/log/initdb.log"
	cat >>"$dir/postgresql.conf" <<EOF

# --- bench/alternatives.sh ---
shared_preload_libraries = 'c5metrics'
listen_addresses = ''		# unix socket only
c5metrics.listen_addresses = '127.0.0.1'
c5metrics.port = $HTTP_PORT
jit = off			# JIT would add large compile costs to big plans
autovacuum = off		# no background work between and during rounds
fsync = off			# throwaway cluster
synchronous_commit = off	# the issue's setting for the rate rounds
huge_pages = off
shared_buffers = 256MB
max_wal_size = 8GB		# no checkpoint inside a measured statement or round
checkpoint_timeout = 1h
max_connections = 50
lc_messages = 'C'
EOF
	start_server "$dir"
	DB=postgres psql_ -c "CREATE DATABASE bench" >/dev/null
	setup_sql | psql_ >"$OUT/log/setup.log"
	for s in "${schemas[@]}"; do
		reload_sql "$s" "$CG_ROWS" | psql_ >/dev/null
		# for the per-transaction runs: an item for each sale, paid sales to
		# refund, and earlier refunds.  Tables of a realistic size get the
		# plans of the rate rounds: a sale_items or refunds table of a few
		# hundred rows is scanned sequentially (see run_tps).
		psql_ >/dev/null <<EOF
INSERT INTO $s.sale_items (sale_id, product_id, quantity, unit_price)
SELECT g, g % $PRODUCTS + 1, 1, 65 FROM generate_series(1, $CG_ROWS) g;
INSERT INTO $s.sales (id, status, total, paid_at)
SELECT g, 'paid', 65, now() FROM generate_series($((REF_BASE + 1)), $((REF_BASE + TX_N2 + TX_PRE))) g;
INSERT INTO $s.refunds (sale_id, amount, refund_type, idempotency_key)
SELECT g, 5, 'partial', 'pre-' || g FROM generate_series($((REF_BASE + TX_N2 + 1)), $((REF_BASE + TX_N2 + TX_PRE))) g;
UPDATE $s.sales SET status = 'partially_refunded' WHERE id > $((REF_BASE + TX_N2));
EOF
	done
	# every schema alike: a row lock (the foreign-key checks take them) on an
	# all-visible page costs a visibility-map access that a page not yet
	# vacuumed does not; unfrozen, schemas differ by ~1.3 % per row
	psql_ -c "VACUUM (FREEZE, ANALYZE)" -c CHECKPOINT
	stop_server
}

# pid of a child of our postmaster, by its process title
backend_pid()				# title (as in "postgres: <title>")
{
	local pm

	pm=$(head -n 1 "$server_dir/postmaster.pid")
	ps -o pid=,args= --ppid "$pm" | awk -v t="postgres: $1" '
		{ pid = $1; sub(/^ *[0-9]+ +/, "") }
		!found && ($0 == t || index($0, t " ") == 1) { print pid; found = 1 }'
}

# "VmRSS VmHWM RssAnon" in kB
proc_mem()					# pid
{
	awk '$1 == "VmRSS:" { r = $2 } $1 == "VmHWM:" { h = $2 } $1 == "RssAnon:" { a = $2 }
		END { printf "%d %d %d\n", r, h, a }' "/proc/$1/status"
}

start_exporter()
{
	local i dsn

	write_exporter_queries
	dsn="postgresql://$dbuser@:$PORT/bench?host=$SOCK&sslmode=disable&application_name=postgres_exporter"
	# only the custom queries: default metrics, settings and collectors off
	"${pg_prefix[@]}" env DATA_SOURCE_NAME="$dsn" "$EXPORTER" \
		--web.listen-address="127.0.0.1:$EXPORTER_PORT" \
		--extend.query-path="$OUT/exporter/queries.yaml" \
		--disable-default-metrics --disable-settings-metrics \
		--no-collector.database --no-collector.bgwriter \
		>"$OUT/log/exporter.log" 2>&1 &
	exporter_pid=$!
	for ((i = 0; i < 100; i++)); do
		if curl -sf -o "$OUT/log/exporter.first.txt" --max-time 5 "http://127.0.0.1:$EXPORTER_PORT/metrics"; then
			grep -q '^pg_up 1' "$OUT/log/exporter.first.txt" ||
				die "the exporter cannot reach PostgreSQL, see $OUT/log/exporter.log"
			# the pid we keep (to stop it, and for its memory) is the exporter's
			[[ $(readlink "/proc/$exporter_pid/exe") == "$(readlink -f "$(command -v "$EXPORTER")")" ]] ||
				die "pid $exporter_pid is not the exporter"
			return 0
		fi
		kill -0 "$exporter_pid" 2>/dev/null || die "the exporter exited, see $OUT/log/exporter.log"
		sleep 0.1
	done
	die "the exporter does not answer on 127.0.0.1:$EXPORTER_PORT, see $OUT/log/exporter.log"
}

# One scrape as Prometheus makes it; prints seconds; the body goes to a file.
scrape_time()				# url body-file
{
	curl -sS --fail --max-time 60 -H "Accept: $PROM_ACCEPT" -H "Accept-Encoding: gzip" \
		--compressed -o "$2" -w '%{time_total}\n' "$1" ||
		{ echo "alternatives: scrape of $1 failed" >&2; return 1; }
}

c5_url="http://127.0.0.1:$HTTP_PORT/metrics"
exp_url="http://127.0.0.1:$EXPORTER_PORT/metrics"

# ---------------------------------------------------------------------------
# 1. Instructions per row (the method of capture_cost.sh)
# ---------------------------------------------------------------------------

declare -A ir				# [variant.rows] = total Ir of the run

# Run the statements of OUT/log/cg.<name>.sql under callgrind in a
# single-user backend on a fresh copy of the template (left in OUT/run for
# the caller's checks); record the total instructions in ir[name].
cg_exec()					# name
{
	local name=$1 run=$OUT/run

	rm -rf "$run"
	as_pg cp -a "$OUT/template" "$run"
	"${pg_prefix[@]}" valgrind --tool=callgrind --callgrind-out-file="$OUT/callgrind/$name.out" \
		"$BINDIR/postgres" --single -D "$run" "${single_opts[@]}" bench \
		<"$OUT/log/cg.$name.sql" >"$OUT/log/cg.$name.log" 2>&1 &
	child=$!
	wait "$child" || die "callgrind run $name failed, see $OUT/log/cg.$name.log"
	child=""
	if grep -qE '^(ERROR|FATAL|PANIC)|^[[:space:]]*(ERROR|FATAL|PANIC):' "$OUT/log/cg.$name.log"; then
		die "callgrind run $name reported an error, see $OUT/log/cg.$name.log"
	fi
	ir[$name]=$(awk '/^(summary|totals):/ { print $2; exit }' "$OUT/callgrind/$name.out")
	[[ -n ${ir[$name]} ]] || die "no total in $OUT/callgrind/$name.out"
}

cg_run()					# variant rows
{
	local v=$1 n=$2 name=$1.$2 run=$OUT/run got want check

	bulk_sql "$v" "$n" >"$OUT/log/cg.$name.sql"
	cg_exec "$name"
	got=$(single_value "$run" "SELECT count(*) AS v FROM $v.stock_movements")
	[[ $got == "$n" ]] || die "callgrind $name: expected $n movements, found '$got'"
	check=""
	case $v in
		shop) check="SELECT value::bigint AS v FROM c5metrics.metrics WHERE metric = 'flow_transactions_total' AND labels->>'flow' = 'stock' AND labels->>'result' = 'success'"
			want=$((n > 0 ? 1 : 0)) ;;
		plpg) check="SELECT coalesce(sum(value), 0) AS v FROM plpg.counters WHERE metric = 'stock_movements_total'"
			want=$n ;;
	esac
	if [[ -n $check ]]; then
		got=$(single_value "$run" "$check")
		[[ $got == "$want" ]] || die "callgrind $name: counted '$got', expected $want ($check)"
	fi
	rm -rf "$run"
}

# n transactions of a flow, one per line (a single-user backend commits each
# line): pay_sale() of pending sales 1..n, refund_sale() of paid sales
# REF_BASE+1..REF_BASE+n, as in the rate rounds.
tx_sql()					# flow schema n
{
	local i
	for ((i = 1; i <= $3; i++)); do
		if [[ $1 == pay ]]; then
			echo "SELECT $2.pay_sale($i);"
		else
			echo "SELECT $2.refund_sale($((REF_BASE + i)), 5, 'partial', 'rf-$((REF_BASE + i))');"
		fi
	done
}

cg_tx()						# flow variant n
{
	local f=$1 v=$2 n=$3 name=tx.$1.$2.$3 run=$OUT/run got check

	tx_sql "$f" "$v" "$n" >"$OUT/log/cg.$name.sql"
	cg_exec "$name"
	if [[ $f == pay ]]; then
		check="SELECT count(*) AS v FROM $v.sales WHERE status = 'paid' AND id < $REF_BASE"
	else
		check="SELECT count(*) AS v FROM $v.refunds WHERE sale_id <= $((REF_BASE + TX_N2))"
	fi
	got=$(single_value "$run" "$check")
	[[ $got == "$n" ]] || die "callgrind $name: expected $n, found '$got' ($check)"
	rm -rf "$run"
}

# instructions per transaction: the difference of two runs, so that one-time
# costs (compiling the PL/pgSQL functions, caches) cancel
per_tx_ir() { calc "\"%.0f\", (${ir[tx.$1.$2.$TX_N2]} - ${ir[tx.$1.$2.$TX_N1]}) / ($TX_N2 - $TX_N1)"; }	# flow variant

per_row_ir() { calc "\"%.0f\", (${ir[$1.$2]} - ${ir[$1.0]}) / $2"; }	# variant rows

run_callgrind()
{
	local v n f k=0 total
	local -a cases=()

	for v in "${variants[@]}"; do
		if [[ $v == plpg ]] && ((!cg_plpg_full)); then
			# C grows quadratically: at CG_ROWS it would take minutes under
			# callgrind; two smaller statements give its per-row slope
			cases+=("$v 0" "$v $((CG_SMALL / 2))" "$v $CG_SMALL")
		else
			cases+=("$v 0" "$v $CG_SMALL" "$v $CG_ROWS")
		fi
	done
	for f in pay refund; do
		for v in ${FLOW_VARIANTS[$f]}; do
			[[ $v == exp ]] && continue		# writes exactly as A
			cases+=("tx $f $v $TX_N1" "tx $f $v $TX_N2")
		done
	done
	total=${#cases[@]}
	for c in "${cases[@]}"; do
		k=$((k + 1))
		if [[ $c == tx\ * ]]; then
			read -r _ f v n <<<"$c"
			note "callgrind $k/$total: $n $f transactions, $v ($((SECONDS - start)) s so far)"
			cg_tx "$f" "$v" "$n"
		else
			read -r v n <<<"$c"
			note "callgrind $k/$total: $v, $n rows ($((SECONDS - start)) s so far)"
			cg_run "$v" "$n"
		fi
	done
}

report_tx()
{
	local f v a p
	section "1b. Instructions per transaction (callgrind)"
	say "The transactions of the rate rounds, one after the other in a single-user backend under callgrind"
	say "(one transaction per input line), on a fresh copy of the template: (Ir($TX_N2 transactions) -"
	say "Ir($TX_N1)) / $((TX_N2 - TX_N1)), so that one-time costs cancel.  This is the CPU a transaction costs, without"
	say "the noise of the rate rounds and without waiting on locks (C's hot counter rows cost more under"
	say "concurrency than here).  When the CPUs are the limit, the rate ratio to A is about the inverse"
	say "of the instruction ratio (A/X)."
	blank
	T_W=(12 20 12 12 14 12); T_A=llrrrr
	thead flow variant "instr/tx" "ratio to A" "added/tx" "A/X"
	for f in pay refund; do
		a=$(per_tx_ir "$f" bare)
		for v in ${FLOW_VARIANTS[$f]}; do
			[[ $v == exp ]] && continue
			p=$(per_tx_ir "$f" "$v")
			trow "$([[ $f == pay ]] && echo 'sale -> paid' || echo refund)" "${LABEL[$v]}" "$p" \
				"$(calc '"%.4f"' "$p / $a")" "$([[ $v == bare ]] && echo - || calc '"%+d"' "$p - $a")" \
				"$(calc '"%.3f"' "$a / $p")"
			txr[$f.$v]=$(calc '"%.3f"' "$a / $p")
		done
	done
	blank
	say "D writes as A does (no triggers) and is not run."
}

report_callgrind()
{
	local v

	section "2a. Capture cost per row, instructions (callgrind)"
	say "One bulk statement, \`INSERT INTO <schema>.stock_movements (...) SELECT 'consume', 1, 1, g, 1"
	say "FROM generate_series(1, N) g\` (each row its own sale; 3 foreign keys), in a single-user"
	say "backend under \`valgrind --tool=callgrind\`, on a fresh copy of one template: instructions per row"
	say "= (Ir(N) - Ir(0)) / N, commit included (the method of \`bench/capture_cost.sh\`)."
	blank
	T_W=(20 13 10 14 10 17)
	thead variant "instr/row $CG_SMALL" "ratio to A" "instr/row $CG_ROWS" "ratio to A" "added/row $CG_ROWS"
	local a1 a2 a0 r1 r2 add t est=""
	for v in "${variants[@]}"; do
		a1=$(per_row_ir "$v" "$CG_SMALL")
		if [[ -n ${ir[$v.$CG_ROWS]:-} ]]; then
			a2=$(per_row_ir "$v" "$CG_ROWS"); t=""
		else
			# per row = a + b n (the statement is quadratic), from the two small runs
			a0=$(per_row_ir "$v" $((CG_SMALL / 2)))
			a2=$(calc '"%.0f"' "$a1 + ($a1 - $a0) / ($CG_SMALL - $CG_SMALL / 2) * ($CG_ROWS - $CG_SMALL)"); t="~"
			est="$v $a0"
		fi
		r1=$(calc "\"%.4f\", $a1 / $(per_row_ir bare "$CG_SMALL")")
		r2=$(calc "\"%.4f\", $a2 / $(per_row_ir bare "$CG_ROWS")")
		add=$(calc "\"%+d (%+.2f %%)\", $a2 - $(per_row_ir bare "$CG_ROWS"), 100 * ($a2 / $(per_row_ir bare "$CG_ROWS") - 1)")
		[[ $v == bare ]] && add="-"
		trow "${LABEL[$v]}" "$a1" "$r1" "$t$a2" "$t$r2" "$t$add"
	done
	blank
	if [[ -n $est ]]; then
		say "~: extrapolated.  C was run at $((CG_SMALL / 2)) rows (${est#* } instructions per row) and $CG_SMALL rows only;"
		say "per row = a + b x rows through those two points gives the $CG_ROWS-row figure (\`--cg-plpg-full\`"
		say "runs it, about 10 minutes under callgrind)."
	fi
	say "C's cost per row grows with the rows of the statement: all rows update the one counter row"
	say "\`stock_movements_total{movement_type=\"consume\"}\` in one transaction, and each update walks the"
	say "chain of versions the earlier ones left.  D writes exactly like A (no triggers); its cost is at"
	say "scrape time (part 3), and it is a second baseline here: A and D differ only in which schema"
	say "holds the tables (relation OIDs fall differently into backend hash tables)."
	local b pa pd
	b=$(per_row_ir shop "$CG_ROWS"); pa=$(per_row_ir bare "$CG_ROWS"); pd=$(per_row_ir exp "$CG_ROWS")
	ir_pct=$(calc "\"%.2f\", 100 * ($b / $pa - 1)")
	ir_pct_d=$(calc "\"%.2f\", 100 * ($b / $pd - 1)")
	say "B over A: $(calc '"%+d"' "$b - $pa") instructions per row ($(calc '"%+.2f"' "$ir_pct") %); B over D: $(calc '"%+d"' "$b - $pd") ($(calc '"%+.2f"' "$ir_pct_d") %)."
	say "The foreign-key checks here are index scans ($PRODUCTS products and lots), where"
	say "\`capture_cost.sh\`'s one-row tables are scanned sequentially: A costs more per row here, so the same"
	say "added instructions are a smaller percentage.  callgrind files: \`$OUT/callgrind\`."
}

# ---------------------------------------------------------------------------
# 2. Bulk insert wall time
# ---------------------------------------------------------------------------

declare -A wall				# [variant.rows] = "ms ms ..."

timed()						# sql -> milliseconds
{
	psql_ -c '\timing on' -c "$1" | awk '/^Time: / { print $2 }'
}

run_bulk()
{
	local r n v ms order

	for ((r = 0; r <= WALL_ROUNDS; r++)); do
		if ((r % 2)); then order=("${variants[@]}"); else read -r -a order <<<"$(reversed "${variants[*]}")"; fi
		for n in "${wall_sizes[@]}"; do
			for v in "${order[@]}"; do
				((n > PLPG_MAX_ROWS)) && [[ $v == plpg ]] && continue
				# C's largest statements take long: no warm-up for them
				((r == 0)) && [[ $v == plpg ]] && ((n > 10000)) && continue
				note "bulk insert round $r/$WALL_ROUNDS$( ((r == 0)) && echo ' (warm-up)'): ${LABEL[$v]}, $n rows"
				{ reload_sql "$v" "$n"; echo "CHECKPOINT;"; } | psql_ >/dev/null
				ms=$(timed "$(bulk_sql "$v" "$n")")
				[[ -n $ms ]] || die "no timing for the bulk insert $v $n"
				((r == 0)) || wall[$v.$n]+="$ms "
			done
		done
	done
	# C counted every row of its last statement
	local got last=0
	got=$(psql_ -At -c "SELECT coalesce(sum(value), 0) FROM plpg.counters WHERE metric = 'stock_movements_total'")
	for n in "${wall_sizes[@]}"; do ((n <= PLPG_MAX_ROWS)) && last=$n; done
	[[ $got == "$last" || $last == 0 ]] || die "C's counters say $got movements, the last statement inserted $last"
}

nsrow() { calc "\"%.0f\", $1 * 1e6 / $2"; }	# ms rows

# ns/row of C at n rows from a least-squares fit of t = a n + b n^2 over its
# measured medians (t / n = a + b n: a straight line in n).
plpg_fit()					# -> "a_ns b_ns_per_row"
{
	local n pts=""
	for n in "${wall_sizes[@]}"; do
		[[ -n ${wall[plpg.$n]:-} ]] || continue
		pts+="$n $(nsrow "$(median "${wall[plpg.$n]}")" "$n") "
	done
	awk -v p="$pts" 'BEGIN {
		k = split(p, f, " "); m = 0
		for (i = 1; i < k; i += 2) { x[++m] = f[i]; y[m] = f[i + 1] }
		if (m < 2) { print "- -"; exit }
		for (i = 1; i <= m; i++) { sx += x[i]; sy += y[i]; sxx += x[i] * x[i]; sxy += x[i] * y[i] }
		b = (m * sxy - sx * sy) / (m * sxx - sx * sx); a = (sy - b * sx) / m
		printf "%.6g %.6g\n", a, b }'
}

report_bulk()
{
	local n v med min max base

	section "2b. Capture cost per row, wall time"
	say "The same statement on a normal server through psql (\`\\timing\`), each on freshly reloaded,"
	say "frozen and analyzed tables right after a CHECKPOINT; the variants alternate (ABCD, DCBA, ...),"
	say "$WALL_ROUNDS rounds after a warm-up round; median ns per row (min-max), ratio of medians to A."
	blank
	T_W=(7 20 9 16 10); T_A=rlrrr
	thead rows variant "ns/row" "min-max" "ratio to A"
	for n in "${wall_sizes[@]}"; do
		base=$(nsrow "$(median "${wall[bare.$n]}")" "$n")
		for v in "${variants[@]}"; do
			if [[ -z ${wall[$v.$n]:-} ]]; then
				if [[ $v == plpg ]]; then
					read -r fa fb <<<"$(plpg_fit)"
					if [[ $fa != - ]]; then
						local e
						e=$(calc "\"%.0f\", $fa + $fb * $n")
						trow "$n" "${LABEL[$v]}" "~$e" "extrapolated" "$(calc "\"~%.1f\", $e / $base")"
					fi
				fi
				continue
			fi
			read -r med min max <<<"$(stats "${wall[$v.$n]}" %.6g)"
			trow "$n" "${LABEL[$v]}" "$(nsrow "$med" "$n")" "$(nsrow "$min" "$n")-$(nsrow "$max" "$n")" \
				"$(calc "\"%.3f\", $(nsrow "$med" "$n") / $base")"
		done
	done
	read -r fa fb <<<"$(plpg_fit)"
	blank
	if [[ $fa != - ]]; then
		say "C per row fits $(calc '"%.0f"' "$fa") ns + $(calc '"%.2f"' "$fb") ns x (rows of the statement): the whole statement"
		say "is quadratic in its rows.  Rows marked \"extrapolated\" use that fit: C is timed only up to"
		say "$PLPG_MAX_ROWS rows (\`--plpg-max-rows\`; at 200000 rows one statement takes about 5 minutes)."
	fi
	local per=""
	for n in "${wall_sizes[@]}"; do
		for v in "${variants[@]}"; do
			[[ -n ${wall[$v.$n]:-} ]] && per+="${LETTER[$v]}.$n=[${wall[$v.$n]% }] "
		done
	done
	say "(per-round ms: ${per% })"
}

# ---------------------------------------------------------------------------
# 3. Transaction rates
# ---------------------------------------------------------------------------

declare -A seeded			# [flow.schema] = highest id seeded
declare -A tps_max			# [flow] = highest tps seen
declare -A tps_list			# [flow.clients.variant] = "tps tps ..."
declare -A round_ratio		# [flow.clients.variant] = "x/A per round ..."
declare -A round_ratio_g	# [flow.clients] = "B/(A+G) per round ..."
declare -A mid_ms			# [flow.clients.variant] = "ms ms ...": the half-way reads
declare -A pool_base=([pay]=0 [refund]=$((REF_BASE - 1)))

# Pending sales with one item each (pay flow); paid sales (refund flow).
add_pool()					# flow schema n
{
	local f=$1 s=$2 lo hi
	lo=$((${seeded[$f.$s]:-${pool_base[$f]}} + 1)); hi=$((lo + $3 - 1))
	if [[ $f == pay ]]; then
		psql_ <<EOF
INSERT INTO $s.sales (id, status, total) SELECT g, 'pending', 65 FROM generate_series($lo, $hi) g;
-- consecutive sales use different products: no two clients wait on one lot
INSERT INTO $s.sale_items (sale_id, product_id, quantity, unit_price)
SELECT g, g % $PRODUCTS + 1, 1, 65 FROM generate_series($lo, $hi) g;
VACUUM ANALYZE $s.sales, $s.sale_items;
EOF
	else
		psql_ <<EOF
INSERT INTO $s.sales (id, status, total, paid_at) SELECT g, 'paid', 65, now() FROM generate_series($lo, $hi) g;
VACUUM ANALYZE $s.sales, $s.refunds;
EOF
	fi
	seeded[$f.$s]=$hi
}

# Enough fresh sales in every schema for its next round at 1.5x the fastest
# rate seen so far (each schema runs one round between two calls).
ensure_pools()				# flow seconds
{
	local f=$1 s used need
	for s in ${FLOW_VARIANTS[$f]}; do
		used=$(psql_ -At -c "SELECT CASE WHEN is_called THEN last_value ELSE last_value - 1 END FROM $s.bench_$f")
		need=$(calc "\"%d\", 1.5 * ${tps_max[$f]:-10000} * $2 + 1000")
		if ((${seeded[$f.$s]:-${pool_base[$f]}} - used < need)); then
			need=$((need * 2 > 100000 ? need * 2 : 100000))
			note "adding $need $([[ $f == pay ]] && echo pending || echo paid) sales to $s"
			add_pool "$f" "$s" "$need" >/dev/null
		fi
	done
}

write_scripts()
{
	local s
	for s in "${schemas[@]}"; do
		echo "SELECT $s.pay_sale(nextval('$s.bench_pay'));" >"$OUT/log/pay.$s.sql"
		# a fresh paid sale each time, its id as the idempotency key
		echo "SELECT $s.refund_sale(id, 5, 'partial', 'rf-' || id) FROM (SELECT nextval('$s.bench_refund') AS id) x;" \
			>"$OUT/log/refund.$s.sql"
		chmod 644 "$OUT/log/pay.$s.sql" "$OUT/log/refund.$s.sql"
	done
}

# Half-way through a round of B, C or D: read its metrics once, as a scrape
# would; prints milliseconds.
mid_read()					# variant
{
	local t0 t1
	case $1 in
		shop|shopng) awk -v s="$(scrape_time "$c5_url" "$OUT/log/mid.c5.txt")" 'BEGIN { printf "%.3f", 1000 * s }' ;;
		exp) awk -v s="$(scrape_time "$exp_url" "$OUT/log/mid.exp.txt")" 'BEGIN { printf "%.3f", 1000 * s }' ;;
		plpg)
			t0=$(date +%s%N)
			psql_ -At -c "SELECT metric, labels, value FROM plpg.counters" >"$OUT/log/mid.plpg.txt"
			t1=$(date +%s%N)
			calc "\"%.3f\", ($t1 - $t0) / 1e6" ;;
	esac
}

round_tps=""

pgbench_round()				# flow clients variant name seconds
{
	local f=$1 c=$2 v=$3 name=$4 secs=$5 tps mpid="" j
	j=$((c < 2 ? c : 2))
	# fresh statistics, as autoanalyze would keep them (autovacuum is off):
	# refunds and movements start empty, and a plan made for an empty table
	# scans it sequentially (c5metrics' over-refund guard does, in B)
	psql_ -c "ANALYZE $v.refunds, $v.stock_movements" -c CHECKPOINT >/dev/null
	if [[ $v != bare && $v != bareg ]]; then
		( sleep "$(calc '"%.1f"' "$secs / 2")"; mid_read "$v" >"$OUT/log/mid.$name" ) &
		mpid=$!
		bg_pids+=("$mpid")
	fi
	as_pg "$BINDIR/pgbench" -h "$SOCK" -p "$PORT" -U "$dbuser" -n -c "$c" -j "$j" \
		-T "$secs" -f "$OUT/log/$f.$v.sql" bench >"$OUT/log/pgbench.$name.log" 2>&1 ||
		die "pgbench $name failed, see $OUT/log/pgbench.$name.log"
	if [[ -n $mpid ]]; then
		wait "$mpid" || die "the half-way read of $name failed"
		bg_pids=()
	fi
	tps=$(awk '/^tps = .*without initial connection time/ { print $3 }' "$OUT/log/pgbench.$name.log")
	[[ -n $tps ]] || die "no tps from pgbench $name"
	grep -q '^number of failed transactions: 0 ' "$OUT/log/pgbench.$name.log" ||
		! grep -q '^number of failed transactions' "$OUT/log/pgbench.$name.log" ||
		die "pgbench $name had failed transactions, see $OUT/log/pgbench.$name.log"
	tps_max[$f]=$(calc "\"%.0f\", ($tps > ${tps_max[$f]:-0}) ? $tps : ${tps_max[$f]:-0}")
	round_tps=$tps
}

run_tps()
{
	local f c r v s order warm=2
	declare -A this

	write_scripts
	for s in "${schemas[@]}"; do
		psql_ -c "SET client_min_messages = warning" \
			-c "TRUNCATE $s.stock_movements, $s.refunds, $s.sale_items, $s.sales" \
			-c "ALTER SEQUENCE $s.bench_pay RESTART" -c "ALTER SEQUENCE $s.bench_refund RESTART" >/dev/null
	done
	psql_ -c "TRUNCATE plpg.counters" -c "SELECT c5metrics.reset()" >/dev/null
	# warm-up: every variant and flow once, not counted
	for f in pay refund; do
		ensure_pools "$f" "$warm"
		for v in ${FLOW_VARIANTS[$f]}; do
			note "warm-up: $f, ${LABEL[$v]}, ${warm} s"
			pgbench_round "$f" "${clients_list[-1]}" "$v" "warm.$f.$v" "$warm"
		done
	done
	for f in pay refund; do
		for c in "${clients_list[@]}"; do
			for ((r = 1; r <= ROUNDS; r++)); do
				read -r -a order <<<"${FLOW_VARIANTS[$f]}"
				((r % 2)) || read -r -a order <<<"$(reversed "${FLOW_VARIANTS[$f]}")"
				ensure_pools "$f" "$ROUND_SECONDS"	# before the round, not inside it
				for v in "${order[@]}"; do
					note "rates: $f flow, $c client(s), round $r/$ROUNDS, ${LABEL[$v]}, ${ROUND_SECONDS} s"
					pgbench_round "$f" "$c" "$v" "$f.c$c.r$r.$v" "$ROUND_SECONDS"
					tps_list[$f.$c.$v]+="$round_tps "
					this[$v]=$round_tps
					[[ -f $OUT/log/mid.$f.c$c.r$r.$v ]] && mid_ms[$f.$c.$v]+="$(cat "$OUT/log/mid.$f.c$c.r$r.$v") "
				done
				for v in ${FLOW_VARIANTS[$f]}; do
					round_ratio[$f.$c.$v]+="$(calc "\"%.4f\", ${this[$v]} / ${this[bare]}") "
				done
				# B against the baseline that makes the same over-refund check
				[[ $f == refund ]] && round_ratio_g[$f.$c]+="$(calc "\"%.4f\", ${this[shop]} / ${this[bareg]}") "
			done
		done
	done
	((MIX_ROUNDS > 0)) && run_mix
	check_counted
	counters_size=$(psql_ -At -c "SELECT pg_size_pretty(pg_total_relation_size('plpg.counters')) || ' (' || (SELECT count(*) FROM plpg.counters) || ' rows)'")
}

# ---------------------------------------------------------------------------
# 1c. Interleaved rounds
# ---------------------------------------------------------------------------

# The pairs mixed in one pgbench run each: flow, baseline, variant.  Each
# pair alone and 1:1: how often a variant's transactions come round changes
# how warm the CPU caches are for its tables and code, and with it its
# latency (a variant at 1 transaction in 4 measured 0.90 x the other, at 3
# in 4 1.04 x).  The last pair is the control: A's script twice.
MIX_PAIRS=("pay bare shop" "refund bare shopng" "refund bare shop" "refund bareg shop" "pay bare bare")
declare -A mix_ratio		# [flow.a.b] = "latency a / latency b per round ..."
declare -A mix_lat			# [flow.a.b.which] = "us us ...": mean latency per round (which = a, b)

# Mean latency in microseconds of the fastest 98 % of each script's
# transactions, from pgbench's per-transaction logs (prefix.*: client,
# transaction, latency, script, ...); one line per script, in script order.
# The slowest 2 % are the checkpoints and scheduling stalls of a shared
# machine, which land on one script or the other by chance.
mix_latencies()				# log prefix
{
	cat "$1".* | awk '{ print $4, $3 }' | sort -k1,1n -k2,2n | awk '
		{ n[$1]++; v[$1, n[$1]] = $2 }
		END {
			for (s = 0; s in n; s++) {
				k = n[s] - int(n[s] / 50); t = 0
				for (i = 1; i <= k; i++) t += v[s, i]
				printf "%.3f\n", t / k
			}
		}'
}

run_mix()
{
	local r f a b k c=${clients_list[-1]} j prefix log pair
	local -a lat

	j=$((c < 2 ? c : 2))
	for ((r = 1; r <= MIX_ROUNDS; r++)); do
		for pair in "${MIX_PAIRS[@]}"; do
			read -r f a b <<<"$pair"
			k=$f.$a.$b
			ensure_pools "$f" "$MIX_SECONDS"
			psql_ -c "ANALYZE $a.refunds, $a.stock_movements, $b.refunds, $b.stock_movements" -c CHECKPOINT >/dev/null
			prefix=$OUT/log/mix/$k.r$r
			log=$OUT/log/pgbench.mix.$k.r$r.log
			note "interleaved: $f flow, $c clients, round $r/$MIX_ROUNDS, ${LETTER[$a]} and ${LETTER[$b]} mixed 1:1, ${MIX_SECONDS} s"
			as_pg "$BINDIR/pgbench" -h "$SOCK" -p "$PORT" -U "$dbuser" -n -c "$c" -j "$j" \
				-T "$MIX_SECONDS" -l --log-prefix="$prefix" \
				-f "$OUT/log/$f.$a.sql@1" -f "$OUT/log/$f.$b.sql@1" bench >"$log" 2>&1 ||
				die "pgbench (interleaved $k round $r) failed, see $log"
			grep -q '^number of failed transactions: 0 ' "$log" ||
				! grep -q '^number of failed transactions' "$log" ||
				die "pgbench (interleaved $k round $r) had failed transactions, see $log"
			mapfile -t lat < <(mix_latencies "$prefix")
			((${#lat[@]} == 2)) || die "interleaved $k round $r: ${#lat[@]} scripts in the logs, 2 run"
			mix_lat[$k.a]+="${lat[0]} "
			mix_lat[$k.b]+="${lat[1]} "
			mix_ratio[$k]+="$(calc "\"%.4f\", ${lat[0]} / ${lat[1]}") "
			rm -f "$prefix".*		# a few MB a round
		done
	done
}

report_mix()
{
	local f a b k pair flowname med min max
	section "1c. Interleaved rounds, ${clients_list[-1]} clients"
	say "One pgbench run mixes two variants 1:1 (\`-f a.sql@1 -f b.sql@1\`: every transaction picks one"
	say "at random), so that whatever the host does at a moment hits both alike; the rate rounds above"
	say "run the variants one after the other and move by several percent between rounds on a shared"
	say "machine.  Per variant: the mean latency of its transactions (pgbench \`-l\`, fastest 98 %: the"
	say "slowest 2 % are checkpoints and scheduling stalls that land on one or the other by chance)."
	say "Ratio latency a / latency b: the rate b keeps beside a when the CPUs are the limit, as here"
	say "(every client always has a transaction running; neither flow waits on another's locks)."
	say "1:1, because the mix itself moves the result: a variant's tables and code are warmer in the"
	say "CPU caches the more often its transactions come round.  In a pure run c5metrics' code runs in"
	say "every transaction, here in every other one, so these ratios lean against c5metrics.  Every"
	say "pair once per round, $MIX_ROUNDS rounds of ${MIX_SECONDS} s; the control runs A's script twice."
	blank
	T_W=(12 10 18 18 26); T_A=llrrr
	thead flow "a / b" "latency a, us" "latency b, us" "a / b per round, med (min-max)"
	for pair in "${MIX_PAIRS[@]}"; do
		read -r f a b <<<"$pair"
		k=$f.$a.$b
		[[ $f == pay ]] && flowname="sale -> paid" || flowname="refund"
		[[ $a == "$b" ]] && flowname="$flowname (control)"
		read -r med min max <<<"$(stats "${mix_ratio[$k]}" %.3f)"
		trow "$flowname" "${LETTER[$a]} / ${LETTER[$b]}" "$(median "${mix_lat[$k.a]}" %.1f)" \
			"$(median "${mix_lat[$k.b]}" %.1f)" "$med ($min-$max)"
	done
}

# B and C counted exactly what the tables hold.
check_counted()
{
	local paid refunds b c
	paid=$(psql_ -At -c "SELECT count(*) FROM shop.sales WHERE id < $REF_BASE AND status = 'paid'")
	b=$(psql_ -At -c "SELECT coalesce(sum(value), 0)::bigint FROM c5metrics.metrics WHERE metric = 'sales_transition_total'
		AND labels->>'from_status' = 'pending' AND labels->>'to_status' = 'paid' AND labels->>'result' = 'success'")
	[[ $paid == "$b" ]] || die "c5metrics counted $b payments, shop.sales has $paid"
	# one registry per server: B and B' count into the same series
	refunds=$(psql_ -At -c "SELECT (SELECT count(*) FROM shop.refunds) + (SELECT count(*) FROM shopng.refunds)")
	b=$(psql_ -At -c "SELECT coalesce(sum(value), 0)::bigint FROM c5metrics.metrics WHERE metric = 'sale_refunds_total'
		AND labels->>'result' = 'success'")
	[[ $refunds == "$b" ]] || die "c5metrics counted $b refunds, shop.refunds and shopng.refunds have $refunds"
	paid=$(psql_ -At -c "SELECT count(*) FROM plpg.sales WHERE id < $REF_BASE AND status = 'paid'")
	c=$(psql_ -At -c "SELECT coalesce(sum(value), 0) FROM plpg.counters WHERE metric = 'sales_transition_total'
		AND labels = 'from_status=\"pending\",to_status=\"paid\"'")
	[[ $paid == "$c" ]] || die "C's counters say $c payments, plpg.sales has $paid"
	refunds=$(psql_ -At -c "SELECT count(*) FROM plpg.refunds")
	c=$(psql_ -At -c "SELECT coalesce(sum(value), 0) FROM plpg.counters WHERE metric = 'sale_refunds_total'")
	[[ $refunds == "$c" ]] || die "C's counters say $c refunds, plpg.refunds has $refunds"
	counted_note="B's and C's counts equal their tables' rows ($paid payments and $refunds refunds in C's)"
}

report_tps()
{
	local f c v med min max base rr rmed rmin rmax flowname mids

	section "1. Transaction rates"
	say "pgbench, ${ROUND_SECONDS} s rounds, synchronous_commit = off.  sale -> paid: \`pay_sale()\` on a fresh"
	say "pending sale with one item (the paid transition, then FEFO consumption from a large lot; consecutive"
	say "sales use different products).  refund: \`refund_sale(id, 5, 'partial', 'rf-' || id)\` on a fresh"
	say "paid sale (a refund row with a unique key, then the sale's status update).  In B the refunds"
	say "table is attached with \`sales_table\`, as \`create_reference_schema\` does: the over-refund guard"
	say "locks the sale and sums its refunds, a check that A, C and D do not make; B' is B with refunds"
	say "attached without it (c5metrics' capture alone), A+G is A with the same check hand-written"
	say "(PL/pgSQL: SELECT ... FOR NO KEY UPDATE, sum(), RAISE).  Per flow and client count: $ROUNDS rounds of"
	say "every variant in turn (ABCD, DCBA, ...).  Ratio to A: of the medians; per round: X/A within each"
	say "round (variants of a round run back to back, so drift cancels), median and min-max.  In each round of B, B', C"
	say "and D their metrics are read once, half-way: c5metrics' /metrics, \`SELECT * FROM plpg.counters\`"
	say "with psql, the exporter's /metrics (its queries run then: a scrape every ${ROUND_SECONDS} s of D's time)."
	blank
	T_W=(12 7 22 8 12 10 24 7); T_A=llrrrrrr
	thead flow clients variant "tps med" "tps min-max" "ratio to A" "per round med (min-max)" "earlier"
	for f in pay refund; do
		[[ $f == pay ]] && flowname="sale -> paid" || flowname="refund"
		for c in "${clients_list[@]}"; do
			base=$(median "${tps_list[$f.$c.bare]}")
			for v in ${FLOW_VARIANTS[$f]}; do
				read -r med min max <<<"$(stats "${tps_list[$f.$c.$v]}" %.0f)"
				read -r rmed rmin rmax <<<"$(stats "${round_ratio[$f.$c.$v]}" %.3f)"
				rr=$(calc "\"%.3f\", $(median "${tps_list[$f.$c.$v]}") / $base")
				tpsr[$f.$c.$v]=$rr
				trow "$flowname" "$c" "${LABEL[$v]}" "$med" "$min-$max" "$rr" "$rmed ($rmin-$rmax)" "${EARLIER[tps.$f.$v.$c]:-}"
			done
		done
	done
	blank
	say "earlier: the ratio to A measured before on this kind of 2-CPU machine (the issue)."
	for c in "${clients_list[@]}"; do
		read -r rmed rmin rmax <<<"$(stats "${round_ratio_g[refund.$c]}" %.3f)"
		say "refund, $c client(s): B / (A+G) per round (the guard against the same check hand-written): $rmed ($rmin-$rmax)."
	done
	mids=""
	for f in pay refund; do
		for c in "${clients_list[@]}"; do
			for v in ${FLOW_VARIANTS[$f]}; do
				[[ $v == bare || $v == bareg ]] && continue
				mids+="$f/$c/${LETTER[$v]} $(stats "${mid_ms[$f.$c.$v]:-}" %.1f | awk '{ print $1 }') ms; "
			done
		done
	done
	say "Half-way reads under load (median): ${mids%; }."
	say "$counted_note.  C's counters table after the rounds: $counters_size (autovacuum off)."
}

# ---------------------------------------------------------------------------
# 4. Scrape time against table size
# ---------------------------------------------------------------------------

declare -A scr				# [endpoint.size] = "s s s ..."
declare -A scr_info			# [endpoint.size] = "series bytes"
declare -A exp_self			# [size] = the exporter's own pg_exporter_last_scrape_duration_seconds
declare -A qt				# [query.size] = median ms of the exporter's query through psql

# Each of the exporter's queries alone, 3 times through psql (\timing): where
# its scrape time goes.
time_queries()				# size
{
	local q
	for q in "${EXP_Q_NAMES[@]}"; do
		qt[$q.$1]=$(median "$(psql_ -o /dev/null -c '\timing on' -c "${EXP_Q[$q]}" -c "${EXP_Q[$q]}" -c "${EXP_Q[$q]}" |
			awk '/^Time: / { printf "%s ", $2 }')" %.1f)
	done
}

# Sales lo..hi in shop (tracked) and exp alike: one item each; 80 % paid with
# their consumption in the same transaction, 10 % cancelled, 10 % left
# pending; one paid sale in eight refunded (half full, half partial).
fill_sql()					# schema lo hi
{
	local s=$1 lo=$2 hi=$3
	cat <<EOF
SET client_min_messages = warning;
INSERT INTO $s.sales (id, status, total) SELECT g, 'pending', 65 FROM generate_series($lo, $hi) g;
INSERT INTO $s.sale_items (sale_id, product_id, quantity, unit_price)
SELECT g, g % $PRODUCTS + 1, 1, 65 FROM generate_series($lo, $hi) g;
BEGIN;
UPDATE $s.sales SET status = 'paid', paid_at = now() WHERE id BETWEEN $lo AND $hi AND id % 10 < 8;
INSERT INTO $s.stock_movements (movement_type, product_id, lot_id, sale_id, quantity)
SELECT 'consume', g % $PRODUCTS + 1, g % $PRODUCTS + 1, g, 1 FROM generate_series($lo, $hi) g WHERE g % 10 < 8;
COMMIT;
UPDATE $s.sales SET status = 'cancelled' WHERE id BETWEEN $lo AND $hi AND id % 10 = 8;
BEGIN;
INSERT INTO $s.refunds (sale_id, amount, refund_type, idempotency_key)
SELECT g, CASE WHEN g % 20 = 1 THEN 65 ELSE 5 END, CASE WHEN g % 20 = 1 THEN 'full' ELSE 'partial' END, 'rf-' || g
  FROM generate_series($lo, $hi) g WHERE g % 10 = 1;
UPDATE $s.sales SET status = CASE WHEN id % 20 = 1 THEN 'refunded' ELSE 'partially_refunded' END
 WHERE id BETWEEN $lo AND $hi AND id % 10 = 1;
COMMIT;
VACUUM ANALYZE $s.sales, $s.sale_items, $s.stock_movements, $s.refunds;
EOF
}

measure_scrapes()			# size
{
	local n=$1 i t
	# one scrape each first, not counted: connections, caches
	scrape_time "$exp_url" "$OUT/log/scrape.exp.$n.txt" >/dev/null
	scrape_time "$c5_url" "$OUT/log/scrape.c5.$n.txt" >/dev/null
	for ((i = 1; i <= SCRAPES; i++)); do
		if ((i % 2)); then
			t=$(scrape_time "$exp_url" "$OUT/log/scrape.exp.$n.txt"); scr[exp.$n]+="$t "
			t=$(scrape_time "$c5_url" "$OUT/log/scrape.c5.$n.txt"); scr[c5.$n]+="$t "
		else
			t=$(scrape_time "$c5_url" "$OUT/log/scrape.c5.$n.txt"); scr[c5.$n]+="$t "
			t=$(scrape_time "$exp_url" "$OUT/log/scrape.exp.$n.txt"); scr[exp.$n]+="$t "
		fi
	done
	scr_info[c5.$n]="$(grep -vc '^#' "$OUT/log/scrape.c5.$n.txt") $(wc -c <"$OUT/log/scrape.c5.$n.txt")"
	scr_info[exp.$n]="$(grep -vc '^#' "$OUT/log/scrape.exp.$n.txt") $(wc -c <"$OUT/log/scrape.exp.$n.txt")"
	exp_self[$n]=$(awk '$1 == "pg_exporter_last_scrape_duration_seconds" { print $2 }' "$OUT/log/scrape.exp.$n.txt")
	# the exporter's figures are the tables' figures
	local want got
	want=$(psql_ -At -c "SELECT count(*) FROM exp.sales WHERE status = 'paid'")
	got=$(awk '$1 ~ /^c5_sales_count\{.*status="paid"/ { print $2 }' "$OUT/log/scrape.exp.$n.txt")
	[[ $(calc '"%d"' "${got:-0}") == "$want" ]] || die "the exporter says ${got:-nothing} paid sales, exp.sales has $want"
}

run_scrape()
{
	local s n cur=0
	note "emptying the tables of B and D for the scrape sizes"
	for s in shop exp; do
		psql_ -c "SET client_min_messages = warning" -c "TRUNCATE $s.stock_movements, $s.refunds, $s.sale_items, $s.sales" >/dev/null
	done
	psql_ -c "SELECT c5metrics.reset()" >/dev/null
	for n in "${scrape_sizes[@]}"; do
		((n > cur)) || die "--scrape-sizes must grow"
		for s in shop exp; do
			note "filling $s to $n sales"
			fill_sql "$s" $((cur + 1)) "$n" | psql_ >/dev/null
		done
		psql_ -c CHECKPOINT >/dev/null
		cur=$n
		note "scraping c5metrics and the exporter at $n sales, $SCRAPES times each"
		measure_scrapes "$n"
		time_queries "$n"
	done
	local b
	b=$(psql_ -At -c "SELECT coalesce(sum(value), 0)::bigint FROM c5metrics.metrics WHERE metric = 'sales_transition_total'
		AND labels->>'to_status' = 'paid' AND labels->>'result' = 'success'")
	[[ $b == $(psql_ -At -c "SELECT count(*) FROM shop.sales WHERE paid_at IS NOT NULL") ]] ||
		die "c5metrics counted $b payments in the scrape tables"
}

# log-log slope of the median scrape time between the first and last size
slope()						# endpoint
{
	local a=${scrape_sizes[0]} z=${scrape_sizes[-1]}
	calc "\"%.2f\", log($(median "${scr[$1.$z]}") / $(median "${scr[$1.$a]}")) / log($z / $a)"
}

report_scrape()
{
	local n q med min max

	section "3. Scrape time against table size"
	say "The tables of B (tracked) and D hold the same rows: per sale one item; 80 % paid with their"
	say "consumption, 10 % cancelled, 10 % pending; one sale in ten refunded.  \`curl -w '%{time_total}'\`"
	say "with Prometheus' Accept and Accept-Encoding headers, the two endpoints alternating, after one"
	say "scrape each that is not counted; median (min-max) of $SCRAPES.  The exporter runs only the custom"
	say "queries (\`--disable-default-metrics --disable-settings-metrics --no-collector.database"
	say "--no-collector.bgwriter\`); \`self\` is its own \`pg_exporter_last_scrape_duration_seconds\`."
	blank
	T_W=(8 12 11 11 13 7 8 7 7)
	thead sales "c5metrics ms" "min-max" "exporter ms" "min-max" "self ms" "exp / c5" "earlier" samples
	for n in "${scrape_sizes[@]}"; do
		local c5m em
		c5m=$(median "${scr[c5.$n]}"); em=$(median "${scr[exp.$n]}")
		read -r _ min max <<<"$(stats "${scr[c5.$n]}" %.6g)"
		local c5mm; c5mm="$(calc '"%.2f"' "1000 * $min")-$(calc '"%.2f"' "1000 * $max")"
		read -r _ min max <<<"$(stats "${scr[exp.$n]}" %.6g)"
		trow "$n" "$(calc '"%.2f"' "1000 * $c5m")" "$c5mm" "$(calc '"%.1f"' "1000 * $em")" \
			"$(calc '"%.1f"' "1000 * $min")-$(calc '"%.1f"' "1000 * $max")" \
			"$(calc '"%.1f"' "1000 * ${exp_self[$n]:-0}")" "$(calc '"%.0f"' "$em / $c5m")" \
			"${EARLIER[scrape.$n]:+~${EARLIER[scrape.$n]}}" "${scr_info[c5.$n]%% *}/${scr_info[exp.$n]%% *}"
	done
	blank
	say "Growth, as the exponent k of time ~ size^k from ${scrape_sizes[0]} to ${scrape_sizes[-1]} sales: c5metrics $(slope c5),"
	say "exporter $(slope exp) (1 = linear).  earlier: the exporter's time measured before (ms).  samples:"
	say "non-comment lines of the bodies, c5metrics/exporter (the exporter's include its own go_ and"
	say "process_ metrics; c5metrics' every series of the catalog, most of them still 0 here)."
	blank
	say "The exporter's queries one by one (psql \`\\timing\`, median of 3, ms):"
	blank
	local -a hdr=(query) row
	for n in "${scrape_sizes[@]}"; do hdr+=("$n sales"); done
	T_W=(20 13 13 13 13); T_A=""
	thead "${hdr[@]}"
	for q in "${EXP_Q_NAMES[@]}"; do
		row=("$q")
		for n in "${scrape_sizes[@]}"; do row+=("${qt[$q.$n]}"); done
		trow "${row[@]}"
	done
	blank
	# shellcheck disable=SC2016
	say "Queries: $(for q in "${EXP_Q_NAMES[@]}"; do printf '`%s`: `%s`; ' "$q" "${EXP_Q[$q]}"; done | sed 's/; $//')."
	scrape_x=$(calc '"%.0f"' "$(median "${scr[exp.${scrape_sizes[-1]}]}") / $(median "${scr[c5.${scrape_sizes[-1]}]}")")
}

# ---------------------------------------------------------------------------
# 5. Memory
# ---------------------------------------------------------------------------

declare -A memv

mem_sample()				# moment
{
	local w eb
	w=$(backend_pid 'c5metrics http listener')
	[[ -n $w ]] || die "no c5metrics http listener among the children of the postmaster"
	memv[$1.worker]=$(proc_mem "$w")
	if [[ -n $exporter_pid ]] && kill -0 "$exporter_pid" 2>/dev/null; then
		memv[$1.exporter]=$(proc_mem "$exporter_pid")
		eb=$(psql_ -At -c "SELECT pid FROM pg_stat_activity WHERE application_name = 'postgres_exporter' LIMIT 1")
		[[ -n $eb ]] && memv[$1.expbackend]=$(proc_mem "$eb")
	fi
	shmem=$(psql_ -At -F '|' -c "SELECT string_agg(name || ' ' || allocated_size, ', ' ORDER BY name), sum(allocated_size)
		FROM pg_shmem_allocations WHERE name LIKE 'c5metrics%'")
}

report_mem()
{
	local m p r h a
	section "4. Memory"
	say "c5metrics' shared memory (pg_shmem_allocations, bytes, default settings): ${shmem##*|} in all (${shmem%|*})."
	blank
	T_W=(36 20 9 9 10); T_A=llrrr
	thead process moment "VmRSS kB" "VmHWM kB" "RssAnon kB"
	for m in start end; do
		for p in worker exporter expbackend; do
			[[ -n ${memv[$m.$p]:-} ]] || continue
			read -r r h a <<<"${memv[$m.$p]}"
			case $p in
				worker) pl="B c5metrics http listener (worker)" ;;
				exporter) pl="D prometheus-postgres-exporter" ;;
				expbackend) pl="D the exporter's PostgreSQL backend" ;;
			esac
			trow "$pl" "$(mem_label "$m")" "$r" "$h" "$a"
		done
	done
	blank
	say "VmRSS includes the shared memory a process has touched; RssAnon is its private memory."
	[[ -n ${counters_size:-} ]] && say "C's storage: the counters table, $counters_size after the rate rounds."
	return 0
}

mem_label()
{
	case $1 in
		start) echo "after start" ;;
		end) echo "after ${scrape_sizes[-1]} sales" ;;
	esac
}

# ---------------------------------------------------------------------------
# Targets
# ---------------------------------------------------------------------------

verdict()					# text ok(0|1|2) figures
{
	case $2 in
		1) trow "$1" "MET" "$3" ;;
		0) trow "$1" "NOT MET" "$3" ;;
		*) trow "$1" "NOT RESOLVED" "$3" ;;
	esac
}

tps_verdict()				# text "ratios per round" extra
{
	local med min max ok
	read -r med min max <<<"$(stats "$2" %.3f)"
	ok=$(awk -v m="$med" -v t="$TARGET_TPS" 'BEGIN { print (m >= t) ? 1 : 0 }')
	verdict "$1" "$ok" "$med (rounds $min-$max)${3:+; $3}"
}

report_targets()
{
	local f c ok rmin rmax
	section "Targets"
	T_W=(64 8 40); T_A=lll
	thead target verdict measured
	c=${clients_list[-1]}
	if ((do_tps)); then
		# On the median of the per-round ratios (each round's variants run
		# back to back, so drift cancels); min-max beside it
		tps_verdict "B >= $TARGET_TPS x A, sale -> paid, $c clients" "${round_ratio[pay.$c.shop]}" \
			"$( ((do_callgrind)) && echo "CPU: A/B ${txr[pay.shop]}")"
		tps_verdict "B' (capture, no guard) >= $TARGET_TPS x A, refund, $c clients" "${round_ratio[refund.$c.shopng]}" \
			"$( ((do_callgrind)) && echo "CPU: A/B' ${txr[refund.shopng]}")"
		tps_verdict "B (with the opt-in guard) >= $TARGET_TPS x A+G, refund, $c clients" "${round_ratio_g[refund.$c]}" \
			"$( ((do_callgrind)) && echo "CPU: (A+G)/B $(calc '"%.3f"' "$(per_tx_ir refund bareg) / $(per_tx_ir refund shop)")")"
		tps_verdict "B (with the opt-in guard) >= $TARGET_TPS x A, refund, $c clients" "${round_ratio[refund.$c.shop]}" \
			"$( ((do_callgrind)) && echo "CPU: A/B ${txr[refund.shop]}")"
	fi
	if ((do_tps && MIX_ROUNDS > 0)); then
		tps_verdict "interleaved: B >= $TARGET_TPS x A, sale -> paid, $c clients" "${mix_ratio[pay.bare.shop]}"
		tps_verdict "interleaved: B' (capture) >= $TARGET_TPS x A, refund, $c clients" "${mix_ratio[refund.bare.shopng]}"
		tps_verdict "interleaved: B (with the guard) >= $TARGET_TPS x A+G, refund, $c clients" "${mix_ratio[refund.bareg.shop]}"
		tps_verdict "interleaved: B (with the guard) >= $TARGET_TPS x A, refund, $c clients" "${mix_ratio[refund.bare.shop]}"
	fi
	if ((do_callgrind)); then
		ok=$(awk -v p="$ir_pct" -v t="$TARGET_IR_PCT" 'BEGIN { print (p <= t) ? 1 : 0 }')
		verdict "B adds <= $TARGET_IR_PCT % instructions per row (bulk insert, $CG_ROWS rows)" "$ok" \
			"$(calc '"%+.2f %%"' "$ir_pct") (vs D $(calc '"%+.2f %%"' "$ir_pct_d"))"
	fi
	if ((do_scrape)); then
		local s; s=$(slope c5)
		ok=$(awk -v s="$s" -v t="$FLAT_SLOPE" 'BEGIN { print (s <= t) ? 1 : 0 }')
		verdict "B's scrape flat in table size (exponent <= $FLAT_SLOPE)" "$ok" "exponent $s (exporter $(slope exp))"
		ok=$(awk -v x="$scrape_x" -v t="$TARGET_SCRAPE_X" 'BEGIN { print (x >= t) ? 1 : 0 }')
		verdict "B's scrape >= ${TARGET_SCRAPE_X}x faster than the exporter at ${scrape_sizes[-1]} sales" "$ok" "${scrape_x}x"
	fi
}

# ---------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------

declare -A tpsr txr
ir_pct=""; ir_pct_d=""; scrape_x=""; counters_size=""; counted_note=""; shmem=""
rev=$(git -C "$repo" describe --always --dirty 2>/dev/null || echo unknown)
start=$SECONDS

md "# c5metrics against the alternatives"
md ""
out "c5metrics against the alternatives -- $(date -u '+%Y-%m-%d %H:%M UTC'), c5metrics $rev,"
out "$("$BINDIR/postgres" --version)${exporter_version:+, prometheus-postgres-exporter $exporter_version}$( ((do_callgrind)) && echo ", $(valgrind --version)"), $(nproc) CPUs"
md "$(date -u '+%Y-%m-%d %H:%M UTC'), c5metrics \`$rev\`, $("$BINDIR/postgres" --version)${exporter_version:+, prometheus-postgres-exporter $exporter_version}$( ((do_callgrind)) && echo ", $(valgrind --version)"), $(nproc) CPUs ($(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo))."
md ""
md "Command: \`bench/alternatives.sh${ORIG_ARGS[*]:+ ${ORIG_ARGS[*]}}\` (run as root)."
md ""
md "| variant | schema | what it is |"
md "|:---|:---|:---|"
md "| A | \`bare\` | \`create_reference_schema('bare', track => false)\`: no triggers, the baseline |"
md "| B | \`shop\` | \`create_reference_schema('shop')\`: tracked by c5metrics, scraped on its HTTP worker |"
md "| B' | \`shopng\` | B with its refunds attached without \`sales_table\`: no over-refund guard (refund rate rounds only) |"
md "| A+G | \`bareg\` | A with the over-refund check written by hand: a PL/pgSQL BEFORE INSERT trigger on refunds locking the sale (\`SELECT ... FOR NO KEY UPDATE\`), summing its refunds and raising (refund rate rounds only) |"
md "| C | \`plpg\` | untracked; PL/pgSQL AFTER ROW triggers on the sales status change, stock movements and refunds, each \`INSERT INTO plpg.counters ... ON CONFLICT (metric, labels) DO UPDATE SET value = value + 1\` |"
md "| D | \`exp\` | untracked, no triggers; prometheus-postgres-exporter with \`--extend.query-path\` queries that compute the business figures with \`count(*) ... GROUP BY\` at every scrape, default metrics and collectors off |"

make_template
if ((do_callgrind)); then
	run_callgrind
fi

as_pg cp -a "$OUT/template" "$OUT/data"
start_server "$OUT/data"
mem_sample start
if ((do_tps || do_scrape)); then
	start_exporter
	mem_sample start
fi
if ((do_bulk)); then
	run_bulk
fi
if ((do_tps)); then
	run_tps
fi
if ((do_scrape)); then
	run_scrape
fi
mem_sample end
[[ -n $exporter_pid ]] && { kill -TERM "$exporter_pid" 2>/dev/null; wait "$exporter_pid" 2>/dev/null || true; exporter_pid=""; }
stop_server

((do_tps)) && report_tps
((do_tps && MIX_ROUNDS > 0)) && report_mix
((do_callgrind)) && report_tx
((do_callgrind)) && report_callgrind
((do_bulk)) && report_bulk
((do_scrape)) && report_scrape
report_mem
report_targets
blank
say "done in $((SECONDS - start)) s; files in $OUT (this report: $OUT/report.md)"
