# Faults never reach the business.  A mixed c5load workload over every flow
# runs with c5metrics in trouble -- every integer and real setting at its
# minimum, then at its maximum; the series cap exhausted by many statuses and
# exception types; labels overflowing; the HTTP worker killed (SIGTERM) in
# the middle of the load; the saved files corrupt, truncated, unwritable, or
# a directory where the file should be -- and each time:
#   - the clients see no error but those the workload causes on its own
#     (c5load's ground truth: unique and check violations, serialization
#     failures, lock timeouts, and the guards' intended 23M01 and 53M01);
#   - no connection is lost and every outcome is known;
#   - every counter equals the ground truth, or, where a series could not
#     be allocated, the observation is in the `other` series (per-result
#     sums are kept);
#   - the self-metrics say what happened (overflow counters move when they
#     should and stay 0 when they should not; c5metrics_events_lost_total
#     stays 0), and the log names each file problem;
#   - the server never crashes.
use strict;
use warnings;
use File::Basename;
use File::Path qw(rmtree);
use JSON::PP;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep time);
use FindBin;
use lib "$FindBin::Bin/../perl";
use C5Test;

my $c5load = dirname(__FILE__) . '/../c5load/c5load';
my $checker = dirname(__FILE__) . '/../check-exposition.pl';
ok(-x $c5load, 'c5load is built') or BAIL_OUT('run make first');

# What the workload raises on its own, without c5metrics in the way.
my %expected_sqlstate = (
	'23505' => 'duplicate idempotency key',
	'23514' => 'insufficient stock, invalid lead email',
	'40001' => 'serialization failure',
	'55P03' => 'lock timeout',
	'23M01' => 'over-refund guard',
	'53M01' => 'lead throttle');

my $seed = 100;

# ---- helpers ----

sub exposition_ok
{
	my ($node, $text) = @_;
	my $file = $node->basedir . '/scrape.txt';
	open(my $fh, '>', $file) or die "$file: $!";
	print $fh $text;
	close $fh;
	my ($out, $err) = ('', '');
	my $ok = IPC::Run::run([ 'perl', $checker ], '<', $file, '>', \$out, '2>', \$err);
	diag($out) unless $ok;
	return $ok;
}

sub metric
{
	my ($node, $name, $labels) = @_;
	my $where = defined $labels ? " AND labels = '$labels'::jsonb" : '';
	return $node->safe_psql('postgres',
		"SELECT coalesce(sum(value), 0) FROM c5metrics.metrics WHERE metric = '$name'$where");
}

# Both nodes: room for c5load's sessions, and log lines that name each
# session's application and SQLSTATE (client_errors).
my $node_conf = "max_connections = 40\nlog_line_prefix = '%m [%p] %a %e '\n";

# The c5load sessions' errors in the log since $offset, by SQLSTATE.
sub client_errors
{
	my ($node, $offset) = @_;
	my %by;
	my $log = substr(slurp_file($node->logfile), $offset);
	$by{$1}++ while $log =~ /^\S+ \S+ \S+ \[\d+\] c5load (\S{5}) (?:ERROR|FATAL|PANIC):/mg;
	return \%by;
}

# Start c5load on $node; returns a handle for finish_load.
sub start_load
{
	my ($node, @opts) = @_;
	my $json = $node->basedir . "/truth-$seed.json";
	my %run = (node => $node, json => $json, offset => -s $node->logfile, out => '', err => '');
	$run{h} = IPC::Run::start(
		[ $c5load, '-d', $node->connstr('postgres') . ' application_name=c5load',
		  '--clients=4', '--seed=' . $seed++, '-q', "--json=$json", @opts ],
		'>', \$run{out}, '2>', \$run{err});
	return \%run;
}

