# Attaching, attacked.  Plain login roles -- one with no grant at all, two
# owning tables of their own, one that may SELECT (and UPDATE) the shop's
# sales table under a row-level security policy, a clerk that may only
# insert refunds -- hand c5metrics every relation kind and catalog as the
# sales table of the over-refund guard or the refunds table of the
# refund-in check, through the attach functions and through triggers they
# create themselves with arguments of their own (the trigger functions are
# executable by PUBLIC).  Throughout:
#   - attaching refuses with the right SQLSTATE;
#   - at run time the guard and the check stand aside (the insert succeeds,
#     c5metrics_events_lost_total counts it) and the server never crashes;
#   - no message shows a value the role could not read;
#   - no role holds through c5metrics a lock it could not take itself, on
#     another role's table or on a catalog (pg_locks, and concurrent DDL,
#     GRANT and FOR UPDATE under lock_timeout);
#   - code the stock table's owner reaches (a row-level security policy)
#     runs restricted, and leaves a superuser's session as it found it.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/../perl";
use C5Test;

my $secret = '987654.32';
my $port = PostgreSQL::Test::Cluster::get_free_port();
my $node = C5Test::node('adversarial', http_port => $port, schema => 'shop', conf => q{
# The attacks below were written when a guard that could not run stood
# aside, counted as a lost event; that is still what `count` does.  The
# default, `refuse`, is checked at the end (section 6).
c5metrics.guard_unavailable = count
});
my $pm_start = $node->safe_psql('postgres', 'SELECT pg_postmaster_start_time()');

$node->safe_psql('postgres', qq{
INSERT INTO shop.sales (id, status, total) VALUES (1, 'paid', 100), (2, 'paid', $secret);
CREATE ROLE c5_nobody LOGIN;
CREATE ROLE c5_owner1 LOGIN;
CREATE ROLE c5_owner2 LOGIN;
CREATE ROLE c5_spy LOGIN;
CREATE ROLE c5_clerk LOGIN;
CREATE SCHEMA o1 AUTHORIZATION c5_owner1;
CREATE SCHEMA o2 AUTHORIZATION c5_owner2;
CREATE SCHEMA sp AUTHORIZATION c5_spy;
GRANT USAGE ON SCHEMA shop TO c5_owner1, c5_spy;
GRANT SELECT ON shop.sales TO c5_owner1;
GRANT SELECT, UPDATE ON shop.sales TO c5_spy;
ALTER TABLE shop.sales ENABLE ROW LEVEL SECURITY;
CREATE POLICY own_rows ON shop.sales TO c5_spy USING (id = 1);
CREATE FOREIGN DATA WRAPPER c5_dummy;
CREATE SERVER c5_srv FOREIGN DATA WRAPPER c5_dummy;
GRANT USAGE ON FOREIGN SERVER c5_srv TO c5_owner1;
});

# Every message an attacker saw, to look for values afterwards (but for
# the one case where the role may read the value).
my $seen = '';
our $collect = 1;

# Run $sql as $role in a new session: (exit code, stdout, stderr); errors
# carry their SQLSTATE ("ERROR:  42809: ...").
sub sql_as
{
	my ($role, $sql) = @_;
	my ($rc, $out, $err) = $node->psql('postgres', "\\set VERBOSITY verbose\n$sql",
		extra_params => [ '-U', $role ], on_error_stop => 1);
	$seen .= $err if $collect;
	return ($rc, $out, $err);
}

sub refused
{
	my ($role, $sql, $state, $name) = @_;
	my ($rc, undef, $err) = sql_as($role, $sql);
	ok($rc != 0 && $err =~ /ERROR:  $state: /, "$name: refused with $state")
	  or diag("exit code $rc, stderr: $err");
	return $err;
}

sub succeeds
{
	my ($role, $sql, $name) = @_;
	my ($rc, $out, $err) = sql_as($role, $sql);
	ok($rc == 0 && $err !~ /ERROR/, $name) or diag("exit code $rc, stderr: $err");
	return $out;
}

sub metric
{
	my ($name, $labels) = @_;
	my $where = defined $labels ? " AND labels = '$labels'::jsonb" : '';
	return $node->safe_psql('postgres',
		"SELECT coalesce(sum(value), 0) FROM c5metrics.metrics WHERE metric = '$name'$where");
}
sub lost { return metric('c5metrics_events_lost_total'); }

# A session kept open as $role; query() clears the last errors first.
sub session
{
	my ($role) = @_;
	return $node->background_psql('postgres', on_error_stop => 0,
		extra_params => [ '-U', $role ]);
}
sub bq
{
	my ($s, $sql) = @_;
	$s->{stderr} = '';
	my $out = $s->query($sql);
	$seen .= $s->{stderr};
	return ($out, $s->{stderr});
}

