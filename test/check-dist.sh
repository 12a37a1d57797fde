#!/usr/bin/env bash
# check-dist.sh: the PGXN distribution builds as `pgxn install` would build
# it.  `make dist` makes c5metrics-X.Y.0.zip of the working tree's tracked
# files (as committed, plus uncommitted changes to them: `git stash create`;
# a release is `make dist` of its commit); then:
#   - the zip holds every tracked file under c5metrics-X.Y.0/ and nothing else;
#   - its META.json passes test/check-meta.pl there (provides' files exist in
#     the zip);
#   - unpacked, `make` with PG_CONFIG builds c5metrics.so and
#     c5metrics_http.so, and `make -n install` would install the libraries,
#     the control file and every SQL script.  Nothing is installed.
# Needs git, unzip, make, a C compiler, PostgreSQL's server headers and
# libmicrohttpd-dev and zlib1g-dev (what `pgxn install` needs too).
# Prints "ok"/"not ok" lines and "dist: N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
PG_CONFIG=${PG_CONFIG:-pg_config}

passed=0
failed=0
check() {
	local ok=$1
	shift
	if [ "$ok" = 0 ]; then
		echo "ok - $*"
		passed=$((passed + 1))
	else
		echo "not ok - $*"
		failed=$((failed + 1))
	fi
}
finish() {
	echo "dist: $passed passed, $failed failed"
	[ "$failed" -eq 0 ]
	exit
}

tmp=$(mktemp -d /tmp/c5dist.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

release=$(make -s --no-print-directory print-version PG_CONFIG="$PG_CONFIG" | cut -d' ' -f2)
ref=$(git stash create 2>/dev/null)
ref=${ref:-HEAD}
make -s --no-print-directory dist DIST_REF="$ref" DISTDIR="$tmp" PG_CONFIG="$PG_CONFIG" >"$tmp/dist.log" 2>&1
check $? "make dist makes c5metrics-$release.zip"
zip=$tmp/c5metrics-$release.zip
[ -f "$zip" ] || { check 1 "$zip exists"; finish; }

unzip -q "$zip" -d "$tmp/unpacked"
top=$(ls "$tmp/unpacked")
check "$([ "$top" = "c5metrics-$release" ]; echo $?)" "the zip holds one directory, c5metrics-$release/ (got: $top)"
d=$tmp/unpacked/c5metrics-$release
diff <(git ls-tree -r --name-only "$ref" | sort) <(cd "$d" && find . -type f -o -type l | sed 's|^\./||' | sort) >"$tmp/files.diff"
check $? "the zip holds exactly the tracked files$( [ -s "$tmp/files.diff" ] && printf '\n%s' "$(sed 's/^/#   /' "$tmp/files.diff" | head -n 20)")"

meta_out=$(perl test/check-meta.pl --no-self-test "$d")
check $? "the zip's META.json passes test/check-meta.pl$(grep '^not ok' <<<"$meta_out" | sed 's/^/\n#   /')"

# pgxn install runs make, then make install, in the unpacked directory
make -C "$d" -s -j2 PG_CONFIG="$PG_CONFIG" >"$tmp/build.log" 2>&1
rc=$?
check "$rc" "make builds the unpacked distribution with $PG_CONFIG"
[ "$rc" -ne 0 ] && tail -n 20 "$tmp/build.log" | sed 's/^/#   /'
for f in c5metrics.so c5metrics_http.so; do
	check "$([ -f "$d/$f" ]; echo $?)" "it builds $f"
done
plan=$(make -C "$d" -n install PG_CONFIG="$PG_CONFIG" 2>&1)
missing=()
for f in c5metrics.so c5metrics_http.so c5metrics.control $(cd "$d/sql" && ls c5metrics--*.sql); do
	grep -q "$f" <<<"$plan" || missing+=("$f")
done
check "${#missing[@]}" "make install would install the libraries, the control file and every SQL script${missing[*]:+ (not: ${missing[*]})}"
finish
