#!/usr/bin/env bash
#
# capture_cost.sh -- per-row capture cost of c5metrics.
#
# Two measurements, each of c5metrics against a baseline run side by side
# in the same cluster, on identical data:
#
#  1. Instructions, deterministically: valgrind --tool=callgrind around a
#     single-user backend (postgres --single) that runs exactly one
#     statement, once with ROWS rows and once with 0 rows; the difference
#     of the totals divided by ROWS is the cost of one row, including its
#     share of commit.  Every run starts from a fresh copy of the same
#     template cluster.  Statements:
#       insert: INSERT ... SELECT of ROWS 'consume' stock movements, each
#               with a distinct sale_id
#       update: UPDATE of ROWS sales' status from 'pending' to 'paid'
#     Variants (schemas made by c5metrics.create_reference_schema):
#       bare       schema bare, no triggers (track => false): the baseline
#       c5metrics  schema shop, tracked by c5metrics
#       untracked  schema shop after c5metrics.untrack(): the very same
#                  tables as c5metrics (same files, same OIDs), so this
#                  baseline is free of layout effects such as hash-table
#                  collisions of relation OIDs, which move a run by up to
#                  ~0.1 % between otherwise identical schemas
#       noop       schema noop, no c5metrics, but one near-empty C BEFORE
#                  ROW trigger that ships with PostgreSQL: lo_manage('id')
#                  (contrib lo) before INSERT and
#                  suppress_redundant_updates_trigger() before UPDATE OF
#                  status.  It shows what any C row trigger costs; skipped
#                  when contrib lo is not installed.
#
#  2. Wall time of WALL_ROWS rows per statement on a normal server over a
#     unix socket, bare and shop alternating for ROUNDS rounds (after one
#     warm-up round), each statement on freshly reloaded, frozen tables
#     right after a CHECKPOINT; median ns/row.
#
# Run as root (it then runs every server process as the OS user postgres)
# or as a non-root user that can run initdb.  It needs c5metrics built and
# installed (make && make install) and installs valgrind with apt-get when
# it is missing.  Everything it creates is under OUT (default
# bench/out/capture_cost, git-ignored) and a private socket directory in
# /tmp; it stops every process it started, also on error or Ctrl-C.
#
# Usage: bench/capture_cost.sh [options]; see --help.

set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lib.sh"

ROWS=${ROWS:-20000}
WALL_ROWS=${WALL_ROWS:-200000}
ROUNDS=${ROUNDS:-5}
PORT=${PORT:-56471}
OUT=${OUT:-$here/out/capture_cost}
TARGET_PCT=1.0				# issue target: at most +1 % on the movement insert
do_callgrind=1
do_wall=1
do_noop=1
keep_data=0
report_only=0

usage()
{
	cat <<EOF
Usage: $0 [options]

  --rows N        rows of each callgrind statement (default $ROWS)
  --wall-rows N   rows of each wall-time statement (default $WALL_ROWS)
  --rounds N      wall-time rounds after the warm-up (default $ROUNDS)
  --port N        port of the wall-time server, 56000-56999 (default $PORT;
                  it listens on a private unix socket only)
  --out DIR       output directory (default $OUT)
  --quick         smoke run: --rows 2000 --wall-rows 20000 --rounds 2
  --no-callgrind  skip the instruction counts
  --no-wall       skip the wall-time part
  --no-noop       skip the near-empty C trigger reference
  --keep-data     keep the data directories under OUT
  --report-only   print the instruction tables again from the callgrind
                  files of an earlier run in OUT (same --rows), run nothing
  -h, --help      this help

Environment: PG_CONFIG (default pg_config) selects the PostgreSQL install.
Results: the tables on stdout, also in OUT/results.txt; callgrind files in
OUT/callgrind (open with callgrind_annotate or kcachegrind), logs in OUT/log.
EOF
}

