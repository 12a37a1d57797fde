#!/usr/bin/env bash
# pg_upgrade across majors with c5metrics attached to the reference shop.
#
#   bash test/pg-upgrade.sh NEW_PG_CONFIG [OLD_PG_CONFIG]      # as root
#   bash test/pg-upgrade.sh "$(bash test/pg-build.sh 18 | tail -n 1)"
#
# OLD_PG_CONFIG defaults to Debian's PostgreSQL 15.  The script builds
# c5metrics from a copy of this tree and installs it into both
# installations (so both must be writable: a private copy made with
# test/lib.sh's c5_private_pgroot, or a prefix of test/pg-build.sh, rather
# than the system's if others use it), then, as the unprivileged user of
# test/lib.sh and in a temporary directory:
#   - the old cluster: initdb, c5metrics preloaded, CREATE EXTENSION,
#     c5load --init (the reference shop, attached), a c5load run with a
#     fixed seed and its ground truth, per-database and ALTER SYSTEM
#     settings; metrics, c5metrics.tracked and c5metrics.sli recorded; a
#     clean (fast) shutdown, which saves the registry and the SLI history;
#   - the new cluster: initdb with the old one's encoding, locale and
#     data-checksum setting, the same postgresql.conf lines, pg_upgrade
#     --copy, start;
# and checks, one "ok N - ..." or "not ok N - ..." line each, with "#"
# lines saying what was seen:
#   1. pg_upgrade succeeded; the new server runs the new major, c5metrics
#      loaded (its SQL functions answer, its HTTP worker serves /metrics);
#   2. the extension's version is the control file's default_version, and
#      ALTER EXTENSION c5metrics UPDATE changes nothing;
#   3. c5metrics.tracked lists the same attachments, none with a problem;
#   4. a second c5load run moves sales_paid_stock_consume_total,
#      sale_refunds_total and flow_transactions_total exactly as its ground
#      truth says;
#   5. the persisted state: pg_upgrade copies nothing of pg_stat/, where
#      the registry and the SLI history are saved, and c5metrics neither
#      loads nor saves state files under pg_upgrade (binary-upgrade mode),
#      nor starts its HTTP worker then; so the new cluster's first start
#      says "c5metrics has no saved registry: counting starts from zero",
#      its reset time is that start, every series of the second run's
#      ground truth equals that run alone, and the SLI history is empty;
#   6. the over-refund guard refuses an over-refund with 23M01 (and lets
#      the exact remainder through);
#   7. settings: per-database ones travel, postgresql.conf and ALTER SYSTEM
#      ones do not;
#   8. the old cluster's state files copied by hand into the new pg_stat/
#      are ignored, with a LOG line each (their layout is per major);
#   9. the old cluster, started again (--copy leaves it usable), still has
#      its counters, reset time and SLI history.
# Last line: "upgrade: N passed, M failed"; exit status 0 only when all
# passed.  Everything started is stopped and the temporary directory
# removed on exit (C5_UPGRADE_KEEP=1 keeps the directory, servers stopped).
# Only Unix sockets in the temporary directory, and the HTTP worker on a
# free loopback port in 56800-56899.
#
# Minor releases: pg_upgrade needs a new major at least as recent as the
# old server's minor release.  Debian 12's 15.20 (November 2026) stores a
# "pg_attver" attribute option on every column, which sid's 18.6 (August
# 2026) refuses: pg_upgrade 15.20 -> 18.6 fails restoring the first table,
# with or without c5metrics (check 1 then says so).  Until a later 18 is
# to be had, test from bookworm's 15.18, in a private root:
#   mkdir -m 777 /tmp/debs && cd /tmp/debs && apt-get download \
#     postgresql-15=15.18-0+deb12u1 postgresql-client-15=15.18-0+deb12u1 \
#     postgresql-server-dev-15=15.18-0+deb12u1
#   for f in /tmp/debs/*.deb; do dpkg-deb -x "$f" /tmp/pgroot-1518; done
#   cp -a /usr/include/postgresql/*.h /tmp/pgroot-1518/usr/include/postgresql/
#   bash test/pg-upgrade.sh NEW_PG_CONFIG /tmp/pgroot-1518/usr/lib/postgresql/15/bin/pg_config
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
unset PG_CONFIG
. test/lib.sh

