# Exactness: after a mixed run of c5load at 4 clients, every business
# counter equals what the clients saw happen (c5load's ground truth) and
# what the tables hold.  Nothing lost, nothing doubled -- and the check
# fails when one event is missing.
use strict;
use warnings;
use File::Basename;
use JSON::PP;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/../perl";
use C5Test;

my $c5load = dirname(__FILE__) . '/../c5load/c5load';
ok(-x $c5load, 'c5load is built') or BAIL_OUT('run make first');

my $node = PostgreSQL::Test::Cluster->new('exact');
$node->init;
$node->append_conf('postgresql.conf',
	"shared_preload_libraries = 'c5metrics'\nc5metrics.listen_addresses = ''\nmax_connections = 40\n");
$node->start;
my $conninfo = $node->connstr('postgres');

# Bad options: a usage message and exit code 2, never a crash.
my ($out, $err) = ('', '');
IPC::Run::run([ $c5load, '--clients=0' ], '>', \$out, '2>', \$err);
is($? >> 8, 2, 'a bad option exits with code 2');
like($err, qr/invalid value "0".*Try "c5load --help"/s, 'with a usage hint');
IPC::Run::run([ $c5load, '--mix=teleport=5' ], '>', \$out, '2>', \$err);
like($err, qr/unknown operation "teleport"/, 'an unknown operation is named');

# An unreachable server is reported, not a crash.
IPC::Run::run([ $c5load, '-d', 'host=/nonexistent port=1 connect_timeout=1', '-t', '3', '-q' ],
	'>', \$out, '2>', \$err);
like($err, qr/client \d+: .*(No such file|could not connect|connection to server)/i, 'a failed connection is reported');
is($? & 127, 0, 'and c5load is not killed by a signal');
isnt($? >> 8, 0, 'it exits non-zero');

IPC::Run::run([ $c5load, '-d', $conninfo, '--init', '-t', '0', '-q' ], '>', \$out, '2>', \$err)
  or diag($err);
$node->safe_psql('postgres', 'SELECT c5metrics.reset()');

my $json_file = $node->basedir . '/truth.json';
my $ok = IPC::Run::run([ $c5load, '-d', $conninfo, '--throttle', '--clients=4', '--transactions=12000',
		'--seed=42', "--json=$json_file" ], '>', \$out, '2>', \$err);
ok($ok, 'c5load ran 12000 mixed operations at 4 clients') or diag($err);
note($out);
my $truth = decode_json(slurp_file($json_file));
is($truth->{lost_connections}, 0, 'no connection was lost');
is($truth->{unknown_outcomes}, 0, 'every outcome is known');
cmp_ok($truth->{rolled_back}, '>', 100, 'the run included many rollbacks');

my @bad = mismatches($node, $truth);
is(scalar(@bad), 0, 'every business counter equals the ground truth (' . scalar(@{ $truth->{series} }) . ' series)')
  or diag(join("\n", @bad));

# The tables' own truth.
my $sales_paid = $node->safe_psql('postgres', 'SELECT count(*) FROM shop.sales WHERE paid_at IS NOT NULL');
is($sales_paid, truth_of($truth, 'sales_transition_total', to_status => 'paid', result => 'success'),
	'committed paid sales in the table = paid successes');
is($node->safe_psql('postgres', q{SELECT count(*) FROM shop.sales WHERE status = 'cancelled'}),
	truth_of($truth, 'sales_transition_total', to_status => 'cancelled', result => 'success'),
	'cancelled sales in the table = cancellations');
is($node->safe_psql('postgres', 'SELECT count(*) FROM shop.refunds'),
	truth_of($truth, 'sale_refunds_total', type => 'full', result => 'success')
	  + truth_of($truth, 'sale_refunds_total', type => 'partial', result => 'success'),
	'refund rows = refund successes');
is($node->safe_psql('postgres', q{SELECT count(*) FROM shop.stock_movements WHERE movement_type = 'refund_in'}),
	truth_of($truth, 'stock_refund_in_total', result => 'success'), 'refund-in rows = refund-in successes');
is($node->safe_psql('postgres', 'SELECT count(*) FROM shop.public_leads'),
	truth_of($truth, 'public_leads_requests_total', result => 'created'), 'lead rows = leads created');
