#!/usr/bin/env bash
# Build the libFuzzer targets of test/fuzz/ with AddressSanitizer and UBSan
# and run each for a bounded time:
#   fuzz_negotiate  the HTTP worker's request parsers (src/http/negotiate.c)
#   fuzz_render     the exposition renderer (src/exposition.c) fed random
#                   registry snapshots
# Builds, corpora and crash inputs go to a temporary directory, never into
# the repository; a crashing input is printed in hex and the directory is
# kept for reproducing it.
#
#   bash test/fuzz/run.sh                     # 20 s per target: the test suite's pass
#   FUZZ_SECONDS=600 bash test/fuzz/run.sh    # longer
#
# Settings: FUZZ_SECONDS (per target, default 20); FUZZ_RUNS (a cap on
# executions per target, default a million per second); FUZZ_TARGETS
# (default both); FUZZ_WORKDIR (a directory kept across runs, so corpora
# grow; default a fresh temporary one, removed when everything passed);
# FUZZ_COVERAGE=1 (also report the line and branch coverage of the sources
# under test by the corpus); CC (default clang).  Run as root on a fresh
# Debian 12 machine it installs clang and its fuzzer runtime.  The last
# line is "fuzz: N passed, N failed"; the exit status is 0 only if all
# passed.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
. test/lib.sh

seconds=${FUZZ_SECONDS:-20}
runs=${FUZZ_RUNS:-$((seconds * 1000000))}
targets=${FUZZ_TARGETS:-fuzz_negotiate fuzz_render}
CC=${CC:-clang}

c5_ensure_packages clang libclang-rt-14-dev postgresql-server-dev-15
[ "${FUZZ_COVERAGE:-0}" = 1 ] && c5_ensure_packages llvm-14
command -v "$CC" >/dev/null || die "$CC not found"
PG_CONFIG=${PG_CONFIG:-pg_config}
command -v "$PG_CONFIG" >/dev/null || PG_CONFIG=/usr/lib/postgresql/15/bin/pg_config

if [ -n "${FUZZ_WORKDIR:-}" ]; then
	work=$FUZZ_WORKDIR
	mkdir -p "$work" || die "cannot create $work"
	keep=1
else
	work=$(mktemp -d /tmp/c5metrics-fuzz.XXXXXX) || die "mktemp failed"
	keep=0
fi
work=$(cd "$work" && pwd)
trap '[ "$keep" -eq 1 ] || rm -rf "$work"' EXIT

# Sanitizers on everything; coverage feedback (including comparison
# tracing) on the code under test.  The harnesses' own loops and checks
# skip comparison tracing, which would otherwise dominate their run time.
SAN="-g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined"
HARNESS_COV="-fno-sanitize-coverage=trace-cmp"
WARN="-Wall -Wno-unused-parameter"
PGINC=$("$PG_CONFIG" --includedir-server)
PGLIB=$("$PG_CONFIG" --pkglibdir)
[ -f "$PGLIB/libpgcommon.a" ] || PGLIB=/usr/lib/postgresql/15/lib
# the server headers are configured for gcc, whose printf attribute clang lacks
C5M_VERSION=$(sed -n "s/^default_version *= *'\(.*\)'/\1/p" c5metrics.control)
PGFLAGS="-D_GNU_SOURCE -DUSE_ASSERT_CHECKING -fno-strict-aliasing -Wno-ignored-attributes -I src -I $PGINC -DC5M_VERSION=\"$C5M_VERSION\""

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:strict_string_checks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

# compile OUT FLAGS... SOURCE: one object, its messages to the build log.
compile() {
	local out=$1
	shift
	"$CC" $SAN $WARN "$@" -c -o "$out" >>"$build_log" 2>&1
}

# sources_TARGET: the files under test; build_TARGET: compile and link
# $bin, false (with $why) when impossible.
sources_fuzz_negotiate() {
	echo src/http/negotiate.c
}

build_fuzz_negotiate() {
	compile "$obj/negotiate.o" -I src/http src/http/negotiate.c &&
		compile "$obj/fuzz_negotiate.o" $HARNESS_COV -I src/http test/fuzz/fuzz_negotiate.c &&
		"$CC" $SAN -o "$bin" "$obj/fuzz_negotiate.o" "$obj/negotiate.o" >>"$build_log" 2>&1
}

