# Shared by test/run-tests.sh and test/demo.sh: install what is missing,
# build and install the extension, and find an unprivileged user to run
# PostgreSQL as (it refuses to run as root).

C5_USER=${C5_USER:-c5test}

# The PostgreSQL installation to build against and test with: PG_CONFIG,
# by default Debian's PostgreSQL 15 (test/pg-build.sh prints the pg_config
# of a 17 or 18 built from Debian's source package).  Exported, so that
# every make below uses it.
if [ -n "${PG_CONFIG:-}" ]; then
	[ -x "$PG_CONFIG" ] || { printf 'error: PG_CONFIG=%s is not an executable pg_config\n' "$PG_CONFIG" >&2; exit 1; }
	PGBIN=$("$PG_CONFIG" --bindir)
else
	PG_CONFIG=/usr/lib/postgresql/15/bin/pg_config
	PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
fi
export PG_CONFIG

say() { printf '%s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

# Debian packages this project needs, installed when missing (root only).
c5_ensure_packages() {
	local missing=() pkg
	for pkg in "$@"; do
		dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" ||
			missing+=("$pkg")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	[ "$(id -u)" -eq 0 ] || die "missing packages: ${missing[*]} (run as root, or install them)"
	say "Installing: ${missing[*]}"
	DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
		"${missing[@]}" >/dev/null
}

# The unprivileged user that runs clusters; created when missing.
c5_ensure_user() {
	if [ "$(id -u)" -ne 0 ]; then
		C5_USER=$(id -un)
		return 0
	fi
	id "$C5_USER" >/dev/null 2>&1 ||
		useradd --system --create-home --shell /bin/bash "$C5_USER"
}

# Run a command as that user (or as ourselves when not root).
c5_as_user() {
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u "$C5_USER" -- "$@"
	else
		"$@"
	fi
}

c5_build_install() {
	# from clean: objects left by a build against another major's headers
	# (PG_CONFIG) must never be linked into this one
	make -s clean PG_CONFIG="$PG_CONFIG" >/dev/null 2>&1
	make -s -j2 PG_CONFIG="$PG_CONFIG" >/dev/null || die "build failed"
	if [ -w "$("$PG_CONFIG" --pkglibdir)" ]; then
		make -s install PG_CONFIG="$PG_CONFIG" >/dev/null || die "install failed"
	else
		sudo make -s install PG_CONFIG="$PG_CONFIG" >/dev/null || die "install failed"
	fi
}

# The major version of the PostgreSQL installation in use.
c5_pg_major() {
	"$PG_CONFIG" --version | sed -E 's/^PostgreSQL ([0-9]+).*/\1/'
}

# A private copy of the PostgreSQL installation under $1 (its binaries find
# share/ and lib/ relative to themselves), so that a special build can be
# installed and tested without touching the system one.  Prints nothing;
# fails if the copy does not report itself.
c5_private_pgroot() {
	local r=$1
	mkdir -p "$r/usr/lib/postgresql" "$r/usr/share/postgresql" "$r/usr/include/postgresql" &&
		cp -a /usr/lib/postgresql/15 "$r/usr/lib/postgresql/" &&
		cp -a /usr/share/postgresql/15 "$r/usr/share/postgresql/" &&
		cp -a /usr/include/postgresql/15 "$r/usr/include/postgresql/" &&
		cp -a /usr/include/postgresql/*.h "$r/usr/include/postgresql/" &&
		[ "$("$r/usr/lib/postgresql/15/bin/pg_config" --pkglibdir)" = "$r/usr/lib/postgresql/15/lib" ]
}

# Copy the working tree's sources (tracked and new files, not what
# .gitignore leaves out: builds, benchmark output) into $1.
c5_copy_sources() {
	if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
		git ls-files -co --exclude-standard -z | tar --null -T - -cf - 2>/dev/null | tar -xf - -C "$1"
	else
		tar --exclude=.git --exclude=tmp_check --exclude=tmp_check_iso --exclude=results \
			--exclude=output_iso --exclude=bench/out --exclude='*.o' --exclude='*.so' --exclude='*.bc' \
			--exclude=test/c5load/c5load -cf - . 2>/dev/null | tar -xf - -C "$1"
	fi
	[ -f "$1/Makefile" ]
}

# A free TCP port from [lo, hi] on this machine.
c5_free_port() {
	local lo=$1 hi=$2 p used
	used=$(ss -Htan 2>/dev/null | awk '{print $4}' | sed 's/.*://' | sort -u)
	for ((p = lo; p <= hi; p++)); do
		grep -qx "$p" <<<"$used" || { echo "$p"; return 0; }
	done
	return 1
}
