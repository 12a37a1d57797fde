# One database cannot starve another of the shared status dictionary and
# series budget (issue 14, item 5).
#
# The shop (the reference schema) lives in database "shop".  In database
# "other", mallory -- a plain login role that owns a schema and the tables
# in it, nothing more -- attaches c5metrics to her own tables and throws a
# few hundred junk status values and error codes at it, before the shop has
# counted anything (the worst order: the dictionary is first come, first
# served).  With the per-database quotas (defaults: half of each global
# setting):
#   - the shop's real pending -> paid transitions keep their own labels,
#     /readyz stays 200, and mallory's overflow is counted;
#   - after a clean restart the quota still holds (owners are saved);
#   - c5metrics.reset_labels() is refused to mallory; as superuser it clears
#     the junk, and a transaction in flight across it never counts into a
#     series whose ids now mean something else;
#   - the control: with the quotas raised to the global settings, the same
#     attack does take the dictionary and the cap from the shop, so the
#     assertions above can fail.
# The server never restarts except where the test restarts it.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/../perl";
use C5Test;

my $port = PostgreSQL::Test::Cluster::get_free_port();
my $node = C5Test::node('registry', http_port => $port, extension => 0, conf => "max_prepared_transactions = 2\n");
my $base = "http://127.0.0.1:$port";

sub metric
{
	my ($name, $labels) = @_;
	my $where = defined $labels ? " AND labels @> '$labels'::jsonb" : '';
	return $node->safe_psql('shop',
		"SELECT coalesce(sum(value), 0) FROM c5metrics.metrics WHERE metric = '$name'$where");
}

sub transition
{
	my ($from, $to) = @_;
	return metric('sales_transition_total',
		qq({"from_status": "$from", "to_status": "$to", "result": "success"}));
}

# statuses of the attacker's that became label values
sub junk_labels
{
	return $node->safe_psql('shop', q{
		SELECT count(DISTINCT s) FROM c5metrics.metrics,
		       LATERAL (VALUES (labels ->> 'from_status'), (labels ->> 'to_status')) v(s)
		 WHERE metric = 'sales_transition_total' AND s LIKE 'junk%'});
}

sub readyz { my ($code, undef, $body) = http_get("$base/readyz"); return ($code, $body); }

sub as_mallory
{
	my ($sql) = @_;
	my ($ret, $out, $err) = $node->psql('other', $sql, extra_params => [ '-U', 'mallory' ], on_error_stop => 0);
	return $err;
}

$node->safe_psql('postgres', q{
	CREATE DATABASE shop;
	CREATE DATABASE other;
	CREATE ROLE mallory LOGIN;
});
my $pm_start = $node->safe_psql('postgres', 'SELECT pg_postmaster_start_time()');
$node->safe_psql('shop', q{
	CREATE EXTENSION c5metrics;
	SELECT c5metrics.create_reference_schema();
	INSERT INTO shop.products (sku, name, price) VALUES ('P1', 'Cream', 10);
	INSERT INTO shop.stock_lots (product_id, expires_on, quantity_on_hand) VALUES (1, current_date + 30, 1000);
	INSERT INTO shop.sales (total) SELECT 10 FROM generate_series(1, 40);
	INSERT INTO shop.sale_items (sale_id, product_id, quantity, unit_price)
	  SELECT s, 1, 1, 10 FROM generate_series(1, 40) s;
});
$node->safe_psql('other', q{
	CREATE EXTENSION c5metrics;
	CREATE SCHEMA m AUTHORIZATION mallory;
});
is($node->safe_psql('other', q{SELECT rolsuper OR rolcreatedb OR rolcreaterole FROM pg_roles WHERE rolname = 'mallory'}),
	'f', 'mallory is a plain login role');
is(as_mallory(q{
	CREATE TABLE m.sales (id int PRIMARY KEY, status text);
	CREATE TABLE m.moves (movement_type text, sale_id int, quantity int);
	CREATE TABLE m.leads (email text, source_ip inet);
	SELECT c5metrics.track_sales('m.sales');
	SELECT c5metrics.track_stock('m.moves');
	SELECT c5metrics.track_leads('m.leads');
	INSERT INTO m.sales SELECT g, 'junk0' FROM generate_series(1, 2) g;
}), '', 'mallory attaches c5metrics to tables of her own');

