# The upgrade path: a database created at 1.0, with tracked tables and
# live counters, is updated with ALTER EXTENSION c5metrics UPDATE and
# counts on -- the same library serves both versions meanwhile.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/../perl";
use C5Test;

my $node = C5Test::node('upgrade', extension => 0);

sub value
{
	my ($metric, $labels) = @_;
	return $node->safe_psql('postgres',
		"SELECT coalesce(sum(value), 0) FROM c5metrics.metrics WHERE metric = '$metric'"
		  . ($labels ? " AND labels @> '$labels'" : ''));
}

# Version 1.0, as first released: the refund-in check was a deferred
# constraint trigger.
$node->safe_psql('postgres', q{
	CREATE EXTENSION c5metrics VERSION '1.0';
	SELECT c5metrics.create_reference_schema('shop');
	INSERT INTO shop.products (sku, name, price) VALUES ('p1', 'Product', 10);
	INSERT INTO shop.stock_lots (product_id, expires_on, quantity_on_hand) VALUES (1, '2100-01-01', 100);
	INSERT INTO shop.sales (id, total) VALUES (1, 10), (2, 10), (3, 10);
	INSERT INTO shop.sale_items (sale_id, product_id, quantity, unit_price) VALUES (1, 1, 1, 10), (2, 1, 1, 10);
	SELECT shop.pay_sale(1);
	SELECT shop.refund_sale(1, 10, 'full', 'r1', true);
	INSERT INTO shop.stock_movements (movement_type, product_id, sale_id, quantity) VALUES ('refund_in', 1, 3, 1);
});
is($node->safe_psql('postgres', q{SELECT extversion FROM pg_extension WHERE extname = 'c5metrics'}),
	'1.0', 'installed at 1.0');
is($node->safe_psql('postgres', q{SELECT count(*) FROM pg_trigger WHERE tgname = 'zz_c5metrics_stock_refund_in_check'}),
	'1', 'with the 1.0 constraint trigger');
is($node->safe_psql('postgres', q{SELECT count(*) FROM pg_trigger WHERE tgname = 'zz_c5metrics_sales_stmt'}),
	'1', 'and the sales statement trigger of 1.0 and 1.1');
is(value('sales_transition_total', '{"to_status": "paid", "result": "success"}'), '1', '1.0 counts a paid sale');
is(value('sale_refunds_total', '{"result": "success"}'), '1', 'and a refund');
is(value('stock_refund_in_mismatch_total', '{"type": "no_refund"}'), '1',
	'a refund-in without refund is counted once, not twice, while the 1.0 trigger is still there');

$node->safe_psql('postgres', 'ALTER EXTENSION c5metrics UPDATE');
is($node->safe_psql('postgres', q{SELECT extversion FROM pg_extension WHERE extname = 'c5metrics'}),
	'1.5', 'updated to 1.5, through 1.1, 1.2, 1.3 and 1.4');
is($node->safe_psql('postgres', q{SELECT count(*) FROM pg_trigger WHERE tgname = 'zz_c5metrics_stock_refund_in_check'}),
	'0', 'the update dropped the constraint trigger');
is($node->safe_psql('postgres', q{SELECT count(*) FROM pg_proc WHERE proname = '_refund_in_check'}),
	'0', 'and its function');
is($node->safe_psql('postgres', q{SELECT count(*) FROM pg_trigger WHERE tgname = 'zz_c5metrics_sales_stmt'}),
	'0', 'and the sales statement trigger (1.2)');
is($node->safe_psql('postgres', q{SELECT count(*) FROM pg_proc WHERE proname = '_sales_stmt_trigger'}),
	'0', 'and its function');
is($node->safe_psql('postgres', q{SELECT count(*) FROM c5metrics.tracked}), '4', 'the four tables stay tracked');
# 1.3 and before named the guard's sales table and the refund-in check's
# refunds table by OID, which a dump does not carry: the update names them.
is($node->safe_psql('postgres', q{SELECT string_agg(coalesce(config->>'sales_table', config->>'refunds_table'), ',' ORDER BY flow)
	FROM c5metrics.tracked WHERE flow IN ('refunds', 'stock')}),
	'shop.sales,shop.refunds', 'the update names the tables a trigger reads, not their OIDs');
is($node->safe_psql('postgres', q{SELECT count(*) FROM c5metrics.tracked WHERE problem IS NOT NULL}), '0',
	'and no attachment has a problem');
is(value('sales_transition_total', '{"to_status": "paid", "result": "success"}'), '1', 'counters are untouched');

$node->safe_psql('postgres', q{
	SELECT shop.pay_sale(2);
	INSERT INTO shop.stock_movements (movement_type, product_id, sale_id, quantity) VALUES ('refund_in', 1, 3, 1);
});
is(value('sales_transition_total', '{"to_status": "paid", "result": "success"}'), '2', '1.2 counts on');
is(value('stock_refund_in_mismatch_total', '{"type": "no_refund"}'), '2', 'and checks refund-in movements before commit');
is($node->safe_psql('postgres', q{SELECT count(*) FROM c5metrics.sli}), '40', 'the 1.1 views are there');

# Without its statement trigger, an UPDATE of the status that matches no
# row still counts as sales-flow work (the library marks it when the
# executor starts it), and one of another column does not.
$node->safe_psql('postgres', q{SELECT c5metrics.reset()});
$node->safe_psql('postgres', q{UPDATE shop.sales SET status = 'paid' WHERE id = 0});
$node->safe_psql('postgres', q{UPDATE shop.sales SET total = total WHERE id = 3});
is(value('flow_transactions_total', '{"flow": "sales"}'), '1', 'the sales flow counts statements that set the status');

# A fresh install gets 1.5 directly, identical to an updated one.
$node->safe_psql('postgres', 'CREATE DATABASE fresh');
$node->safe_psql('fresh', 'CREATE EXTENSION c5metrics');
my $objects = q{SELECT string_agg(pg_describe_object(classid, objid, 0), E'\n' ORDER BY 1)
	FROM pg_depend WHERE refobjid = (SELECT oid FROM pg_extension WHERE extname = 'c5metrics') AND deptype = 'e'};
is($node->safe_psql('fresh', $objects), $node->safe_psql('postgres', $objects),
	'a fresh 1.5 install has the same objects as an updated one');

$node->stop;
done_testing();
