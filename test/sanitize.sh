#!/usr/bin/env bash
# The test suites against c5metrics.so and c5metrics_http.so built with
# AddressSanitizer and UBSan, with zero reports allowed.
#
#   bash test/sanitize.sh            # every suite: regress, isolation, all TAP
#   bash test/sanitize.sh --quick    # the subset of the default test run:
#                                    #   capture     regress preload attach sales stock
#                                    #               refunds rollback twophase privileges
#                                    #               foreign_triggers
#                                    #   DDL         regress ddl (the rename and ALTER
#                                    #               TABLE hook), TAP 023
#                                    #   exposition  regress exposition, TAP 003
#                                    #   worker      TAP 004 (HTTP) and 005 (hostile)
#                                    #   adversarial TAP 016-019 (plain roles against
#                                    #               attach, registry, listener, state)
#   bash test/sanitize.sh --keep     # keep the private tree, logs and reports
#
# Run as root.  Nothing is installed into the system PostgreSQL: the
# PostgreSQL installation is copied into a private, relocatable tree under
# /tmp (its binaries find share/ and lib/ relative to themselves), the
# instrumented extension is installed there, and the suites run against it
# as the unprivileged user c5test.  The postgres binary itself is not
# instrumented, so the private tree's "postgres" is a small wrapper that
# preloads the ASan runtime (LD_PRELOAD) into the server processes only;
# psql, perl, curl and the other tools run without it.  ASan reports go to
# files, UBSan's to the server logs; both are searched, and so are the
# logs for a process a sanitizer ended.  A report fails the run even when
# the suites pass (a worker that dies is restarted, for instance).  Before
# the suites, a preflight cluster checks that the server really maps the
# instrumented libraries, and that a deliberate heap overflow and a signed
# overflow in a backend are reported (so that "zero reports" means
# something).  UBSan stops at the first report (-fno-sanitize-recover).
# TCP ports are taken from 58000-58999 only.  The subset takes about
# 3.5 minutes, every suite about 15.
#
# Settings: SANITIZE_REGRESS, SANITIZE_ISOLATION, SANITIZE_TAP (space
# separated lists overriding the chosen suites; "" for none).
# The last line is "sanitize: N passed, M failed"; exit status 0 only if
# M is 0.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
. test/lib.sh

quick=0
keep=0
for arg in "$@"; do
	case $arg in
	--quick) quick=1 ;;
	--keep) keep=1 ;;
	*) die "usage: $0 [--quick] [--keep]" ;;
	esac
done
[ "$(id -u)" -eq 0 ] || die "run as root (the suites run as $C5_USER)"

c5_ensure_packages make gcc libasan8 libubsan1 postgresql-15 postgresql-server-dev-15 \
	libmicrohttpd-dev zlib1g-dev curl openssl libipc-run-perl prometheus prometheus-alertmanager \
	python3-django python3-psycopg2 chromium chromium-driver python3-selenium python3-pil
c5_ensure_user

# -fno-wrapv: PostgreSQL builds with -fwrapv, under which signed overflow is
# defined and UBSan does not check it; here it is checked.
SAN_FLAGS="-fsanitize=address,undefined,float-cast-overflow -fno-sanitize-recover=all -fno-wrapv -fno-omit-frame-pointer -g -O1"
QUICK_REGRESS="preload attach sales stock refunds rollback twophase exposition privileges foreign_triggers ddl"
QUICK_TAP="test/t/003_exposition.pl test/t/004_http.pl test/t/005_hostile.pl
	test/t/016_adversarial_attach.pl test/t/017_adversarial_registry.pl
	test/t/018_adversarial_listener.pl test/t/019_adversarial_state.pl
	test/t/023_attachment_problems.pl"

# The suites: the quick subset, or (unset) every suite the Makefile lists.
if [ "$quick" -eq 1 ]; then
	regress=${SANITIZE_REGRESS-$QUICK_REGRESS}
	isolation=${SANITIZE_ISOLATION-}
	tap=$(echo ${SANITIZE_TAP-$QUICK_TAP})
