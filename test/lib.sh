# Shared by test/run-tests.sh and test/demo.sh: install what is missing,
# build and install the extension, and find an unprivileged user to run
# PostgreSQL as (it refuses to run as root).

C5_USER=${C5_USER:-c5test}
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}

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
	make -s -j2 >/dev/null || die "build failed"
	if [ -w "$(pg_config --pkglibdir)" ]; then
		make -s install >/dev/null || die "install failed"
	else
		sudo make -s install >/dev/null || die "install failed"
	fi
}
