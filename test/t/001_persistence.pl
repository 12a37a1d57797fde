# The registry survives a clean restart, starts over after a crash, and a
# saved file that is corrupt, cut short, foreign or from other settings is
# ignored with a LOG line.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/../perl";
use C5Test;

my $node = C5Test::node('persist', schema => 'shop');

my $file = $node->data_dir . '/pg_stat/c5metrics.stat';

$node->safe_psql('postgres', q{
	INSERT INTO shop.sales (id, total) VALUES (1, 100), (2, 100), (3, 100);
	UPDATE shop.sales SET status = 'paid' WHERE id = 1;
	INSERT INTO shop.refunds (sale_id, amount, refund_type, idempotency_key) VALUES (1, 10, 'partial', 'k1');
	CREATE TABLE odd (id int PRIMARY KEY, status text);
	SELECT c5metrics.track_sales('odd');
	INSERT INTO odd VALUES (1, 'created');
	UPDATE odd SET status = 'shipped';
});

# Everything but the stats-reset time, which is checked on its own.
my $snapshot_sql = q{
	SELECT string_agg(metric || labels::text || '=' || value, E'\n'
	                  ORDER BY metric COLLATE "C", labels::text COLLATE "C")
	  FROM c5metrics.metrics
	 WHERE metric NOT IN ('c5metrics_stats_reset_timestamp_seconds')};
my $reset_sql = q{SELECT value FROM c5metrics.metrics
	WHERE metric = 'c5metrics_stats_reset_timestamp_seconds'};
my $paid_sql = q{SELECT coalesce(sum(value), 0) FROM c5metrics.metrics
	WHERE metric = 'sales_transition_total'
	  AND labels = '{"from_status": "pending", "to_status": "paid", "result": "success"}'};

my $before = $node->safe_psql('postgres', $snapshot_sql);
my $reset_before = $node->safe_psql('postgres', $reset_sql);
like($before, qr/sales_transition_total\{"result": "success", "to_status": "shipped", "from_status": "created"\}=1/,
	'a status seen before the restart is a series');

# 1. A clean restart keeps every series, value and the stats-reset time.
$node->restart;
ok(!-e $file, 'the saved file is removed once loaded');
is($node->safe_psql('postgres', $snapshot_sql), $before, 'counters survive a clean restart');
is($node->safe_psql('postgres', $reset_sql), $reset_before, 'the stats-reset time is kept');
ok($node->log_contains('c5metrics loaded its saved registry'), 'loading is logged');

# ... and counting goes on from there, with the restored status dictionary.
$node->safe_psql('postgres', q{UPDATE shop.sales SET status = 'paid' WHERE id = 2;
	UPDATE odd SET status = 'created'; UPDATE odd SET status = 'shipped'});
is($node->safe_psql('postgres', $paid_sql), '2', 'counting continues after the restart');
like($node->safe_psql('postgres', $snapshot_sql),
	qr/to_status": "shipped", "from_status": "created"\}=2/, 'the same series continues');

# 2. A crash (immediate shutdown): nothing is saved, counting starts over
# and the reset time moves, which Prometheus reads as a counter reset.
$node->stop('immediate');
ok(!-e $file, 'an immediate shutdown saves nothing');
$node->start;
is($node->safe_psql('postgres', $paid_sql), '0', 'after a crash counters start from zero');
cmp_ok($node->safe_psql('postgres', $reset_sql), '>', $reset_before, 'the stats-reset time moves');

# 3. Damaged files are ignored with a LOG line, and the server starts.
sub saved_file
{
	$node->safe_psql('postgres', q{UPDATE shop.sales SET status = 'cancelled' WHERE id = 3;
		UPDATE shop.sales SET status = 'pending' WHERE id = 3});
	$node->stop;
	ok(-s $file, 'a clean shutdown writes the file');
	return slurp_file($file);
}

sub restart_with
{
	my ($content, $what, $reason) = @_;
	open(my $fh, '>', $file) or die "$file: $!";
	binmode $fh;
	print $fh $content;
	close $fh;
	my $offset = -s $node->logfile;
	$node->start;
	ok($node->log_contains(qr/ignoring c5metrics file .*: $reason/, $offset), "$what: ignored with a LOG line");
	is($node->safe_psql('postgres', $paid_sql), '0', "$what: counting starts from zero");
	ok(!-e $file, "$what: the file is removed");
}

my $good = saved_file();
my $corrupt = $good;
substr($corrupt, length($corrupt) / 2, 1) = chr(ord(substr($corrupt, length($corrupt) / 2, 1)) ^ 0xff);
restart_with($corrupt, 'a flipped byte', 'its checksum does not match');

saved_file();
restart_with(substr($good, 0, 100), 'a truncated file', 'it is too short');

saved_file();
restart_with('x' x 5000, 'a foreign file', 'it is not a c5metrics file of this version');

# A file written with other settings does not fit the layout.
saved_file();
$good = slurp_file($file);
$node->append_conf('postgresql.conf', "c5metrics.max_label_values = 8\n");
restart_with($good, 'another layout', 'c5metrics.max_label_values or c5metrics.duration_buckets changed');

# 4. c5metrics.save = off: nothing is written.
$node->append_conf('postgresql.conf', "c5metrics.save = off\n");
$node->reload;
$node->safe_psql('postgres', q{UPDATE shop.sales SET status = 'paid' WHERE id = 3});
$node->stop;
ok(!-e $file, 'with c5metrics.save = off no file is written');

done_testing();