else
	regress=${SANITIZE_REGRESS-$(sed -n '/^REGRESS *=/,/[^\\]$/p' Makefile |
		sed -e 's/^REGRESS *=//' -e 's/\\$//' | tr -s ' \t\n' ' ' | sed 's/^ //; s/ $//')}
	isolation=${SANITIZE_ISOLATION-$(sed -n 's/^ISOLATION *= *//p' Makefile)}
	tap=${SANITIZE_TAP-$(echo test/t/*.pl)}
fi

start=$(date +%s)
work=$(mktemp -d /tmp/c5san.XXXXXX) || die "mktemp failed"
chmod 755 "$work"
R=$work/pgroot
SRC=$work/src
REPORTS=$work/reports       # ASan's log_path during the suites
CANARY=$work/canary         # the preflight's deliberate reports
STARTS=$work/starts/list    # one line per server process started by the wrapper
PGC=$R/usr/lib/postgresql/15/bin/pg_config
BIN=$R/usr/lib/postgresql/15/bin

# Stop whatever still runs from the private tree (an interrupted suite's
# servers): processes whose executable lies under $R, by PID.  The suites
# stop their own servers; this is for an interrupted run.
stop_private_processes() {
	local exe pid
	for exe in /proc/[0-9]*/exe; do
		pid=${exe#/proc/}
		pid=${pid%/exe}
		case $(readlink "$exe" 2>/dev/null) in
		"$R"/*) kill -KILL "$pid" 2>/dev/null ;;
		esac
	done
}
cleanup() {
	stop_private_processes
	if [ "$keep" -eq 1 ]; then
		say "kept $work"
	elif [ "${failed:-1}" -gt 0 ] && [ -d "$REPORTS" ]; then
		# keep the evidence, drop the 60 MB tree
		local saved=$(mktemp -d /tmp/c5san-failed.XXXXXX)
		cp -a "$REPORTS" "$saved/" 2>/dev/null
		cp -a "$work"/*.log "$saved/" 2>/dev/null
		mkdir -p "$saved/server-logs"
		find "$SRC" -path '*/log/*' -type f -name '*.log' -exec cp {} "$saved/server-logs/" \; 2>/dev/null
		find "$SRC" -path '*/tmp_check/log/*' -type f -exec cp {} "$saved/server-logs/" \; 2>/dev/null
		rm -rf "$work"
		say "kept the reports and logs in $saved"
	else
		rm -rf "$work"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM


passed=0
failed=0
pass() { passed=$((passed + 1)); say "ok: $*"; }
# Give up: the summary line with one more failure.
abort_run() {
	say "error: $*"
	failed=$((failed + 1))
	echo "sanitize: $passed passed, $failed failed"
	exit 1
}
fail() { failed=$((failed + 1)); say "FAILED: $*"; }

# ---- the private PostgreSQL tree ------------------------------------------
say "=== private tree $R ==="
c5_private_pgroot "$R" || abort_run "cannot make the private copy of the PostgreSQL installation in $R"

# The TAP framework picks ports in 58200-58999 in this tree only.
cluster_pm=$R/usr/lib/postgresql/15/lib/pgxs/src/test/perl/PostgreSQL/Test/Cluster.pm
sed -i -e 's/^my \$port_lower_bound = [0-9]*;/my $port_lower_bound = 58200;/' \
	-e 's/^my \$port_upper_bound = [0-9]*;/my $port_upper_bound = 58999;/' "$cluster_pm"
grep -q '^my \$port_lower_bound = 58200;' "$cluster_pm" &&
	grep -q '^my \$port_upper_bound = 58999;' "$cluster_pm" ||
	abort_run "cannot set the TAP port range in $cluster_pm"

mkdir -p "$REPORTS" "$CANARY" "$work/starts"
chown "$C5_USER" "$REPORTS" "$CANARY" "$work/starts"

# ---- the instrumented build ------------------------------------------------
say "=== build with ASan and UBSan ==="
mkdir -p "$SRC"
c5_copy_sources "$SRC" || abort_run "cannot copy the sources"
(
	cd "$SRC" &&
		# the load generator is a client: built plain
		make -s PG_CONFIG="$PGC" test/c5load/c5load &&
		make -s -j2 PG_CONFIG="$PGC" COPT="$SAN_FLAGS" &&
		make -s PG_CONFIG="$PGC" COPT="$SAN_FLAGS" install
) >"$work/build.log" 2>&1 || {
	tail -n 40 "$work/build.log" >&2
	abort_run "instrumented build failed"
}
chown -R "$C5_USER" "$SRC"
LIBDIR=$R/usr/lib/postgresql/15/lib
for lib in c5metrics.so c5metrics_http.so; do
	syms=$(nm -D --undefined-only "$LIBDIR/$lib")
	grep -q '__asan_report' <<<"$syms" && grep -q '__ubsan_handle' <<<"$syms" ||
		abort_run "$lib is not instrumented"
done
ASAN_RT=$(ldd "$LIBDIR/c5metrics.so" | awk '/libasan\.so/ {print $3}')
[ -f "$ASAN_RT" ] || abort_run "cannot find the ASan runtime c5metrics.so needs"
say "instrumented: c5metrics.so, c5metrics_http.so ($SAN_FLAGS); runtime $ASAN_RT"

# ---- the server wrapper ----------------------------------------------------
# Only the server processes get the ASan runtime (first in the library
# list, as ASan requires) and the sanitizer options.  ASan reports go to
# files, one per process, named after the PID.  UBSan, when combined with
# ASan in gcc 12, ignores log_path and always writes to stderr: that is the
# server log, which is searched too.  exitcode 86 tells an ASan exit apart
# from an ordinary FATAL in the server log.
#
# The runtime must also be initialized outside every library constructor.
# Preloaded, it initializes lazily at the first malloc, which in Debian's
# postgres is libgpg-error's constructor, inside bindtextdomain() with
# glibc's gettext lock held; the initialization calls dlsym("swift_demangle")
# and dlerror(), which translates the message under the same lock: a
# deadlock.  A preloaded definition of swift_demangle (returning NULL: "not
# a Swift name, demangle it as C++") makes dlsym succeed and the
# translation never happen.
cat >"$work/c5san_shim.c" <<'EOF'
#include <stddef.h>
#include <stdint.h>
char *swift_demangle(const char *name, size_t len, char *out, size_t *outlen, uint32_t flags);
char *
swift_demangle(const char *name, size_t len, char *out, size_t *outlen, uint32_t flags)
{
	return NULL;
}
EOF
SHIM=$R/usr/lib/postgresql/15/lib/c5san_shim.so
gcc -O2 -fPIC -shared -o "$SHIM" "$work/c5san_shim.c" >>"$work/build.log" 2>&1 ||
	abort_run "cannot build the preload shim"
mv "$BIN/postgres" "$BIN/postgres.real"
cat >"$BIN/postgres" <<EOF
#!/bin/bash
# c5metrics test/sanitize.sh: the server with the ASan runtime preloaded.
logdir=\${C5SAN_LOGDIR:-$REPORTS}
LD_PRELOAD=$ASAN_RT:$SHIM\${LD_PRELOAD:+:\$LD_PRELOAD}
ASAN_OPTIONS=detect_leaks=0:log_path=\$logdir/asan:exitcode=86:color=never
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:exitcode=86:color=never
export LD_PRELOAD ASAN_OPTIONS UBSAN_OPTIONS
echo "\$\$ \$*" >>"$STARTS" 2>/dev/null
# argv[0] names this wrapper: the server takes its own path from it and
# records it in postmaster.opts, which "pg_ctl restart" runs again.
exec -a "$BIN/postgres" "$BIN/postgres.real" "\$@"
EOF
chmod 755 "$BIN/postgres"

# ---- preflight: the pipeline really catches reports ------------------------
say "=== preflight ==="
preflight() {
	local pre=$work/preflight pgport http maps wpid out i
	mkdir -p "$pre" && chown "$C5_USER" "$pre"
	cat >"$pre/canary.c" <<'EOF'
#include "postgres.h"
#include "fmgr.h"
#include <stdlib.h>
PG_MODULE_MAGIC;
PG_FUNCTION_INFO_V1(c5san_canary);
Datum
c5san_canary(PG_FUNCTION_ARGS)
{
	volatile int x = PG_GETARG_INT32(1);
	if (PG_GETARG_INT32(0) == 1)
	{
		volatile char *p = malloc(8);
		p[x] = 1;			/* x = 8: heap-buffer-overflow */
		free((void *) p);
		PG_RETURN_INT32(0);
	}
	x = x + 2147483647;		/* x >= 1: signed integer overflow */
	PG_RETURN_INT32(x);
}
EOF
	# (object-size would catch the heap overflow before ASan does)
	gcc $SAN_FLAGS -fno-sanitize=object-size -fPIC -shared -I "$("$PGC" --includedir-server)" -o "$pre/canary.so" \
		"$pre/canary.c" >>"$work/build.log" 2>&1 || { say "cannot build the canary"; return 1; }
	chmod 755 "$pre/canary.so"
	pgport=$(c5_free_port 58100 58199) && http=$(c5_free_port $((pgport + 1)) 58199) || return 1
	c5_as_user "$BIN/initdb" -D "$pre/data" -A trust -U postgres >"$pre/initdb.log" 2>&1 ||
		{ cat "$pre/initdb.log" >&2; return 1; }
	cat >>"$pre/data/postgresql.conf" <<EOF
port = $pgport
listen_addresses = ''
unix_socket_directories = '$pre'
shared_preload_libraries = 'c5metrics'
c5metrics.listen_addresses = '127.0.0.1'
c5metrics.port = $http
EOF
	c5_as_user env C5SAN_LOGDIR="$CANARY" "$BIN/pg_ctl" -D "$pre/data" \
		-l "$pre/server.log" -w start >/dev/null || { cat "$pre/server.log" >&2; return 1; }
	local ok=0
	for i in $(seq 1 100); do
		curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$http/healthz" && { ok=1; break; }
		sleep 0.2
	done
	local pm=$(head -n 1 "$pre/data/postmaster.pid")
	maps=$(cat "/proc/$pm/maps")
	wpid=$(ps -o pid=,args= --ppid "$pm" | awk '/c5metrics http listener/ {print $1; exit}')
	local problems=""
	[ "$ok" -eq 1 ] || problems+=" the worker does not serve;"
	grep -q "$LIBDIR/c5metrics.so" <<<"$maps" || problems+=" the postmaster does not map the private c5metrics.so;"
	grep -q "libasan" <<<"$maps" || problems+=" the postmaster does not map the ASan runtime;"
	[ -n "$wpid" ] && grep -q "$LIBDIR/c5metrics_http.so" "/proc/$wpid/maps" ||
		problems+=" the worker does not map the private c5metrics_http.so;"
	psql_pre() { c5_as_user "$BIN/psql" -X -h "$pre" -p "$pgport" -U postgres -d postgres -qAt "$@" 2>&1; }
	psql_pre -c "CREATE FUNCTION c5san_canary(int, int) RETURNS int AS '$pre/canary.so' LANGUAGE C STRICT" >/dev/null
	psql_pre -c "SELECT c5san_canary(1, 8)" >/dev/null
	sleep 0.5
	grep -qs 'ERROR: AddressSanitizer: heap-buffer-overflow' "$CANARY"/asan.* ||
		problems+=" a heap overflow in a backend was not reported;"
	for i in $(seq 1 50); do
		out=$(psql_pre -c "SELECT 1") && [ "$out" = 1 ] && break
		sleep 0.2
	done
	psql_pre -c "SELECT c5san_canary(2, 1)" >/dev/null
	sleep 0.5
	grep -qs 'canary.c:[0-9:]* runtime error: signed integer overflow' "$pre/server.log" ||
		problems+=" a signed overflow in a backend was not reported;"
	grep -q 'exited with exit code 86' "$pre/server.log" ||
		problems+=" the server log does not show the sanitizer's exit code;"
	c5_as_user "$BIN/pg_ctl" -D "$pre/data" -m immediate -w stop >/dev/null 2>&1
	if [ -n "$problems" ]; then
		say "preflight:$problems"
		return 1
	fi
	return 0
}
if preflight; then
	pass "preflight: the server maps the instrumented libraries and the ASan runtime; planted ASan and UBSan errors are reported"