while [[ $# -gt 0 ]]; do
	case $1 in
		--rows) ROWS=$2; shift ;;
		--wall-rows) WALL_ROWS=$2; shift ;;
		--rounds) ROUNDS=$2; shift ;;
		--port) PORT=$2; shift ;;
		--out) OUT=$2; shift ;;
		--quick) ROWS=2000; WALL_ROWS=20000; ROUNDS=2 ;;
		--no-callgrind) do_callgrind=0 ;;
		--no-wall) do_wall=0 ;;
		--no-noop) do_noop=0 ;;
		--keep-data) keep_data=1 ;;
		--report-only) report_only=1; do_wall=0 ;;
		-h|--help) usage; exit 0 ;;
		*) echo "unknown option: $1 (see --help)" >&2; exit 2 ;;
	esac
	shift
done

for v in ROWS WALL_ROWS ROUNDS PORT; do
	[[ ${!v} =~ ^[0-9]+$ ]] || die "$v must be a number"
done
((ROWS > 0 && WALL_ROWS > 0 && ROUNDS > 0)) || die "row counts and rounds must be positive"
((PORT >= 56000 && PORT <= 56999)) || die "--port must be in 56000-56999"

# ---------------------------------------------------------------------------
# Preflight
# ---------------------------------------------------------------------------

bench_preflight postgres initdb
if ((do_noop)) && [[ ! -f $SHAREDIR/extension/lo.control ]]; then
	note "contrib lo is not installed: skipping the near-empty C trigger reference"
	do_noop=0
fi

bench_as_postgres
if ((do_callgrind)) && ! { command -v valgrind && command -v callgrind_annotate; } >/dev/null; then
	bench_apt_install valgrind
fi

# ---------------------------------------------------------------------------
# Work directories and cleanup
# ---------------------------------------------------------------------------

mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
if ((!report_only)); then
	rm -rf "$OUT"/template "$OUT"/template-untracked "$OUT"/run "$OUT"/wall "$OUT"/callgrind "$OUT"/log
fi
rm -f "$OUT"/results.txt
scratch=("$OUT"/template "$OUT"/template-untracked "$OUT"/run "$OUT"/wall)
child=""					# pid of the single-user backend under valgrind, if running
bench_on_exit() { bench_kill "$child"; }
bench_workdir callgrind log

# ---------------------------------------------------------------------------
# SQL
# ---------------------------------------------------------------------------

insert_sql()				# schema rows
{
	echo "INSERT INTO $1.stock_movements (movement_type, product_id, lot_id, sale_id, quantity) SELECT 'consume', 1, 1, g, 1 FROM generate_series(1, $2) g;"
}

update_sql()				# schema rows
{
	echo "UPDATE $1.sales SET status = 'paid' WHERE id BETWEEN 1 AND $2 AND status = 'pending';"
}

# Sales 1..rows 'pending', no movements, frozen and analyzed.
reload_sql()				# schema rows
{
	cat <<EOF
SET client_min_messages = warning;
TRUNCATE $1.stock_movements, $1.sales CASCADE;
INSERT INTO $1.sales (id, status, total) SELECT g, 'pending', 10 FROM generate_series(1, $2) g;
VACUUM (FREEZE, ANALYZE) $1.sales, $1.stock_movements;
EOF
}

seed_sql()					# schema rows
{
	cat <<EOF
INSERT INTO $1.products (id, sku, name, price) VALUES (1, 'SKU-1', 'Serum', 10);
INSERT INTO $1.stock_lots (id, product_id, expires_on, quantity_on_hand)
VALUES (1, 1, '2099-12-31', 1000000);
VACUUM (FREEZE, ANALYZE) $1.products, $1.stock_lots;
EOF
	reload_sql "$1" "$2"
}

schemas=(bare shop)
((do_noop)) && schemas+=(noop)
variants=(bare c5metrics untracked)
((do_noop)) && variants+=(noop)

