# After a workload over every flow, the exposition passes `promtool check
# metrics` (Debian's prometheus package) and our own checks: no duplicate
# series, cumulative buckets, +Inf equal to _count.
use strict;
use warnings;
use File::Basename;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/../perl";
use C5Test;

my ($promtool) = grep { -x $_ } map { "$_/promtool" } split /:/, $ENV{PATH};
ok(defined $promtool, 'promtool is installed') or BAIL_OUT('install the prometheus package');
my $checker = dirname(__FILE__) . '/../check-exposition.pl';

my $node = C5Test::node('expo', conf => "max_prepared_transactions = 2\n", schema => 'shop');
$node->safe_psql('postgres', q{
	INSERT INTO shop.products (sku, name, price) VALUES ('P1', 'Cream', 10);
	INSERT INTO shop.stock_lots (product_id, expires_on, quantity_on_hand) VALUES (1, current_date + 30, 15);
	INSERT INTO shop.sales (total) SELECT 100 FROM generate_series(1, 7);
	INSERT INTO shop.sale_items (sale_id, product_id, quantity, unit_price) SELECT s, 1, 3, 10 FROM generate_series(1, 6) s;
	CREATE TABLE odd (id int PRIMARY KEY, status text);
	SELECT c5metrics.track_sales('odd');
	INSERT INTO odd VALUES (1, E'quote" back\\\\ slash'), (2, 'x');
	UPDATE odd SET status = 'y';
});
# every flow, with successes and each kind of failure
$node->psql('postgres', $_) foreach (
	q{SELECT shop.pay_sale(s) FROM generate_series(1, 5) s},
	q{SELECT shop.pay_sale(6)},
	q{BEGIN; SELECT shop.pay_sale(7); ROLLBACK},
	q{SELECT shop.refund_sale(1, 30, 'partial', 'k1', true)},
	q{SELECT shop.refund_sale(1, 300, 'partial', 'k2')},
	q{SELECT shop.refund_sale(1, 1, 'partial', 'k1')},
	q{INSERT INTO shop.stock_movements (movement_type, product_id, sale_id, quantity) VALUES ('refund_in', 1, 2, 99)},
	q{INSERT INTO shop.public_leads (email, source_ip) VALUES ('a@example.com', '192.0.2.1')},
	q{INSERT INTO shop.public_leads (email, source_ip) VALUES ('bad', '192.0.2.1')},
	q{SET c5metrics.lead_throttle = on; SET c5metrics.lead_ip_per_minute = 1;
	  INSERT INTO shop.public_leads (email, source_ip) VALUES ('b@example.com', '192.0.2.2');
	  INSERT INTO shop.public_leads (email, source_ip) VALUES ('c@example.com', '192.0.2.2')},
	q{BEGIN; INSERT INTO shop.refunds (sale_id, amount, refund_type, idempotency_key) VALUES (2, 1, 'full', 'tp');
	  PREPARE TRANSACTION 'tp'}, q{COMMIT PREPARED 'tp'});

my $text = $node->safe_psql('postgres', 'SELECT c5metrics.exposition()') . "\n";
my $file = $node->basedir . '/metrics.txt';
open(my $fh, '>', $file) or die;
print $fh $text;
close $fh;

my ($out, $err);
my $ok = IPC::Run::run([ $promtool, 'check', 'metrics' ], '<', $file, '>', \$out, '2>', \$err);
ok($ok, 'promtool check metrics passes') or diag("$out$err");
$ok = IPC::Run::run([ 'perl', $checker ], '<', $file, '>', \$out, '2>', \$err);
ok($ok, 'no duplicate series, cumulative buckets, +Inf = _count') or diag("$out$err");

like($text, qr/^sales_transition_total\{from_status="quote\\" back\\\\ slash",to_status="y",result="success"\} 1$/m,
	'label values are escaped');
like($text, qr/^sales_paid_stock_consume_total\{result="success"\} 5$/m, 'paid sales with stock consumed');
like($text, qr/^sales_paid_stock_consume_total\{result="rejected"\} 1$/m, 'insufficient stock is rejected');
like($text, qr/^sales_paid_stock_consume_total\{result="failure"\} 1$/m, 'a rollback is a failure');
like($text, qr/^sale_refund_over_refund_attempts_total 1$/m, 'the over-refund attempt');
like($text, qr/^sale_refund_idempotency_conflicts_total 1$/m, 'the duplicate key');
like($text, qr/^stock_refund_in_mismatch_total\{type="over_restock"\} 1$/m, 'the over-restock');
like($text, qr/^public_leads_throttled_total\{scope="ip"\} 1$/m, 'the throttled lead');
like($text, qr/^sale_refunds_total\{type="full",result="success"\} 1$/m, 'the prepared refund, once committed');

# The sum of a histogram is never truncated to an integer.
like($text, qr/^flow_transaction_duration_seconds_sum\{flow="sales"\} \d+\.\d{6}$/m, 'sums keep microseconds');

$node->stop;
done_testing();