else
	# without a working pipeline, zero reports would prove nothing
	abort_run "preflight"
fi

# ---- the suites ------------------------------------------------------------
export PATH="$BIN:$PATH"
# Server processes started through the wrapper (not counting version and
# configuration queries).
count_starts() {
	local n
	n=$(grep -cvE ' (-V|-C .*|--describe-config.*)$' "$STARTS" 2>/dev/null)
	echo "${n:-0}"
}
# suite NAME MAKE-ARGS...: one kind of suite, as the unprivileged user.
suite() {
	local name=$1 log="$work/$1.log" starts0 starts
	shift
	say ""
	say "=== $name ==="
	starts0=$(count_starts)
	(cd "$SRC" && c5_as_user env PATH="$PATH" make installcheck PG_CONFIG="$PGC" "$@") >"$log" 2>&1
	local rc=$?
	grep -E '^(test |not ok |ok |All tests|Result|Files=|#\s+Failed)' "$log" >&2
	local p f
	if [ "$name" = tap ]; then
		p=$(cat "$SRC"/tmp_check/log/regress_log_* 2>/dev/null | grep -cE '^\[[0-9:.]+\]\([0-9.]+s\) ok ')
		# (a "not ok ... # TODO" is an expected failure: neither)
		f=$(cat "$SRC"/tmp_check/log/regress_log_* 2>/dev/null | grep -E '^\[[0-9:.]+\]\([0-9.]+s\) not ok ' |
			grep -cv ' # TODO')
	else
		p=$(grep -cE '^(test| ) ?[a-z_]+ +\.\.\. ok' "$log")
		f=$(grep -cE '\.\.\. FAILED' "$log")
	fi
	[ "$rc" -ne 0 ] && [ "$f" -eq 0 ] && f=1
	if [ "$rc" -ne 0 ]; then
		for diffs in "$SRC/regression.diffs" "$SRC/output_iso/regression.diffs"; do
			[ -s "$diffs" ] && head -c 20000 "$diffs" >&2
		done
		tail -n 30 "$log" >&2
	fi
	starts=$(($(count_starts) - starts0))
	if [ "$starts" -eq 0 ]; then
		say "$name: no server was started through the sanitizer wrapper"
		f=$((f + 1))
	fi
	say "$name: $p passed, $f failed ($starts instrumented server starts)"
	passed=$((passed + p))
	failed=$((failed + f))
}