my $fixed_series = metric('c5metrics_series');
my $label_quota = $node->safe_psql('shop', q{SELECT current_setting('c5metrics.max_label_values')::int / 2});
my $series_quota = $node->safe_psql('shop', q{SELECT current_setting('c5metrics.max_series')::int / 2});
is($node->safe_psql('shop', 'SHOW c5metrics.max_label_values_per_database'), '-1', 'the label quota is by default derived ...');
is($label_quota, '16', '... half of c5metrics.max_label_values');
is($series_quota, '1000', 'the series quota is half of c5metrics.max_series');

# The attack: 300 junk statuses, then every ordered pair of the first
# $npairs of them, NULL and one beyond any quota, then error codes of every
# class in each of her three flows, each in a transaction of its own.
my @codes = qw(22012 22003 22P02 22001 53200 53100 42501 42P01 42703 42883 25006 55006
  P0002 P0003 P0004 23502 23503 23P01 23001 57014 25P03 22000 23000 25000 40000 42000
  54000 55000 57000 58000 P0000 0A000 08000 XX000 ZZ001 XX123 XX124 YY001 C5M01 C5M02 23M01 53M01 55M01
  40001 40P01 55P03 2BP01 0LP01 3D000 3F000 P0001 F0000 HV000 72000 26000 28000);
sub attack
{
	my ($prefix, $npairs) = @_;
	my $script = '';
	$script .= "UPDATE m.sales SET status = '$prefix$_' WHERE id = 1;\n" foreach (1 .. 300);
	my @values = ((map { "'$prefix$_'" } (0 .. $npairs - 1)), "'${prefix}299'", 'NULL');
	foreach my $a (@values)
	{
		foreach my $b (grep { $_ ne $a } @values)
		{
			$script .= "UPDATE m.sales SET status = $a WHERE id = 2;\n";
			$script .= "UPDATE m.sales SET status = $b WHERE id = 2;\n";
		}
	}
	foreach my $c (@codes)
	{
		foreach my $touch ("UPDATE m.sales SET status = status || 'x' WHERE id = 1",
			"INSERT INTO m.moves VALUES ('adjust', 1, 1)",
			"INSERT INTO m.leads VALUES ('a\@example.com', '192.0.2.1')")
		{
			$script .= "BEGIN; $touch; DO \$\$BEGIN RAISE SQLSTATE '$c'; END\$\$; ROLLBACK;\n";
		}
	}
	return as_mallory($script);
}
my $err = attack('junk', 16);
like($err, qr/XX123/, 'the junk error codes were raised in her tracked transactions');

my $junk_series = metric('c5metrics_series') - $fixed_series;
note("series: fixed $fixed_series, mallory's $junk_series");
is(junk_labels(), $label_quota, "mallory's statuses: exactly her quota of $label_quota became labels");
cmp_ok($junk_series, '<=', $series_quota, "mallory's series stay within her quota ($junk_series <= $series_quota)");
cmp_ok(metric('c5metrics_series'), '<', 2000, '... far from the global cap of 2000');
cmp_ok(metric('c5metrics_label_overflow_total', '{"metric": "sales_transition_total"}'), '>=', 300 - $label_quota,
	'her statuses beyond the quota are counted in c5metrics_label_overflow_total');
cmp_ok(metric('c5metrics_series_overflow_total'), '>', 0,
	'yet her series beyond the quota are refused, counted in c5metrics_series_overflow_total');
cmp_ok($node->safe_psql('shop', q{SELECT count(*) FROM c5metrics.metrics WHERE metric = 'exceptions_total'
	AND labels ->> 'exception_type' <> 'other' AND value > 0}), '>', 0, 'her error codes are exception types');

# The shop, after the attack, counts with its own labels.
my $other_before = transition('other', 'other');
$node->safe_psql('shop', 'SELECT shop.pay_sale(s) FROM generate_series(1, 5) s');
is(transition('pending', 'paid'), '5', "the shop's pending -> paid transitions keep their own labels");
is(transition('other', 'other'), $other_before, 'none of them is counted as other/other');
$node->safe_psql('shop', q{UPDATE shop.sales SET status = 'cancelled' WHERE id = 40});
is(transition('pending', 'cancelled'), '1', 'a status the shop sees for the first time still gets its label');
my ($code, $body) = readyz();
is($code, 200, '/readyz stays 200');
like($body, qr/"series":"ok"/, '... with the series check ok');

