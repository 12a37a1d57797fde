# Exactness: after a mixed run of c5load at 6 clients, every business
# counter equals what the clients saw happen (c5load's ground truth) and
# what the tables hold.  Nothing lost, nothing doubled -- and the check
# fails when one event is missing.
#
# The run includes refunds that put stock back at volume (c5load's
# restock operations: the refund row and a refund-in movement of the same
# sale in one transaction), with the mismatches the refund-in check
# counts at commit -- over_restock and no_refund, alone, together, across
# transactions, through released and rolled-back savepoints, in
# autocommit, several sales per transaction -- and restocks that roll
# back, so that stock_refund_in_total{result} and
# stock_refund_in_mismatch_total{type} are shown exact against both the
# ground truth and the tables.
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

my $node = C5Test::node('exact', conf => "max_connections = 40\n", extension => 0);
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

# The default mix (weight 96) and restocking refunds (weight 48, a third of
# the operations): 20 consistent, 8 each rolled back, over_restock and
# no_refund, 4 of five sales in one transaction (test/c5load/c5load.c).
my $restock = '--mix=restock=20,restock_rollback=8,restock_over=8,restock_no_refund=8,restock_batch=4';
my $json_file = $node->basedir . '/truth.json';
my $ok = IPC::Run::run([ $c5load, '-d', $conninfo, '--throttle', '--clients=6', '--transactions=15000',
		'--seed=42', $restock, "--json=$json_file" ], '>', \$out, '2>', \$err);
ok($ok, 'c5load ran 15000 mixed operations, restocking refunds included, at 6 clients') or diag($err);
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

# Restocking refunds at volume, every outcome the check can see.
note(sprintf('refund-in movements: %d committed, %d rolled back, %d rejected; %d over_restock, %d no_refund',
	map({ truth_of($truth, 'stock_refund_in_total', result => $_) } qw(success failure rejected)),
	map({ truth_of($truth, 'stock_refund_in_mismatch_total', type => $_) } qw(over_restock no_refund))));
cmp_ok(truth_of($truth, 'stock_refund_in_total', result => 'success'), '>', 5000,
	'thousands of refund-in movements committed');
cmp_ok(truth_of($truth, 'stock_refund_in_total', result => 'failure'), '>', 500,
	'hundreds rolled back');
cmp_ok(truth_of($truth, 'stock_refund_in_total', result => 'rejected'), '>', 150,
	'hundreds rejected with their transaction by the over-refund guard');
cmp_ok(truth_of($truth, 'stock_refund_in_mismatch_total', type => 'over_restock'), '>', 1000,
	'over a thousand over_restock');
cmp_ok(truth_of($truth, 'stock_refund_in_mismatch_total', type => 'no_refund'), '>', 1000,
	'over a thousand no_refund');
cmp_ok(truth_of($truth, 'sales_transition_total', to_status => 'refunded', result => 'success'), '>', 1000,
	'restocking refunds moved sales to refunded');
cmp_ok(truth_of($truth, 'sales_transition_total', to_status => 'partially_refunded', result => 'failure'), '>', 100,
	'and not, when they rolled back');

# The histograms those transactions observe: one committed refund row, one
# committed transaction of a flow, one observation each.
my %hist_count = map { split /\|/ } split /\n/, $node->safe_psql('postgres', q{
	SELECT metric || coalesce(labels ->> 'flow', '') || '|' || value FROM c5metrics.metrics
	 WHERE metric IN ('sale_refund_duration_seconds_count', 'flow_transaction_duration_seconds_count')});
is($hist_count{sale_refund_duration_seconds_count},
	truth_of($truth, 'sale_refunds_total', result => 'success'),
	'sale_refund_duration_seconds_count = committed refunds');
