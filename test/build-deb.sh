#!/usr/bin/env bash
# build-deb.sh [OUTDIR]: the Debian packages of this working tree (`make deb`).
#
# In a temporary copy of the tree (tracked files and new ones .gitignore does
# not leave out), with the upstream tarball c5metrics_X.Y.0.orig.tar.gz made
# from the same copy without debian/: `dpkg-buildpackage -us -uc`, which
# builds postgresql-NN-c5metrics for every major of debian/pgversions that
# postgresql-common supports and whose server headers are installed
# (pg_buildext; on Debian 12, 15), then `lintian` on the result.  The
# packages, the source package, lintian's report (lintian.txt) and the build
# log (build.log) go to OUTDIR (default build/deb); the last lines printed
# are the paths of the .deb files.  Exits non-zero if the build fails or
# lintian reports an error (E:); its warnings are listed, and explained in
# docs/PACKAGING.md.
#
# Installs what the build needs when missing (as root): dpkg-dev, debhelper,
# postgresql-server-dev-all (pg_buildext's debhelper add-on), libmicrohttpd-dev,
# zlib1g-dev, lintian.  Builds as whoever runs it: root is fine, the build
# starts no server.  PostgreSQL majors built from source by test/pg-build.sh
# (/var/cache/c5metrics/pg-MAJOR) are not seen: pg_buildext builds only for
# /usr/lib/postgresql/MAJOR.
set -euo pipefail
cd "$(dirname "$0")/.."
. test/lib.sh

out=${1:-build/deb}
mkdir -p "$out"
out=$(cd "$out" && pwd)

c5_ensure_packages dpkg-dev debhelper postgresql-server-dev-all libmicrohttpd-dev zlib1g-dev lintian

version=$(dpkg-parsechangelog -S Version)
upstream=${version%-*}
work=$(mktemp -d /tmp/c5deb.XXXXXX)
trap 'rm -rf "$work"' EXIT
src=$work/c5metrics-$upstream
mkdir -p "$src"
c5_copy_sources "$src" || die "copying the sources failed"
# the tree as built for the tests may hold objects: the package starts clean
(cd "$src" && rm -f ./*.so src/*.o src/http/*.o src/*.bc src/http/*.bc test/c5load/c5load)
tar -C "$work" --exclude="c5metrics-$upstream/debian" --owner=0 --group=0 --numeric-owner \
	--sort=name -czf "$work/c5metrics_$upstream.orig.tar.gz" "c5metrics-$upstream"

say "dpkg-buildpackage -us -uc: c5metrics $version for PostgreSQL $(cd "$src" && pg_buildext supported-versions | tr '\n' ' ')"
if ! (cd "$src" && dpkg-buildpackage -us -uc) >"$out/build.log" 2>&1; then
	tail -n 40 "$out/build.log" >&2
	die "dpkg-buildpackage failed (the whole log: $out/build.log)"
fi
changes=$(ls "$work"/c5metrics_"$version"_*.changes)

# lintian on the binary and source packages, info tags included
lintian --info --display-info "$changes" >"$out/lintian.txt" 2>&1 || true
errors=$(grep -c '^E: ' "$out/lintian.txt" || true)
warnings=$(grep -c '^W: ' "$out/lintian.txt" || true)
say "lintian: $errors errors, $warnings warnings ($out/lintian.txt)"
grep -E '^(E|W|I): ' "$out/lintian.txt" | sed 's/^/  /' >&2 || true

rm -f "$out"/*.deb "$out"/*.dsc "$out"/*.changes "$out"/*.buildinfo "$out"/*.tar.*
cp "$work"/*.deb "$work"/*.dsc "$work"/*.changes "$work"/*.buildinfo "$work"/*.tar.* "$out"/
[ "$errors" -eq 0 ] || die "lintian reports errors"
ls "$out"/*.deb