# A guard trigger created by hand on $table, aimed at the relation whose
# OID $oid_sql yields, named as 1.4 names it (schema-qualified: an OID in
# a trigger argument is trusted only before the 1.4 update), with id and
# total columns $id and $total.
sub hand_guard
{
	my ($table, $name, $oid_sql, $id, $total) = @_;
	return qq{DO \$\$ BEGIN EXECUTE format(
  'CREATE TRIGGER %I BEFORE INSERT ON $table FOR EACH ROW EXECUTE FUNCTION
   c5metrics._refunds_trigger(''sale_id'', ''amount'', ''refund_type'', '''', %L, %L, %L)',
  '$name', (SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname)
              FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = ($oid_sql)),
  '$id', '$total'); END \$\$;};
}

# The locks backend $pid holds on relation $rel (an OID or a regclass text).
sub locks_of
{
	my ($pid, $rel) = @_;
	return $node->safe_psql('postgres',
		"SELECT count(*) FROM pg_locks WHERE pid = $pid AND relation = $rel");
}

# ---- 1. the reproduction of the issue, as a role with no grant ----

{
	my $before = lost();
	my $err = refused('c5_nobody', q{
CREATE TEMP TABLE r (sale_id bigint, amount numeric, refund_type text, idempotency_key text);
CREATE TEMP VIEW v AS SELECT 1::bigint id, 100::numeric total;
SELECT c5metrics.track_refunds('r', key_column => NULL, sales_table => 'v');
}, '42809', 'a temporary view as sales_table');
	like($err, qr/cannot use view (pg_temp_\d+\.)?v as sales_table/, 'the error names the view and the option');

	succeeds('c5_nobody', q{
CREATE TEMP TABLE r (sale_id bigint, amount numeric, refund_type text, idempotency_key text);
CREATE TEMP VIEW v AS SELECT 1::bigint id, 100::numeric total;
} . hand_guard('r', 'zz_c5metrics_refunds', q{'v'::regclass::oid}, 'id', 'total') . q{
INSERT INTO r VALUES (1, 1, 'full', NULL);
INSERT INTO r VALUES (1, 1000, 'full', NULL);
}, 'the same view through a trigger of its own: the inserts succeed');
	is(lost() - $before, 2, 'the guard stood aside twice, counted as lost events');
}

# ---- 2. every relation kind and catalog, at attach and at run time ----

$node->safe_psql('postgres', q{SET ROLE c5_owner1;
CREATE TABLE o1.sales (id bigint PRIMARY KEY, total numeric NOT NULL, note text);
INSERT INTO o1.sales VALUES (1, 100), (2, 987654.32);
CREATE TABLE o1.refunds (sale_id bigint, amount numeric, refund_type text,
                         idempotency_key text UNIQUE);
CREATE TABLE o1.moves (movement_type text, sale_id bigint, quantity integer);
CREATE VIEW o1.v_sales AS SELECT id, total, id AS sale_id FROM o1.sales;
CREATE MATERIALIZED VIEW o1.mv_sales AS SELECT id, total, id AS sale_id FROM o1.sales;
CREATE TABLE o1.p_sales (id bigint, total numeric, sale_id bigint) PARTITION BY RANGE (id);
CREATE TABLE o1.p_sales_1 PARTITION OF o1.p_sales FOR VALUES FROM (0) TO (1000);
CREATE FOREIGN TABLE o1.f_sales (id bigint, total numeric, sale_id bigint) SERVER c5_srv;
CREATE SEQUENCE o1.seq;
CREATE TYPE o1.ctype AS (id bigint, total numeric, sale_id bigint);
});
my %kind = (
	'view' => q{'o1.v_sales'},
	'materialized view' => q{'o1.mv_sales'},
	'partitioned table' => q{'o1.p_sales'},
	'foreign table' => q{'o1.f_sales'},
	'sequence' => q{'o1.seq'},
	'index' => q{'o1.sales_pkey'},
	'composite type' => q{'o1.ctype'},
	'TOAST table' => q{(SELECT reltoastrelid FROM pg_class WHERE oid = 'o1.sales'::regclass)::regclass});
foreach my $k (sort keys %kind)
{
	refused('c5_owner1', "SELECT c5metrics.track_refunds('o1.refunds', sales_table => $kind{$k})",
		'42809', "a $k as sales_table");
	refused('c5_owner1', "SELECT c5metrics.track_stock('o1.moves', refunds_table => $kind{$k})",
		'42809', "a $k as refunds_table");
}
my %catalog = (
	pg_class => [ 'oid', 'relpages' ],
	pg_database => [ 'oid', 'datconnlimit' ],
	pg_authid => [ 'oid', 'rolconnlimit' ],
	pg_statistic => [ 'starelid', 'stanullfrac' ],
	'information_schema.sql_features' => [ 'feature_id', 'feature_id' ]);
foreach my $c (sort keys %catalog)
{
	refused('c5_owner1', "SELECT c5metrics.track_refunds('o1.refunds', sales_table => '$c')",
		'42501', "system catalog $c as sales_table");
	refused('c5_owner1', "SELECT c5metrics.track_stock('o1.moves', refunds_table => '$c')",
		'42501', "system catalog $c as refunds_table");
}

# The same relations through triggers of one's own, in one open
# transaction: each insert succeeds, nothing is locked.
{
	my $s = session('c5_nobody');
	my ($pid) = bq($s, 'SELECT pg_backend_pid()');
	bq($s, q{CREATE TEMP TABLE r (sale_id bigint, amount numeric, refund_type text, idempotency_key text);
CREATE TEMP TABLE tp (id bigint, total numeric) PARTITION BY RANGE (id);
CREATE TEMP TABLE tp1 PARTITION OF tp FOR VALUES FROM (0) TO (1000);
CREATE TEMP SEQUENCE tseq});
	# the role cannot even look up o1's names: OIDs are enough
	my $oid = sub { $node->safe_psql('postgres', "SELECT '$_[0]'::regclass::oid") };
	my @targets = (
		[ 'o1.v_sales', 'id', 'total' ], [ 'o1.mv_sales', 'id', 'total' ],
		[ 'o1.p_sales', 'id', 'total' ], [ 'o1.f_sales', 'id', 'total' ],
		[ 'o1.sales_pkey', 'id', 'total' ], [ 'o1.seq', 'last_value', 'log_cnt' ],
		[ 'o1.sales', 'id', 'total' ],
		(map { [ $_, @{ $catalog{$_} } ] } sort keys %catalog));
	my $n = 0;
	foreach my $t (@targets)
	{
		my ($rel, $id, $total) = @$t;
		my (undef, $err) = bq($s, hand_guard('r', 'g' . $n++, $oid->($rel), $id, $total));
		is($err, '', "a trigger of its own aimed at $rel");
	}
	foreach my $rel ('tp', 'tseq')
	{
		my (undef, $err) = bq($s, hand_guard('r', 'g' . $n++, "'$rel'::regclass::oid", 'id', 'total'));
		is($err, '', "a trigger of its own aimed at its own $rel");
		push @targets, [$rel];
	}
	my $before = lost();
	bq($s, 'BEGIN');
	my $shop_sales = $oid->('shop.sales');
	my (undef, $err) = bq($s, qq{INSERT INTO r VALUES ($shop_sales, 1000000, 'full', NULL),
	                                           (2, 1000000, 'full', NULL)});
	# (guard_unavailable = count: no error, a WARNING once per session)
	unlike($err, qr/ERROR/, 'inserting refunds through them succeeds');
	like($err, qr/WARNING:  over-refund guard of table "pg_temp_\d+\.r" cannot run/, 'with a WARNING');
	is(lost() - $before, 2 * scalar(@targets), 'every guard stood aside, each counted as lost');
	foreach my $rel ('o1.sales', 'o1.p_sales', 'o1.f_sales', 'o1.v_sales', 'pg_class', 'pg_database',
		'pg_authid', 'pg_statistic')
	{
		is(locks_of($pid, "'$rel'::regclass"), '0', "no lock held on $rel");
	}
	# a row lock on pg_class's row of a table would block GRANT on it
	my ($rc, undef, $gerr) = $node->psql('postgres', q{SET lock_timeout = '5s';
GRANT SELECT ON shop.sales TO c5_clerk; REVOKE SELECT ON shop.sales FROM c5_clerk;
GRANT SELECT ON o1.sales TO c5_clerk; REVOKE SELECT ON o1.sales FROM c5_clerk;
ALTER TABLE o1.sales ADD COLUMN x int; ALTER TABLE o1.sales DROP COLUMN x;
ANALYZE o1.sales;});
	is($rc, 0, 'GRANT, ALTER TABLE and ANALYZE go through meanwhile') or diag($gerr);
	bq($s, 'COMMIT');
	$s->quit;
}

# Wrong arguments: bad OIDs, wrong counts.  Nothing crashes, nothing raises.
{
	my $guard_args = q{'sale_id', 'amount', 'refund_type', ''};
	my @bad = ("'abc', 'id', 'total'", "'12abc', 'id', 'total'", "'', 'id', 'total'",
		"'-1', 'id', 'total'", "'4294967295', 'id', 'total'", "'99999999999999', 'id', 'total'",
		"'0', 'id', 'total'", "'1259'", "'1259', 'oid'", "'1259', 'oid', 'relpages', 'extra'",
		# names, as 1.4 writes them: malformed, a catalog, nothing
		"'\"open.x', 'id', 'total'", "'a.b.c', 'id', 'total'", "'x.', 'id', 'total'",
		"'\"\".x', 'id', 'total'", "'pg_catalog.pg_class', 'oid', 'relpages'",
		"'public." . ('x' x 200) . "', 'id', 'total'", "'no_such.table', 'id', 'total'");
	my $sql = q{CREATE TEMP TABLE r (sale_id bigint, amount numeric, refund_type text, idempotency_key text);
CREATE TEMP TABLE m (movement_type text, sale_id bigint, quantity integer);
};
	my $n = 0;
	$sql .= "CREATE TRIGGER b" . $n++ . " BEFORE INSERT ON r FOR EACH ROW EXECUTE FUNCTION c5metrics._refunds_trigger($guard_args, $_);\n"
	  foreach @bad;
	$sql .= "CREATE TRIGGER b" . $n++ . " BEFORE INSERT ON r FOR EACH ROW EXECUTE FUNCTION c5metrics._refunds_trigger($_);\n"
	  foreach ("", "'sale_id'", "'nope', 'nope', 'nope', 'nope'", "'sale_id', 'refund_type', 'amount', 'sale_id', '1259', 'oid', 'relname'");
	$sql .= "CREATE TRIGGER b" . $n++ . " BEFORE INSERT ON m FOR EACH ROW EXECUTE FUNCTION c5metrics._stock_trigger($_);\n"
	  foreach ("'movement_type', 'consume', 'refund_in', 'sale_id', 'quantity', 'abc', 'sale_id'",
		"'movement_type', 'consume', 'refund_in', 'sale_id', 'quantity', '1259', 'oid'",
		"'movement_type', 'consume', 'refund_in', 'sale_id', 'quantity', '-5', 'sale_id'",
		"'movement_type', 'consume', 'refund_in', 'sale_id', 'quantity', '0'",
		"'movement_type', 'consume', 'refund_in', 'sale_id'");
	$sql .= q{INSERT INTO r VALUES (1, 1000000, 'full', NULL), (2, 5, 'partial', 'k');
INSERT INTO m VALUES ('refund_in', 1, 1), ('consume', 2, 1);
};
	my $before = lost();
	succeeds('c5_nobody', $sql, 'triggers with malformed arguments: the inserts succeed');
	cmp_ok(lost() - $before, '>=', 2 * scalar(@bad) + 3, 'and the guards and checks they could not run are counted as lost');
}

# Another session's temporary table, and a temporary sales table for a
# permanent refunds table.
{
	my $other = session('c5_owner2');
	my ($oid) = bq($other, q{CREATE TEMP TABLE ts (id bigint PRIMARY KEY, total numeric);
INSERT INTO ts VALUES (2, 987654.32);
SELECT 'ts'::regclass::oid});
	refused('c5_nobody', qq{CREATE TEMP TABLE r (sale_id bigint, amount numeric, refund_type text, idempotency_key text);
SELECT c5metrics.track_refunds('r', key_column => NULL, sales_table => $oid)},
		'0A000', "another session's temporary table as sales_table");
	my $before = lost();
	succeeds('c5_owner2', q{CREATE TEMP TABLE r (sale_id bigint, amount numeric, refund_type text, idempotency_key text);
} . hand_guard('r', 'g', $oid, 'id', 'total') . q{
INSERT INTO r VALUES (2, 1000000, 'full', NULL);}, "a trigger aimed at another session's temporary table: the insert succeeds");
	is(lost() - $before, 1, 'the guard stood aside');
	$other->quit;
	refused('c5_owner1', q{CREATE TEMP TABLE ts (id bigint PRIMARY KEY, total numeric);
SELECT c5metrics.track_refunds('o1.refunds', sales_table => 'ts')},
		'42P16', 'a temporary sales table for a permanent refunds table');
}

# ---- 3. another role's table: SELECT alone locks nothing ----

refused('c5_owner1', q{SELECT c5metrics.track_refunds('o1.refunds', sales_table => 'shop.sales')},
	'42501', "another role's table with SELECT only as sales_table");
{
	my $s = session('c5_owner1');
	my ($pid) = bq($s, 'SELECT pg_backend_pid()');
	bq($s, q{CREATE TABLE o1.r_shop (sale_id bigint, amount numeric, refund_type text, idempotency_key text);
} . hand_guard('o1.r_shop', 'g', q{'shop.sales'::regclass::oid}, 'id', 'total'));
	my $before = lost();
	bq($s, 'BEGIN');
	my (undef, $err) = bq($s, q{INSERT INTO o1.r_shop VALUES (2, 1000000, 'full', NULL)});
	unlike($err, qr/ERROR/, 'a trigger of its own aimed at the shop: the over-refund inserts');
	is(lost() - $before, 1, 'the guard stood aside');
	is(locks_of($pid, q{'shop.sales'::regclass}), '0', 'no lock on shop.sales');
	my ($rc, undef, $lerr) = $node->psql('postgres', q{SET lock_timeout = '5s';
BEGIN; SELECT id FROM shop.sales WHERE id = 2 FOR UPDATE; COMMIT;
ALTER TABLE shop.sales ADD COLUMN x int; ALTER TABLE shop.sales DROP COLUMN x;});
	is($rc, 0, 'the sale row and the table can be locked by others meanwhile') or diag($lerr);
	bq($s, 'COMMIT');
	$s->quit;
}

# ---- 4. row-level security: no remainder, no existence oracle ----

succeeds('c5_spy', q{CREATE TABLE sp.refunds (sale_id bigint, amount numeric, refund_type text, idempotency_key text UNIQUE)},
	'a role under a policy on the shop makes a refunds table');
refused('c5_spy', q{SELECT c5metrics.track_refunds('sp.refunds', sales_table => 'shop.sales')},
	'42501', 'a sales table whose row-level security applies to the owner');
like($seen, qr/row-level security of shop\.sales applies to owner c5_spy/, 'the error says why');
{
	my $before = lost();
	my ($rc, $out, $err) = sql_as('c5_spy', hand_guard('sp.refunds', 'g', q{'shop.sales'::regclass::oid}, 'id', 'total') . q{
INSERT INTO sp.refunds VALUES (2, 1000000, 'full', 'hidden sale');
INSERT INTO sp.refunds VALUES (424242, 1000000, 'full', 'missing sale');
INSERT INTO sp.refunds VALUES (1, 1000000, 'full', 'visible sale');
SELECT count(*) FROM sp.refunds;});
	is($rc, 0, 'through a trigger of its own, refunds of a hidden, a missing and a visible sale insert alike');
	is($out, '3', 'all three rows are there: nothing tells the hidden sale from the missing one');
	is(lost() - $before, 3, 'the guard stood aside each time');
}

# ---- 5. no value in a message the inserting role could not read ----

succeeds('c5_owner1', q{SELECT c5metrics.track_refunds('o1.refunds', sales_table => 'o1.sales');
GRANT USAGE ON SCHEMA o1 TO c5_clerk;
GRANT INSERT ON o1.refunds TO c5_clerk;}, 'the owner guards its refunds against its own sales');
{
	my $err = refused('c5_clerk', q{INSERT INTO o1.refunds VALUES (2, 1000000, 'full', 'c1')},
		'23M01', 'a clerk that may only insert refunds is still guarded');
	unlike($err, qr/\Q$secret\E/, 'but is not shown the remainder');
	like($err, qr/DETAIL:  The remainder is shown only to roles that may read the sale and its refunds/,
		'and is told why');
	$node->safe_psql('postgres', 'GRANT SELECT ON o1.sales, o1.refunds TO c5_clerk');
	{
		local $collect = 0;
		$err = refused('c5_clerk', q{INSERT INTO o1.refunds VALUES (2, 1000000, 'full', 'c2')},
			'23M01', 'a clerk that may read the sale and the refunds');
	}
	like($err, qr/DETAIL:  The sale has \Q$secret\E left to refund/, 'is shown the remainder');
	$node->safe_psql('postgres', q{SET ROLE c5_owner1;
ALTER TABLE o1.sales ENABLE ROW LEVEL SECURITY;
CREATE POLICY clerk_sees_one ON o1.sales TO c5_clerk USING (id = 1);});
	$err = refused('c5_clerk', q{INSERT INTO o1.refunds VALUES (2, 1000000, 'full', 'c3')},
		'23M01', 'a clerk under a policy hiding the sale');
	unlike($err, qr/\Q$secret\E/, 'is not shown the remainder');
	$node->safe_psql('postgres', q{SET ROLE c5_owner1; ALTER TABLE o1.sales DISABLE ROW LEVEL SECURITY});
}

# ---- 6. other combinations, and tables changed after attaching ----

# the sales table is the refunds table itself
refused('c5_owner1', q{CREATE TABLE o1.selfref (id bigint PRIMARY KEY, sale_id bigint, amount numeric,
                                  refund_type text, total numeric);
SELECT c5metrics.track_refunds('o1.selfref', key_column => NULL, sales_table => 'o1.selfref');
INSERT INTO o1.selfref VALUES (1, 1, 5, 'partial', 10);
INSERT INTO o1.selfref VALUES (2, 1, 20, 'partial', 0);}, '23M01',
	'the refunds table as its own sales table works as a guard');

# odd key types: without btree equality the guard works without the key
foreach my $type ('json', 'point', 'xml', 'int4range', 'bigint[]')
{
	refused('c5_owner1', qq{CREATE TABLE o1."k $type" (sale_id bigint, amount numeric, refund_type text, k $type);
SELECT c5metrics.track_refunds('o1."k $type"', key_column => 'k', sales_table => 'o1.sales');
INSERT INTO o1."k $type" (sale_id, amount, refund_type) VALUES (1, 101, 'full');}, '23M01',
		"a key column of type $type: the guard works");
}

# sale ids that cannot be compared, and a partitioned refunds table
refused('c5_owner1', q{CREATE TABLE o1.trefunds (sale_id text, amount numeric, refund_type text);
SELECT c5metrics.track_refunds('o1.trefunds', key_column => NULL, sales_table => 'o1.sales')},
	'42804', 'a text sale column against a bigint sales id');
refused('c5_owner1', q{CREATE TABLE o1.prefunds (sale_id bigint, amount numeric, refund_type text) PARTITION BY HASH (sale_id);
SELECT c5metrics.track_refunds('o1.prefunds', key_column => NULL, sales_table => 'o1.sales')},
	'0A000', 'a guard on a partitioned refunds table');

# a sales table owned by another role, then protected by a policy, then
# with UPDATE revoked, after attaching
$node->safe_psql('postgres', q{SET ROLE c5_owner2;
CREATE TABLE o2.sales (id bigint PRIMARY KEY, total numeric NOT NULL);
INSERT INTO o2.sales VALUES (1, 100), (2, 987654.32);
GRANT USAGE ON SCHEMA o2 TO c5_owner1;
GRANT SELECT, UPDATE ON o2.sales TO c5_owner1;});
succeeds('c5_owner1', q{CREATE TABLE o1.refunds2 (sale_id bigint, amount numeric, refund_type text);
SELECT c5metrics.track_refunds('o1.refunds2', key_column => NULL, sales_table => 'o2.sales');},
	"another role's sales table, with SELECT and UPDATE granted");
{
	# the owner may read o2.sales: the remainder is its to see
	local $collect = 0;
	like(refused('c5_owner1', q{INSERT INTO o1.refunds2 VALUES (2, 1000000, 'full')}, '23M01', 'is guarded'),
		qr/The sale has \Q$secret\E left/, 'and shows the remainder to the owner, who may read it');
}
$node->safe_psql('postgres', q{SET ROLE c5_owner2;
ALTER TABLE o2.sales ENABLE ROW LEVEL SECURITY;
CREATE POLICY one ON o2.sales TO c5_owner1 USING (id = 1);});
{
	my $before = lost();
	succeeds('c5_owner1', q{INSERT INTO o1.refunds2 VALUES (2, 1000000, 'full')},
		'row-level security enabled after attaching: the guard stands aside');
	is(lost() - $before, 1, 'counted as lost');
	$node->safe_psql('postgres', q{SET ROLE c5_owner2;
ALTER TABLE o2.sales DISABLE ROW LEVEL SECURITY;
REVOKE UPDATE ON o2.sales FROM c5_owner1;});
	my $s = session('c5_owner1');
	my ($pid) = bq($s, 'SELECT pg_backend_pid()');
	bq($s, 'BEGIN');
	my (undef, $err) = bq($s, q{INSERT INTO o1.refunds2 VALUES (2, 1000000, 'full')});
	unlike($err, qr/ERROR/, 'UPDATE revoked after attaching: the guard stands aside');
	is(lost() - $before, 2, 'counted as lost');
	is(locks_of($pid, q{'o2.sales'::regclass}), '0', 'and holds no lock on the sales table');
	bq($s, 'COMMIT');
	$s->quit;
}

# ---- 7. the refund-in check: no view runs, and what runs is restricted ----

$node->safe_psql('postgres', q{SET ROLE c5_owner1;
CREATE TABLE o1.log (who name, what text);
GRANT INSERT ON o1.log TO PUBLIC;
CREATE FUNCTION o1.evil() RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO o1.log VALUES (current_user, 'view');
  PERFORM set_config('search_path', 'pwned, public', false);
  CREATE TEMP TABLE IF NOT EXISTS evil_tmp (x int);
  RETURN true;
END $$;
CREATE VIEW o1.v_refunds AS SELECT sale_id FROM o1.refunds WHERE o1.evil();
CREATE TABLE o1.vmoves (movement_type text, sale_id bigint, quantity integer);
});
refused('c5_owner1', q{SELECT c5metrics.track_stock('o1.vmoves', refunds_table => 'o1.v_refunds')},
	'42809', 'a view as refunds_table');
succeeds('c5_owner1', q{DO $$ BEGIN EXECUTE format(
  'CREATE TRIGGER zz_c5metrics_stock BEFORE INSERT ON o1.vmoves FOR EACH ROW EXECUTE FUNCTION
   c5metrics._stock_trigger(''movement_type'', ''consume'', ''refund_in'', ''sale_id'', ''quantity'', %L, ''sale_id'')',
  'o1.v_refunds'); END $$;}, 'the same view through a trigger of its own');

# Policies of a plain refunds table run as the stock table's owner: one
# changes settings, one creates a temporary table.
$node->safe_psql('postgres', q{SET ROLE c5_owner2;
CREATE TABLE o2.log (who name, what text);
GRANT INSERT ON o2.log TO PUBLIC;
CREATE FUNCTION o2.set_things() RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO o2.log VALUES (current_user, 'settings');
  PERFORM set_config('search_path', 'pwned, public', false);
  PERFORM set_config('c5evil.flag', 'set', false);
  PERFORM set_config('work_mem', '77kB', false);
  RETURN true;
END $$;
CREATE FUNCTION o2.make_temp() RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
  CREATE TEMP TABLE evil_tmp (x int);
  INSERT INTO o2.log VALUES (current_user, 'temp table');
  RETURN true;
END $$;
CREATE TABLE o2.refunds_a (sale_id bigint);
CREATE TABLE o2.refunds_b (sale_id bigint);
INSERT INTO o2.refunds_a VALUES (1);
INSERT INTO o2.refunds_b VALUES (1);
ALTER TABLE o2.refunds_a ENABLE ROW LEVEL SECURITY;
ALTER TABLE o2.refunds_b ENABLE ROW LEVEL SECURITY;
CREATE POLICY a ON o2.refunds_a USING (o2.set_things());
CREATE POLICY b ON o2.refunds_b USING (o2.make_temp());
GRANT SELECT ON o2.refunds_a, o2.refunds_b TO c5_owner1;
});
succeeds('c5_owner1', q{CREATE TABLE o1.moves_a (movement_type text, sale_id bigint, quantity integer);
CREATE TABLE o1.moves_b (movement_type text, sale_id bigint, quantity integer);
SELECT c5metrics.track_stock('o1.moves_a', refunds_table => 'o2.refunds_a');
SELECT c5metrics.track_stock('o1.moves_b', refunds_table => 'o2.refunds_b');},
	"plain refunds tables of another role, readable by the stock table's owner, attach");

{
	my $lost0 = lost();
	my $over0 = metric('stock_refund_in_mismatch_total', '{"type": "over_restock"}');
	my $s = session($node->safe_psql('postgres', 'SELECT current_user'));
	my $state = q{SELECT current_setting('search_path') || ' | ' || coalesce(current_setting('c5evil.flag', true), '')
  || ' | ' || current_setting('work_mem') || ' | ' || current_user || ' | '
  || (SELECT count(*) FROM pg_class WHERE relnamespace = pg_my_temp_schema())};
	my ($before) = bq($s, $state);
	my (undef, $err) = bq($s, q{INSERT INTO o1.vmoves VALUES ('refund_in', 1, 1)});
	is($err, '', 'a superuser inserts a refund-in into the table with the view');
	(undef, $err) = bq($s, q{INSERT INTO o1.moves_a VALUES ('refund_in', 1, 1)});
	is($err, '', 'into the table whose refunds policy changes settings');
	(undef, $err) = bq($s, q{INSERT INTO o1.moves_b VALUES ('refund_in', 1, 1)});
	is($err, '', 'and into the table whose refunds policy creates a temporary table');
	my ($after) = bq($s, $state);
	is($after, $before, "the superuser's settings, role and temporary objects are unchanged ($before)");
	$s->quit;
	is($node->safe_psql('postgres', 'SELECT count(*) FROM o1.log'), '0', "the view's function never ran");
	is($node->safe_psql('postgres', "SELECT string_agg(DISTINCT who || ':' || what, ',') FROM o2.log"),
		'c5_owner1:settings', "the policy ran as the stock table's owner; the temporary table was refused");
	is(metric('stock_refund_in_mismatch_total', '{"type": "over_restock"}') - $over0, 1,
		'the check behind the settings-changing policy still counted');
	is(lost() - $lost0, 2, 'the view and the refused temporary table are counted as lost');
}

# ---- nothing left behind ----

# ---- 6. the default: a guard that cannot run refuses, the same for all ----

$node->safe_psql('postgres', q{ALTER SYSTEM SET c5metrics.guard_unavailable = refuse});
$node->reload;
$node->poll_query_until('postgres', q{SELECT current_setting('c5metrics.guard_unavailable') = 'refuse'})
  or die 'the reload did not take';
{
	my @errs;
	for my $sale (2, 424242, 1)
	{
		my $err = refused('c5_spy', qq{INSERT INTO sp.refunds VALUES ($sale, 1000000, 'full', 'again $sale')},
			'55M01', "with guard_unavailable = refuse, the refund of sale $sale through a trigger of its own");
		push @errs, ($err =~ /(ERROR:.*?)(?:\nLOCATION|\z)/s)[0];
	}
	is($errs[0], $errs[1], 'a hidden sale and a missing one are refused with the same words');
	is($errs[1], $errs[2], 'and a visible one too');
	refused('c5_owner1', q{INSERT INTO o1.refunds2 VALUES (2, 1000000, 'full')}, '55M01',
		'a sales table put under row-level security after attaching');
	my ($rc, undef, $err) = $node->psql('postgres',
		q{INSERT INTO shop.refunds (sale_id, amount, refund_type, idempotency_key) VALUES (1, 1000000, 'full', 'sec-6')});
	ok($rc != 0 && $err =~ /refund exceeds the refundable remainder/, 'a guard that can run still blocks an over-refund')
	  or diag($err);
}

# ---- 7. a rename by the owner of a table another role's guard reads ----

# c5_owner2 renames its sales table, its total column and moves it to
# another schema: c5_owner1's guard follows, its trigger rewritten as
# c5_owner1 (who owns the refunds table); c5_owner2 gains nothing on it.
$node->safe_psql('postgres', q{CREATE SCHEMA o2b AUTHORIZATION c5_owner2;
SET ROLE c5_owner2;
ALTER TABLE o2.sales DISABLE ROW LEVEL SECURITY;
GRANT SELECT, UPDATE ON o2.sales TO c5_owner1;
GRANT USAGE ON SCHEMA o2b TO c5_owner1;});
succeeds('c5_owner2', q{ALTER TABLE o2.sales RENAME COLUMN total TO grand_total;
ALTER TABLE o2.sales RENAME TO orders;
ALTER TABLE o2.orders SET SCHEMA o2b;}, 'the sales table renamed, its column too, moved to another schema');
is($node->safe_psql('postgres', q{SELECT (config->>'sales_table') || ' ' || (config->>'sales_total_column') || ' ' || coalesce(problem, 'ok')
	FROM c5metrics.tracked WHERE table_name = 'o1.refunds2'::regclass}),
	'o2b.orders grand_total ok', "the other role's guard follows");
refused('c5_owner1', q{INSERT INTO o1.refunds2 VALUES (2, 1000000, 'full')}, '23M01',
	'and still blocks an over-refund');
refused('c5_owner2', q{SELECT c5metrics._park('o1.refunds2'::regclass, ARRAY['sale_id']::name[]);
DROP TRIGGER zz_c5metrics_refunds ON o1.refunds2},
	'42501', 'the sales owner may not drop the guard of the refunds owner');

my @leaks = $seen =~ /(.{0,200}\Q$secret\E.{0,80})/sg;
is(scalar(@leaks), 0, 'no message to a role that could not read it carried the hidden total')
  or diag(join("\n----\n", @leaks));
is($node->safe_psql('postgres', q{SELECT count(*) FROM pg_locks
 WHERE pid <> pg_backend_pid() AND locktype IN ('relation', 'tuple', 'transactionid')
   AND pid IN (SELECT pid FROM pg_stat_activity WHERE backend_type = 'client backend')}),
	'0', 'no lock is held by any other session');
is($node->safe_psql('postgres', 'SELECT pg_postmaster_start_time()'), $pm_start,
	'the postmaster was never restarted');
ok(!$node->log_contains(qr/terminated by signal|terminating any other active server processes/),
	'no server process crashed');

$node->stop;
done_testing();