# 2. A clean restart: the owners are saved, the quota still holds.
$node->restart;
my $series = metric('c5metrics_series');
my $overflow = metric('c5metrics_series_overflow_total');
my $labels = metric('c5metrics_label_overflow_total', '{"metric": "sales_transition_total"}');
is(transition('pending', 'paid'), '5', 'after a clean restart the shop\'s series are back');
# (the dictionary has room: 32 - 2 reserved - 16 hers - 3 of the shop's)
as_mallory(join('', map { "UPDATE m.sales SET status = 'late$_' WHERE id = 1;\n" } (1 .. 5)));
is($node->safe_psql('shop', q{SELECT count(*) FROM c5metrics.metrics WHERE metric = 'sales_transition_total'
	AND (labels ->> 'to_status' LIKE 'late%' OR labels ->> 'from_status' LIKE 'late%')}),
	'0', 'after the restart mallory still cannot add a status');
cmp_ok(metric('c5metrics_label_overflow_total', '{"metric": "sales_transition_total"}'), '>', $labels, '... which is counted');
attack('junk', 16);
is(junk_labels(), $label_quota, 'the whole attack once more: still only her quota of statuses');
cmp_ok(metric('c5metrics_series_overflow_total'), '>', $overflow, 'nor a series of her own statuses');
is(metric('c5metrics_series'), $series, '... the series count did not move');
$node->safe_psql('shop', 'SELECT shop.pay_sale(s) FROM generate_series(6, 8) s');
is(transition('pending', 'paid'), '8', 'and the shop counts on in its own series');
($code) = readyz();
is($code, 200, '/readyz is 200 after the restart');
$pm_start = $node->safe_psql('postgres', 'SELECT pg_postmaster_start_time()');

# 3. reset_labels(): not for mallory; as superuser it clears the junk.
like(as_mallory('SELECT c5metrics.reset_labels()'), qr/permission denied for function reset_labels/,
	'mallory may not call c5metrics.reset_labels()');
is(junk_labels(), $label_quota, '... and her refused call changed nothing');
my $reset_time = metric('c5metrics_stats_reset_timestamp_seconds');
$node->safe_psql('shop', 'SELECT c5metrics.reset_labels()');
is(junk_labels(), '0', 'reset_labels() as superuser clears her statuses');
is(metric('c5metrics_series'), $fixed_series, '... and every series of label values');
is($node->safe_psql('shop', q{SELECT count(*) FROM c5metrics.metrics WHERE metric = 'exceptions_total'
	AND labels ->> 'exception_type' <> 'other'}), '0', '... the exception types among them');
cmp_ok(metric('c5metrics_stats_reset_timestamp_seconds'), '>', $reset_time, '... and moves the stats-reset time');
$node->safe_psql('shop', 'SELECT shop.pay_sale(s) FROM generate_series(9, 10) s');
is(transition('pending', 'paid'), '2', 'the shop\'s series start over');
is(as_mallory(q{UPDATE m.sales SET status = 'fresh1' WHERE id = 1}), '', 'mallory has her quota back');
is(metric('sales_transition_total', '{"from_status": "junk300", "to_status": "fresh1"}'), '1', '... and uses it');
as_mallory(q{UPDATE m.sales SET status = NULL WHERE id = 1});

# A transaction of the shop in flight across reset_labels(): it captured
# the ids of pending and paid; after the clear mallory takes those ids for
# statuses of hers.  Its commit must not count into her series.
$node->safe_psql('shop', 'SELECT c5metrics.reset_labels()');
$node->safe_psql('shop', 'SELECT shop.pay_sale(11)');    # pending (2) -> paid (3)
my $s = $node->background_psql('shop');
$s->query_safe('BEGIN');
$s->query_safe('SELECT shop.pay_sale(12)');               # captures (2, 3)
$node->safe_psql('shop', 'SELECT c5metrics.reset_labels()');
# none (1) -> evil_a (interned as 2), then evil_a -> evil_b (3): the pair (2, 3)
as_mallory(q{UPDATE m.sales SET status = 'evil_a' WHERE id = 1;
	UPDATE m.sales SET status = 'evil_b' WHERE id = 1});