schema_of()					# variant
{
	case $1 in
		c5metrics|untracked) echo shop ;;
		*) echo "$1" ;;
	esac
}

template_of()				# variant
{
	if [[ $1 == untracked ]]; then echo "$OUT/template-untracked"; else echo "$OUT/template"; fi
}

label_of()					# variant
{
	case $1 in
		bare) echo "bare" ;;
		c5metrics) echo "c5metrics" ;;
		untracked) echo "same tables, untracked" ;;
		noop) echo "near-empty C trigger" ;;
	esac
}

setup_sql()
{
	cat <<'EOF'
SET client_min_messages = warning;
CREATE EXTENSION c5metrics;
SELECT c5metrics.create_reference_schema('bare', track => false);
SELECT c5metrics.create_reference_schema('shop');
EOF
	if ((do_noop)); then
		cat <<'EOF'
CREATE EXTENSION lo;
SELECT c5metrics.create_reference_schema('noop', track => false);
CREATE TRIGGER zz_noop BEFORE INSERT ON noop.stock_movements
  FOR EACH ROW EXECUTE FUNCTION public.lo_manage('id');
CREATE TRIGGER zz_noop BEFORE UPDATE OF status ON noop.sales
  FOR EACH ROW EXECUTE FUNCTION pg_catalog.suppress_redundant_updates_trigger();
EOF
	fi
}

# ---------------------------------------------------------------------------
# Cluster helpers
# ---------------------------------------------------------------------------

# Preloading lo as well keeps its dlopen() out of the first trigger call;
# it is loaded in every case alike.
preload=c5metrics
((do_noop)) && preload+=,lo
single_opts=(-c "shared_preload_libraries=$preload")

make_template()
{
	local dir=$OUT/template s

	bench_initdb "$dir" "$OUT/log/initdb.log" -E UTF8 --locale=C --no-sync <<EOF
jit = off			# JIT would add large compile costs to 20k-row plans
autovacuum = off		# no background work between and during runs
fsync = off			# throwaway cluster
huge_pages = off
shared_buffers = 256MB
max_wal_size = 8GB		# no checkpoint inside a measured statement
checkpoint_timeout = 1h
lc_messages = 'C'
EOF
	bench_start "$dir" "$OUT/log/server.log"
	DB=postgres psql_ -c "CREATE DATABASE bench" >/dev/null
	setup_sql | psql_ >/dev/null
	for s in "${schemas[@]}"; do
		seed_sql "$s" "$ROWS" | psql_ >/dev/null
	done
	psql_ -c CHECKPOINT
	bench_stop

	# The same cluster with c5metrics detached from the measured tables.
	as_pg cp -a "$dir" "$OUT/template-untracked"
	printf '%s\n' "SELECT c5metrics.untrack('shop.stock_movements');" \
		"SELECT c5metrics.untrack('shop.sales');" |
		as_pg "$BINDIR/postgres" --single -D "$OUT/template-untracked" bench \
		>"$OUT/log/untrack.log" 2>&1 || die "untrack failed, see $OUT/log/untrack.log"
	[[ $(single_value "$OUT/template-untracked" "SELECT count(*) AS v FROM c5metrics.tracked WHERE table_name::text IN ('shop.stock_movements', 'shop.sales')") == 0 ]] ||
		die "untrack did not detach shop.stock_movements and shop.sales"
}

# ---------------------------------------------------------------------------
# 1. Instructions
# ---------------------------------------------------------------------------

declare -A ir				# [op.variant.rows] = total Ir of the run

