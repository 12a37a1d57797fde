#!/usr/bin/env bash
# Run every c5metrics test suite:
#   - the Debian package, first (test/package.sh): built with
#     dpkg-buildpackage and checked by lintian, installed with apt-get on a
#     server without c5metrics, its autopkgtest (debian/tests), purged;
#   - pg_regress suites (sql/, expected/) against a temporary instance
#     started with the library preloaded (test/regress.conf);
#   - the isolation suite (specs/) for what needs two sessions at once;
#   - the TAP tests (test/t/, PostgreSQL::Test::Cluster): persistence,
#     settings, exposition checks, the HTTP listener with curl, Prometheus
#     and a standby, the hostile-client suite, and the adversarial suite
#     (016-019: plain login roles against attach, registry, listener and
#     state files; docs/SECURITY.md), and Django's ORM and migrations
#     against a Django-modelled shop (021, Debian's python3-django), and
#     the status page at "/" in Debian's headless Chromium (024, through
#     chromium-driver and python3-selenium);
#   - a short fuzzing pass (test/fuzz/) under ASan and UBSan;
#   - the monitoring pack (monitoring/): promtool checks and unit tests of
#     the rules, amtool checks of the Alertmanager configuration and its
#     routes (test/check-monitoring.sh; the live alert drill is a TAP test);
#   - the checks that keep code, docs and releases in step: module map,
#     metric catalog, doc links, one version, META.json, the PGXN zip.
# Run it as root on a fresh machine: it installs what is missing, builds,
# installs, and runs the clusters as an unprivileged user.  The last line
# is "tests: N passed, N failed"; the exit status is 0 only if all passed.
#
# Which PostgreSQL: PG_CONFIG (default Debian's 15).  Against another
# installation (`PG_CONFIG=$(bash test/pg-build.sh 18) bash test/run-tests.sh`)
# everything runs but the sanitizer and valgrind builds, which are made on a
# private copy of Debian's 15 and run there.
#
#   bash test/run-tests.sh            the whole suite, on PG_CONFIG's server
#   bash test/run-tests.sh --matrix   the whole suite on 15, then on each
#                                     major of C5_MATRIX (default "17 18")
#                                     built by test/pg-build.sh (reused when
#                                     built): pg_regress, isolation and the
#                                     exactness, HTTP, faults and upgrade
#                                     TAP files; a major whose source cannot
#                                     be had here is reported as skipped
#   bash test/run-tests.sh --subset   that subset alone, on PG_CONFIG's server
#   bash test/run-tests.sh --package  the Debian package alone (test/package.sh):
#                                     built, lintian, `apt-get install ./...deb`,
#                                     its autopkgtest (pg_regress, isolation,
#                                     HTTP smoke test), `apt-get purge` leaves
#                                     nothing; the whole suite runs it first,
#                                     on Debian's PostgreSQL
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
mode=full
case ${1:-} in
	--matrix) mode=matrix ;;
	--subset) mode=subset ;;
	--package) mode=package ;;
	"") ;;
	*) printf 'usage: %s [--matrix | --subset | --package]\n' "$0" >&2; exit 2 ;;
esac
. test/lib.sh

c5_ensure_packages make gcc postgresql-15 postgresql-server-dev-15 libmicrohttpd-dev zlib1g-dev curl openssl \
	libipc-run-perl prometheus prometheus-alertmanager python3-django python3-psycopg2 \
	chromium chromium-driver python3-selenium python3-pil unzip
c5_ensure_user
export PATH="$PGBIN:$PATH"
major=$(c5_pg_major)
say "PostgreSQL $major: $PG_CONFIG"

passed=0
failed=0
status=0

# The Debian package first, as a DBA installs it, on a server where nothing
# of c5metrics is installed (test/package.sh removes what an earlier
# `make install` put there, and purges the package at the end); then the
# suites below run on what c5_build_install installs.  Debian's PostgreSQL
# only: pg_buildext does not see a major built by test/pg-build.sh.
if [ "$mode" != package ] && [ "$mode" != subset ] && [ "$(id -u)" -ne 0 ]; then
	say ""
	say "=== package ==="
	say "skipped: installing a package takes root (bash test/run-tests.sh --package as root)"
