#!/usr/bin/env bash
# package.sh: c5metrics installed the way a DBA installs it, from its Debian
# package, on a server where nothing of c5metrics is installed
# (`bash test/run-tests.sh --package`, and the first suite of the whole run):
#   1. nothing of c5metrics under /usr/lib/postgresql or /usr/share/postgresql:
#      what `make install` put there is removed with `make uninstall`, and a
#      postgresql-NN-c5metrics left by an interrupted run is purged;
#   2. the packages are built (test/build-deb.sh: dpkg-buildpackage, lintian
#      without errors) and hold the libraries, the control file and every SQL
#      script, and depend on the server, libmicrohttpd and zlib;
#   3. `apt-get install ./postgresql-NN-c5metrics_VERSION_ARCH.deb`;
#   4. debian/tests/installcheck, the package's autopkgtest: the pg_regress
#      and isolation suites and the HTTP smoke test against the installed
#      files, clusters run as the unprivileged user $C5_USER;
#   5. `apt-get purge`: every file the package installed is gone, no file
#      named after c5metrics is left under the PostgreSQL directories or
#      /usr/share/doc, dpkg forgets the package, and no server is left running.
# A package still installed when the script ends (an error, an interrupt) is
# purged.  Root only.  Debian's PostgreSQL only: pg_buildext builds for
# /usr/lib/postgresql/MAJOR, not for a major built by test/pg-build.sh.
# Prints "ok"/"not ok" lines and "package: N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
. test/lib.sh

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
	echo "package: $passed passed, $failed failed"
	[ "$failed" -eq 0 ]
	exit
}

[ "$(id -u)" -eq 0 ] || { check 1 "run as root (apt-get install and purge)"; finish; }
case $PG_CONFIG in
	/usr/lib/postgresql/*/bin/pg_config) ;;
	*)
		echo "# PG_CONFIG=$PG_CONFIG is not Debian's PostgreSQL: pg_buildext builds packages for /usr/lib/postgresql/MAJOR only"
		finish
		;;
esac
c5_ensure_user
export C5_USER

work=$(mktemp -d /tmp/c5package.XXXXXX)
chmod 755 "$work"
installed=()
cleanup() {
	local p
	for p in "${installed[@]}"; do
		dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null | grep -q . &&
			DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq "$p" >/dev/null 2>&1
	done
	rm -rf "$work"
}
trap cleanup EXIT

# What of c5metrics is installed under the PostgreSQL directories.
c5_files() {
	find /usr/lib/postgresql /usr/share/postgresql -name '*c5metrics*' 2>/dev/null | sort
}

# -- 1. a server without c5metrics ---------------------------------------------
for p in $(dpkg-query -W -f='${Package} ${db:Status-Status}\n' 'postgresql-*-c5metrics' 2>/dev/null | awk '$2 != "not-installed" {print $1}'); do
	echo "# purging $p, left installed by an earlier run"
	DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq "$p" >/dev/null 2>&1
done
for pgc in /usr/lib/postgresql/*/bin/pg_config; do
	lib=$("$pgc" --pkglibdir)
	ext=$("$pgc" --sharedir)/extension
	if [ -e "$lib/c5metrics.so" ] || [ -e "$lib/c5metrics_http.so" ] || ls "$ext"/c5metrics* >/dev/null 2>&1; then
		echo "# make uninstall PG_CONFIG=$pgc: removing what make install put there"
		make -s uninstall PG_CONFIG="$pgc" >/dev/null 2>&1
	fi
done
left=$(c5_files)
check "$([ -z "$left" ]; echo $?)" "no c5metrics file under /usr/lib/postgresql or /usr/share/postgresql before the package${left:+: $(tr '\n' ' ' <<<"$left")}"

# -- 2. the packages ------------------------------------------------------------
bash test/build-deb.sh "$work/deb" >"$work/build-deb.out" 2>&1
rc=$?
sed -n 's/^  \([EWI]: .*\)/# lintian: \1/p' "$work/build-deb.out"
check "$rc" "test/build-deb.sh: dpkg-buildpackage -us -uc builds, lintian reports no error"
if [ "$rc" -ne 0 ]; then
	tail -n 30 "$work/build-deb.out" | sed 's/^/# /'
	finish