is(join(' ', map { $hist_count{"flow_transaction_duration_seconds_count$_"} // 0 } qw(sales stock refunds leads)),
	join(' ', map { truth_of($truth, 'flow_transactions_total', flow => $_, result => 'success') } qw(sales stock refunds leads)),
	'flow_transaction_duration_seconds_count = committed flow transactions, per flow');

# The refund-in check against the tables: c5load checks no sale again
# once it went wrong, so each mismatch counted is one sale the tables show
# putting back more than it consumed, or with no refund.
sub mismatched_sales
{
	my ($stock, $type, $qty, $consume, $refund_in, $refunds) = @_;
	return $node->safe_psql('postgres', qq{
		SELECT count(*) FILTER (WHERE put_back > consumed) || ' over_restock, '
		       || count(*) FILTER (WHERE NOT refunded) || ' no_refund'
		  FROM (SELECT m.sale_id,
		               sum(m.$qty) FILTER (WHERE m.$type = '$consume') AS consumed,
		               sum(m.$qty) FILTER (WHERE m.$type = '$refund_in') AS put_back,
		               EXISTS (SELECT 1 FROM $refunds r WHERE r.sale_id = m.sale_id) AS refunded
		          FROM $stock m GROUP BY m.sale_id
		        HAVING bool_or(m.$type = '$refund_in')) s});
}

sub mismatches_counted
{
	return $node->safe_psql('postgres', q{
		SELECT string_agg(coalesce(m.value, 0) || ' ' || t, ', ' ORDER BY t DESC)
		  FROM unnest(ARRAY['over_restock', 'no_refund']) t
		  LEFT JOIN c5metrics.metrics m ON m.metric = 'stock_refund_in_mismatch_total' AND m.labels ->> 'type' = t});
}

is(mismatches_counted(),
	mismatched_sales('shop.stock_movements', 'movement_type', 'quantity', 'consume', 'refund_in', 'shop.refunds'),
	'the mismatches counted are the sales the tables show wrong');
is($node->safe_psql('postgres', q{
	SELECT l.quantity_on_hand + coalesce(sum(m.quantity) FILTER (WHERE m.movement_type = 'consume'), 0)
	       - coalesce(sum(m.quantity) FILTER (WHERE m.movement_type = 'refund_in'), 0)
	  FROM shop.stock_lots l LEFT JOIN shop.stock_movements m ON m.lot_id = l.id
	 WHERE l.product_id = 1 GROUP BY l.id, l.quantity_on_hand}),
	'1000000000', 'the lot holds what it was seeded with, less what was consumed, plus what was put back');

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
		'--transactions=5000', '--seed=7', $restock, "--json=$json_file" ], '>', \$out, '2>', \$err);
ok($ok, 'c5load drives the Django-style tables through django.map, restocking refunds included') or diag($err);
$truth = decode_json(slurp_file($json_file));
is($truth->{unknown_outcomes}, 0, 'every outcome is known');
@bad = mismatches($node, $truth);
is(scalar(@bad), 0, 'every counter equals the ground truth on the user\'s own tables') or diag(join("\n", @bad));
is($node->safe_psql('postgres', 'SELECT count(*) FROM refunds_refund'),
	truth_of($truth, 'sale_refunds_total', type => 'full', result => 'success')
	  + truth_of($truth, 'sale_refunds_total', type => 'partial', result => 'success'),
	'refund rows = refund successes');
is($node->safe_psql('postgres', q{SELECT count(*) FROM inventory_stockmovement WHERE kind = 'RETURN'}),
	truth_of($truth, 'stock_refund_in_total', result => 'success'), 'refund-in rows = refund-in successes');
is(mismatches_counted(), mismatched_sales('inventory_stockmovement', 'kind', 'qty', 'OUT', 'RETURN', 'refunds_refund'),
	'the mismatches counted are the sales the tables show wrong');
cmp_ok(truth_of($truth, 'stock_refund_in_mismatch_total', type => 'over_restock'), '>', 100,
	'over_restock were counted');
cmp_ok(truth_of($truth, 'stock_refund_in_mismatch_total', type => 'no_refund'), '>', 100,
	'no_refund were counted');
is($node->safe_psql('postgres', q{SELECT value FROM c5metrics.metrics WHERE metric = 'c5metrics_events_lost_total'}),
	'0', 'c5metrics lost no event');

$node->stop;
done_testing();
