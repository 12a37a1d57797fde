# Shared by the bench/ scripts, sourced before they read their options.
# What every script does alike is here; what differs (ports, OUT, the
# settings of its cluster, what it measures) stays in the script and comes
# in as arguments or as the variables named below.
#
# A run, in this order:
#   bench_preflight [--http] TOOL...   the PostgreSQL of PG_CONFIG and c5metrics
#   bench_apt_install PACKAGE...       what is missing, installed as root
#   bench_as_postgres                  who runs the servers
#   bench_workdir SUBDIR...            OUT and a socket directory for them;
#                                      from here on bench_cleanup runs at exit
#   bench_initdb DIR LOG [OPTION...]   a cluster preloading c5metrics
#   bench_start DIR LOG [HTTP_PORT]    start it on PORT and SOCK
#   bench_stop                         stop it
#
# Variables: PORT (the server's port), OUT (the output directory), SOCK
# (set by bench_workdir), server_dir (set by bench_start), keep_data and
# scratch (the paths bench_cleanup removes unless keep_data is 1),
# bench_db (psql_'s database when DB is not set).  A script that starts
# other processes defines bench_on_exit to stop them.

bench_name=${0##*/}
bench_name=${bench_name%.sh}
bench_repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PG_CONFIG=${PG_CONFIG:-pg_config}
bench_db=bench
server_dir=""				# data directory of the server we started, if running
keep_data=0
scratch=()

# What Prometheus 2.x sends (scrape_protocols default).
PROM_ACCEPT='application/openmetrics-text;version=1.0.0;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2'

die() { echo "$bench_name: $*" >&2; exit 1; }
note() { echo "# $*" >&2; }
out() { echo "$*" | tee -a "$OUT/results.txt"; }	# a line of the results

bench_rev() { git -C "$bench_repo" describe --always --dirty 2>/dev/null || echo unknown; }

# bench_preflight [--http] TOOL...: sets BINDIR, PKGLIB and SHAREDIR from
# PG_CONFIG; dies unless BINDIR has each TOOL (postgres, initdb, ...) and
# c5metrics is installed there (with --http: its HTTP worker too).  Warns
# when a source file is newer than the installed library, which is what a
# run measures.
bench_preflight()
{
	local http=0 t f

	if [[ ${1:-} == --http ]]; then
		http=1
		shift
	fi
	command -v "$PG_CONFIG" >/dev/null || die "$PG_CONFIG not found (install postgresql-server-dev-15)"
	BINDIR=$("$PG_CONFIG" --bindir)
	PKGLIB=$("$PG_CONFIG" --pkglibdir)
	SHAREDIR=$("$PG_CONFIG" --sharedir)
	for t in "$@"; do
		[[ -x $BINDIR/$t ]] || die "no PostgreSQL $t in $BINDIR"
	done
	[[ -f $PKGLIB/c5metrics.so && -f $SHAREDIR/extension/c5metrics.control ]] &&
		{ ((!http)) || [[ -f $PKGLIB/c5metrics_http.so ]]; } ||
		die "c5metrics is not installed: run 'make && make install' in $bench_repo"
	if ((http)); then
		for f in "$bench_repo"/src/*.c "$bench_repo"/src/*.h "$bench_repo"/src/http/*.[ch] "$bench_repo"/sql/*--*.sql; do
			if [[ $f -nt $PKGLIB/c5metrics.so && $f -nt $PKGLIB/c5metrics_http.so ]]; then
				note "warning: $f is newer than the installed c5metrics: run 'make && make install' to measure it"
				break
			fi
		done
	else
		for f in "$bench_repo"/src/*.c "$bench_repo"/src/*.h "$bench_repo"/sql/*--*.sql; do
			if [[ $f -nt $PKGLIB/c5metrics.so ]]; then
				note "warning: $f is newer than the installed c5metrics.so: run 'make && make install' to measure it"
				break
			fi
		done
	fi
}

# bench_apt_install PACKAGE...: installs the packages with apt-get (as
# root; otherwise dies naming them).  Nothing to do without arguments.
bench_apt_install()
{
	(($#)) || return 0
	[[ $EUID -eq 0 ]] && command -v apt-get >/dev/null ||
		die "missing: $*: install them (apt-get install $*)"
	note "installing $*"
	apt-get install -y "$@" >/dev/null 2>&1 ||
		{ apt-get update >/dev/null && apt-get install -y "$@" >/dev/null; } ||
		die "could not install $*"
}

# bench_as_postgres: who runs the servers.  As root, every PostgreSQL
# process runs as the OS user postgres; otherwise as the calling user.
# Sets pg_prefix (an array to put before a command; setpriv execs without
# forking, so a background "${pg_prefix[@]}" cmd & keeps the process's own
# pid), the function as_pg, and dbuser (the database superuser initdb
# creates: a single-user backend logs in as the OS user).
bench_as_postgres()
{
	if [[ $EUID -eq 0 ]]; then
		id postgres >/dev/null 2>&1 || die "the OS user postgres does not exist"
		local pg_home
		pg_home=$(getent passwd postgres | cut -d: -f6)
		pg_prefix=(setpriv --reuid=postgres --regid=postgres --init-groups
			env HOME="$pg_home" USER=postgres LOGNAME=postgres)
		dbuser=postgres
	else
		pg_prefix=(env)
		dbuser=$(id -un)
	fi
	as_pg() { "${pg_prefix[@]}" "$@"; }
}

# bench_workdir SUBDIR...: makes the SUBDIRs of OUT (an absolute path, made
# and cleared by the script), a private socket directory SOCK in /tmp, both
# usable by the servers' user, enters OUT (a working directory every user
# can enter) and installs bench_cleanup.
bench_workdir()
{
	local d

	for d in "$@"; do
		mkdir -p "$OUT/$d"
	done
	SOCK=$(mktemp -d "/tmp/c5$bench_name.XXXXXX")
	if [[ $EUID -eq 0 ]]; then
		chown postgres: "$OUT" "${@/#/$OUT/}" "$SOCK"
	fi
	chmod 700 "$SOCK"
	as_pg test -w "$OUT" -a -x "$OUT" ||
		die "$OUT is not usable by user postgres (is a parent directory closed?); use --out /tmp/..."
	cd "$OUT"
	trap bench_cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
}

# At exit, also on error or Ctrl-C: the script's bench_on_exit, then the
# server stopped at once, SOCK and the scratch paths removed.
bench_cleanup()
{
	local rc=$?

	trap - EXIT INT TERM
	if declare -F bench_on_exit >/dev/null; then
		bench_on_exit || true
	fi
	if [[ -n $server_dir && -f $server_dir/postmaster.pid ]]; then
		as_pg "$BINDIR/pg_ctl" -D "$server_dir" -m immediate -w stop >/dev/null 2>&1 || true
	fi
	rm -rf "$SOCK"
	if ((!keep_data && ${#scratch[@]})); then
		rm -rf "${scratch[@]}"
	fi
	exit "$rc"
}

# bench_kill PID...: stops each of these processes that still runs.
bench_kill()
{
	local p

	for p in "$@"; do
		if [[ -n $p ]] && kill -0 "$p" 2>/dev/null; then
			kill -TERM "$p" 2>/dev/null || true
			wait "$p" 2>/dev/null || true
		fi
	done
}

# bench_initdb DIR LOG [OPTION...]: initdb (its output in LOG, with the
# OPTIONs) and a postgresql.conf that preloads c5metrics and listens on a
# unix socket only; the script's own settings come on stdin.
bench_initdb()
{
	local dir=$1 log=$2

	note "initdb $dir"
	as_pg "$BINDIR/initdb" -D "$dir" -U "$dbuser" -A trust "${@:3}" </dev/null >"$log" 2>&1 ||
		die "initdb failed, see $log"
	{
		cat <<EOF

# --- bench/$bench_name.sh ---
shared_preload_libraries = 'c5metrics'
listen_addresses = ''		# unix socket only
EOF
		cat
	} >>"$dir/postgresql.conf"
}

# bench_start DIR LOG [HTTP_PORT]: starts the cluster in DIR on PORT and
# SOCK, its log in LOG; with HTTP_PORT, waits until c5metrics' /healthz
# answers there.
bench_start()
{
	local i

	as_pg "$BINDIR/pg_ctl" -D "$1" -l "$2" -w -t 120 -o "-p $PORT -k $SOCK" start >/dev/null ||
		die "server did not start, see $2"
	server_dir=$1
	[[ -n ${3:-} ]] || return 0
	for ((i = 0; i < 100; i++)); do
		curl -sf -o /dev/null --max-time 1 "http://127.0.0.1:$3/healthz" && return 0
		sleep 0.1
	done
	die "/healthz does not answer on 127.0.0.1:$3, see $2"
}

bench_stop()
{
	as_pg "$BINDIR/pg_ctl" -D "$server_dir" -m fast -w -t 120 stop >/dev/null
	server_dir=""
}

psql_()						# psql on the running server, database DB or bench_db
{
	as_pg "$BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -h "$SOCK" -p "$PORT" -U "$dbuser" \
		-d "${DB:-$bench_db}" "$@"
}

# First value of a one-column query, from a single-user backend started
# with the script's single_opts.
single_value()				# datadir sql
{
	echo "$2" | as_pg "$BINDIR/postgres" --single -D "$1" "${single_opts[@]}" "$bench_db" 2>&1 |
		sed -n 's/^[[:space:]]*1: [a-z_]* = "\([^"]*\)".*/\1/p' | awk 'NR == 1'	# reads all: no SIGPIPE
}

# Pid of a child of our postmaster, by its process title.  The HTTP worker
# does not connect to a database, so it is not in pg_stat_activity.
backend_pid()				# title (as in "postgres: <title>")
{
	local pm

	pm=$(head -n 1 "$server_dir/postmaster.pid")
	ps -o pid=,args= --ppid "$pm" | awk -v t="postgres: $1" '
		{ pid = $1; sub(/^ *[0-9]+ +/, "") }
		!found && ($0 == t || index($0, t " ") == 1) { print pid; found = 1 }'
}

# Fields of /proc/<pid>/status in kB, in the order asked.
proc_mem()					# pid field... (VmRSS, VmHWM, RssAnon, ...)
{
	awk -v f="${*:2}" 'BEGIN { n = split(f, k, " ") } { v[$1] = $2 }
		END { for (i = 1; i <= n; i++) printf "%d%s", v[k[i] ":"], (i < n) ? " " : "\n" }' "/proc/$1/status"
}

# CPU time of a process so far, in ns (scheduler statistics: exact, unlike ticks)
cpu_ns() { awk '{ print $1 }' "/proc/$1/schedstat"; }
