# The listener's secrets through SQL, with real values configured: a bearer
# token in a file, a TLS certificate and key.  A role without
# pg_read_all_settings -- a plain role, or one with pg_read_all_stats that
# may read the metrics -- finds neither the token nor the files' paths in
# anything SQL shows it: SHOW, current_setting(), pg_settings, the
# configuration files and their views, server file functions, COPY, the
# metrics themselves.  A pg_monitor member (which PostgreSQL gives
# pg_read_all_settings) sees the paths, as docs/HTTP.md says, but never the
# token.  sql/security.sql checks the same surface without values.
use strict;
use warnings;
use File::Path qw(make_path);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep time);
use FindBin;
use lib "$FindBin::Bin/../perl";
use C5Test;

my $port = PostgreSQL::Test::Cluster::get_free_port();
my $node = C5Test::node('secrets', http_port => $port, start => 0);

my $token = 'tok-' . join('', map { ('a' .. 'z', 0 .. 9)[ rand 36 ] } 1 .. 24);
my $dir = $node->basedir . '/hidden-c5-secrets';
make_path($dir);
chmod 0700, $dir;
PostgreSQL::Test::Utils::append_to_file("$dir/token", "$token\n");
chmod 0600, "$dir/token";
my ($out, $err) = ('', '');
ok(IPC::Run::run([ 'openssl', 'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=127.0.0.1',
			'-days', '1', '-keyout', "$dir/key.pem", '-out', "$dir/cert.pem" ], '>', \$out, '2>', \$err),
	'a test certificate is made') or diag($err);
chmod 0600, "$dir/key.pem";
my ($key_line) = grep { !/^-----/ } split /\n/, slurp_file("$dir/key.pem");

$node->append_conf('postgresql.conf', qq{
c5metrics.http_auth = 'bearer'
c5metrics.http_auth_file = '$dir/token'
c5metrics.http_tls_cert_file = '$dir/cert.pem'
c5metrics.http_tls_key_file = '$dir/key.pem'
});
$node->start;
$node->safe_psql('postgres', qq{
	CREATE EXTENSION c5metrics;
	SELECT c5metrics.create_reference_schema();
	CREATE ROLE c5_plain LOGIN;
	CREATE ROLE c5_stats LOGIN IN ROLE pg_read_all_stats;
	CREATE ROLE c5_monitor LOGIN IN ROLE pg_monitor;
	ALTER SYSTEM SET c5metrics.http_auth_file = '$dir/token';
	SELECT pg_reload_conf();
});

# The listener uses them: HTTPS with the token.
my $https = "https://127.0.0.1:$port/metrics";
my $until = time() + 20;
my $code = '';
while (time() < $until)
{
	IPC::Run::run([ 'curl', '-sS', '--noproxy', '*', '-m', '5', '--cacert', "$dir/cert.pem",
			'-H', "Authorization: Bearer $token", '-o', '/dev/null', '-w', '%{http_code}', $https ],
		'>', \$code, '2>', \$err);
	last if $code eq '200';
	usleep(200_000);
}
is($code, '200', 'the listener serves HTTPS with the token from the file');

# Everything a role can try from SQL, each statement on its own (a denied
# one must not hide the others).
my @probes = (
	'SHOW ALL',
	'SHOW c5metrics.http_auth_file',
	'SHOW c5metrics.http_tls_cert_file',
	'SHOW c5metrics.http_tls_key_file',
	q{SELECT current_setting('c5metrics.http_auth_file', true)},
	q{SELECT current_setting('c5metrics.http_tls_key_file')},
	'SELECT name, setting, reset_val, boot_val, sourcefile FROM pg_settings',
	'SELECT * FROM pg_show_all_settings()',
	'SELECT * FROM pg_file_settings',
	'SELECT * FROM pg_show_all_file_settings()',
	'SELECT * FROM pg_db_role_setting',
	q{SELECT pg_read_file('postgresql.conf')},
	q{SELECT pg_read_file('postgresql.auto.conf')},
	qq{SELECT pg_read_file('$dir/token')},
	qq{SELECT pg_read_binary_file('$dir/key.pem')},
	qq{SELECT pg_stat_file('$dir/token')},
	q{SELECT pg_ls_dir('.')},
	qq{CREATE TEMP TABLE t (x text); COPY t FROM '$dir/token'; SELECT * FROM t},
	qq{SELECT lo_import('$dir/token')},
	'SELECT * FROM pg_stat_activity',
	'SELECT * FROM pg_stat_ssl',
	'SELECT c5metrics.exposition()',
	'SELECT * FROM c5metrics.metrics',
	'SELECT * FROM c5metrics.tracked',
	'SELECT * FROM c5metrics.sli');

sub everything_seen
{
	my ($role) = @_;
	my $seen = '';
	foreach my $probe (@probes)
	{
		my ($ret, $stdout, $stderr) = $node->psql('postgres', $probe, extra_params => [ '-U', $role ]);
		$seen .= "$stdout\n$stderr\n";
	}
	return $seen;
}

# The control: the probes do reach the token for a superuser.
like(everything_seen(scalar getpwuid($<)), qr/\Q$token\E/, 'control: a superuser\'s probes find the token');

foreach my $role (qw(c5_plain c5_stats))
{
	my $seen = everything_seen($role);
	unlike($seen, qr/\Q$token\E/, "$role: the token is nowhere");
	unlike($seen, qr/hidden-c5-secrets/, "$role: nor the files' paths");
	unlike($seen, qr/\Q$key_line\E/, "$role: nor the TLS key");
	# the server's own wording: up to 15, then since 16
	like($seen, qr/(must be superuser or have privileges of pg_read_all_settings to examine|permission denied to examine) "c5metrics.http_auth_file"/,
		"$role: SHOW says why");
}
like(everything_seen('c5_stats'), qr/^sales_transition_total\{/m, 'c5_stats does read the metrics');

my $seen = everything_seen('c5_monitor');
like($seen, qr/hidden-c5-secrets\/token/, 'c5_monitor (pg_read_all_settings) sees the path, as documented');
unlike($seen, qr/\Q$token\E/, 'c5_monitor: but never the token');
unlike($seen, qr/\Q$key_line\E/, 'c5_monitor: nor the TLS key');

$node->stop;
done_testing();