# Wait for c5load, check that the business saw nothing but its own
# errors, and return the ground truth.
sub finish_load
{
	my ($run, $what) = @_;
	my $node = $run->{node};
	my $ok = $run->{h}->finish;
	ok($ok, "$what: c5load completes") or diag($run->{err});
	my $truth = decode_json(slurp_file($run->{json}));
	is($truth->{lost_connections}, 0, "$what: no connection lost");
	is($truth->{unknown_outcomes}, 0, "$what: every outcome known");
	my $errors = client_errors($node, $run->{offset});
	my @foreign = grep { !exists $expected_sqlstate{$_} } sort keys %$errors;
	is("@foreign", '', "$what: no error but the workload's own (" .
		join(', ', map { "$_ x$errors->{$_}" } sort keys %$errors) . ')');
	my $n = 0;
	$n += $_ foreach values %$errors;
	is($n, $truth->{rolled_back}, "$what: the log holds exactly the errors the clients saw");
	cmp_ok($truth->{operations}, '>', 0, "$what: operations ran");
	return $truth;
}

sub run_load
{
	my ($node, $what, @opts) = @_;
	return finish_load(start_load($node, @opts), $what);
}

sub all_equal
{
	my ($node, $truth, $what, $skip) = @_;
	my @bad = mismatches($node, $truth, $skip);
	is(scalar(@bad), 0, "$what: every counter equals the ground truth" . ($skip ? " ($skip aside)" : ''))
	  or diag(join("\n", @bad));
}

