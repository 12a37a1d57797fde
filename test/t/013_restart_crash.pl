# Restart and crash, after and under a mixed workload of every flow.
#   - A clean restart keeps every series (histograms included), the
#     stats-reset time and the SLI history of every SLO.
#     (test/t/001_persistence.pl and 008_sli.pl cover the files themselves.)
#   - An immediate shutdown under load restarts from a consistent state:
#     in every histogram, buckets are cumulative, +Inf equals _count, and
#     _sum lies within what the buckets allow; the stats-reset time moves
#     forward, so Prometheus sees a counter reset; the SLI history is at
#     most one checkpoint old, with good <= total everywhere.
#   - A crash of the HTTP worker (SIGKILL, as a memory fault would end it)
#     under load costs what docs/HTTP.md says ("If the worker dies"):
#     PostgreSQL restarts every backend and runs crash recovery; the
#     clients lose their connections.
#     The cluster comes back with the same guarantees and the worker serves.
#   - After a crash restart (a backend killed), /readyz is 200 at once,
#     though the tracked-table list died with shared memory and nothing
#     has been written since: the list is "unknown since start".
use strict;
use warnings;
use File::Basename;
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

my $port = PostgreSQL::Test::Cluster::get_free_port();
my $node = C5Test::node('crash', http_port => $port, extension => 0, conf => q{
c5metrics.sli_sample_interval = 1
c5metrics.sli_checkpoint_interval = 1
max_connections = 40
restart_after_crash = on
});
my $url = "http://127.0.0.1:$port/metrics";
my $json = JSON::PP->new->canonical;

# ---- helpers ----

sub sql_exposition { return $node->safe_psql('postgres', 'SELECT c5metrics.exposition()') . "\n"; }