is($node->safe_psql('postgres', q{SELECT count(*) FROM shop.stock_movements m
	JOIN shop.sales s ON s.id = m.sale_id WHERE m.movement_type = 'consume' AND s.paid_at IS NOT NULL}),
	truth_of($truth, 'sales_paid_stock_consume_total', result => 'success'), 'consumed paid sales = consume successes');
is($node->safe_psql('postgres', q{SELECT value FROM c5metrics.metrics WHERE metric = 'c5metrics_events_lost_total'}),
	'0', 'c5metrics lost no event');
cmp_ok(truth_of($truth, 'public_leads_throttled_total', scope => 'ip'), '>', 0, 'the throttle was hit');
cmp_ok(truth_of($truth, 'flow_transactions_total', flow => 'sales', result => 'failure'), '>', 0,
	'failures were injected');

# The check can fail: one committed refund the triggers never saw (replica
# mode skips them) is one event the counters miss.
$node->safe_psql('postgres', q{
	SET session_replication_role = replica;
	INSERT INTO shop.refunds (sale_id, amount, refund_type, idempotency_key)
	SELECT id, 1, 'partial', 'unseen' FROM shop.sales LIMIT 1;
});
isnt($node->safe_psql('postgres', 'SELECT count(*) FROM shop.refunds'),
	truth_of($truth, 'sale_refunds_total', type => 'full', result => 'success')
	  + truth_of($truth, 'sale_refunds_total', type => 'partial', result => 'success'),
	'one lost event makes the table check fail');
$truth->{series}[0]{value}++;
is(scalar(mismatches($node, $truth)), 1, 'and one doubled event makes the counter check fail');

# A user's own tables through a mapping file: the Django-style example.
$node->safe_psql('postgres', q{
	CREATE TABLE sales_sale (id bigserial PRIMARY KEY, state varchar(20) NOT NULL,
	                         grand_total numeric(12,2) NOT NULL);
	CREATE TABLE inventory_stockmovement (id bigserial PRIMARY KEY, kind varchar(16) NOT NULL,
	                                      sale_id bigint, qty integer NOT NULL);
	CREATE TABLE refunds_refund (id bigserial PRIMARY KEY, sale_id bigint NOT NULL,
	                             amount numeric(12,2) NOT NULL, kind varchar(16) NOT NULL,
	                             idem_key uuid NOT NULL UNIQUE);
	CREATE TABLE leads_publiclead (id bigserial PRIMARY KEY, email varchar(254) NOT NULL, ip_address inet);
	SELECT c5metrics.track_sales('sales_sale', status_column => 'state', paid_value => 'PAID');
	SELECT c5metrics.track_stock('inventory_stockmovement', type_column => 'kind', consume_value => 'OUT',
	                             refund_in_value => 'RETURN', quantity_column => 'qty',
	                             refunds_table => 'refunds_refund');
	SELECT c5metrics.track_refunds('refunds_refund', type_column => 'kind', key_column => 'idem_key',
	                               sales_table => 'sales_sale', sales_total_column => 'grand_total');
	SELECT c5metrics.track_leads('leads_publiclead', ip_column => 'ip_address');
	SELECT c5metrics.reset();
});
my $map = dirname(__FILE__) . '/../c5load/django.map';
$ok = IPC::Run::run([ $c5load, '-d', $conninfo, "--map=$map", '--throttle', '--clients=4',
		'--transactions=3000', '--seed=7', "--json=$json_file" ], '>', \$out, '2>', \$err);
ok($ok, 'c5load drives the Django-style tables through django.map') or diag($err);
$truth = decode_json(slurp_file($json_file));
is($truth->{unknown_outcomes}, 0, 'every outcome is known');
@bad = mismatches($node, $truth);
is(scalar(@bad), 0, 'every counter equals the ground truth on the user\'s own tables') or diag(join("\n", @bad));
is($node->safe_psql('postgres', 'SELECT count(*) FROM refunds_refund'),
	truth_of($truth, 'sale_refunds_total', type => 'full', result => 'success')
	  + truth_of($truth, 'sale_refunds_total', type => 'partial', result => 'success'),
	'refund rows = refund successes');

$node->stop;
done_testing();