[ $# -ge 1 ] && [ $# -le 2 ] || die "usage: bash test/pg-upgrade.sh NEW_PG_CONFIG [OLD_PG_CONFIG]"
NEW_PG_CONFIG=$1
OLD_PG_CONFIG=${2:-/usr/lib/postgresql/15/bin/pg_config}
[ "$(id -u)" -eq 0 ] || die "run as root: c5metrics is installed into both installations"
for c in "$OLD_PG_CONFIG" "$NEW_PG_CONFIG"; do
	[ -x "$c" ] || die "$c is not an executable pg_config"
done
major_of() { "$1" --version | sed -E 's/^PostgreSQL ([0-9]+).*/\1/'; }
old_major=$(major_of "$OLD_PG_CONFIG")
new_major=$(major_of "$NEW_PG_CONFIG")
[ "$new_major" -gt "$old_major" ] 2>/dev/null ||
	die "the new installation ($new_major) must be a later major than the old one ($old_major)"
old_bin=$("$OLD_PG_CONFIG" --bindir)
new_bin=$("$NEW_PG_CONFIG" --bindir)
c5_ensure_packages make gcc libmicrohttpd-dev zlib1g-dev curl
c5_ensure_user

started=$(date +%s)
work=$(mktemp -d /tmp/c5-pgupgrade.XXXXXX) || die "mktemp failed"
chown "$C5_USER" "$work" && chmod 700 "$work" || die "cannot hand $work to $C5_USER"
sock=$work/sock
old_data=$work/old
new_data=$work/new
old_port=56810
new_port=56811
export PGCONNECT_TIMEOUT=10

cleanup() {
	local side data bin
	for side in new old; do
		if [ "$side" = new ]; then data=$new_data bin=$new_bin; else data=$old_data bin=$old_bin; fi
		[ -f "$data/postmaster.pid" ] &&
			c5_as_user "$bin/pg_ctl" -D "$data" -m immediate -w -t 30 stop >/dev/null 2>&1
	done
	if [ "${C5_UPGRADE_KEEP:-}" = 1 ]; then
		say "kept $work"
	else
		rm -rf "$work"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

passed=0 failed=0 n=0
note() { printf '# %s\n' "$*"; }
result() {	# result STATUS DESCRIPTION [DETAIL...]: STATUS 0 passes
	local status=$1 desc=$2
	shift 2
	n=$((n + 1))
	if [ "$status" -eq 0 ]; then
		passed=$((passed + 1))
		printf 'ok %d - %s\n' "$n" "$desc"
	else
		failed=$((failed + 1))
		printf 'not ok %d - %s\n' "$n" "$desc"
	fi
	local l
	for l in "$@"; do [ -n "$l" ] && printf '#   %s\n' "$l"; done
	return 0
}
finish() {
	printf 'upgrade: %d passed, %d failed\n' "$passed" "$failed"
	[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
	exit
}
bail() {	# bail MESSAGE [LOG...]: setup failed, no further check can be made
	printf 'Bail out! %s\n' "$1"
	shift
	local f
	for f in "$@"; do
		[ -s "$work/$f" ] && { note "tail of $f:"; tail -n 15 "$work/$f" | sed 's/^/#   /'; }
	done
	[ "$failed" -gt 0 ] || failed=1
	finish
}

# psql on the old or the new cluster: q old|new [psql args...]
q() {
	local side=$1 bin port
	shift
	if [ "$side" = new ]; then bin=$new_bin port=$new_port; else bin=$old_bin port=$old_port; fi
	c5_as_user timeout 120 "$bin/psql" -X -q -At -v ON_ERROR_STOP=1 -h "$sock" -p "$port" \
		-U postgres -d postgres "$@"
}
c5load() {	# c5load old|new [options...]
	local port=$old_port
	[ "$1" = new ] && port=$new_port
	shift
	c5_as_user timeout 600 "$work/build-old/test/c5load/c5load" \
		-d "host=$sock port=$port user=postgres dbname=postgres" --quiet "$@"
}
qt() {	# qt old|new TRUTH-FILE SQL: SQL (on stdin: psql interpolates :'truth' there only)
	local truth
	truth=$(cat "$2" 2>/dev/null) || truth='{}'
	q "$1" -v truth="$truth" <<<"$3"
}
metric() {	# metric old|new NAME [LABELS-JSON]: sum of the matching series
	local labels=${3:-'{}'}
	q "$1" -c "SELECT coalesce(sum(value), 0) FROM c5metrics.metrics
		WHERE metric = '$2' AND labels @> '$labels'::jsonb"
}

# --- Build and install c5metrics (and c5load) into both installations ---
say "Building c5metrics for PostgreSQL $old_major and $new_major in $work..."
for side in old new; do
	if [ "$side" = new ]; then cfg=$NEW_PG_CONFIG; else cfg=$OLD_PG_CONFIG; fi
	mkdir "$work/build-$side" && c5_copy_sources "$work/build-$side" || bail "copying the sources failed"
	{ make -C "$work/build-$side" -s -j2 PG_CONFIG="$cfg" &&
		make -C "$work/build-$side" -s install PG_CONFIG="$cfg"; } >"$work/build-$side.log" 2>&1 ||
		bail "building or installing c5metrics into $("$cfg" --bindir) failed" "build-$side.log"
done
make -C "$work/build-old" -s test/c5load/c5load PG_CONFIG="$OLD_PG_CONFIG" >>"$work/build-old.log" 2>&1 ||
	bail "building c5load failed" build-old.log
control=$("$NEW_PG_CONFIG" --sharedir)/extension/c5metrics.control
default_version=$(sed -nE "s/^default_version *= *'([^']*)'.*/\1/p" "$control")
[ -n "$default_version" ] || bail "no default_version in $control"

http_port=$(c5_free_port 56800 56899) || bail "no free TCP port in 56800-56899"
c5_as_user mkdir -m 700 "$sock"
conf() {	# the same lines in both clusters' postgresql.conf
	cat >>"$1/postgresql.conf" <<EOF
shared_preload_libraries = 'c5metrics'
listen_addresses = ''
unix_socket_directories = '$sock'
port = $2
c5metrics.listen_addresses = '127.0.0.1'
c5metrics.port = $http_port
c5metrics.sli_sample_interval = 1
EOF
}

# --- The old cluster: the reference shop, a workload, a clean shutdown ---
say "Old cluster (PostgreSQL $old_major): initdb, the reference shop, c5load..."
c5_as_user "$old_bin/initdb" -D "$old_data" -A trust -U postgres -E UTF8 --locale=C.UTF-8 \
	>"$work/initdb-old.log" 2>&1 || bail "initdb of the old cluster failed" initdb-old.log
conf "$old_data" "$old_port"
c5_as_user "$old_bin/pg_ctl" -D "$old_data" -l "$work/server-old.log" -w -t 60 start >/dev/null ||
	bail "the old server did not start" server-old.log
q old -c 'CREATE EXTENSION c5metrics' || bail "CREATE EXTENSION failed on the old cluster" server-old.log
c5load old --init --transactions=0 >"$work/c5load-init.log" 2>&1 || bail "c5load --init failed" c5load-init.log
c5load old --clients=4 --transactions=2000 --seed=7 --json="$work/truth1.json" \
	>"$work/c5load-1.log" 2>&1 || bail "the first c5load run failed" c5load-1.log
# Settings of each kind, to see which travel.
q old <<'SQL' || bail "setting c5metrics settings on the old cluster failed"
ALTER DATABASE postgres SET c5metrics.objective_leads_availability = 98;
ALTER SYSTEM SET c5metrics.objective_refund_latency = 97;
SELECT pg_reload_conf() \g /dev/null
SQL
# The SLI history holds the run once a sample came after it.
for _ in $(seq 1 30); do
	[ "$(q old -c "SELECT coalesce(sum(total), 0) > 0 FROM c5metrics.sli WHERE window_name = '1h'")" = t ] && break
	sleep 1
done
q old -c 'SELECT metric, labels, value FROM c5metrics.metrics ORDER BY 1, 2::text' >"$work/metrics-old.txt"
q old -c 'SELECT table_name, flow, config, problem FROM c5metrics.tracked ORDER BY 1::text, 2' >"$work/tracked-old.txt"
q old -c 'SELECT slo, window_name, good, total FROM c5metrics.sli ORDER BY 1, 2' >"$work/sli-old.txt"
old_reset=$(metric old c5metrics_stats_reset_timestamp_seconds)
old_paid=$(metric old sales_paid_stock_consume_total '{"result": "success"}')
old_sli_total=$(q old -c "SELECT sum(total) FROM c5metrics.sli WHERE window_name = '1h'")
old_mismatches=$(qt old "$work/truth1.json" "
	SELECT count(*) FROM jsonb_array_elements(:'truth'::jsonb -> 'series') s
	  LEFT JOIN c5metrics.metrics m ON m.metric = s ->> 'metric' AND m.labels = s -> 'labels'
	 WHERE coalesce(m.value, 0) <> (s ->> 'value')::float8")
read -r enc collate ctype < <(q old -F ' ' -c "SELECT pg_encoding_to_char(encoding), datcollate, datctype
	FROM pg_database WHERE datname = 'template0'")
checksums=$(q old -c 'SHOW data_checksums')
note "old cluster: PostgreSQL $("$OLD_PG_CONFIG" --version | cut -d' ' -f2), $(wc -l <"$work/metrics-old.txt") series," \
	"$old_paid paid sales with consumption, $(wc -l <"$work/tracked-old.txt") attachments," \
	"SLI 1h window total $old_sli_total; run 1 against its ground truth: $old_mismatches series differ"
[ "$old_mismatches" = 0 ] || bail "the old cluster does not count run 1 exactly; nothing to upgrade"
c5_as_user "$old_bin/pg_ctl" -D "$old_data" -m fast -w -t 60 stop >/dev/null || bail "the old server did not stop" server-old.log
old_files=$(cd "$old_data/pg_stat" && ls c5metrics* 2>/dev/null | tr '\n' ' ')
note "old cluster's pg_stat/ after its clean shutdown: ${old_files:-no c5metrics file}"

# --- The new cluster and pg_upgrade ---
say "New cluster (PostgreSQL $new_major): initdb, pg_upgrade --copy..."
initdb_args=(-A trust -U postgres -E "$enc" --lc-collate="$collate" --lc-ctype="$ctype")
if [ "$checksums" = on ]; then
	initdb_args+=(--data-checksums)
elif [ "$new_major" -ge 18 ]; then
	initdb_args+=(--no-data-checksums)	# 18's initdb turns them on by default
fi
c5_as_user "$new_bin/initdb" -D "$new_data" "${initdb_args[@]}" >"$work/initdb-new.log" 2>&1 ||
	bail "initdb of the new cluster failed" initdb-new.log
conf "$new_data" "$new_port"
new_pgstat_before=$(cd "$new_data/pg_stat" && ls c5metrics* 2>/dev/null | tr '\n' ' ')
upgrade_start=$(date +%s)
(cd "$work" && c5_as_user timeout 1200 "$new_bin/pg_upgrade" --copy --retain \
	-b "$old_bin" -B "$new_bin" -d "$old_data" -D "$new_data" \
	-p "$old_port" -P "$new_port" -s "$sock" -U postgres) >"$work/pg_upgrade.log" 2>&1
upgrade_rc=$?
upgrade_end=$(date +%s)
new_files_after=$(cd "$new_data/pg_stat" 2>/dev/null && ls c5metrics* 2>/dev/null | tr '\n' ' ')
upgrade_c5_lines=$(cat "$new_data"/pg_upgrade_output.d/*/log/pg_upgrade_server.log 2>/dev/null |
	grep -oE '(LOG|WARNING|DETAIL):  (c5metrics|ignoring c5metrics|Counting starts|The SLI history).*' |
	sort | uniq -c | sed -E 's/^ *([0-9]+) /\1x /')

# 1. pg_upgrade, the new major, c5metrics loaded.
start_rc=1
if [ "$upgrade_rc" -eq 0 ]; then
	c5_as_user "$new_bin/pg_ctl" -D "$new_data" -l "$work/server-new.log" -w -t 60 start >/dev/null
	start_rc=$?
fi
detail=()
status=1
if [ "$upgrade_rc" -ne 0 ]; then
	detail+=("pg_upgrade exited with $upgrade_rc:")
	while IFS= read -r l; do detail+=("$l"); done < <(grep -v '^ *$' "$work/pg_upgrade.log" | tail -n 6)
	detail+=("errors in its logs:")
	while IFS= read -r l; do detail+=("  $l"); done < <(cat "$new_data"/pg_upgrade_output.d/*/log/*.log 2>/dev/null |
		grep -E 'ERROR:|error:|FATAL:' | grep -v -e '^command:' -e 'terminating background worker' |
		sed -E 's/^[0-9-]+ [0-9:.]+ [A-Z]+ \[[0-9]+\] //' | sort -u | head -n 5)
	if grep -qs 'unrecognized parameter "pg_attver"' "$new_data"/pg_upgrade_output.d/*/log/*.log; then
		detail+=("PostgreSQL, not c5metrics: the old server's minor release stores a \"pg_attver\" attribute option on every column" \
			"(PostgreSQL 15.20 does), which this minor release of $new_major does not know: pg_upgrade fails on any table." \
			"Upgrade to a release of $new_major at least as recent as the old server's, or from an older 15 minor.")
	fi
elif [ "$start_rc" -ne 0 ]; then
	detail+=("the new server did not start:")
	while IFS= read -r l; do detail+=("$l"); done < <(tail -n 20 "$work/server-new.log")
else
	version_num=$(q new -c 'SHOW server_version_num')
	preload=$(q new -c 'SHOW shared_preload_libraries')
	build_info=$(q new -c "SELECT labels FROM c5metrics.metrics WHERE metric = 'c5metrics_build_info'")
	http_code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$http_port/metrics")
	readyz=$(curl -s --max-time 5 "http://127.0.0.1:$http_port/readyz")
	detail+=("pg_upgrade took $((upgrade_end - upgrade_start)) s; server_version_num $version_num," \
		"shared_preload_libraries '$preload', c5metrics_build_info $build_info, GET /metrics: $http_code")
	[ "$((version_num / 10000))" = "$new_major" ] && [[ ",$preload," == *,c5metrics,* ]] &&
		[[ "$build_info" == *"\"pg_version\": \"$new_major"* ]] && [ "$http_code" = 200 ] && status=0
fi
result $status "pg_upgrade --copy $old_major -> $new_major succeeds; the new server runs $new_major with c5metrics loaded" "${detail[@]}"
[ "$status" -eq 0 ] || bail "no new server to check"

# Right after the start, before anything touches the new cluster.
q new -c 'SELECT metric, labels, value FROM c5metrics.metrics ORDER BY 1, 2::text' >"$work/metrics-new0.txt"
new_reset=$(metric new c5metrics_stats_reset_timestamp_seconds)
new_business0=$(q new -c "SELECT count(*) FROM c5metrics.metrics
	WHERE metric NOT LIKE 'c5metrics\_%' AND value <> 0")
new_sli_total0=$(q new -c "SELECT coalesce(sum(total), 0) FROM c5metrics.sli")
new_tracked_gauge0=$(metric new c5metrics_tracked_tables)
start_log_lines=$(grep -i c5metrics "$work/server-new.log" | sed -E 's/^[0-9-]+ [0-9:.]+ [A-Z]+ \[[0-9]+\] //')

# 2. The extension's version, and ALTER EXTENSION UPDATE.
extversion=$(q new -c "SELECT extversion FROM pg_extension WHERE extname = 'c5metrics'")
update_out=$(c5_as_user timeout 60 "$new_bin/psql" -X -At -v ON_ERROR_STOP=1 -h "$sock" -p "$new_port" \
	-U postgres -d postgres -c 'ALTER EXTENSION c5metrics UPDATE' 2>&1)
update_rc=$?
extversion_after=$(q new -c "SELECT extversion FROM pg_extension WHERE extname = 'c5metrics'")
status=1
[ "$extversion" = "$default_version" ] && [ "$update_rc" -eq 0 ] && [ "$extversion_after" = "$extversion" ] &&
	status=0
result $status "extversion is the control file's default_version, and ALTER EXTENSION c5metrics UPDATE is a no-op" \
	"extversion $extversion (default_version $default_version); after UPDATE: $extversion_after, exit $update_rc, said:" \
	"$(tr '\n' ' ' <<<"$update_out")"

# 3. The attachments.
q new -c 'SELECT table_name, flow, config, problem FROM c5metrics.tracked ORDER BY 1::text, 2' >"$work/tracked-new.txt"
problems=$(q new -c 'SELECT count(*) FROM c5metrics.tracked WHERE problem IS NOT NULL')
status=1
cmp -s "$work/tracked-old.txt" "$work/tracked-new.txt" && [ "$problems" = 0 ] &&
	[ -s "$work/tracked-new.txt" ] && status=0
detail=("$(wc -l <"$work/tracked-new.txt") attachments: $(cut -d'|' -f1,2 "$work/tracked-new.txt" | tr '\n' ' ');" \
	"with a problem: $problems; c5metrics_tracked_tables right after the start: $new_tracked_gauge0," \
	"/readyz: $readyz")
[ "$status" -eq 0 ] || while IFS= read -r l; do detail+=("$l"); done < <(diff "$work/tracked-old.txt" "$work/tracked-new.txt")
result $status "c5metrics.tracked lists the same attachments (table, flow, configuration), none with a problem" "${detail[@]}"

# 4. The triggers fire and count: a second run, against its ground truth.
q new -c 'CREATE TABLE public.c5_before AS SELECT metric, labels, value FROM c5metrics.metrics' ||
	bail "could not record the counters before the second run"
c5load new --clients=4 --transactions=2000 --seed=8 --json="$work/truth2.json" \
	>"$work/c5load-2.log" 2>&1
c5load_rc=$?
key="'sales_paid_stock_consume_total', 'sale_refunds_total', 'flow_transactions_total'"
moved=$(qt new "$work/truth2.json" "
	SELECT count(*) || ' ' || coalesce(sum((s ->> 'value')::bigint), 0) || ' '
	       || count(*) FILTER (WHERE coalesce(a.value, 0) - coalesce(b.value, 0) <> (s ->> 'value')::float8)
	  FROM jsonb_array_elements(:'truth'::jsonb -> 'series') s
	  LEFT JOIN c5metrics.metrics a ON a.metric = s ->> 'metric' AND a.labels = s -> 'labels'
	  LEFT JOIN public.c5_before b ON b.metric = s ->> 'metric' AND b.labels = s -> 'labels'
	 WHERE s ->> 'metric' IN ($key)")
read -r key_series key_events key_wrong <<<"$moved"
wrong=$(qt new "$work/truth2.json" "
	SELECT s ->> 'metric' || ' ' || (s -> 'labels')::text || ': moved '
	       || (coalesce(a.value, 0) - coalesce(b.value, 0)) || ', ground truth ' || (s ->> 'value')
	  FROM jsonb_array_elements(:'truth'::jsonb -> 'series') s
	  LEFT JOIN c5metrics.metrics a ON a.metric = s ->> 'metric' AND a.labels = s -> 'labels'
	  LEFT JOIN public.c5_before b ON b.metric = s ->> 'metric' AND b.labels = s -> 'labels'
	 WHERE s ->> 'metric' IN ($key)
	   AND coalesce(a.value, 0) - coalesce(b.value, 0) <> (s ->> 'value')::float8")
moved_by() {	# moved_by NAME LABELS-JSON: how far the second run moved the matching series
	q new -c "SELECT (SELECT coalesce(sum(value), 0) FROM c5metrics.metrics WHERE metric = '$1' AND labels @> '$2')
		- (SELECT coalesce(sum(value), 0) FROM public.c5_before WHERE metric = '$1' AND labels @> '$2')"
}
paid2=$(moved_by sales_paid_stock_consume_total '{"result": "success"}')
refunds2=$(moved_by sale_refunds_total '{"result": "success"}')
tracked_gauge2=$(metric new c5metrics_tracked_tables)
status=1
[ "$c5load_rc" -eq 0 ] && [ "${key_series:-0}" -gt 0 ] && [ "${key_events:-0}" -gt 0 ] &&
	[ "${key_wrong:-1}" = 0 ] && [ "$tracked_gauge2" = "$(wc -l <"$work/tracked-new.txt")" ] && status=0
detail=("c5load exit $c5load_rc; ${key_series:-?} series of the three metrics, ${key_events:-?} events in the ground truth," \
	"${key_wrong:-?} moved otherwise; e.g. paid with consumption +$paid2, refunds committed +$refunds2;" \
	"c5metrics_tracked_tables now $tracked_gauge2 (the firing triggers noted their tables)")
while IFS= read -r l; do detail+=("$l"); done <<<"$wrong"
[ "$c5load_rc" -eq 0 ] || while IFS= read -r l; do detail+=("$l"); done < <(tail -n 5 "$work/c5load-2.log")
result $status "the triggers fire and count on $new_major: a second c5load run moves $key exactly as its ground truth says" "${detail[@]}"

# 5. The persisted counters and the SLI history.
sleep 2	# a sample of the SLI history after the second run
all_wrong=$(qt new "$work/truth2.json" "
	SELECT count(*) FROM jsonb_array_elements(:'truth'::jsonb -> 'series') s
	  LEFT JOIN c5metrics.metrics m ON m.metric = s ->> 'metric' AND m.labels = s -> 'labels'
	 WHERE coalesce(m.value, 0) <> (s ->> 'value')::float8")
all_series=$(grep -c '"metric":' "$work/truth2.json" 2>/dev/null)
new_sli_total2=$(q new -c "SELECT coalesce(sum(total), 0) FROM c5metrics.sli WHERE window_name = '1h'")
same_file=no
cmp -s "$old_data/pg_stat/c5metrics.stat" "$new_data/pg_stat/c5metrics.stat" && same_file=yes
status=1
reset_ok=false
awk -v r="$new_reset" -v o="$old_reset" -v b="$upgrade_end" \
	'BEGIN { exit !(r >= b - 1 && r != o) }' && reset_ok=true
[ "$reset_ok" = true ] && [ "$new_business0" = 0 ] && [ "$new_sli_total0" = 0 ] && [ "$all_wrong" = 0 ] &&
	[ "$new_sli_total2" -gt 0 ] && [ -z "${new_files_after// /}" ] &&
	grep -q 'c5metrics has no saved registry: counting starts from zero' <<<"$start_log_lines" &&
	! grep -q 'ignoring c5metrics file\|c5metrics loaded' <<<"$start_log_lines" &&
	! grep -q 'c5metrics' <<<"$upgrade_c5_lines" && status=0
detail=("pg_stat/ c5metrics files: old cluster after its shutdown: ${old_files:-none}; new cluster after initdb:" \
	"${new_pgstat_before:-none}; after pg_upgrade: ${new_files_after:-none}(written by the new server's runs under pg_upgrade;" \
	"the registry file the same as the old cluster's: $same_file)")
detail+=("stats reset: old $(date -u -d "@${old_reset%.*}" '+%T' 2>/dev/null), new $(date -u -d "@${new_reset%.*}" '+%T' 2>/dev/null) UTC;" \
	"pg_upgrade ran $(date -u -d "@$upgrade_start" '+%T')-$(date -u -d "@$upgrade_end" '+%T')")
detail+=("right after the start: $new_business0 business series non-zero (old cluster: $old_paid paid sales with consumption), SLI window totals $new_sli_total0 (old 1h: $old_sli_total)")
detail+=("after the second run: $all_wrong of its $all_series ground-truth series differ from the counters; SLI 1h total $new_sli_total2")
detail+=("c5metrics lines in the new server's log at its first start after pg_upgrade:")
while IFS= read -r l; do detail+=("  $l"); done <<<"${start_log_lines:-(none)}"
detail+=("c5metrics state-file lines in the servers' log during pg_upgrade (old and new, count x line):")
while IFS= read -r l; do detail+=("  $l"); done <<<"${upgrade_c5_lines:-(none)}"
result $status "counting starts from zero on the new cluster, and its first start says so: nothing of pg_stat/ is carried, nothing loaded or saved and no listener under pg_upgrade; reset at that start, counters equal the second run alone, SLI history empty" "${detail[@]}"

# 6. The over-refund guard, on a sale refunded in part before the upgrade.
sale=$(q new -c "SELECT s.id || ' ' || (s.total - sum(r.amount)) FROM shop.sales s JOIN shop.refunds r ON r.sale_id = s.id
	GROUP BY s.id, s.total
	HAVING s.total - sum(r.amount) > 0.01 AND max(r.created_at) < to_timestamp($upgrade_start)
	ORDER BY s.id LIMIT 1")
read -r sale_id remainder <<<"$sale"
over_attempts0=$(metric new sale_refund_over_refund_attempts_total)
over_out=$(c5_as_user timeout 60 "$new_bin/psql" -X -At -h "$sock" -p "$new_port" -U postgres -d postgres \
	-v VERBOSITY=verbose -c "INSERT INTO shop.refunds (sale_id, amount, refund_type, idempotency_key)
	VALUES (${sale_id:-0}, ${remainder:-0} + 0.01, 'partial', 'h-over-after-upgrade')" 2>&1)
exact_out=$(c5_as_user timeout 60 "$new_bin/psql" -X -At -h "$sock" -p "$new_port" -U postgres -d postgres \
	-v VERBOSITY=verbose -c "INSERT INTO shop.refunds (sale_id, amount, refund_type, idempotency_key)
	VALUES (${sale_id:-0}, ${remainder:-0}, 'partial', 'h-rest-after-upgrade')" 2>&1)
over_attempts1=$(metric new sale_refund_over_refund_attempts_total)
status=1
[ -n "$sale_id" ] && grep -q 'ERROR: *23M01' <<<"$over_out" && ! grep -q ERROR <<<"$exact_out" &&
	[ "$(awk -v a="$over_attempts0" -v b="$over_attempts1" 'BEGIN { print b - a }')" = 1 ] && status=0
result $status "the over-refund guard refuses an over-refund with 23M01 on $new_major, and lets the exact remainder through" \
	"sale ${sale_id:-none} (refunded in part before the upgrade), remainder ${remainder:-?}: +0.01 said: $(head -n 2 <<<"$over_out" | tr '\n' ' ')" \
	"the remainder said: $(tr '\n' ' ' <<<"$exact_out"); sale_refund_over_refund_attempts_total $over_attempts0 -> $over_attempts1"

# 7. Settings.
db_setting=$(q new -c 'SHOW c5metrics.objective_leads_availability')
sys_setting=$(q new -c 'SHOW c5metrics.objective_refund_latency')
auto_conf=$(grep -c c5metrics "$new_data/postgresql.auto.conf" 2>/dev/null)
status=1
[ "$db_setting" = 98 ] && [ "$sys_setting" = 95 ] && status=0
result $status "settings: ALTER DATABASE ... SET c5metrics.* travels; ALTER SYSTEM (postgresql.auto.conf) and postgresql.conf do not" \
	"c5metrics.objective_leads_availability (ALTER DATABASE, 98 on the old cluster): $db_setting;" \
	"c5metrics.objective_refund_latency (ALTER SYSTEM, 97 on the old cluster, default 95): $sys_setting;" \
	"c5metrics lines in the new postgresql.auto.conf: ${auto_conf:-0}"

# 8. The old cluster's state files, copied by hand into the new cluster.
c5_as_user "$new_bin/pg_ctl" -D "$new_data" -m fast -w -t 60 stop >/dev/null ||
	note "the new server did not stop cleanly"
status=1
if c5_as_user cp "$old_data/pg_stat/c5metrics.stat" "$old_data/pg_stat/c5metrics_sli.stat" "$new_data/pg_stat/" &&
	c5_as_user "$new_bin/pg_ctl" -D "$new_data" -l "$work/server-new-copied.log" -w -t 60 start >/dev/null; then
	copied_lines=$(grep -E 'c5metrics|DETAIL' "$work/server-new-copied.log" | grep -v 'c5metrics http' |
		sed -E 's/^[0-9-]+ [0-9:.]+ [A-Z]+ \[[0-9]+\] //')
	copied_business=$(q new -c "SELECT count(*) FROM c5metrics.metrics WHERE metric NOT LIKE 'c5metrics\_%' AND value <> 0")
	copied_sli=$(q new -c "SELECT coalesce(sum(total), 0) FROM c5metrics.sli")
	grep -q 'ignoring c5metrics file "pg_stat/c5metrics.stat": it was written by another PostgreSQL major version' <<<"$copied_lines" &&
		grep -q 'ignoring c5metrics file "pg_stat/c5metrics_sli.stat"' <<<"$copied_lines" &&
		[ "$copied_business" = 0 ] && [ "$copied_sli" = 0 ] && status=0
	c5_as_user "$new_bin/pg_ctl" -D "$new_data" -m fast -w -t 60 stop >/dev/null
fi
detail=("business series non-zero: ${copied_business:-?}, SLI window totals ${copied_sli:-?}; the server's log said:")
while IFS= read -r l; do detail+=("  $l"); done <<<"${copied_lines:-(nothing)}"
result $status "the old cluster's state files copied by hand into the new pg_stat/ are ignored with a LOG line each (per-major layout), counting from zero" "${detail[@]}"

# 9. The old cluster (copy mode leaves it usable) keeps its counters and history.
status=1
if c5_as_user "$old_bin/pg_ctl" -D "$old_data" -l "$work/server-old-again.log" -w -t 60 start >/dev/null; then
	again_reset=$(metric old c5metrics_stats_reset_timestamp_seconds)
	again_sli=$(q old -c "SELECT sum(total) FROM c5metrics.sli WHERE window_name = '1h'")
	again_wrong=$(qt old "$work/truth1.json" "
		SELECT count(*) FROM jsonb_array_elements(:'truth'::jsonb -> 'series') s
		  LEFT JOIN c5metrics.metrics m ON m.metric = s ->> 'metric' AND m.labels = s -> 'labels'
		 WHERE coalesce(m.value, 0) <> (s ->> 'value')::float8")
	again_lines=$(grep -E 'c5metrics (loaded|ignoring)|ignoring c5metrics' "$work/server-old-again.log" |
		sed -E 's/^[0-9-]+ [0-9:.]+ [A-Z]+ \[[0-9]+\] //')
		# the history it had, or more: its sampler may record run 1's last
	# events only at the shutdown or the restart after it was read
	[ "$again_reset" = "$old_reset" ] && [ "$again_wrong" = 0 ] &&
		[ "${again_sli:-0}" -ge "$old_sli_total" ] && [ "${again_sli:-0}" -gt 0 ] && status=0
	c5_as_user "$old_bin/pg_ctl" -D "$old_data" -m fast -w -t 60 stop >/dev/null
fi
detail=("stats reset unchanged: $([ "${again_reset:-}" = "$old_reset" ] && echo yes || echo "no (${again_reset:-?})");" \
	"run 1's ground-truth series that differ: ${again_wrong:-?}; SLI 1h total ${again_sli:-?} (before: $old_sli_total); the log said:")
while IFS= read -r l; do detail+=("  $l"); done <<<"${again_lines:-(nothing)}"
result $status "the old cluster, started again after pg_upgrade --copy, still has its counters, reset time and SLI history" "${detail[@]}"

note "wall time: $(($(date +%s) - started)) s"
finish