fi
version=$(dpkg-parsechangelog -S Version)
arch=$(dpkg --print-architecture)
majors=$(cd "$work" && ls deb/ | sed -n "s/^postgresql-\([0-9]*\)-c5metrics_${version}_$arch\.deb$/\1/p")
check "$([ -n "$majors" ]; echo $?)" "a package postgresql-NN-c5metrics_${version}_$arch.deb per major (built: $(tr '\n' ' ' <<<"$majors"))"

for m in $majors; do
	pkg=postgresql-$m-c5metrics
	deb=$work/deb/${pkg}_${version}_$arch.deb
	contents=$(dpkg-deb -c "$deb" | awk '{print $6}' | sed 's|^\./|/|')
	missing=()
	for f in /usr/lib/postgresql/$m/lib/c5metrics.so /usr/lib/postgresql/$m/lib/c5metrics_http.so \
		/usr/share/postgresql/$m/extension/c5metrics.control $(cd sql && printf "/usr/share/postgresql/$m/extension/%s\n" c5metrics--*.sql); do
		grep -qx "$f" <<<"$contents" || missing+=("$f")
	done
	check "${#missing[@]}" "$pkg holds c5metrics.so, c5metrics_http.so, the control file and the $(ls sql/c5metrics--*.sql | wc -l) SQL scripts${missing[*]:+ (missing: ${missing[*]})}"
	depends=$(dpkg-deb -f "$deb" Depends)
	for dep in "postgresql-$m" libmicrohttpd12 zlib1g libc6; do
		check "$(grep -Eq "(^|, )$dep( |,|$)" <<<"$depends"; echo $?)" "$pkg depends on $dep (Depends: $depends)"
	done
	echo "# $pkg $version: $(grep -c . <<<"$contents") entries, $(dpkg-deb -f "$deb" Installed-Size) kB installed"

	# -- 3. apt-get install ./the.deb ---------------------------------------
	installed+=("$pkg")
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$deb" >"$work/install-$m.log" 2>&1
	check $? "apt-get install $(basename "$deb")"
	[ "$(dpkg-query -W -f='${Version}' "$pkg" 2>/dev/null)" = "$version" ]
	check $? "dpkg lists $pkg $version as installed"
done

# -- 4. the package's autopkgtest -------------------------------------------------
tree=$work/src
mkdir -p "$tree"
c5_copy_sources "$tree"
while IFS= read -r line; do
	case $line in
		"ok - "*) passed=$((passed + 1)); echo "$line" ;;
		"not ok - "*) failed=$((failed + 1)); echo "$line" ;;
		"#"*) echo "$line" ;;
	esac
done < <(bash "$tree/debian/tests/installcheck" 2>&1)

# -- 5. apt-get purge leaves nothing ------------------------------------------------
for m in $majors; do
	pkg=postgresql-$m-c5metrics
	dpkg -L "$pkg" >"$work/files-$m" 2>/dev/null
	DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq "$pkg" >"$work/purge-$m.log" 2>&1
	check $? "apt-get purge $pkg"
	status=$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null)
	check "$([ -z "$status" ] || [ "$status" = not-installed ]; echo $?)" "dpkg no longer knows $pkg (status: ${status:-none})"
	left=()
	while IFS= read -r f; do
		# the shared directories (/, /usr, /usr/lib/postgresql/15/lib, ...) stay
		[ "$f" = /. ] && continue
		[ -d "$f" ] && dpkg -S "$f" >/dev/null 2>&1 && continue
		[ -e "$f" ] || [ -L "$f" ] && left+=("$f")
	done <"$work/files-$m"
	check "${#left[@]}" "every path dpkg -L $pkg listed ($(grep -c . "$work/files-$m")) is gone or another package's directory${left[*]:+ (left: ${left[*]})}"
done
left=$(c5_files; find /usr/share/doc -maxdepth 1 -name '*c5metrics*' 2>/dev/null)
check "$([ -z "$left" ]; echo $?)" "no file named after c5metrics is left under /usr/lib/postgresql, /usr/share/postgresql or /usr/share/doc${left:+: $(tr '\n' ' ' <<<"$left")}"
running=$(pgrep -u "$C5_USER" -f '/tmp/c5pkg\.' || true)
check "$([ -z "$running" ]; echo $?)" "no server of the tests is left running${running:+: pids $running}"
installed=()
finish