is(transition('evil_a', 'evil_b'), '1', "mallory's pair (2, 3) counted her one transition");
my $other = transition('other', 'other');
my $folded = metric('c5metrics_label_overflow_total', '{"metric": "sales_transition_total"}');
$s->query_safe('COMMIT');
$s->quit;
is(transition('evil_a', 'evil_b'), '1', 'the shop\'s transaction in flight did not count into her series');
is(transition('other', 'other'), $other + 1, '... it was folded into other/other');
cmp_ok(metric('c5metrics_label_overflow_total', '{"metric": "sales_transition_total"}'), '>', $folded,
	'... and counted as a label folded');
is($node->safe_psql('shop', q{SELECT status FROM shop.sales WHERE id = 12}), 'paid', 'the sale itself is paid');

# The same with a prepared transaction: its outcome is parked at PREPARE
# with the ids, and COMMIT PREPARED comes after the clear.
$node->safe_psql('shop', 'SELECT c5metrics.reset_labels()');
$node->safe_psql('shop', 'SELECT shop.pay_sale(13)');    # pending (2) -> paid (3)
$node->safe_psql('shop', q{BEGIN; SELECT shop.pay_sale(14); PREPARE TRANSACTION 'c5_pay_14'});
as_mallory(q{UPDATE m.sales SET status = NULL WHERE id = 1});
$node->safe_psql('shop', 'SELECT c5metrics.reset_labels()');
as_mallory(q{UPDATE m.sales SET status = 'evil_a' WHERE id = 1;
	UPDATE m.sales SET status = 'evil_b' WHERE id = 1});
is(transition('evil_a', 'evil_b'), '1', "prepared: mallory's pair (2, 3) counted her one transition");
$other = transition('other', 'other');
$node->safe_psql('shop', q{COMMIT PREPARED 'c5_pay_14'});
is(transition('evil_a', 'evil_b'), '1', 'the prepared transaction committed after the clear did not count into her series');
is(transition('other', 'other'), $other + 1, '... it was folded into other/other');

# And across a clean restart: the parked ids keep their generation in the
# saved file, so a clear after the restart still folds them.
$node->safe_psql('shop', q{BEGIN; SELECT shop.pay_sale(30); PREPARE TRANSACTION 'c5_pay_30'});
$node->restart;
as_mallory(q{UPDATE m.sales SET status = NULL WHERE id = 1});
$node->safe_psql('shop', 'SELECT c5metrics.reset_labels()');
as_mallory(q{UPDATE m.sales SET status = 'evil_c' WHERE id = 1;
	UPDATE m.sales SET status = 'evil_d' WHERE id = 1});
is(transition('evil_c', 'evil_d'), '1', "after a restart and a clear: mallory's new pair counted her one transition");
$other = transition('other', 'other');
$node->safe_psql('shop', q{COMMIT PREPARED 'c5_pay_30'});
is(transition('evil_c', 'evil_d'), '1', 'the transaction prepared before the restart did not count into her series');
is(transition('other', 'other'), $other + 1, '... it was folded into other/other');
$pm_start = $node->safe_psql('postgres', 'SELECT pg_postmaster_start_time()');

# Her quota is the cluster's to set, not hers.
like(as_mallory(q{SET c5metrics.max_series_per_database = 100000}), qr/cannot be changed now/,
	'mallory cannot raise her quota for her session');
like(as_mallory(q{ALTER ROLE mallory SET c5metrics.max_label_values_per_database = 256}),
	qr/permission denied|cannot be changed now/, '... nor for her role');

# Under way: the shop cycles a -> b -> c -> a and mallory x -> y -> z -> x,
# each a transaction of its own, while reset_labels() runs again and again
# and hands the ids around.  Both run to the end (a clear never waits for a
# transaction, nor a transaction for a clear), and no series appears for a
# pair that neither makes (a -> x, b -> a, ...), which a series claimed with
# ids of another generation would be.  (Whether a count lands in the right
# series is checked deterministically above: an add with stale ids goes to
# a series that is not live, or to one of the same name, so this mix of
# workloads cannot see it.)
$node->safe_psql('shop', q{
	CREATE TABLE cycle (id int PRIMARY KEY, status text);
	SELECT c5metrics.track_sales('cycle');
	INSERT INTO cycle VALUES (1, 'c');
});
as_mallory(q{UPDATE m.sales SET status = 'z' WHERE id = 2});
my %next = (a => 'b', b => 'c', c => 'a', x => 'y', y => 'z', z => 'x');
my $allowed = join(',', (map { "('$_','$next{$_}')" } sort keys %next), "('other','other')");
my $foreign_sql = qq{SELECT coalesce(string_agg(DISTINCT (labels ->> 'from_status') || '->' || (labels ->> 'to_status'), ' '), '')
	  FROM c5metrics.metrics WHERE metric = 'sales_transition_total' AND value > 0
	   AND (labels ->> 'from_status', labels ->> 'to_status') NOT IN ($allowed)};
