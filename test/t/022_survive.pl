# Configuration that survives (issue 15): the reference shop, fully
# tracked with the over-refund guard, is copied and changed the ways DBAs
# and migrations do every day --
#   a. pg_dump -Fc | pg_restore into a new database of the same cluster,
#   b. plain pg_dump | psql into a new database,
#   c. pg_dump -Fc | pg_restore into another cluster,
#   d. CREATE DATABASE ... TEMPLATE,
#   e. renames of every referenced table, column and schema,
#   f. ALTER COLUMN TYPE of the tracked status column (just works), and
#      ALTER TABLE that would break an attachment (refused with a HINT) --
# and after each, a c5load run counts every series exactly as its ground
# truth says, no event is lost, the guard still blocks an over-refund
# (matched by message: its SQLSTATE changes in 1.4) and lets a refund of
# the remainder through, and c5metrics.tracked names the right tables and
# columns, shows no bare OID and no problem.
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

my $node = C5Test::node('survive', extension => 0);

# The reference shop's names, as c5load's mapping file spells them.
my %reference = (
	'sales.table' => 'shop.sales', 'sales.id' => 'id', 'sales.status' => 'status', 'sales.total' => 'total',
	'stock.table' => 'shop.stock_movements', 'stock.type' => 'movement_type', 'stock.sale' => 'sale_id',
	'stock.quantity' => 'quantity',
	'refunds.table' => 'shop.refunds', 'refunds.sale' => 'sale_id', 'refunds.amount' => 'amount',
	'refunds.type' => 'refund_type', 'refunds.key' => 'idempotency_key',
	'leads.table' => 'shop.public_leads', 'leads.email' => 'email', 'leads.ip' => 'source_ip');

# What c5metrics.tracked must say for tables named %n: one line per flow,
# the table and every name-valued option (the values written, such as
# paid_value, are left aside), keys in byte order.
sub expected_tracked
{
	my (%n) = @_;
	my %rows = (
		leads => [ $n{'leads.table'}, email_column => $n{'leads.email'}, ip_column => $n{'leads.ip'} ],
		refunds => [
			$n{'refunds.table'},
			amount_column => $n{'refunds.amount'},
			key_column => $n{'refunds.key'},
			sale_column => $n{'refunds.sale'},
			sales_id_column => $n{'sales.id'},
			sales_table => $n{'sales.table'},
			sales_total_column => $n{'sales.total'},
			type_column => $n{'refunds.type'} ],
		sales => [ $n{'sales.table'}, id_column => $n{'sales.id'}, status_column => $n{'sales.status'} ],
		stock => [
			$n{'stock.table'},
			quantity_column => $n{'stock.quantity'},
			refunds_sale_column => $n{'refunds.sale'},
			refunds_table => $n{'refunds.table'},
			sale_column => $n{'stock.sale'},
			type_column => $n{'stock.type'} ]);
	my @lines;
	foreach my $flow (sort keys %rows)
	{
		my ($table, @kv) = @{ $rows{$flow} };
		my @pairs;
		push @pairs, shift(@kv) . '=' . shift(@kv) while @kv;
		push @lines, "$flow $table " . join(',', @pairs);
	}
	return join("\n", @lines);
}

my $tracked_sql = q{
	SELECT flow || ' ' || table_name::text || ' ' ||
	       (SELECT string_agg(key || '=' || value, ',' ORDER BY key COLLATE "C")
	          FROM jsonb_each_text(config)
	         WHERE key IN ('status_column', 'id_column', 'type_column', 'sale_column',
	                       'quantity_column', 'refunds_table', 'refunds_sale_column',
	                       'amount_column', 'key_column', 'sales_table', 'sales_id_column',
	                       'sales_total_column', 'ip_column', 'email_column'))
	  FROM c5metrics.tracked ORDER BY flow COLLATE "C"};

my $phase = 0;