if [ -n "$regress" ]; then
	suite regress REGRESS="$regress" ISOLATION= TAP_TESTS= \
		EXTRA_REGRESS_OPTS="--port=$(c5_free_port 58100 58199)"
fi
if [ -n "$isolation" ]; then
	suite isolation REGRESS= ISOLATION="$isolation" TAP_TESTS= \
		EXTRA_REGRESS_OPTS="--port=$(c5_free_port 58100 58199)"
fi
if [ -n "$tap" ]; then
	suite tap REGRESS= ISOLATION= PROVE_FLAGS= PROVE_TESTS="$tap"
fi
stop_private_processes

# ---- the verdict on sanitizer reports --------------------------------------
say ""
say "=== sanitizer reports ==="
# ASan's report files, and any mention in the server logs (UBSan's
# reports, a process ended by a sanitizer) and the suites' output.
SAN_PATTERN='AddressSanitizer|UndefinedBehaviorSanitizer|LeakSanitizer|runtime error:|exited with exit code 86'
reports=$(find "$REPORTS" -type f | sort)
stray=$(find "$work" -maxdepth 1 -name '*.log' -type f; find "$SRC/log" "$SRC/output_iso/log" "$SRC/tmp_check/log" \
	-type f 2>/dev/null)
stray=$(grep -lE "$SAN_PATTERN" $stray 2>/dev/null | grep -v '/build\.log$')
if [ -z "$reports" ] && [ -z "$stray" ]; then
	pass "sanitizer reports: none (regress: ${regress:-none}; isolation: ${isolation:-none}; tap: ${tap:-none})"
else
	for r in $reports; do
		say "--- $(basename "$r") ---"
		grep -E 'ERROR: AddressSanitizer|runtime error:|SUMMARY:|^    #[0-9]+ ' "$r" | head -n 25 >&2
	done
	for s in $stray; do
		say "--- in $s ---"
		grep -E -A12 "$SAN_PATTERN" "$s" | head -n 40 >&2
	done
	fail "sanitizer reports: $(wc -w <<<"$reports") report file(s)${stray:+, and mentions in $(wc -w <<<"$stray") log(s)}"
fi

say "sanitize: took $(($(date +%s) - start)) s"
echo "sanitize: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
