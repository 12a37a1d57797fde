#!/usr/bin/env bash
# Build PostgreSQL MAJOR from Debian's source package into a fixed prefix,
# for building and testing c5metrics against majors Debian 12 does not ship.
#
#   bash test/pg-build.sh 18        # as root; prints the pg_config path last
#   PG_CONFIG=$(bash test/pg-build.sh 18 | tail -n 1)
#   rm -rf /var/cache/c5metrics/pg-18 && bash test/pg-build.sh 18   # rebuild
#
# MAJOR is 17 (Debian trixie's postgresql-17) or 18 (sid's postgresql-18).
# No suite of Debian's archive carries postgresql-16: 16 builds only from
# C5_PG_SOURCE (below).
# The result is /var/cache/c5metrics/pg-MAJOR (C5_PG_CACHE moves the
# cache): upstream PostgreSQL from the source package's tarball, Debian's
# patches NOT applied (they move the socket directory to /var/run/postgresql
# and the installation to per-major paths, and carry packaging changes and
# a few backported fixes; no server API changes), built with
#   ./configure --prefix=/var/cache/c5metrics/pg-MAJOR --enable-tap-tests
#       --with-openssl --with-libxml --with-icu
# and installed with contrib (citext, lo), pg_isolation_regress and the
# PostgreSQL::Test perl modules, so that PGXS `make installcheck` runs the
# regress, isolation and TAP suites against it.
#
# Reuse: when the prefix's pg_config exists and reports MAJOR, the script
# only prints its path (no root needed).  Otherwise, as root, it
#   - adds /etc/apt/sources.list.d/c5metrics-pg-src.sources (Types: deb-src
#     only: trixie, trixie-security, sid) and pins those suites to -1 in
#     /etc/apt/preferences.d/c5metrics-pg-src, so that no binary package of
#     theirs can be installed on this bookworm machine;
#   - installs the build dependencies from bookworm (not `apt-get build-dep`:
#     Debian's list asks for versions bookworm lacks; this is what the plain
#     upstream configure needs);
#   - runs `apt-get source --download-only` into /var/cache/c5metrics/src,
#     builds in /var/cache/c5metrics/build-MAJOR with `nice -n 15 make -j2`
#     (log: build-MAJOR.log), installs into a staging directory and renames
#     it into place, so that a pg_config in the prefix means a complete
#     installation.  The build directory is removed afterwards; the
#     downloaded source package stays, so a rebuild needs no network.
#     A new Debian version is not picked up by itself: remove the prefix.
# Two runs for the same MAJOR wait for each other (flock).
#
# C5_PG_SOURCE=/path/postgresql-17.N.tar.bz2 (or an unpacked source tree)
# builds from that instead of the Debian source package, for a mirror that
# lists the package but does not serve its files; the prefix's SOURCE file
# says what it was built from.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

usage() { die "usage: bash test/pg-build.sh MAJOR   (MAJOR: 17 or 18; 16 with C5_PG_SOURCE)"; }
[ $# -eq 1 ] || usage
major=$1
case "$major" in
17) suites="trixie trixie-security" ;;
18) suites="sid" ;;
16) suites=""
	[ -n "${C5_PG_SOURCE:-}" ] ||
	die "PostgreSQL 16: no suite of Debian's archive carries postgresql-16 (bookworm has 15, trixie 17, sid 18); set C5_PG_SOURCE" ;;
*) usage ;;
esac

cache=${C5_PG_CACHE:-/var/cache/c5metrics}
prefix=$cache/pg-$major
pgc=$prefix/bin/pg_config

# The major an installation's pg_config reports ("PostgreSQL 18.6" -> 18),
# empty if it cannot run.
reported_major() {
	[ -x "$1" ] || return 0
	"$1" --version 2>/dev/null | sed -n 's/^PostgreSQL \([0-9][0-9]*\).*/\1/p'
}

if [ "$(reported_major "$pgc")" = "$major" ]; then
	say "PostgreSQL $major: already built ($("$pgc" --version))"
	echo "$pgc"
	exit 0
fi

