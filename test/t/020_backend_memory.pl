# Backend memory stays bounded when one session attaches and detaches
# tables, or creates, attaches and drops them, thousands of times -- each
# time writing a row, so that the triggers fire and the backend caches
# their configuration.  The trigger cache (src/trigcache.c) used to keep the
# entries of dropped triggers for the life of the session (45 MB after
# ~39k cycles).  Run as a plain login role owning its tables; the server
# must never restart.
#
# Also: an entry invalidated while it is still referred to (by the
# transaction, by a trigger firing inside another) is not freed under it.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);
use FindBin;
use lib "$FindBin::Bin/../perl";
use C5Test;

my $node = C5Test::node('memory');
my $pm_start = $node->safe_psql('postgres', 'SELECT pg_postmaster_start_time()');

$node->safe_psql('postgres', q{
	CREATE ROLE c5_mem LOGIN;
	CREATE SCHEMA m AUTHORIZATION c5_mem;
	-- the measuring instrument, superuser-only by default
	GRANT SELECT ON pg_backend_memory_contexts TO c5_mem;
	GRANT EXECUTE ON FUNCTION pg_get_backend_memory_contexts() TO c5_mem;
});

my $s = $node->background_psql('postgres', extra_params => [ '-U', 'c5_mem' ]);
is($s->query_safe('SELECT current_user'), 'c5_mem', 'one session, as a plain login role');
$s->query_safe(q{
	CREATE TABLE m.sales (id bigint PRIMARY KEY, status text, total numeric);
	CREATE TABLE m.refunds (sale_id bigint, amount numeric, refund_type text,
	                        idempotency_key text UNIQUE);
	INSERT INTO m.sales VALUES (1, 'paid', 1e12);
});

# This backend's memory: every context, and the trigger cache's own.
sub memory
{
	my ($total, $cache) = split /\|/, $s->query_safe(q{
		SELECT sum(used_bytes),
		       coalesce(sum(used_bytes) FILTER (WHERE name IN ('c5metrics trigger cache', 'c5metrics triggers')), 0)
		  FROM pg_backend_memory_contexts});
	return ($total, $cache);
}

# n cycles, each its own transaction, in one statement (a procedure's
# COMMIT ends the transaction as a client's would).
sub attach_detach
{
	my ($n) = @_;
	$s->query_safe(qq{
		DO \$\$
		BEGIN
		  FOR i IN 1..$n LOOP
		    PERFORM c5metrics.track_refunds('m.refunds', key_column => 'idempotency_key',
		                                    sales_table => 'm.sales');
		    INSERT INTO m.refunds VALUES (1, 1, 'partial', 'k' || i || '-' || clock_timestamp());
		    PERFORM c5metrics.untrack('m.refunds');
		    COMMIT;
		  END LOOP;
		END
		\$\$});
}

sub create_drop
{
	my ($n) = @_;
	$s->query_safe(qq{
		DO \$\$
		BEGIN
		  FOR i IN 1..$n LOOP
		    CREATE TABLE m.leads (source_ip text, email text);
		    PERFORM c5metrics.track_leads('m.leads');
		    INSERT INTO m.leads VALUES ('10.0.0.1', 'a\@example.com');
		    DROP TABLE m.leads;
		    COMMIT;
		  END LOOP;
		END
		\$\$});
}

# The same create/insert/drop loop without c5metrics: what PostgreSQL's
# own caches grow by (its catalog caches keep some entries of dropped
# tables).
sub create_drop_plain
{
	my ($n) = @_;
	$s->query_safe(qq{
		DO \$\$
		BEGIN
		  FOR i IN 1..$n LOOP
		    CREATE TABLE m.plain (source_ip text, email text);
		    INSERT INTO m.plain VALUES ('10.0.0.1', 'a\@example.com');
		    DROP TABLE m.plain;
		    COMMIT;
		  END LOOP;
		END
		\$\$});
}

my $n = 200;
my $budget = 256 * 1024;    # the old cache kept >1 kB per trigger fired, for good
my %growth;
foreach my $case ([ 'create/insert/drop table, plain', \&create_drop_plain ],
	[ 'attach/untrack', \&attach_detach ], [ 'create/attach/drop table', \&create_drop ])
{
	my ($what, $cycle) = @$case;
	my $t0 = time();
	$cycle->($n);
	my ($total1, $cache1) = memory();
	$cycle->(3 * $n);
	my ($total4, $cache4) = memory();
	$growth{$what} = $total4 - $total1;
	note(sprintf('%s: %d cycles in %.1f s; backend %d -> %d bytes used, trigger cache %d -> %d bytes',
		$what, 4 * $n, time() - $t0, $total1, $total4, $cache1, $cache4));
	next if $what =~ /plain/;
	cmp_ok($cache1, '>', 0, "$what: the trigger cache was set up");
	cmp_ok($cache4, '<=', $cache1,
		"$what: the trigger cache holds no more after 4N cycles than after N ($cache1 -> $cache4 bytes)");
}
my $plain = $growth{'create/insert/drop table, plain'};
cmp_ok($growth{'attach/untrack'}, '<', $budget,
	"attach/untrack: backend memory after 4N cycles within 256 kB of that after N (grew $growth{'attach/untrack'} bytes)");