# One phase: reset the counters, run c5load on $db (through the mapping
# file when the names are not the reference's), compare, then probe the
# guard and c5metrics.tracked.
sub check_phase
{
	my ($n, $db, $what, %names) = @_;
	%names = %reference unless %names;
	$phase++;
	my $map;
	if (grep { $names{$_} ne $reference{$_} } keys %reference)
	{
		$map = $n->basedir . "/survive-$phase.map";
		open(my $fh, '>', $map) or die "could not write $map: $!";
		print $fh "$_ = $names{$_}\n" foreach sort keys %names;
		close $fh;
	}
	$n->safe_psql($db, 'SELECT c5metrics.reset()');
	my $json = $n->basedir . "/survive-$phase.json";
	my ($out, $err) = ('', '');
	my $ok = IPC::Run::run([ $c5load, '-d', $n->connstr($db), ($map ? "--map=$map" : ()),
			'--clients=2', '--transactions=300', "--seed=$phase", "--json=$json", '-q' ],
		'>', \$out, '2>', \$err);
	ok($ok, "$what: c5load ran 300 operations") or diag($err);
	SKIP:
	{
		skip "$what: c5load wrote no ground truth", 3 unless -s $json;
		my $truth = decode_json(slurp_file($json));
		is($truth->{unknown_outcomes} + $truth->{lost_connections}, 0, "$what: every outcome is known")
		  or diag($err);
		cmp_ok(truth_of($truth, 'sale_refund_over_refund_attempts_total'), '>', 0,
			"$what: the guard blocked over-refunds during the run");
		my @bad = mismatches($n, $truth, undef, $db);
		is(scalar(@bad), 0, "$what: every series equals its ground truth (" . scalar(@{ $truth->{series} }) . ' series)')
		  or diag(join("\n", @bad));
	}
	is($n->safe_psql($db, q{SELECT value FROM c5metrics.metrics WHERE metric = 'c5metrics_events_lost_total'}),
		'0', "$what: no event was lost");

	# The guard: a sale of 100, a refund of 99,999,999 refused, one of 100 taken.
	my ($sales, $refunds) = map { join('.', map { qq{"$_"} } split /\./) } @names{ 'sales.table', 'refunds.table' };
	my $cols = join(', ', map { qq{"$names{$_}"} } 'refunds.sale', 'refunds.amount', 'refunds.type', 'refunds.key');
	my $sale = $n->safe_psql($db, qq{INSERT INTO $sales ("$names{'sales.total'}", "$names{'sales.status'}")
		VALUES (100, 'paid') RETURNING "$names{'sales.id'}"});
	my ($ret, $stdout, $stderr) = $n->psql($db,
		"INSERT INTO $refunds ($cols) VALUES ($sale, 99999999, 'partial', 'survive-$phase-over')");
	isnt($ret, 0, "$what: the guard refuses a refund of 99,999,999 on a sale of 100");
	like($stderr, qr/refund exceeds the refundable remainder/, "$what: as an over-refund");
	($ret, $stdout, $stderr) = $n->psql($db,
		"INSERT INTO $refunds ($cols) VALUES ($sale, 100, 'full', 'survive-$phase-full')");
	is($ret, 0, "$what: and takes a refund of the whole remainder") or diag($stderr);

	# c5metrics.tracked: the right tables and columns, by name.
	($ret, $stdout, $stderr) = $n->psql($db, $tracked_sql);
	is($stdout, expected_tracked(%names), "$what: c5metrics.tracked names the right tables and columns")
	  or diag($stderr);
	($ret, $stdout, $stderr) = $n->psql($db, q{SELECT count(*) FROM c5metrics.tracked,
		jsonb_each_text(config) WHERE value ~ '^[0-9]+$'});
	is($stdout, '0', "$what: c5metrics.tracked shows no bare OID") or diag($stderr);
	($ret, $stdout, $stderr) = $n->psql($db,
		q{SELECT count(*) || ' ' || count(*) FILTER (WHERE problem IS NULL) FROM c5metrics.tracked});
	is($stdout, '4 4', "$what: c5metrics.tracked reports no problem") or diag($stderr);
}

# The original: the reference shop, seeded by c5load.
$node->safe_psql('postgres', 'CREATE DATABASE shop_db');
my ($out, $err) = ('', '');
IPC::Run::run([ $c5load, '-d', $node->connstr('shop_db'), '--init', '-t', '0', '-q' ], '>', \$out, '2>', \$err)
  or diag($err);
is($node->safe_psql('shop_db', q{SELECT config ->> 'sales_table' FROM c5metrics.tracked WHERE flow = 'refunds'}),
	'shop.sales', 'the reference shop has the over-refund guard on shop.sales');
check_phase($node, 'shop_db', 'original');

my $dump = $node->basedir . '/shop.dump';
$node->command_ok([ 'pg_dump', '-Fc', '-d', $node->connstr('shop_db'), '-f', $dump ], 'pg_dump -Fc of the shop');

# a. Custom format, restored into a new database of the same cluster.
$node->safe_psql('postgres', 'CREATE DATABASE restored_db');
$node->command_ok([ 'pg_restore', '-d', $node->connstr('restored_db'), $dump ],
	'pg_restore into a new database');
check_phase($node, 'restored_db', 'a. pg_restore, same cluster');