$node->safe_psql('shop', 'SELECT c5metrics.reset_labels()');
my $cycles = 10000;
my (@runs, @errs);
foreach my $who ([ 'shop', 'cycle', 1, 'a', $node->connstr('shop') ],
	[ 'mallory', 'm.sales', 2, 'x', $node->connstr('other') . ' user=mallory' ])
{
	my ($name, $table, $id, $first) = @$who;
	my $sql = '';
	my $st = $first;
	for (1 .. $cycles)
	{
		$sql .= "UPDATE $table SET status = '$st' WHERE id = $id;\n";
		$st = $next{$st};
	}
	my $file = "${PostgreSQL::Test::Utils::tmp_check}/017_$name.sql";
	open(my $fh, '>', $file) or die "$file: $!";
	print $fh $sql;
	close $fh;
	my $errout = '';
	push @errs, \$errout;
	push @runs, IPC::Run::start([ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', $who->[4], '-f', $file ],
		'>', '/dev/null', '2>', \$errout);
}
my ($resets, $foreign) = (0, '');
my $admin = $node->background_psql('shop');
while (grep { $_->pumpable } @runs)
{
	$_->pump_nb foreach grep { $_->pumpable } @runs;
	$admin->query_safe('SELECT c5metrics.reset_labels()');
	$resets++;
	$foreign ||= $admin->query_safe($foreign_sql) if $resets % 10 == 0;
	last if $resets >= 20000;
}
$admin->quit;
my @ok = map { $_->finish ? 'ok' : 'failed' } @runs;
is(join(',', @ok), 'ok,ok', "both cycles ran to the end ($cycles transactions each, $resets clears meanwhile)")
  or diag(join("\n", map { $$_ } @errs));
cmp_ok($resets, '>=', 50, 'reset_labels() ran while they did');
$foreign ||= $node->safe_psql('shop', $foreign_sql);
is($foreign, '', 'no series of a pair that neither makes');
$node->safe_psql('shop', 'SELECT c5metrics.reset_labels()');
$node->safe_psql('shop', q{UPDATE cycle SET status = 'a'; UPDATE cycle SET status = 'b'});
is(transition('a', 'b'), '1', 'after the last clear, the counts are exact again');

# 4. The control: with quotas as large as the global settings, the same
# attack takes the dictionary and the cap from the shop.
$node->append_conf('postgresql.conf', qq{
c5metrics.max_label_values_per_database = 32
c5metrics.max_series_per_database = 2000
});
$node->reload;
ok(eventually(sub { $node->safe_psql('other', 'SHOW c5metrics.max_series_per_database') eq '2000' }), 'quotas raised');
$node->safe_psql('shop', 'SELECT c5metrics.reset_labels()');
attack('junk', 30);
$node->safe_psql('shop', 'SELECT shop.pay_sale(s) FROM generate_series(15, 17) s');
is(transition('pending', 'paid'), '0', 'control: without the quota the shop\'s transitions lose their labels');
($code, $body) = readyz();
is($code, 503, 'control: and /readyz turns 503 ...');
like($body, qr/"failing":"series"/, '... at the global series cap');
$node->append_conf('postgresql.conf', qq{
c5metrics.max_label_values_per_database = -1
c5metrics.max_series_per_database = -1
});
$node->reload;

# 5. Only C5M_MAX_DATABASES (64) databases get an entry of their own; the
# databases beyond share the last one, and a clear gives back the entries
# of dropped databases.  Quota of 4 statuses here, so that the dictionary
# (30 statuses) is not the limit.
$node->append_conf('postgresql.conf', "c5metrics.max_label_values_per_database = 4\n");
$node->reload;
ok(eventually(sub { $node->safe_psql('shop', 'SHOW c5metrics.max_label_values_per_database') eq '4' }), 'label quota 4');
$node->safe_psql('postgres', q{CREATE DATABASE tmpl});
$node->safe_psql('tmpl', q{
	CREATE EXTENSION c5metrics;
	CREATE TABLE t (id int PRIMARY KEY, status text);
	SELECT c5metrics.track_sales('t');
	INSERT INTO t VALUES (1, NULL);
});
$node->safe_psql('shop', 'SELECT c5metrics.reset_labels()');
# shop and other keep their entries: 61 more databases take the rest
$node->safe_psql('postgres', join('', map { "CREATE DATABASE d$_ TEMPLATE tmpl;\n" } (1 .. 63)));
my ($ret, $out, $perr) = $node->psql('postgres',
	join('', map { "\\c d$_\nUPDATE t SET status = NULL;\nUPDATE t SET status = 'x';\n" } (1 .. 61)), on_error_stop => 1);
is($ret, 0, '61 more databases count something: every entry is taken') or diag($perr);
sub labels_like
{
	my ($prefix) = @_;
	return $node->safe_psql('shop', qq{
		SELECT count(DISTINCT s) FROM c5metrics.metrics,
		       LATERAL (VALUES (labels ->> 'from_status'), (labels ->> 'to_status')) v(s)
		 WHERE metric = 'sales_transition_total' AND s LIKE '$prefix%'});
}
sub walk
{
	my ($db, $prefix) = @_;
	$node->safe_psql($db, join('', map { "UPDATE t SET status = '$prefix$_';\n" } (1 .. 6)));
}
walk('d62', 'p62_');
walk('d63', 'p63_');
is(labels_like('p62_'), '4', 'database 63 shares the last entry: it got the quota of 4 statuses');
is(labels_like('p63_'), '0', 'database 64 shares it too: nothing was left for it');
$node->safe_psql($_, 'UPDATE t SET status = NULL') foreach ('d62', 'd63');
$node->safe_psql('postgres', join('', map { "DROP DATABASE d$_;\n" } (1 .. 5)));
$node->safe_psql('shop', 'SELECT c5metrics.reset_labels()');
walk('d63', 'q63_');
is(labels_like('q63_'), '4', 'after dropped databases gave their entries back, it has a quota of its own');
walk('d62', 'q62_');
is(labels_like('q62_'), '4', '... and so does the other');

# 6. The tracked-table list (c5metrics_tracked_tables, /readyz) is shared
# too: one database holds at most 256 of its 1024 entries.  Mallory
# attaches 300 tables of her own; the shop, detaching and attaching one of
# its tables meanwhile, keeps all of its tables in the list.
my $before = metric('c5metrics_tracked_tables');
my $shop_tables = $node->safe_psql('shop', q{SELECT count(*) FROM c5metrics.tracked});
is(as_mallory(join('', map { "CREATE TABLE m.l$_ (email text, source_ip inet);\nSELECT c5metrics.track_leads('m.l$_');\n" } (1 .. 300))),
	'', 'mallory attaches 300 tables of her own');
$node->safe_psql('shop', q{SELECT c5metrics.untrack('shop.public_leads')});
is(as_mallory(q{SELECT c5metrics.track_leads('m.l1')}), '', 'and attaches again while the shop has a table detached');
$node->safe_psql('shop', q{SELECT c5metrics.track_leads('shop.public_leads')});
is($node->safe_psql('shop', q{SELECT count(*) FROM c5metrics.tracked}), $shop_tables, 'the shop tracks its tables again');
# before: the shop's tables, mallory's first 3 and one table of each of the
# other databases; now mallory's 303 count as her share of 256
is(metric('c5metrics_tracked_tables'), $before - 3 + 256,
	'the list keeps the shop\'s tables and counts 256 of mallory\'s: her share, not more');

# The server never restarted but where the test did it.
is($node->safe_psql('postgres', 'SELECT pg_postmaster_start_time()'), $pm_start, 'the postmaster was not restarted');
is(metric('c5metrics_events_lost_total'), '0', 'no event lost');
unlike(slurp_file($node->logfile), qr/PANIC|TRAP:|terminated by signal|terminating any other active server processes/,
	'no server process died');
$node->stop;
done_testing();