sub without_http_self_metrics
{
	my ($text) = @_;
	return join('', grep { !/^(# (HELP|TYPE) )?c5metrics_http_/ } split(/^/m, $text));
}

sub reset_time
{
	return $node->safe_psql('postgres', q{SELECT value FROM c5metrics.metrics
		WHERE metric = 'c5metrics_stats_reset_timestamp_seconds'});
}

# good|total over 30 days, per SLO
sub sli_30d
{
	return { map { split /\|/ } split /\n/, $node->safe_psql('postgres', q{
		SELECT slo, good || ',' || total FROM c5metrics.sli WHERE window_name = '30d' ORDER BY slo}) };
}

# The histograms' _sum against their buckets: with n_i observations in the
# bucket (lo_i, hi_i], sum lies in [sum n_i lo_i, sum n_i hi_i] (no upper
# bound with observations in +Inf), to the microsecond; and an empty
# histogram sums to 0.  Returns the problems found.
sub sum_problems
{
	my ($text) = @_;
	my (%is_hist, %buckets, %sum, %count, @bad);
	foreach my $line (split /\n/, $text)
	{
		$is_hist{$1} = 1 if $line =~ /^# TYPE (\S+) histogram$/;
		next if $line =~ /^#/;
		my ($name, $labels, $value) = $line =~ /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? (\S+)$/ or next;
		$labels //= '';
		my ($family) = $name =~ /^(.*)_(?:bucket|sum|count)$/;
		next unless defined $family && $is_hist{$family};
		if ($name eq "${family}_bucket")
		{
			my ($le) = $labels =~ /le="([^"]*)"/;
			(my $rest = $labels) =~ s/,?le="[^"]*"//;
			$rest =~ s/^\{,/{/;
			$rest = '' if $rest eq '{}';
			push @{ $buckets{"$family$rest"} }, [ $le eq '+Inf' ? 9**9**9 : $le, $value ];
		}
		elsif ($name eq "${family}_sum") { $sum{"$family$labels"} = $value; }
		else { $count{"$family$labels"} = $value; }
	}
	push @bad, 'no histogram' unless %buckets;
	foreach my $h (sort keys %buckets)
	{
		my @b = sort { $a->[0] <=> $b->[0] } @{ $buckets{$h} };
		my ($lo, $hi, $prev_le, $prev_n) = (0, 0, 0, 0);
		foreach my $b (@b)
		{
			my $n = $b->[1] - $prev_n;
			$lo += $n * $prev_le;
			$hi = $b->[0] == 9**9**9 ? ($n > 0 ? 9**9**9 : $hi) : $hi + $n * $b->[0];
			($prev_le, $prev_n) = ($b->[0], $b->[1]);
		}
		my $s = $sum{$h};
		my $c = $count{$h} // 0;
		my $eps = 1e-6 * ($c + 1);
		if (!defined $s) { push @bad, "$h: no _sum"; next; }
		push @bad, "$h: _sum $s below what its buckets allow ($lo)" if $s < $lo - $eps;
		push @bad, "$h: _sum $s above what its buckets allow ($hi)" if $s > $hi + $eps;
		push @bad, "$h: _count 0 but _sum $s" if $c == 0 && $s != 0;
		push @bad, "$h: negative _sum $s" if $s < 0;
	}
	return @bad;
}

sub consistent
{
	my ($text, $what) = @_;
	my $file = $node->basedir . '/exposition.txt';
	unlink $file;
	PostgreSQL::Test::Utils::append_to_file($file, $text);
	my ($out, $err) = ('', '');
	ok(IPC::Run::run([ 'perl', $checker ], '<', $file, '>', \$out, '2>', \$err),
		"$what: buckets cumulative, +Inf = _count, no duplicate") or diag($out);
	my @bad = sum_problems($text);
	is(scalar(@bad), 0, "$what: every _sum within its buckets") or diag(join("\n", @bad));
}

sub sli_sane
{
	my ($what) = @_;
	is($node->safe_psql('postgres', q{SELECT count(*) FROM c5metrics.sli
		WHERE good < 0 OR total < 0 OR good > total}), '0', "$what: SLI history has good <= total everywhere");
}

my $seed = 10;
sub start_load
{
	my (@opts) = @_;
	my %run = (json => $node->basedir . "/truth-$seed.json", out => '', err => '');
	$run{h} = IPC::Run::start(
		[ $c5load, '-d', $node->connstr('postgres'), '--throttle', '--clients=4', '-q',
		  '--seed=' . $seed++, "--json=$run{json}", @opts ],
		'>', \$run{out}, '2>', \$run{err});
	return \%run;
}

sub finish_load
{
	my ($run) = @_;
	$run->{h}->finish;
	return decode_json(slurp_file($run->{json}));
}

# The self-check: a torn histogram is caught.
{
	my $torn = "# TYPE h histogram\nh_bucket{le=\"0.5\"} 1\nh_bucket{le=\"+Inf\"} 1\nh_sum 7.0\nh_count 1\n";
	is(scalar(sum_problems($torn)), 1, 'the _sum check catches a sum its buckets cannot hold');
}

# ======================================================================
# 1. A clean restart keeps everything.
# ======================================================================
my ($out, $err) = ('', '');
IPC::Run::run([ $c5load, '-d', $node->connstr('postgres'), '--init', '-t', '0', '-q' ], '>', \$out, '2>', \$err)
  or diag($err);
my $truth = finish_load(start_load('--transactions=2000'));
is($truth->{unknown_outcomes}, 0, 'a mixed workload ran');
usleep(2_500_000);    # the worker samples the last of it (every second)
my $sli_before = sli_30d();
my $text_before = without_http_self_metrics(sql_exposition());
like($text_before, qr/^sale_refund_duration_seconds_count [1-9]/m, 'histograms have observations');
my $reset_before = reset_time();
$node->restart;
is(without_http_self_metrics(sql_exposition()), $text_before,
	'a clean restart keeps every series, histograms and the stats-reset time included');
is($json->encode(sli_30d()), $json->encode($sli_before), 'and the SLI history of every SLO');
cmp_ok(scalar(grep { !/,0$/ } values %$sli_before), '>=', 4, 'with traffic in at least four SLOs');

# ======================================================================
# 2. Immediate shutdown under load.
# ======================================================================
my $run = start_load('--time=6');
usleep(1_500_000);
my $sli_early = sli_30d();
my $reset_early = reset_time();
is($reset_early, $reset_before, 'counting goes on from the saved registry');
usleep(2_500_000);    # past one sample (1 s) and one checkpoint (1 s)
my $counted = $node->safe_psql('postgres', q{SELECT sum(value) FROM c5metrics.metrics WHERE metric = 'flow_transactions_total'});
$node->stop('immediate');
$node->start;
$truth = finish_load($run);
cmp_ok($truth->{lost_connections}, '>', 0, 'the crash cut the clients\' connections');

cmp_ok(reset_time(), '>', $reset_before, 'the stats-reset time moved forward: Prometheus sees a reset');
cmp_ok($node->safe_psql('postgres', q{SELECT sum(value) FROM c5metrics.metrics WHERE metric = 'flow_transactions_total'}),
	'<', $counted, 'the counters started over');
consistent(sql_exposition(), 'after the crash, in SQL');
my ($code, $body);
ok(eventually(sub { ($code, undef, $body) = http_get($url, '--max-time', '5'); $code == 200 }), 'the worker serves');
consistent($body, 'after the crash, over HTTP');
my $sli_after = sli_30d();
my @older = grep {
	my ($g0, $t0) = split /,/, $sli_early->{$_};
	my ($g1, $t1) = split /,/, $sli_after->{$_};
	$t1 < $t0 || $g1 < $g0
} sort keys %$sli_early;
is("@older", '', 'the SLI history is at most one checkpoint old (it holds what was sampled 2.5 s before the crash)');
sli_sane('after the crash');

# ======================================================================
# 3. The worker killed as a memory fault would kill it: a crash restart of
# the whole cluster.
# ======================================================================
$reset_before = reset_time();
my $pid = worker_pid($node);
$run = start_load('--time=5');
usleep(1_500_000);
my $offset = -s $node->logfile;
kill 'KILL', $pid;
ok(eventually(sub { $node->log_contains(qr/all server processes terminated; reinitializing/, $offset) }, 30),
	'SIGKILL of the worker makes the postmaster terminate every backend and reinitialize');
ok($node->log_contains(qr/background worker "c5metrics http listener" \(PID $pid\) was terminated by signal 9/, $offset),
	'naming the worker');
ok($node->poll_query_until('postgres', 'SELECT NOT pg_is_in_recovery()'), 'crash recovery completes');
$truth = finish_load($run);
cmp_ok($truth->{lost_connections}, '>', 0, 'the clients lost their connections: the cost of a worker crash');
cmp_ok(reset_time(), '>', $reset_before, 'the stats-reset time moved forward');
consistent(sql_exposition(), 'after the worker crash, in SQL');
ok(eventually(sub { my $p = worker_pid($node); defined $p && $p != $pid && (($code, undef, $body) = http_get($url, '--max-time', '5'))[0] == 200 }, 20),
	'a new worker serves');
consistent($body, 'after the worker crash, over HTTP');
sli_sane('after the worker crash');

# ======================================================================
# 4. Ready after a crash restart on a quiet shop.  The tracked-table list
# lives in shared memory, saved only at a clean shutdown: after a crash it
# is empty until a tracked table is written or attached.  /readyz must not
# wait for that.
# ======================================================================
my $readyz = "http://127.0.0.1:$port/readyz";
($code, undef, $body) = http_get($readyz, '--max-time', '5');
is($code, 200, 'before the crash, /readyz is 200');
like($body, qr/"tracked_tables":"ok"/, 'with tables tracked');
my $session = $node->background_psql('postgres');
my $backend = $session->query_safe('SELECT pg_backend_pid()');
like($backend, qr/^\d+$/, 'a backend to kill');
$pid = worker_pid($node);
$offset = -s $node->logfile;
kill 'KILL', $backend;
ok(eventually(sub { $node->log_contains(qr/all server processes terminated; reinitializing/, $offset) }, 30),
	'SIGKILL of a backend makes the postmaster reinitialize');
# "server process" up to 16, "client backend" since 17
ok($node->log_contains(qr/(server process|client backend) \(PID $backend\) was terminated by signal 9/, $offset),
	'naming the backend');
eval { $session->quit };
ok($node->poll_query_until('postgres', 'SELECT NOT pg_is_in_recovery()'), 'crash recovery completes');
ok(eventually(sub { my $p = worker_pid($node); defined $p && $p != $pid && (http_get($url, '--max-time', '5'))[0] == 200 }, 20),
	'a new worker serves');
($code, undef, $body) = http_get($url, '--max-time', '5');
my @tracked = $body =~ /^c5metrics_tracked_tables\{flow="[a-z]+"\} (\S+)$/mg;
is(scalar(@tracked), 4, 'c5metrics_tracked_tables has its four flows');
is(join(',', @tracked), '0,0,0,0', 'and the list is empty: nothing was written since the crash');
($code, undef, $body) = http_get($readyz, '--max-time', '5');
is($code, 200, 'yet /readyz is 200 at once');
like($body, qr/^\{"status":"ready","checks":\{"shared_memory":"ok","series":"ok","tracked_tables":"unknown since start","attachments":"ok","role":"primary"\}\}$/m,
	'saying that the tracked tables are unknown since the start');
# the list comes back with the next attach (or write), and with it the check
$node->safe_psql('postgres', 'SELECT c5metrics._sync_tracked()');
($code, undef, $body) = http_get($readyz, '--max-time', '5');
is($code, 200, '/readyz is 200 after the list is synced');
like($body, qr/"tracked_tables":"ok"/, 'and the tracked tables are known again');

$node->stop;
done_testing();
