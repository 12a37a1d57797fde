# c5metrics_attachment_problems and /readyz's "attachments" check follow
# c5metrics.tracked's problem column through what a shop does: a firing
# trigger never clears a problem its guard has, GRANT/REVOKE, CREATE INDEX
# and constraints refresh it, a restart keeps it, DROP DATABASE forgets
# it.  (The problems themselves are in sql/ddl.sql.)
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib "$FindBin::RealBin/../perl";
use C5Test;

my $port = PostgreSQL::Test::Cluster::get_free_port();
my $node = C5Test::node('problems', http_port => $port, extension => 0);
my $readyz = "http://127.0.0.1:$port/readyz";

# A gauge, summed over flows, as the HTTP worker serves it.
sub gauge
{
	my ($family) = @_;
	$family //= 'c5metrics_attachment_problems';
	my ($code, undef, $body) = http_get("http://127.0.0.1:$port/metrics");
	my $sum = 0;
	$sum += $1 while $body =~ /^\Q$family\E\{[^}]*\} (\d+)$/mg;
	return $sum;
}

sub problems
{
	my ($db) = @_;
	return $node->safe_psql($db, q{SELECT coalesce(string_agg(table_name || ': ' || problem, '; '), '')
		FROM c5metrics.tracked WHERE problem IS NOT NULL});
}

my $n = 0;
sub refund
{
	my ($db) = @_;
	$n++;
	my ($rc, undef, $err) = $node->psql($db,
		qq{INSERT INTO shop.refunds (sale_id, amount, refund_type, idempotency_key) VALUES (1, 1, 'partial', 'k$n')});
	return ($rc, $err);
}

sub shop
{
	my ($db) = @_;
	$node->safe_psql('postgres', "CREATE DATABASE $db");
	$node->safe_psql($db, q{CREATE EXTENSION c5metrics; SELECT c5metrics.create_reference_schema('shop');
		INSERT INTO shop.sales (status, total) VALUES ('paid', 100);});
}

is(gauge(), 0, 'no problem to start with');

# 1. The sales table dropped: the refunds trigger itself still resolves,
# its guard does not; refusing a refund keeps the problem reported.
shop('db1');
$node->safe_psql('db1', 'DROP TABLE shop.sales CASCADE');
like(problems('db1'), qr/shop\.refunds: sales_table shop\.sales does not exist/, 'a dropped sales table is a problem');
is(gauge(), 1, 'counted by the gauge');
my ($rc, $err) = refund('db1');
like($err, qr/ERROR:  over-refund guard of table "shop.refunds" cannot run/, 'the guard refuses the refund');
is(gauge(), 1, 'and the refusal does not clear the gauge');
my ($code, undef, $body) = http_get($readyz);
is($code, 503, '/readyz is 503');
like($body, qr/"failing":"attachments"/, 'failing its attachments check');
$node->safe_psql('db1', q{SELECT c5metrics.track_refunds('shop.refunds')});
is(gauge(), 0, 'attached again without the guard: no problem');
($code) = http_get($readyz);
is($code, 200, '/readyz is 200 again');

# 2. The key's unique constraint dropped and added back.
shop('db2');
$node->safe_psql('db2', 'ALTER TABLE shop.refunds DROP CONSTRAINT refunds_idempotency_key_key');
like(problems('db2'), qr/key column "idempotency_key" has no unique index/, 'a key without its unique index');
is(gauge(), 1, 'counted');
refund('db2');
is(gauge(), 1, 'a refund does not clear it');
$node->safe_psql('db2', 'CREATE UNIQUE INDEX refunds_key ON shop.refunds (idempotency_key)');
is(gauge(), 0, 'CREATE UNIQUE INDEX clears it');

# 3. Privileges revoked from the refunds table's owner, then granted back.
shop('db3');
$node->safe_psql('db3', q{CREATE ROLE rowner; GRANT USAGE ON SCHEMA shop TO rowner;
	GRANT SELECT, UPDATE ON shop.sales TO rowner; ALTER TABLE shop.refunds OWNER TO rowner});
is(gauge(), 0, 'a refunds owner that may read and lock the sales');
$node->safe_psql('db3', 'REVOKE UPDATE ON shop.sales FROM rowner');
like(problems('db3'), qr/cannot lock rows of shop\.sales/, 'UPDATE revoked: a problem');
is(gauge(), 1, 'REVOKE refreshes the gauge');
$node->safe_psql('db3', 'GRANT SELECT, UPDATE ON shop.sales TO rowner');
is(gauge(), 0, 'GRANT clears it');

# 4. Only the refunds AFTER trigger disabled; kept across a restart.
shop('db4');
$node->safe_psql('db4', 'ALTER TABLE shop.refunds DISABLE TRIGGER zz_c5metrics_refunds_after');
like(problems('db4'), qr/trigger zz_c5metrics_refunds_after is disabled/, 'the AFTER trigger disabled is a problem');
is(gauge(), 1, 'counted');
$node->restart;
is(gauge(), 1, 'still counted after a clean restart (saved with the registry)');

# 5. DROP DATABASE forgets its tables and their problems.
$node->safe_psql('postgres', 'DROP DATABASE db4');
is(gauge(), 0, 'DROP DATABASE forgets its attachments');
my $tracked = gauge('c5metrics_tracked_tables');
my $left = 0;
$left += $node->safe_psql($_, 'SELECT count(*) FROM c5metrics.tracked') for qw(db1 db2 db3);
is($tracked, $left, "c5metrics_tracked_tables counts the tables of the databases left ($left)");

$node->stop;
done_testing();