# b. Plain format through psql.
$node->safe_psql('postgres', 'CREATE DATABASE plain_db');
ok( IPC::Run::run(
		[ 'pg_dump', '-d', $node->connstr('shop_db') ], '|',
		[ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', $node->connstr('plain_db') ],
		'>', \$out, '2>', \$err),
	'pg_dump | psql into a new database') or diag($err);
check_phase($node, 'plain_db', 'b. plain pg_dump | psql');

# c. Custom format, restored into another cluster.
my $other = C5Test::node('survive_other', extension => 0);
$other->safe_psql('postgres', 'CREATE DATABASE shop_db');
$other->command_ok([ 'pg_restore', '-d', $other->connstr('shop_db'), $dump ],
	'pg_restore into another cluster');
check_phase($other, 'shop_db', 'c. pg_restore, another cluster');
$other->stop;

# d. A copy by CREATE DATABASE ... TEMPLATE.
$node->safe_psql('postgres', 'CREATE DATABASE template_db TEMPLATE shop_db');
check_phase($node, 'template_db', 'd. CREATE DATABASE TEMPLATE');

# e. Every referenced table, column and schema renamed, one table moved to
# another schema.  (The product of a stock movement gets a default: c5load
# drives renamed tables through a mapping file, which sets only the mapped
# columns.)
$node->safe_psql('postgres', 'CREATE DATABASE renamed_db TEMPLATE shop_db');
$node->safe_psql('renamed_db', 'ALTER TABLE shop.stock_movements ALTER COLUMN product_id SET DEFAULT 1');
my ($ret, $stdout, $stderr) = $node->psql('renamed_db', q{
	ALTER TABLE shop.sales RENAME TO orders;
	ALTER TABLE shop.orders RENAME COLUMN id TO order_no;
	ALTER TABLE shop.orders RENAME COLUMN status TO state;
	ALTER TABLE shop.orders RENAME COLUMN total TO grand_total;
	ALTER TABLE shop.refunds RENAME TO order_refunds;
	ALTER TABLE shop.order_refunds RENAME COLUMN sale_id TO order_id;
	ALTER TABLE shop.order_refunds RENAME COLUMN amount TO refund_amount;
	ALTER TABLE shop.order_refunds RENAME COLUMN refund_type TO kind;
	ALTER TABLE shop.order_refunds RENAME COLUMN idempotency_key TO idem_key;
	CREATE SCHEMA billing;
	ALTER TABLE shop.order_refunds SET SCHEMA billing;
	ALTER TABLE shop.stock_movements RENAME TO movements;
	ALTER TABLE shop.movements RENAME COLUMN movement_type TO kind;
	ALTER TABLE shop.movements RENAME COLUMN sale_id TO order_ref;
	ALTER TABLE shop.movements RENAME COLUMN quantity TO qty;
	ALTER TABLE shop.public_leads RENAME TO leads;
	ALTER TABLE shop.leads RENAME COLUMN email TO email_address;
	ALTER TABLE shop.leads RENAME COLUMN source_ip TO ip_address;
	ALTER SCHEMA shop RENAME TO store;
});
is($ret, 0, 'e. every table, column and schema renamed') or diag($stderr);
check_phase($node, 'renamed_db', 'e. renames',
	'sales.table' => 'store.orders', 'sales.id' => 'order_no', 'sales.status' => 'state',
	'sales.total' => 'grand_total',
	'stock.table' => 'store.movements', 'stock.type' => 'kind', 'stock.sale' => 'order_ref',
	'stock.quantity' => 'qty',
	'refunds.table' => 'billing.order_refunds', 'refunds.sale' => 'order_id',
	'refunds.amount' => 'refund_amount', 'refunds.type' => 'kind', 'refunds.key' => 'idem_key',
	'leads.table' => 'store.leads', 'leads.email' => 'email_address', 'leads.ip' => 'ip_address');

# f. Schema changes: the status column's type changes (Django's AlterField
# to a CharField), which just works; changes that would break the guard's
# attachment are refused with the statements to run.  Each refused change
# runs in a transaction rolled back, so that the database stays whole
# where it is not refused.
$node->safe_psql('postgres', 'CREATE DATABASE altered_db TEMPLATE shop_db');
($ret, $stdout, $stderr) = $node->psql('altered_db', 'ALTER TABLE shop.sales ALTER COLUMN status TYPE varchar(40)');
is($ret, 0, 'f. ALTER COLUMN TYPE of the tracked status column just works') or diag($stderr);
is($node->safe_psql('altered_db', q{SELECT format_type(atttypid, atttypmod) FROM pg_attribute
	WHERE attrelid = 'shop.sales'::regclass AND attname = 'status'}),
	'character varying(40)', 'f. the status column is varchar(40)');
# (The amount's CHECK (amount > 0) goes first, or PostgreSQL itself would
# refuse the text type.)
foreach my $change ([ 'DROP COLUMN amount', '' ],
	[ 'ALTER COLUMN amount TYPE text', 'ALTER TABLE shop.refunds DROP CONSTRAINT refunds_amount_check;' ])
{
	my ($alter, $before) = @$change;
	($ret, $stdout, $stderr) = $node->psql('altered_db', "BEGIN; $before ALTER TABLE shop.refunds $alter; ROLLBACK;");
	isnt($ret, 0, "f. ALTER TABLE shop.refunds $alter, which breaks the guard, is refused");
	like($stderr, qr/HINT:.*c5metrics\.untrack.*track_refunds/s,
		"f. with a HINT naming c5metrics.untrack and track_refunds") or diag($stderr);
}
check_phase($node, 'altered_db', 'f. after the schema changes');

$node->stop;
done_testing();