cg_run()					# op variant rows
{
	local op=$1 v=$2 n=$3 name=$1.$2.$3 run=$OUT/run got want check s

	s=$(schema_of "$v")
	rm -rf "$run"
	as_pg cp -a "$(template_of "$v")" "$run"
	"${op}_sql" "$s" "$n" >"$OUT/log/$name.sql"
	as_pg valgrind --tool=callgrind --callgrind-out-file="$OUT/callgrind/$name.out" \
		"$BINDIR/postgres" --single -D "$run" "${single_opts[@]}" bench \
		<"$OUT/log/$name.sql" >"$OUT/log/$name.log" 2>&1 &
	child=$!
	wait "$child" || die "callgrind run $name failed, see $OUT/log/$name.log"
	child=""
	if grep -qE '^(ERROR|FATAL|PANIC)|^[[:space:]]*(ERROR|FATAL|PANIC):' "$OUT/log/$name.log"; then
		die "callgrind run $name reported an error, see $OUT/log/$name.log"
	fi

	# Check that the statement did what it should, and that c5metrics counted it.
	if [[ $op == insert ]]; then
		check="SELECT count(*) AS v FROM $s.stock_movements WHERE movement_type = 'consume'"
	else
		check="SELECT count(*) AS v FROM $s.sales WHERE status = 'paid'"
	fi
	got=$(single_value "$run" "$check")
	[[ $got == "$n" ]] || die "$name: expected $n rows changed, found '$got'"
	if [[ $s == shop ]]; then
		if [[ $op == insert ]]; then
			check="SELECT value::bigint AS v FROM c5metrics.metrics WHERE metric = 'flow_transactions_total' AND labels->>'flow' = 'stock' AND labels->>'result' = 'success'"
			want=$((n > 0 ? 1 : 0))
		else
			check="SELECT coalesce(sum(value), 0)::bigint AS v FROM c5metrics.metrics WHERE metric = 'sales_transition_total' AND labels->>'from_status' = 'pending' AND labels->>'to_status' = 'paid' AND labels->>'result' = 'success'"
			want=$n
		fi
		[[ $v == untracked ]] && want=0
		got=$(single_value "$run" "$check")
		[[ $got == "$want" ]] || die "$name: c5metrics counted '$got', expected $want ($check)"
	fi

	ir[$name]=$(awk '/^(summary|totals):/ { print $2; exit }' "$OUT/callgrind/$name.out")
	[[ -n ${ir[$name]} ]] || die "no total in $OUT/callgrind/$name.out"
	rm -rf "$run"
}

per_row()					# op schema -> instructions per row
{
	awk -v a="${ir[$1.$2.$ROWS]}" -v b="${ir[$1.$2.0]}" -v n="$ROWS" \
		'BEGIN { printf "%.0f", (a - b) / n }'
}