elif [ "$mode" = package ] || { [ "$mode" != subset ] && [[ $PG_CONFIG == /usr/lib/postgresql/*/bin/pg_config ]]; }; then
	say ""
	say "=== package ==="
	pkg_out=$(bash test/package.sh) || status=1
	say "$(grep -v '^ok ' <<<"$pkg_out")"
	p=$(sed -n 's/^package: \([0-9]*\) passed.*/\1/p' <<<"$pkg_out")
	f=$(sed -n 's/^package: .*, \([0-9]*\) failed$/\1/p' <<<"$pkg_out")
	passed=$((passed + ${p:-0}))
	failed=$((failed + ${f:-1}))
	if [ "$mode" = package ]; then
		say ""
		echo "tests: $passed passed, $failed failed"
		exit $status
	fi
fi

c5_build_install

# The suites write results next to the sources: work on a copy the
# unprivileged user owns.
work=$(mktemp -d /tmp/c5metrics-tests.XXXXXX)
trap 'rm -rf "$work"' EXIT
tar --exclude=.git --exclude=tmp_check --exclude=tmp_check_iso \
	--exclude=results --exclude=output_iso -cf - . | tar -xf - -C "$work"
chown -R "$C5_USER" "$work" 2>/dev/null || true
chmod 755 "$work"

# suite NAME MAKE-ARGS...: run one kind of suite, count its tests.
suite() {
	local name=$1 log="$work/$1.log"
	shift
	say ""
	say "=== $name ==="
	(cd "$work" && c5_as_user make installcheck "$@") >"$log" 2>&1
	local rc=$?
	grep -E '^(test |not ok |ok |All tests|Result|Files=|#\s+Failed)' "$log" >&2
	local p f
	if [ "$name" = tap ]; then
		p=$(grep -cE '^\[[0-9:.]+\]\([0-9.]+s\) ok ' "$work"/tmp_check/log/regress_log_* 2>/dev/null | awk -F: '{s+=$2} END {print s+0}')
		f=$(grep -cE '^\[[0-9:.]+\]\([0-9.]+s\) not ok ' "$work"/tmp_check/log/regress_log_* 2>/dev/null | awk -F: '{s+=$2} END {print s+0}')
		[ "$rc" -ne 0 ] && [ "$f" -eq 0 ] && f=1
	else
		# "test x ... ok" up to 15, "ok 1 - x" (TAP style) since 16
		p=$(grep -cE '^(test| ) ?[a-z_]+ +\.\.\. ok|^ok [0-9]+ +[-+] [a-z_]+' "$log")
		f=$(grep -cE '\.\.\. FAILED|^not ok [0-9]+ ' "$log")
		[ "$rc" -ne 0 ] && [ "$f" -eq 0 ] && f=1
	fi
	if [ "$rc" -ne 0 ]; then
		status=1
		for diffs in "$work/regression.diffs" "$work/output_iso/regression.diffs"; do
			[ -s "$diffs" ] && head -c 20000 "$diffs" >&2
		done
		tail -n 30 "$log" >&2
	fi
	passed=$((passed + p))
	failed=$((failed + f))
}

suite regress ISOLATION= TAP_TESTS=
suite isolation REGRESS= TAP_TESTS=
if [ "$mode" = subset ]; then
	# the files CI runs on every major besides 15
	suite tap REGRESS= ISOLATION= PROVE_FLAGS= \
		PROVE_TESTS="test/t/003_exposition.pl test/t/004_http.pl test/t/006_exactness.pl test/t/010_upgrade.pl test/t/011_faults.pl"
	say ""
	echo "tests: $passed passed, $failed failed"
	exit $status
fi
suite tap REGRESS= ISOLATION= PROVE_FLAGS=

# Fuzzing, short and bounded: the request parsers and the renderer under
# AddressSanitizer and UBSan (test/fuzz/README.md for longer runs).
say ""
say "=== fuzz ==="
fuzz_out=$(bash test/fuzz/run.sh) || status=1
say "$fuzz_out"
p=$(sed -n 's/^fuzz: \([0-9]*\) passed.*/\1/p' <<<"$fuzz_out")
f=$(sed -n 's/^fuzz: .*, \([0-9]*\) failed$/\1/p' <<<"$fuzz_out")
passed=$((passed + ${p:-0}))
failed=$((failed + ${f:-1}))

# The monitoring pack: every rule file linted, every rule unit-tested, the
# Alertmanager configuration checked and its routes tested (only failures
# and the count are shown).
say ""
say "=== monitoring ==="
mon_out=$(bash test/check-monitoring.sh) || status=1
say "$(grep -v '^ok ' <<<"$mon_out")"
p=$(sed -n 's/^monitoring: \([0-9]*\) passed.*/\1/p' <<<"$mon_out")
f=$(sed -n 's/^monitoring: .*, \([0-9]*\) failed$/\1/p' <<<"$mon_out")
passed=$((passed + ${p:-0}))
failed=$((failed + ${f:-1}))

# Sanitizers: the capture, exposition, worker and adversarial suites against the
# extension built with AddressSanitizer and UBSan, zero reports allowed
# (test/sanitize.sh; without --quick it runs every suite, ~15 min), then
# the worker's request path under valgrind (test/valgrind-worker.sh).
say ""
say "=== sanitize ==="
if [ "$major" != 15 ]; then
	san_out="sanitize: 0 passed, 0 failed (built on a private copy of Debian's 15; not run on $major)"
else
	san_out=$(bash test/sanitize.sh --quick) || status=1
fi
say "$san_out"
p=$(sed -n 's/^sanitize: \([0-9]*\) passed.*/\1/p' <<<"$san_out")
f=$(sed -n 's/^sanitize: .*, \([0-9]*\) failed$/\1/p' <<<"$san_out")
passed=$((passed + ${p:-0}))
failed=$((failed + ${f:-1}))

say ""
say "=== valgrind ==="
if [ "$major" != 15 ]; then
	vg_out="valgrind-worker: 0 passed, 0 failed (built on a private copy of Debian's 15; not run on $major)"
else
	vg_out=$(bash test/valgrind-worker.sh) || status=1
fi
say "$vg_out"
p=$(sed -n 's/^valgrind-worker: \([0-9]*\) passed.*/\1/p' <<<"$vg_out")
f=$(sed -n 's/^valgrind-worker: .*, \([0-9]*\) failed$/\1/p' <<<"$vg_out")
passed=$((passed + ${p:-0}))
failed=$((failed + ${f:-1}))

# Dashboards: JSON, panels, PromQL (promtool) and metric names against the
# exposition of a throwaway cluster (test/check-dashboards.sh --help).
say ""
say "=== dashboards ==="
dash_out=$(bash test/check-dashboards.sh --live) || status=1
say "$dash_out"
p=$(sed -n 's/^dashboards: \([0-9]*\) passed.*/\1/p' <<<"$dash_out")
f=$(sed -n 's/^dashboards: .*, \([0-9]*\) failed$/\1/p' <<<"$dash_out")
passed=$((passed + ${p:-0}))
failed=$((failed + ${f:-1}))

# The project explains itself, and cannot drift: the module map of
# docs/DESIGN.md (layers, no include or call circle, hooks installed in one
# place; on the objects c5_build_install left in the checkout), one metric
# catalog (src/catalog.h against docs/METRICS.md),
# every relative link between the markdown files, one version
# (test/check-version.pl: control file, SQL scripts, build_info, META.json,
# debian/changelog, CHANGELOG.md), META.json against the PGXN meta spec, and
# the PGXN zip of `make dist` building as `pgxn install` builds it.
for check in "structure:perl test/check-structure.pl ." "catalog:perl test/check-catalog.pl" \
	"doc links:bash test/check-doc-links.sh" "version:perl test/check-version.pl" \
	"pgxn:perl test/check-meta.pl" "dist:bash test/check-dist.sh"; do
	name=${check%%:*}
	say ""
	say "=== $name ==="
	out=$(${check#*:}) || status=1
	say "$(grep -v '^ok ' <<<"$out")"
	p=$(sed -n "s/^$name: \\([0-9]*\\) passed.*/\\1/p" <<<"$out")
	f=$(sed -n "s/^$name: .*, \\([0-9]*\\) failed\$/\\1/p" <<<"$out")
	passed=$((passed + ${p:-0}))
	failed=$((failed + ${f:-1}))
done

# --matrix: the other majors, each built once from Debian's source package
# (test/pg-build.sh) and reused, with the subset above.
if [ "$mode" = matrix ]; then
	for m in ${C5_MATRIX:-17 18}; do
		say ""
		say "=== PostgreSQL $m ==="
		if ! pgc=$(bash test/pg-build.sh "$m" 2>"$work/pg-build-$m.log" | tail -n 1) || [ ! -x "$pgc" ]; then
			say "skipped: PostgreSQL $m could not be built from Debian's source package here:"
			say "$(grep -E '^(E:|error)' "$work/pg-build-$m.log" | head -n 3)"
			continue
		fi
		m_out=$(PG_CONFIG=$pgc bash test/run-tests.sh --subset 2>&1) || status=1
		say "$(grep -E '^(test |not ok |ok |All tests|Result|Files=|#\s+Failed|tests:)|FAILED' <<<"$m_out")"
		p=$(sed -n 's/^tests: \([0-9]*\) passed.*/\1/p' <<<"$m_out")
		f=$(sed -n 's/^tests: .*, \([0-9]*\) failed$/\1/p' <<<"$m_out")
		passed=$((passed + ${p:-0}))
		failed=$((failed + ${f:-1}))
	done
	# the system installation is 15's again, as the whole suite left it
fi

say ""
echo "tests: $passed passed, $failed failed"
exit $status
