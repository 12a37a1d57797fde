# The SLI history, sampled by the worker: counts only grow (a stats reset
# never yields negative deltas), it survives a clean restart, a crash
# loses at most one checkpoint interval, and a corrupt file is ignored
# with a LOG line.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep time);
use FindBin;
use lib "$FindBin::Bin/../perl";
use C5Test;

my $node = C5Test::node('sli', schema => 'shop', conf => q{
c5metrics.sli_sample_interval = 1
c5metrics.sli_checkpoint_interval = 1
});
my $file = $node->data_dir . '/pg_stat/c5metrics_sli.stat';

$node->safe_psql('postgres', q{
	INSERT INTO shop.sales (id, total, status) SELECT g, 100, 'paid' FROM generate_series(1, 1000) g;
});

my $next_sale = 1;
# n committed refunds and f failed ones (a failure: an explicit ROLLBACK)
sub refunds
{
	my ($n, $f) = @_;
	my $sql = '';
	for (1 .. $n)
	{
		$sql .= "INSERT INTO shop.refunds (sale_id, amount, refund_type, idempotency_key) "
		  . "VALUES ($next_sale, 1, 'partial', 'k$next_sale');\n";
		$next_sale++;
	}
	for (1 .. $f)
	{
		$sql .= "BEGIN; INSERT INTO shop.refunds (sale_id, amount, refund_type, idempotency_key) "
		  . "VALUES ($next_sale, 1, 'partial', 'k$next_sale'); ROLLBACK;\n";
		$next_sale++;
	}
	$node->safe_psql('postgres', $sql);
}

# good|total of refund availability over 30 days
sub refund_30d
{
	return $node->safe_psql('postgres',
		q{SELECT good || '|' || total FROM c5metrics.sli
		   WHERE slo = 'refund_availability' AND window_name = '30d'});
}

sub wait_for
{
	my ($want, $what) = @_;
	my $got;
	my $until = time() + 30;
	while (time() < $until)
	{
		$got = refund_30d();
		last if $got eq $want;
		usleep(200_000);
	}
	is($got, $want, $what);
}

refunds(20, 5);
wait_for('20|25', 'the worker samples the registry: 20 good of 25');

my $row = $node->safe_psql('postgres',
	q{SELECT round(sli::numeric, 2) || '|' || round(burn_rate::numeric, 1) || '|' || (covered_seconds > 0)
	    FROM c5metrics.sli WHERE slo = 'refund_availability' AND window_name = '5m'});
is($row, '0.80|40.0|true', 'SLI 0.8 burns the 99.5 % budget 40 times over');

# A stats reset: the registry starts over, the history keeps counting.
$node->safe_psql('postgres', 'SELECT c5metrics.reset()');
refunds(3, 1);
wait_for('23|29', 'after c5metrics.reset() the history only grows');
my $neg = $node->safe_psql('postgres',
	q{SELECT count(*) FROM c5metrics.sli WHERE good < 0 OR total < 0 OR good > total});
is($neg, '0', 'no negative or inconsistent window');

# Clean restart: the history comes back with the registry.
$node->restart;
like(slurp_file($node->logfile), qr/loaded its SLI history/, 'history loaded at start');
is(refund_30d(), '23|29', 'a clean restart keeps the history');
refunds(2, 0);
wait_for('25|31', 'and counting goes on after it');

# Crash: what the last checkpoint (1 s here) held survives.
sleep(3);
$node->stop('immediate');
$node->start;
is(refund_30d(), '25|31', 'after a crash the history is the last checkpoint');
refunds(1, 0);
wait_for('26|32', 'after a crash, counts restart in the registry and add up in the history');

# A corrupt file is ignored with a LOG line; the history starts empty.
$node->stop;
ok(-f $file, 'the history file is written at shutdown');
open(my $fh, '+<', $file) or die "open $file: $!";
binmode $fh;
seek($fh, 4000, 0);
print $fh "\xff\xfe\xfd\xfc";
close $fh;
my $log_offset = -s $node->logfile;
$node->start;
like(substr(slurp_file($node->logfile), $log_offset),
	qr/ignoring c5metrics file ".*c5metrics_sli\.stat": its checksum does not match/,
	'a corrupt history file is ignored with a LOG line');
is($node->safe_psql('postgres',
	q{SELECT total FROM c5metrics.sli WHERE slo = 'refund_availability' AND window_name = '30d'}),
	'0', 'and the history starts empty');

# c5metrics.save = off: nothing is written, and the file goes away.
$node->append_conf('postgresql.conf', "c5metrics.save = off\n");
$node->restart;
ok(!-f $file, 'with c5metrics.save off the history file is removed');

$node->stop;
done_testing();