[ "$(id -u)" -eq 0 ] || die "PostgreSQL $major is not built in $prefix; run as root to build it"
mkdir -p "$cache/src"
# apt downloads as _apt when it can write there (no "unsandboxed" warning).
id _apt >/dev/null 2>&1 && chown _apt:root "$cache/src"
exec 9>"$cache/pg-$major.lock"
flock 9
# Another run may have built it while this one waited.
if [ "$(reported_major "$pgc")" = "$major" ]; then
	say "PostgreSQL $major: already built ($("$pgc" --version))"
	echo "$pgc"
	exit 0
fi
if [ -e "$prefix" ]; then
	say "Removing $prefix: it does not hold a PostgreSQL $major installation"
	rm -rf "$prefix"
fi

started=$(date +%s)
build=$cache/build-$major
stage=$cache/stage-$major
log=$cache/build-$major.log
rm -rf "$build" "$stage"

# -- The source: Debian's source package, or C5_PG_SOURCE -----------------

srclist=/etc/apt/sources.list.d/c5metrics-pg-src.sources
pinfile=/etc/apt/preferences.d/c5metrics-pg-src

# Write $1 with the content on stdin unless it already has it; status 0
# when the file changed.
write_if_changed() {
	local new
	new=$(cat)
	[ -f "$1" ] && [ "$(cat "$1")" = "$new" ] && return 1
	printf '%s\n' "$new" >"$1"
}

# Only this file's indexes, without dropping the other sources' lists.
update_pg_src() {
	say "Updating the deb-src indexes of $srclist"
	DEBIAN_FRONTEND=noninteractive apt-get update -qq \
		-o Dir::Etc::sourcelist="$srclist" -o Dir::Etc::sourceparts=- \
		-o APT::Get::List-Cleanup=0 >/dev/null ||
		die "apt-get update of $srclist failed"
}

# Whether apt knows source package $1 (no grep -q: under pipefail, the
# SIGPIPE it can send apt-cache would read as "no").
has_source() {
	apt-cache showsrc --only-source "$1" 2>/dev/null | grep '^Package:' >/dev/null
}

