# Without shared_preload_libraries, CREATE EXTENSION fails and says how to
# fix it; a bad setting value stops the server from starting with a clear
# message naming the setting.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('nopreload');
$node->init;
$node->start;

my ($ret, $stdout, $stderr) = $node->psql('postgres', 'CREATE EXTENSION c5metrics');
isnt($ret, 0, 'CREATE EXTENSION fails without preloading');
like($stderr, qr/c5metrics must be loaded via "shared_preload_libraries"/, 'the error names the setting');
like($stderr, qr/HINT:  Add c5metrics to shared_preload_libraries in postgresql.conf and restart the server/,
	'the hint says how to fix it');
is($node->safe_psql('postgres', q{SELECT count(*) FROM pg_extension WHERE extname = 'c5metrics'}),
	'0', 'nothing is left installed');

# A bad value in postgresql.conf is refused when the library loads: the log
# names the setting, the value and what is wrong, and the default is kept
# (PostgreSQL's rule for extension settings read at startup).
$node->stop;
$node->append_conf('postgresql.conf',
	"shared_preload_libraries = 'c5metrics'\nc5metrics.listen_addresses = ''\nc5metrics.duration_buckets = '0.5,0.1'\n" .
	"c5metrics.max_label_values = 100000\n");
my $offset = -s $node->logfile;
$node->start;
ok($node->log_contains(qr/invalid value for parameter "c5metrics.duration_buckets": "0.5,0.1"/, $offset),
	'the log names the setting and value');
ok($node->log_contains(qr/Bounds must increase strictly, but 0.1 follows 0.5/, $offset),
	'and says what is wrong');
ok($node->log_contains(qr/100000 is outside the valid range for parameter "c5metrics.max_label_values"/, $offset),
	'an out-of-range value is refused with its range');
is($node->safe_psql('postgres', 'SHOW c5metrics.duration_buckets'),
	'0.005,0.01,0.025,0.05,0.1,0.25,0.5,0.8,1,2.5,5,10', 'the default bounds are kept');
is($node->safe_psql('postgres', 'SHOW c5metrics.max_label_values'), '32', 'the default cap is kept');

# A SET of a bad value is refused too.
($ret, $stdout, $stderr) = $node->psql('postgres', q{SET c5metrics.lead_global_per_minute = 0});
like($stderr, qr/0 is outside the valid range for parameter "c5metrics.lead_global_per_minute"/,
	'SET refuses an out-of-range rate');

# Fixed: custom bounds become the histogram buckets.
$node->append_conf('postgresql.conf',
	"c5metrics.duration_buckets = '0.1, 0.5,2'\nc5metrics.max_label_values = 64\n");
$node->restart;
$node->safe_psql('postgres', 'CREATE EXTENSION c5metrics');
is($node->safe_psql('postgres', q{SELECT string_agg(labels ->> 'le', ',' ORDER BY (labels ->> 'le')::float8)
	FROM c5metrics.metrics WHERE metric = 'sale_refund_duration_seconds_bucket'}),
	'0.1,0.5,2,+Inf', 'custom bounds are the histogram buckets');
$node->stop;

done_testing();