# The renderer, sqlstate.c's label names and the layout code -- but not
# registry.c, which needs shared memory and LWLocks.
sources_fuzz_render() {
	local layout

	layout=$(grep -l '^c5m_compute_layout(' src/*.c 2>/dev/null | grep -v '^src/registry\.c$' | head -n 1)
	[ -n "$layout" ] || return 1
	echo src/exposition.c src/catalog.c src/sqlstate.c "$layout"
}

build_fuzz_render() {
	local f srcs objs=()

	if ! srcs=$(sources_fuzz_render); then
		why="c5m_compute_layout() is only in src/registry.c, which needs shared memory and LWLocks; move it into a file of its own (e.g. src/layout.c) to fuzz the renderer"
		return 1
	fi
	for f in $srcs; do
		compile "$obj/$(basename "$f" .c).o" $PGFLAGS "$f" || return 1
		objs+=("$obj/$(basename "$f" .c).o")
	done
	for f in fuzz_render stubs; do
		compile "$obj/$f.o" $HARNESS_COV $PGFLAGS "test/fuzz/$f.c" || return 1
		objs+=("$obj/$f.o")
	done
	"$CC" $SAN -o "$bin" "${objs[@]}" "$PGLIB/libpgcommon.a" "$PGLIB/libpgport.a" -lm \
		>>"$build_log" 2>&1
}

# With FUZZ_COVERAGE=1: the line and branch coverage of our sources by the
# corpus, from a second build with source-based coverage and no sanitizer.
coverage_report() {
	local name=$1 dir=$2 src=$3
	local SAN="-g -O0 -fsanitize=fuzzer -fprofile-instr-generate -fcoverage-mapping"
	local HARNESS_COV="" obj="$dir/cov-obj" bin="$dir/cov-$name" build_log="$dir/cov-build.log"
	local why=""

	mkdir -p "$obj"
	: >"$build_log"
	"build_$name" || { say "$name: coverage build failed (see $build_log)"; return 0; }
	rm -f "$dir"/cov-*.profraw
	LLVM_PROFILE_FILE="$dir/cov-%p.profraw" "$bin" -runs=0 "$dir/corpus" "${seeds[@]}" >/dev/null 2>&1
	llvm-profdata-14 merge -sparse "$dir"/cov-*.profraw -o "$dir/cov.profdata" &&
		llvm-cov-14 report "$bin" -instr-profile="$dir/cov.profdata" $src >&2
}

# Print a file's bytes as one hex string (xxd -r -p turns it back).
hex() {
	od -An -v -tx1 "$1" | tr -d ' \n'
	echo
}

passed=0
failed=0

for name in $targets; do
	say ""
	say "=== $name ==="
	dir="$work/$name"
	obj="$dir/obj"
	bin="$dir/$name"
	build_log="$dir/build.log"
	log="$dir/fuzz.log"
	why=""
	mkdir -p "$obj" "$dir/corpus" "$dir/artifacts"
	rm -f "$dir"/artifacts/*
	: >"$build_log"
	if ! declare -F "build_$name" >/dev/null; then
		say "$name: no such target"
		failed=$((failed + 1))
		continue
	fi
	if ! "build_$name"; then
		[ -n "$why" ] && say "$name: cannot build: $why"
		[ -s "$build_log" ] && tail -n 40 "$build_log" >&2
		say "$name: FAILED (build)"
		failed=$((failed + 1))
		continue
	fi

	args=(-max_total_time="$seconds" -runs="$runs" -timeout=10 -rss_limit_mb=2048
		-print_final_stats=1 -artifact_prefix="$dir/artifacts/")
	seeds=()
	[ -d "test/fuzz/corpus/${name#fuzz_}" ] && seeds+=("test/fuzz/corpus/${name#fuzz_}")
	[ -f "test/fuzz/${name#fuzz_}.dict" ] && args+=(-dict="test/fuzz/${name#fuzz_}.dict")
	[ "$name" = fuzz_render ] && args+=(-max_len=8192)

	"$bin" "${args[@]}" "$dir/corpus" "${seeds[@]}" >"$log" 2>&1
	rc=$?

	done_line=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -n 1)
	[ -z "$done_line" ] && done_line=$(grep -E '^#[0-9]+[[:space:]]' "$log" | tail -n 1)
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
	cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$done_line")
	ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$done_line")
	corp=$(sed -n 's/.* corp: \([0-9]*\/[0-9]*[a-zA-Z]*\).*/\1/p' <<<"$done_line")
	if [ "$rc" -ne 0 ] ||
		grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:|invariant violated' "$log"; then
		keep=1
		failed=$((failed + 1))
		grep -E 'invariant violated|in the (text|OpenMetrics) output|ERROR: |runtime error:|SUMMARY:|TRAP:' "$log" | head -n 20 >&2
		grep -E '^    #[0-9]+ ' "$log" | head -n 15 >&2
		for a in "$dir"/artifacts/*; do
			[ -f "$a" ] || continue
			say "input ($(wc -c <"$a") bytes) $a:"
			hex "$a" | head -c 8192 >&2
			echo >&2
			say "reproduce: $bin $a"
		done
		say "$name: FAILED (exit $rc); log: $log"
	else
		passed=$((passed + 1))
		say "$name: ok: $execs runs, $rate exec/s, coverage $cov edges / $ft features, corpus $corp"
		[ "${FUZZ_COVERAGE:-0}" = 1 ] && coverage_report "$name" "$dir" "$(sources_$name)"
	fi
done

[ "$keep" -eq 1 ] && [ -z "${FUZZ_WORKDIR:-}" ] && [ "$failed" -gt 0 ] && say "kept $work"
echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