cmp_ok($growth{'create/attach/drop table'} - $plain, '<', $budget,
	"create/attach/drop table: backend memory after 4N cycles within 256 kB of that after N, beyond what the same loop without c5metrics grows (grew $growth{'create/attach/drop table'} bytes, $plain without)");

# The counting went on meanwhile: each cycle's refund counted.
is($node->safe_psql('postgres', q{SELECT sum(value) FROM c5metrics.metrics
	WHERE metric = 'sale_refunds_total' AND labels ->> 'result' = 'success'}),
	4 * $n, 'every cycle\'s refund counted');

# An entry invalidated while still referred to is not freed under it.
# (1) The refunds trigger leaves its table's name with the transaction,
# to tell at rollback a unique violation on that table (an idempotency
# conflict) from others; detaching the table in the same transaction
# invalidates the entry, and the rollback must still read the name.
sub metric
{
	my ($metric, $cond) = @_;
	return $node->safe_psql('postgres', qq{SELECT coalesce(sum(value), 0) FROM c5metrics.metrics
		WHERE metric = '$metric' $cond});
}
$s->query_safe(q{INSERT INTO m.refunds VALUES (1, 1, 'partial', 'dup')});
my $conflicts0 = metric('sale_refund_idempotency_conflicts_total', '');
$s->query_safe(q{SELECT c5metrics.track_refunds('m.refunds', key_column => 'idempotency_key',
                                                 sales_table => 'm.sales')});
my ($ok, $stdout, $stderr) = $node->psql('postgres', q{
	BEGIN;
	INSERT INTO m.refunds VALUES (1, 1, 'partial', 'fresh');
	SELECT c5metrics.untrack('m.refunds');
	INSERT INTO m.refunds VALUES (1, 1, 'partial', 'dup');
	COMMIT;
}, extra_params => [ '-U', 'c5_mem' ]);
like($stderr, qr/duplicate key value violates unique constraint/, 'a duplicate key after detaching, in one transaction');
is(metric('sale_refund_idempotency_conflicts_total', '') - $conflicts0, 1,
	'is counted as an idempotency conflict of the detached table');

# (2) A trigger of ours fires inside another statement's triggers, with
# its table's entry invalidated in between: a lead inserted into m.outer
# first runs the role's own trigger, which changes m.outer's privileges
# (a relcache invalidation) and inserts a second lead into m.outer.
$s->query_safe(q{
	CREATE TABLE m.outer (source_ip text, email text, depth int);
	CREATE FUNCTION m.on_outer() RETURNS trigger LANGUAGE plpgsql AS $f$
	BEGIN
	  IF NEW.depth < 3 THEN
	    GRANT SELECT ON m.outer TO PUBLIC;
	    REVOKE SELECT ON m.outer FROM PUBLIC;
	    INSERT INTO m.outer VALUES ('10.0.0.2', 'b@example.com', NEW.depth + 1);
	  END IF;
	  RETURN NEW;
	END $f$;
	CREATE TRIGGER a_before_ours BEFORE INSERT ON m.outer FOR EACH ROW EXECUTE FUNCTION m.on_outer();
	SELECT c5metrics.track_leads('m.outer');
});
my $leads0 = metric('public_leads_requests_total', q{AND labels ->> 'result' = 'created'});
$s->query_safe(q{INSERT INTO m.outer VALUES ('10.0.0.1', 'a@example.com', 1)});
is($s->query_safe('SELECT count(*) FROM m.outer'), '3', 'the nested inserts went through');
is(metric('public_leads_requests_total', q{AND labels ->> 'result' = 'created'}) - $leads0,
	3, 'and every lead counted');
$s->quit;

is($node->safe_psql('postgres', 'SELECT pg_postmaster_start_time()'), $pm_start, 'the server never restarted');
ok(!$node->log_contains(qr/terminated by signal|was terminated/), 'no process died');
is($node->safe_psql('postgres', q{SELECT value FROM c5metrics.metrics
	WHERE metric = 'c5metrics_events_lost_total'}), '0', 'no event lost');

$node->stop;
done_testing();
