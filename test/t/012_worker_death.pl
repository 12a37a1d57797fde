# Worker death: the HTTP listener ("c5metrics http listener", a child of the
# postmaster) is terminated with SIGTERM.  It is an ordinary background
# worker exit, not a crash: the postmaster restarts it 5 s later, nothing
# else is restarted, and since the registry lives in shared memory every
# counter is intact.  Checked here:
#   - a new worker serves /metrics again within 10 s;
#   - every business series, histograms included, is identical before and
#     after, over HTTP and in SQL (the worker's own HTTP counters aside);
#   - the cluster was not restarted: same postmaster start time, a session
#     opened before the kill still works with the same backend;
#   - counting and serving go on after the restart.
use strict;
use warnings;
use File::Basename;
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

my $port = PostgreSQL::Test::Cluster::get_free_port();
my $node = C5Test::node('worker_death', http_port => $port, extension => 0);
my $url = "http://127.0.0.1:$port/metrics";

# The exposition without the worker's own request counters, which count
# the scrapes themselves.
sub business
{
	my ($text) = @_;
	return join('', grep { !/^(# (HELP|TYPE) )?c5metrics_http_/ } split(/^/m, $text));
}

# A workload over every flow, so that every family has values.
my ($out, $err) = ('', '');
IPC::Run::run([ $c5load, '-d', $node->connstr('postgres'), '--init', '-t', '0', '-q' ], '>', \$out, '2>', \$err)
  or diag($err);
ok(IPC::Run::run([ $c5load, '-d', $node->connstr('postgres'), '--throttle', '-t', '1500', '-q', '--seed=3' ],
		'>', \$out, '2>', \$err), 'a mixed workload ran') or diag($err);

ok(eventually(sub { (http_get($url, '--max-time', '5'))[0] == 200 }, 20, 50_000), 'the worker serves');
my ($code, undef, $before) = http_get($url, '--max-time', '5');
my $sql_before = $node->safe_psql('postgres', 'SELECT c5metrics.exposition()');
like($before, qr/^sales_transition_total\{from_status="pending",to_status="paid",result="success"\} [1-9]/m,
	'the business counters are non-zero');
like($before, qr/^sale_refund_duration_seconds_count [1-9]/m, 'and so are the histograms');
my $pm_start = $node->safe_psql('postgres', 'SELECT pg_postmaster_start_time()');
my $session = $node->background_psql('postgres');
my $backend = $session->query_safe('SELECT pg_backend_pid()');

my $pid = worker_pid($node);
like($pid, qr/^\d+$/, 'the worker is a child of the postmaster');
my $offset = -s $node->logfile;
kill 'TERM', $pid;
my $t0 = time();
ok(eventually(sub { my $p = worker_pid($node); defined $p && $p != $pid && (http_get($url, '--max-time', '5'))[0] == 200 }, 20, 50_000),
	'a new worker serves /metrics');
my $elapsed = time() - $t0;
cmp_ok($elapsed, '<', 10, sprintf('within 10 s of the SIGTERM (%.1f s; the restart interval is 5 s)', $elapsed));
ok($node->log_contains(qr/background worker "c5metrics http listener" \(PID $pid\) exited with exit code 1/, $offset),
	'the postmaster saw an ordinary exit');
ok(!$node->log_contains(qr/terminating any other active server processes|server process .* was terminated/, $offset),
	'and restarted nothing else');

my $after;
($code, undef, $after) = http_get($url, '--max-time', '5');
is($code, 200, '/metrics answers 200');
is(business($after), business($before), 'every business series is identical over HTTP before and after');
is(business($node->safe_psql('postgres', 'SELECT c5metrics.exposition()')), business($sql_before),
	'and in SQL');
is($node->safe_psql('postgres', 'SELECT pg_postmaster_start_time()'), $pm_start, 'the postmaster was not restarted');
is($session->query_safe('SELECT pg_backend_pid()'), $backend, 'a session opened before the kill lives on');
$session->quit;

my $file = $node->basedir . '/after.txt';
PostgreSQL::Test::Utils::append_to_file($file, $after);
ok(IPC::Run::run([ 'perl', $checker ], '<', $file, '>', \$out, '2>', \$err), 'the exposition is consistent')
  or diag($out);

# Counting and serving go on.
ok(IPC::Run::run([ $c5load, '-d', $node->connstr('postgres'), '-t', '300', '-q', '--seed=4' ],
		'>', \$out, '2>', \$err), 'more work after the restart') or diag($err);
my ($n_before) = $before =~ /^flow_transactions_total\{flow="sales",result="success"\} (\d+)$/m;
my $n_sql = $node->safe_psql('postgres', q{SELECT value FROM c5metrics.metrics
	WHERE metric = 'flow_transactions_total' AND labels = '{"flow": "sales", "result": "success"}'});
cmp_ok($n_sql, '>', $n_before, 'is counted');
($code, undef, $after) = http_get($url, '--max-time', '5');
like($after, qr/^flow_transactions_total\{flow="sales",result="success"\} $n_sql$/m,
	'and served by the new worker');

$node->stop;
done_testing();