debian_source() {
	local changed=0 pkg=postgresql-$major uris dsc
	write_if_changed "$srclist" <<-'EOF' && changed=1
		# c5metrics test/pg-build.sh: PostgreSQL 17 and 18 source packages.
		# Source packages only; binary packages of these suites are pinned
		# to -1 in /etc/apt/preferences.d/c5metrics-pg-src.
		Types: deb-src
		URIs: http://deb.debian.org/debian
		Suites: trixie sid
		Components: main
		Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

		Types: deb-src
		URIs: http://deb.debian.org/debian-security
		Suites: trixie-security
		Components: main
		Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
	EOF
	write_if_changed "$pinfile" <<-'EOF' || true
		# c5metrics test/pg-build.sh: never install binary packages from the
		# suites whose source packages it fetches (this machine is bookworm).
		Package: *
		Pin: release n=trixie
		Pin-Priority: -1

		Package: *
		Pin: release n=trixie-security
		Pin-Priority: -1

		Package: *
		Pin: release n=sid
		Pin-Priority: -1
	EOF
	if [ "$changed" -eq 1 ] || ! has_source "$pkg"; then
		update_pg_src
	fi
	has_source "$pkg" ||
		die "no source package $pkg in $suites (see $srclist)"

	# The .dsc apt picks (the highest version of the suites above).
	uris=$(cd "$cache/src" && apt-get source --print-uris --only-source "$pkg" 2>/dev/null) ||
		die "apt-get source --print-uris $pkg failed"
	dsc=$(awk '$2 ~ /\.dsc$/ {print $2}' <<<"$uris" | head -n 1)
	[ -n "$dsc" ] || die "apt-get source $pkg names no .dsc"
	version=${dsc#"${pkg}_"}
	version=${version%.dsc}
	if ! (cd "$cache/src" && apt-get source --download-only --only-source "$pkg=$version" >/dev/null 2>&1); then
		say "The archive lists $pkg $version in $suites, but this machine cannot download it:"
		(cd "$cache/src" && apt-get source --download-only --only-source "$pkg=$version" 2>&1 | grep '^E:' >&2) || true
		die "no PostgreSQL $major source; set C5_PG_SOURCE to a postgresql-$major tarball or source tree"
	fi
	# The upstream tree, without Debian's patches (see the top of this file).
	say "Unpacking $dsc (Debian patches not applied)"
	(cd "$cache/src" && dpkg-source --skip-patches --no-copy -x "$dsc" "$build" >>"$log" 2>&1) ||
		die "dpkg-source -x $dsc failed (log: $log)"
	origin="Debian source package $pkg $version ($suites), upstream tarball, Debian patches not applied"
}

local_source() {
	local s=$C5_PG_SOURCE
	if [ -d "$s" ]; then
		[ -f "$s/configure" ] || die "C5_PG_SOURCE=$s: no configure there"
		mkdir -p "$build"
		(cd "$s" && tar --exclude=.git -cf - .) | tar -xf - -C "$build"
	elif [ -f "$s" ]; then
		mkdir -p "$build"
		tar -xf "$s" -C "$build" --strip-components=1 || die "C5_PG_SOURCE=$s: cannot unpack"
	else
		die "C5_PG_SOURCE=$s: no such file or directory"
	fi
	origin="C5_PG_SOURCE=$s"
}

: >"$log"
c5_ensure_packages dpkg-dev gcc make bison flex perl libipc-run-perl pkg-config \
	libreadline-dev zlib1g-dev libssl-dev libxml2-dev libicu-dev bzip2 xz-utils
if [ -n "${C5_PG_SOURCE:-}" ]; then
	local_source
else
	debian_source
fi
# What configure calls itself: 'PACKAGE_VERSION='18.6''.
srcversion=$(sed -n "s/^PACKAGE_VERSION='\([^']*\)'.*/\1/p" "$build/configure")
[ "${srcversion%%[.a-z]*}" = "$major" ] ||
	die "the source is PostgreSQL '$srcversion', not $major ($origin)"

# -- Build and install -----------------------------------------------------

configure=(--prefix="$prefix" --enable-tap-tests --with-openssl --with-libxml --with-icu)
say "Building PostgreSQL $srcversion in $build (log: $log)"
step() {
	local what=$1
	shift
	if ! (cd "$build" && "$@") >>"$log" 2>&1; then
		tail -n 30 "$log" >&2
		die "PostgreSQL $major: $what failed (log: $log)"
	fi
}
step configure ./configure "${configure[@]}"
step build nice -n 15 make -j2
step "contrib build" nice -n 15 make -j2 -C contrib
# pg_isolation_regress and isolationtester for ISOLATION, the perl modules
# for TAP_TESTS: the top-level install may not put them under pgxs/.
step "isolation build" nice -n 15 make -j2 -C src/test/isolation
step install make install DESTDIR="$stage"
step "contrib install" make -C contrib install DESTDIR="$stage"
step "isolation install" make -C src/test/isolation install DESTDIR="$stage"
step "perl modules install" make -C src/test/perl install DESTDIR="$stage"

printf '%s\nconfigure %s\nbuilt %s\n' "$origin" "${configure[*]}" "$(date -u +%FT%TZ)" \
	>"$stage$prefix/SOURCE"
mv "$stage$prefix" "$prefix"
rm -rf "$stage" "$build"

# Everything PGXS installcheck needs; an installation that lacks any of it
# is removed, so that a pg_config in the prefix keeps meaning "complete".
[ "$(reported_major "$pgc")" = "$major" ] || { rm -rf "$prefix"; die "$pgc does not report PostgreSQL $major"; }
pgxs=$("$pgc" --pgxs)
pgxs=${pgxs%/src/makefiles/pgxs.mk}
sharedir=$("$pgc" --sharedir)
bindir=$("$pgc" --bindir)
for f in "$pgxs/src/test/regress/pg_regress" "$pgxs/src/test/isolation/pg_isolation_regress" \
	"$pgxs/src/test/isolation/isolationtester" "$pgxs/src/test/perl/PostgreSQL/Test/Cluster.pm" \
	"$sharedir/extension/citext.control" "$sharedir/extension/lo.control" \
	"$bindir/initdb" "$bindir/pg_upgrade" "$bindir/pgbench"; do
	[ -e "$f" ] || { rm -rf "$prefix"; die "PostgreSQL $major: $f was not installed (log: $log)"; }
done
say "PostgreSQL $major: built in $(($(date +%s) - started)) s ($("$pgc" --version))"
echo "$pgc"
