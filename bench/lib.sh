# Shared by the bench/ scripts (sourced; each script defines die() first).
#
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