# Transitions per result, in the registry and in the ground truth.
sub transitions_kept
{
	my ($node, $truth, $what) = @_;
	my %t;
	$t{ $_->{labels}{result} } += $_->{value}
	  foreach grep { $_->{metric} eq 'sales_transition_total' } @{ $truth->{series} };
	my $got = $node->safe_psql('postgres', q{
		SELECT string_agg(r || '=' || coalesce(v, 0), ',' ORDER BY r)
		  FROM unnest(ARRAY['failure', 'rejected', 'success']) r
		  LEFT JOIN (SELECT labels ->> 'result' AS res, sum(value) AS v FROM c5metrics.metrics
		              WHERE metric = 'sales_transition_total' GROUP BY 1) m ON m.res = r});
	is($got, join(',', map { "$_=" . ($t{$_} // 0) } qw(failure rejected success)),
		"$what: every transition is counted, per result");
}

sub no_crash
{
	my ($node) = @_;
	my $log = slurp_file($node->logfile);
	unlike($log, qr/PANIC|TRAP:|terminated by signal|server process .* was terminated|terminating any other active server processes/,
		$node->name . ': no crash, no crash restart in the whole log');
}

# ======================================================================
# A. Every c5metrics integer and real setting at its minimum.
# ======================================================================
my $port = PostgreSQL::Test::Cluster::get_free_port();
my $node = C5Test::node('faults', http_port => $port, conf => $node_conf);
my @ranges = map { [ split /\|/ ] } split /\n/, $node->safe_psql('postgres', q{
	SELECT name, min_val, max_val FROM pg_settings
	 WHERE name LIKE 'c5metrics.%' AND vartype IN ('integer', 'real') ORDER BY name});
cmp_ok(scalar(@ranges), '>=', 18, 'the integer and real settings are listed (' . scalar(@ranges) . ')');
my ($out, $err) = ('', '');
IPC::Run::run([ $c5load, '-d', $node->connstr('postgres'), '--init', '-t', '0', '-q' ], '>', \$out, '2>', \$err)
  or diag($err);
$node->stop;

sub extremes
{
	my ($which) = @_;
	return join('', map { "$_->[0] = '" . ($which eq 'min' ? $_->[1] : $_->[2]) . "'\n" } @ranges);
}

$node->append_conf('postgresql.conf', extremes('min'));
my $offset = -s $node->logfile;
$node->start;
is($node->safe_psql('postgres', q{SELECT setting FROM pg_settings WHERE name = 'c5metrics.max_label_values'}),
	'4', 'A: settings at their minimum (max_label_values 4, max_series 500, rates 0.01, ...)');
# port 1 needs root: the listener says so and the database does not care
ok(eventually(sub { $node->log_contains(qr/c5metrics http: could not listen on "127.0.0.1" port 1\b/, $offset) }, 10),
	'A: port 1 cannot be bound: a LOG line says so');
# The status dictionary (4 entries, `other` and `none` among them) is
# filled first, so every status of the workload overflows.
$node->safe_psql('postgres', q{
	CREATE TABLE side_sales (id int PRIMARY KEY, status text);
	SELECT c5metrics.track_sales('side_sales');
	INSERT INTO side_sales VALUES (1, 'a');
	UPDATE side_sales SET status = 'b';
	SELECT c5metrics.reset();
});
# then serve on a usable port, at the smallest limits (1 connection,
# 100 ms per request, 1 s idle), and scrape while the load runs
$node->safe_psql('postgres', "ALTER SYSTEM SET c5metrics.port = $port; SELECT pg_reload_conf();");
ok(eventually(sub { (http_get("http://127.0.0.1:$port/healthz", '--max-time', '5'))[0] == 200 }),
	'A: after a reload to a free port the listener serves');

my $run = start_load($node, '--throttle', '--transactions=1500');
my ($scrapes, $served, $last_body, $readers) = (0, 0, '', 0);
while ($run->{h}->pumpable)
{
	$run->{h}->pump_nb;
	my ($code, undef, $body) = http_get("http://127.0.0.1:$port/metrics", '--max-time', '5');
	$scrapes++;
	($served, $last_body) = ($served + 1, $body) if $code == 200;
	my ($ret) = $node->psql('postgres', q{SELECT count(*) FROM c5metrics.sli;
		SELECT count(*) FROM c5metrics.error_budget;
		SELECT c5metrics.histogram_quantile(0.95, 'sale_refund_duration_seconds', '5 minutes')});
	$readers++ if $ret == 0;
	usleep(50_000);
}
my $truth = finish_load($run, 'A (minimum settings)');
cmp_ok($served, '>', 0, "A: scrapes at the smallest limits are served ($served of $scrapes)");
ok(exposition_ok($node, $last_body), 'A: and the exposition is consistent');
cmp_ok($readers, '>', 0, 'A: the SLI views answer at the extreme objectives and intervals');
cmp_ok(truth_of($truth, 'public_leads_requests_total', result => 'throttled'), '>', 0,
	'A: the 0.01 per minute lead rates throttle (53M01, intended)');
all_equal($node, $truth, 'A', 'sales_transition_total');
transitions_kept($node, $truth, 'A');
is($node->safe_psql('postgres', q{SELECT count(*) FROM c5metrics.metrics WHERE metric = 'sales_transition_total'
	AND value > 0 AND NOT (labels ->> 'from_status' = 'other' AND labels ->> 'to_status' = 'other')}),
	'0', 'A: with the dictionary full, every transition is in other/other');
cmp_ok(metric($node, 'c5metrics_label_overflow_total', '{"metric": "sales_transition_total"}'), '>', 0,
	'A: c5metrics_label_overflow_total says so');
is(metric($node, 'c5metrics_events_lost_total'), '0', 'A: no event lost');
$node->safe_psql('postgres', 'ALTER SYSTEM RESET c5metrics.port');

# ======================================================================
# B. Every setting at its maximum.
# ======================================================================
$node->stop;
# (port 65535 is taken as a value, but not bound: another test may own it)
$node->append_conf('postgresql.conf', extremes('max') . "c5metrics.listen_addresses = ''\n");
$offset = -s $node->logfile;
$node->start;
is($node->safe_psql('postgres', q{SELECT setting FROM pg_settings WHERE name = 'c5metrics.max_series'}),
	'1000000', 'B: settings at their maximum (max_series 1000000, max_label_values 256, rates 1e6, ...)');
is($node->safe_psql('postgres', 'SHOW c5metrics.port'), '65535', 'B: port 65535 is accepted');
ok($node->log_contains(qr/ignoring c5metrics file "pg_stat\/c5metrics.stat": c5metrics.max_label_values or c5metrics.duration_buckets changed/, $offset),
	'B: the registry saved with another layout is ignored with a LOG line');
$node->safe_psql('postgres', "ALTER SYSTEM SET c5metrics.port = $port;
	ALTER SYSTEM SET c5metrics.listen_addresses = '127.0.0.1'; SELECT pg_reload_conf();");
ok(eventually(sub { (http_get("http://127.0.0.1:$port/healthz", '--max-time', '5'))[0] == 200 }), 'B: the listener serves');
$truth = run_load($node, 'B (maximum settings)', '--throttle', '--transactions=1500');
is(truth_of($truth, 'public_leads_requests_total', result => 'throttled'), 0,
	'B: at a million leads per minute nothing is throttled');
all_equal($node, $truth, 'B');
is($node->safe_psql('postgres', q{SELECT string_agg(metric || '=' || value, ',' ORDER BY metric) FROM
	(SELECT metric, sum(value) AS value FROM c5metrics.metrics WHERE metric IN
	 ('c5metrics_series_overflow_total', 'c5metrics_label_overflow_total', 'c5metrics_events_lost_total')
	 GROUP BY metric) s}),
	'c5metrics_events_lost_total=0,c5metrics_label_overflow_total=0,c5metrics_series_overflow_total=0',
	'B: nothing overflowed and nothing was lost');
my ($code, undef, $body) = http_get("http://127.0.0.1:$port/metrics", '--max-time', '5');
ok($code == 200 && exposition_ok($node, $body), 'B: /metrics serves a consistent exposition');

# ======================================================================
# C. The series cap exhausted by many statuses and exception types.
# ======================================================================
$node->stop;
$node->append_conf('postgresql.conf', q{
c5metrics.max_series = 500
c5metrics.lead_ip_per_minute = 5
c5metrics.lead_email_per_minute = 3
c5metrics.lead_global_per_minute = 600
});
unlink $node->data_dir . '/pg_stat/c5metrics.stat';
$node->start;
# exception types the workload never raises, in every flow
my @states = qw(22012 22003 22P02 22001 53200 53100 42501 42P01 42703 42883 25006 55006
  P0002 P0003 P0004 23502 23503 23P01 23001 57014 25P03 22000 23000 25000 40000 42000
  54000 55000 57000 58000 P0000 0A000 08000 XX000 ZZ001);
my $script = q{
	CREATE TABLE side_stock (movement_type text, sale_id int, quantity int);
	CREATE TABLE side_refunds (sale_id int, amount numeric, refund_type text, idempotency_key text);
	CREATE TABLE side_leads (email text, source_ip inet);
	SELECT c5metrics.track_stock('side_stock');
	SELECT c5metrics.track_refunds('side_refunds', key_column => NULL);
	SELECT c5metrics.track_leads('side_leads');
	INSERT INTO side_sales VALUES (2, 'x');
};
# many statuses (each transition takes three series, one per result), then
# exception types (one series each) to fill the last places
$script .= "UPDATE side_sales SET status = 's$_' WHERE id = 1;\n" foreach (1 .. 250);
foreach my $s (@states)
{
	foreach my $touch ("UPDATE side_sales SET status = status WHERE id = 2",
		"INSERT INTO side_stock VALUES ('adjust', 1, 1)",
		"INSERT INTO side_refunds VALUES (1, 1, 'full', 'k')",
		"INSERT INTO side_leads VALUES ('a\@example.com', '192.0.2.1')")
	{
		$script .= "BEGIN; $touch; DO \$\$BEGIN RAISE SQLSTATE '$s'; END\$\$; ROLLBACK;\n";
	}
}
$node->psql('postgres', $script, on_error_stop => 0);
my $limit = metric($node, 'c5metrics_series_limit');
is($limit, '500', 'C: the series cap is 500');
is(metric($node, 'c5metrics_series'), $limit, 'C: many statuses and exception types fill it');
cmp_ok(metric($node, 'c5metrics_series_overflow_total'), '>', 0, 'C: and overflow it');
($code, undef, $body) = http_get("http://127.0.0.1:$port/readyz", '--max-time', '5');
ok($code == 503 && $body =~ /"failing":"series"/, '/readyz reports the full cap');
$node->safe_psql('postgres', 'SELECT c5metrics.reset()');
$truth = run_load($node, 'C (series cap exhausted)', '--throttle', '--transactions=1500');
all_equal($node, $truth, 'C', 'sales_transition_total');
transitions_kept($node, $truth, 'C');
is(metric($node, 'c5metrics_series'), $limit, 'C: not one series beyond the cap');
cmp_ok(metric($node, 'c5metrics_series_overflow_total'), '>', 0, 'C: c5metrics_series_overflow_total counts the folded observations');
cmp_ok(metric($node, 'c5metrics_label_overflow_total', '{"metric": "exceptions_total"}'), '>', 0,
	'C: c5metrics_label_overflow_total counts the exception types folded into other');
is($node->safe_psql('postgres', q{SELECT sum(value) FROM c5metrics.metrics WHERE metric = 'exceptions_total'
	AND labels ->> 'exception_type' <> 'other'}), '0',
	'C: the workload\'s exceptions (new types) are all in exception_type="other"');
cmp_ok(metric($node, 'exceptions_total'), '>', 0, 'C: and counted there');
is(metric($node, 'c5metrics_events_lost_total'), '0', 'C: no event lost');
($code, undef, $body) = http_get("http://127.0.0.1:$port/metrics", '--max-time', '5');
ok($code == 200 && exposition_ok($node, $body), 'C: /metrics serves a consistent exposition at the cap');
no_crash($node);
$node->stop;

# ======================================================================
# D. The HTTP worker killed (SIGTERM) in the middle of the load.
# ======================================================================
$port = PostgreSQL::Test::Cluster::get_free_port();
$node = C5Test::node('faults_files', http_port => $port, extension => 0,
	conf => $node_conf . "c5metrics.sli_sample_interval = 1\nc5metrics.sli_checkpoint_interval = 1\n");
IPC::Run::run([ $c5load, '-d', $node->connstr('postgres'), '--init', '-t', '0', '-q' ], '>', \$out, '2>', \$err)
  or diag($err);
ok(eventually(sub { (http_get("http://127.0.0.1:$port/healthz", '--max-time', '5'))[0] == 200 }), 'D: the listener serves');
my $pid = worker_pid($node);
$run = start_load($node, '--throttle', '--time=8');
usleep(1_000_000);
kill 'TERM', $pid;
my $t0 = time();
ok(eventually(sub { my $p = worker_pid($node); defined $p && $p != $pid
	  && (http_get("http://127.0.0.1:$port/metrics", '--max-time', '5'))[0] == 200 }, 15),
	'D: the worker killed under load comes back and serves');
note(sprintf('worker back after %.1f s', time() - $t0));
$pid = worker_pid($node);
kill 'TERM', $pid;    # and once more, while the load still runs
$truth = finish_load($run, 'D (worker killed twice under load)');
ok(eventually(sub { my $p = worker_pid($node); defined $p && $p != $pid }, 15), 'D: the worker is back again');
all_equal($node, $truth, 'D');
is(metric($node, 'c5metrics_events_lost_total'), '0', 'D: no event lost');
ok(eventually(sub { ($code, undef, $body) = http_get("http://127.0.0.1:$port/metrics", '--max-time', '5'); $code == 200 }),
	'D: /metrics serves');
ok(exposition_ok($node, $body), 'D: a consistent exposition');

# ======================================================================
# E. The saved files corrupt, truncated, unwritable, or directories.
# ======================================================================
my $stat = $node->data_dir . '/pg_stat';
sub reset_time { return metric($node, 'c5metrics_stats_reset_timestamp_seconds'); }

# E1: the registry's file corrupt, the SLI history's cut short
$node->stop;
ok(-s "$stat/c5metrics.stat" && -s "$stat/c5metrics_sli.stat", 'E1: a clean shutdown wrote both files');
{
	my $f = "$stat/c5metrics.stat";
	my $data = slurp_file($f);
	substr($data, length($data) / 2, 1) = chr(ord(substr($data, length($data) / 2, 1)) ^ 0xff);
	open(my $fh, '>', $f) or die;
	binmode $fh;
	print $fh $data;
	close $fh;
	truncate("$stat/c5metrics_sli.stat", 100) or die;
}
$offset = -s $node->logfile;
$node->start;
ok($node->log_contains(qr/ignoring c5metrics file "pg_stat\/c5metrics.stat": its checksum does not match/, $offset),
	'E1: the corrupt registry file is ignored with a LOG line');
ok($node->log_contains(qr/ignoring c5metrics file "pg_stat\/c5metrics_sli.stat": it is too short/, $offset),
	'E1: the truncated SLI file is ignored with a LOG line');
$truth = run_load($node, 'E1 (corrupt and truncated files)', '--throttle', '--transactions=1000');
all_equal($node, $truth, 'E1 (counting from zero)');
is(metric($node, 'c5metrics_events_lost_total'), '0', 'E1: no event lost');

# E2: pg_stat not writable, during the load (the worker's SLI checkpoint)
# and at shutdown (the registry)
$node->safe_psql('postgres', 'SELECT c5metrics.reset()');
my $reset_before = reset_time();
chmod 0500, $stat or die;
$offset = -s $node->logfile;
$truth = run_load($node, 'E2 (pg_stat read-only)', '--throttle', '--transactions=1000');
all_equal($node, $truth, 'E2');
ok(eventually(sub { $node->log_contains(qr/could not write c5metrics file "pg_stat\/c5metrics_sli.stat.tmp": Permission denied/, $offset) }, 10),
	'E2: the SLI checkpoint that cannot be written is a LOG line');
$node->stop;
ok($node->log_contains(qr/could not write c5metrics file "pg_stat\/c5metrics.stat.tmp": Permission denied/, $offset),
	'E2: so is the registry that cannot be saved at shutdown, which completes');
chmod 0700, $stat or die;
$offset = -s $node->logfile;
$node->start;
ok(!$node->log_contains(qr/loaded its saved registry/, $offset), 'E2: nothing was saved, nothing is loaded');
cmp_ok(reset_time(), '>', $reset_before, 'E2: counting starts over with a later stats-reset time');
$truth = run_load($node, 'E2 (after the restart)', '--throttle', '--transactions=1000');
all_equal($node, $truth, 'E2 (counting from zero)');

# E3: a directory that is not empty where each file should be (an empty
# one is removed and replaced by the file: 019_adversarial_state.pl)
$node->safe_psql('postgres', 'SELECT c5metrics.reset()');
sub block_with_directory
{
	my ($path) = @_;
	unlink $path;
	mkdir $path;
	open(my $fh, '>', "$path/keep") or return 0;
	close $fh;
	return -d $path;
}
ok(block_with_directory("$stat/c5metrics.stat"), 'E3: a directory stands where the registry file goes');
# the worker rewrites its file every second: retry until the directory wins
ok(eventually(sub { block_with_directory("$stat/c5metrics_sli.stat") }, 10),
	'E3: and where the SLI history goes');
$offset = -s $node->logfile;
$truth = run_load($node, 'E3 (directories in place of the files)', '--throttle', '--transactions=1000');
$node->stop;
ok($node->log_contains(qr/WARNING:  could not remove "pg_stat\/c5metrics\.stat": Directory not empty/, $offset),
	'E3: the registry cannot be saved onto a directory: a WARNING');
ok($node->log_contains(qr/WARNING:  could not remove "pg_stat\/c5metrics_sli\.stat": Directory not empty/, $offset),
	'E3: nor the SLI history: a WARNING');
$offset = -s $node->logfile;
$node->start;
ok($node->log_contains(qr/ignoring c5metrics file "pg_stat\/c5metrics.stat": it is not a regular file/, $offset),
	'E3: at start the directory is ignored with a LOG line, and the server starts');
$truth = run_load($node, 'E3 (after the restart)', '--throttle', '--transactions=1000');
all_equal($node, $truth, 'E3 (counting from zero)');
is(metric($node, 'c5metrics_events_lost_total'), '0', 'E3: no event lost');
no_crash($node);
$node->stop;
rmtree([ "$stat/c5metrics.stat", "$stat/c5metrics_sli.stat" ]);

done_testing();