# Cost of each function in one callgrind file: "name<TAB>Ir", self cost,
# or inclusive cost with --inclusive=yes.  Names are shortened to
# "file.c:function (object)"; functions of a stripped object show as an
# address, with the exported symbol that precedes it as a hint.
fn_costs()					# file [--inclusive=yes]
{
	# from /: callgrind_annotate splits a function whose relative source
	# path (src/triggers.c) happens to resolve from the working directory
	(cd / && callgrind_annotate --auto=no --threshold=100 "${@:2}" "$1") 2>/dev/null |
		awk '
			/file:function/ { on = 1; next }
			on && /^[ \t]*$/ && seen { exit }
			on && $1 ~ /^[0-9,]+$/ {
				seen = 1
				c = $1; gsub(",", "", c)
				f = $0; sub(/^[ \t]*[0-9,]+[ \t]+(\([^)]*\)[ \t]+)?/, "", f)
				obj = "inlined"		# code of an inline function from another file
				if (f ~ / \[.*\]$/) {
					obj = f; sub(/^.* \[/, "", obj); sub(/\]$/, "", obj); sub(/^.*\//, "", obj)
				}
				# valgrind names some libc code after ld.so or libc at random
				if (obj ~ /^(libc\.so|ld-linux)/) obj = "libc"
				sub(/ \[.*$/, "", f)
				sub(/^\?\?\?:/, "", f); sub(/^[^:]*\//, "", f)
				cost[f " (" obj ")"] += c
			}
			END { for (f in cost) printf "%s\t%s\n", f, cost[f] }'
}

# Per-row cost of each function: (cost in the ROWS run - cost in the 0 run) / ROWS.
fn_per_row()				# op variant [--inclusive=yes]
{
	local tmp=$OUT/log/fn

	fn_costs "$OUT/callgrind/$1.$2.$ROWS.out" "${@:3}" >"$tmp.a"
	fn_costs "$OUT/callgrind/$1.$2.0.out" "${@:3}" >"$tmp.b"
	awk -F'\t' -v n="$ROWS" '
		FNR == 1 { part++ }
		part == 1 { a[$1] += $2; k[$1] = 1 }
		part == 2 { b[$1] += $2; k[$1] = 1 }
		END { for (f in k) printf "%s\t%.3f\n", f, (a[f] - b[f]) / n }' "$tmp.a" "$tmp.b"
	rm -f "$tmp.a" "$tmp.b"
}

# "0x... (postgres)" -> "0x... (postgres; static, between <symbol> and <symbol>)":
# the exported symbols around the address tell which source file it is in.
name_hints()
{
	local syms=$OUT/log/postgres.dynsyms

	if [[ ! -f $syms ]] && command -v nm >/dev/null; then
		nm -D --defined-only "$BINDIR/postgres" 2>/dev/null |
			awk '$2 ~ /^[Tt]$/ { print $1, $3 }' | sort >"$syms" || true
	fi
	if [[ ! -s $syms ]]; then
		cat
		return
	fi
	awk -v syms="$syms" '
		BEGIN {
			while ((getline l < syms) > 0) { split(l, p, " "); a[++n] = p[1]; s[n] = p[2] }
		}
		function hexval(h,   i, v, c) {
			v = 0; h = tolower(h); sub(/^0x/, "", h)
			for (i = 1; i <= length(h); i++) v = v * 16 + index("0123456789abcdef", substr(h, i, 1)) - 1
			return v
		}
		{
			if (match($0, /0x[0-9a-f]+ \(postgres\)/)) {
				v = hexval(substr($0, RSTART, RLENGTH - 11)); lo = ""; hi = ""
				for (i = 1; i <= n; i++)
					if (hexval(a[i]) <= v) lo = s[i]; else { hi = s[i]; break }
				if (lo != "")
					sub(/ \(postgres\)/, " (postgres; static, between " lo " and " hi ")")
			}
			print
		}'
}

# The functions whose per-row self cost grows most from one variant to another.
self_diff()					# op from-variant to-variant count
{
	local tmp=$OUT/log/diff

	fn_per_row "$1" "$2" >"$tmp.a"
	fn_per_row "$1" "$3" >"$tmp.b"
	awk -F'\t' '
		FNR == 1 { part++ }
		part == 1 { a[$1] = $2; k[$1] = 1 }
		part == 2 { b[$1] = $2; k[$1] = 1 }
		END { for (f in k) printf "%.1f\t%s\n", b[f] - a[f], f }' "$tmp.a" "$tmp.b" |
		sort -t $'\t' -k1,1gr | awk -F'\t' -v k="$4" '
			NR <= k && $1 >= 1 { printf "    %9.1f  %s\n", $1, $2 }' | name_hints
	rm -f "$tmp.a" "$tmp.b"
}

# Inclusive per-row cost of the c5metrics functions.
c5_inclusive()				# op
{
	fn_per_row "$1" c5metrics --inclusive=yes |
		grep -E '\(c5metrics\.so\)|:c5m[a-z_]*[ .].*\(inlined\)' | sort -t $'\t' -k2,2gr |
		awk -F'\t' '$2 >= 1 {
			f = $1; sub(/ \(c5metrics\.so\)/, "", f); sub(/ \(inlined\)/, " (inlined code)", f)
			printf "    %9.1f  %s\n", $2, f
		}'
}

stmt_of()					# op
{
	if [[ $1 == insert ]]; then echo "INSERT consume movements"; else echo "UPDATE sales pending->paid"; fi
}

# "+857 (+0.72 %)": per-row instructions of variant a over variant b.
added()						# op a b
{
	awk -v a="$(per_row "$1" "$2")" -v b="$(per_row "$1" "$3")" \
		'BEGIN { printf "%+d (%+.2f %%)", a - b, 100 * (a - b) / b }'
}

run_callgrind()
{
	local op v n c k=0 total pct
	local -a cases=()

	for op in insert update; do
		for v in "${variants[@]}"; do
			for n in 0 "$ROWS"; do
				cases+=("$op $v $n")
			done
		done
	done
	total=${#cases[@]}
	for c in "${cases[@]}"; do
		read -r op v n <<<"$c"
		k=$((k + 1))
		if ((report_only)); then
			ir[$op.$v.$n]=$(awk '/^(summary|totals):/ { print $2; exit }' "$OUT/callgrind/$op.$v.$n.out")
			[[ -n ${ir[$op.$v.$n]} ]] || die "no total in $OUT/callgrind/$op.$v.$n.out"
			continue
		fi
		note "callgrind $k/$total: $op $v $n rows ($((SECONDS - start)) s so far)"
		cg_run "$op" "$v" "$n"
	done

	out ""
	out "Instructions per row: callgrind on postgres --single, one statement per run,"
	out "(Ir($ROWS rows) - Ir(0 rows)) / $ROWS, each run on a fresh copy of one template."
	out ""
	out "$(printf '%-50s %6s %10s %10s %18s' case rows instr/row added/row 'ratio vs bare')"
	for op in insert update; do
		local base pr add ratio
		base=$(per_row "$op" bare)
		for v in "${variants[@]}"; do
			pr=$(per_row "$op" "$v")
			if [[ $v == bare ]]; then
				add="-"; ratio="1.0000"
			else
				add=$(awk -v a="$pr" -v b="$base" 'BEGIN { printf "%+d", a - b }')
				ratio=$(awk -v a="$pr" -v b="$base" 'BEGIN { printf "%.4f (%+.2f %%)", a / b, 100 * (a - b) / b }')
			fi
			out "$(printf '%-50s %6d %10d %10s %18s' "$(stmt_of "$op"), $(label_of "$v")" "$ROWS" "$pr" "$add" "$ratio")"
		done
	done
	out ""
	out "same tables, untracked: schema shop after c5metrics.untrack(), a second baseline"
	out "  without the layout differences between two schemas."
	if ((do_noop)); then
		out "near-empty C trigger: no c5metrics; lo_manage('id') BEFORE INSERT ROW,"
		out "  suppress_redundant_updates_trigger() BEFORE UPDATE OF status ROW: what any"
		out "  C BEFORE ROW trigger costs."
	fi
	out ""
	for op in insert update; do
		out "$(printf '%-27s c5metrics vs bare %-18s vs same tables untracked %s' \
			"$(stmt_of "$op"):" "$(added "$op" c5metrics bare)," "$(added "$op" c5metrics untracked)")"
		if ((do_noop)); then
			out "$(printf '%-27s c5metrics vs near-empty C trigger %s' "" "$(added "$op" c5metrics noop)")"
		fi
	done

	pct=$(awk -v a="$(per_row insert c5metrics)" -v b="$(per_row insert bare)" \
		'BEGIN { printf "%.2f", 100 * (a - b) / b }')
	out ""
	if awk -v p="$pct" -v t="$TARGET_PCT" 'BEGIN { exit !(p <= t) }'; then
		out "target (c5metrics adds at most $TARGET_PCT % on the movement insert, vs bare): MET, +$pct %"
	else
		out "target (c5metrics adds at most $TARGET_PCT % on the movement insert, vs bare): NOT MET, +$pct %"
	fi

	for op in insert update; do
		out ""
		out "Where the added instructions go, $op: per-row self cost, c5metrics minus"
		out "same tables untracked, top 15 (static PostgreSQL functions show as addresses):"
		out "$(self_diff "$op" untracked c5metrics 15)"
		out "c5metrics functions, inclusive instructions per row ($op):"
		out "$(c5_inclusive "$op")"
	done
}

# ---------------------------------------------------------------------------
# 2. Wall time
# ---------------------------------------------------------------------------

declare -A wall				# [op.schema] = "ms ms ms ..."

timed()						# sql -> milliseconds
{
	psql_ -c '\timing on' -c "$1" | awk '/^Time: / { print $2 }'
}

run_wall()
{
	local r op s ms order

	rm -rf "$OUT/wall"
	as_pg cp -a "$OUT/template" "$OUT/wall"
	bench_start "$OUT/wall" "$OUT/log/server.log"
	for ((r = 0; r <= ROUNDS; r++)); do
		if ((r % 2)); then order=(bare shop); else order=(shop bare); fi
		note "wall time round $r/$ROUNDS$( ((r == 0)) && echo ' (warm-up, not counted)')"
		for op in insert update; do
			for s in "${order[@]}"; do
				{ reload_sql "$s" "$WALL_ROWS"; echo "CHECKPOINT;"; } | psql_ >/dev/null
				ms=$("timed" "$("${op}_sql" "$s" "$WALL_ROWS")")
				[[ -n $ms ]] || die "no timing for $op $s"
				((r == 0)) || wall[$op.$s]+="$ms "
			done
		done
	done
	bench_stop

	out ""
	out "Wall time: $WALL_ROWS rows per statement via psql, bare and c5metrics alternating,"
	out "$ROUNDS rounds after a warm-up, fresh frozen tables and a CHECKPOINT before each."
	out ""
	out "$(printf '%-46s %7s %11s %11s %11s %15s' case rows 'median ns' 'min ns' 'max ns' 'ratio vs bare')"
	for op in insert update; do
		local stmt base
		if [[ $op == insert ]]; then stmt="INSERT consume movements"; else stmt="UPDATE sales pending->paid"; fi
		base=$(stats "${wall[$op.bare]}" | cut -d' ' -f1)
		for s in bare shop; do
			local med min max ratio
			read -r med min max <<<"$(stats "${wall[$op.$s]}")"
			if [[ $s == bare ]]; then ratio="1.000"; else
				ratio=$(awk -v a="$med" -v b="$base" 'BEGIN { printf "%.3f (%+.1f %%)", a / b, 100 * (a - b) / b }')
			fi
			out "$(printf '%-46s %7d %11.0f %11.0f %11.0f %15s' \
				"$stmt, $([[ $s == bare ]] && echo bare || echo c5metrics)" "$WALL_ROWS" \
				"$med" "$min" "$max" "$ratio")"
		done
	done
	out "(per-round ms: $(for k in insert.bare insert.shop update.bare update.shop; do printf '%s=[%s] ' "$k" "${wall[$k]% }"; done))"
}

stats()						# "ms ms ..." -> "median min max" in ns per row
{
	tr ' ' '\n' <<<"$1" | awk NF | sort -g | awk -v n="$WALL_ROWS" '
		{ v[NR] = $1 * 1e6 / n }
		END {
			m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
			printf "%.1f %.1f %.1f\n", m, v[1], v[NR]
		}'
}

# ---------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------

rev=$(bench_rev)
out "c5metrics capture cost -- $(date -u '+%Y-%m-%d %H:%M UTC'), c5metrics $rev,"
out "$("$BINDIR/postgres" --version)$( ((do_callgrind)) && echo ", $(valgrind --version)"), $(nproc) CPUs"

start=$SECONDS
((report_only)) || make_template
((do_callgrind)) && run_callgrind
((do_wall)) && run_wall
out ""
out "done in $((SECONDS - start)) s; files in $OUT"
