# The state c5metrics keeps in pg_stat, attacked: files with a valid
# checksum but contents that do not hang together, names taken by a
# symbolic link or a directory, and prepared transactions pending across a
# restart.
#   1. A registry file (c5metrics.stat) whose checksum matches but whose
#      contents are inconsistent is ignored with a LOG line naming the
#      problem, and nothing of it is served.
#   2. The same for the SLI history file (c5metrics_sli.stat).
#   3. SLI checkpoints: a symbolic link at the file's name is replaced by a
#      regular file, never followed; a directory at the temporary name is
#      removed; while the way stays blocked, every checkpoint is a WARNING.
#   4. Prepared transactions: COMMIT / ROLLBACK PREPARED after a clean
#      restart count exactly what they count without one; after a crash, or
#      when the registry was not restored, or from a crafted file, they
#      count nothing.
# The files are crafted by reading one the server wrote and changing
# fields at the offsets persist.c, sli.c and twophase.c write them at; the
# checksum is recomputed (CRC-32C, below), so each file is refused for what
# it holds, which the LOG line must name.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep time);
use FindBin;
use lib "$FindBin::Bin/../perl";
use C5Test;

my $node = C5Test::node('state', extension => 0, conf => q{
c5metrics.sli_sample_interval = 1
c5metrics.sli_checkpoint_interval = 1
max_prepared_transactions = 4
});

my $pgstat = $node->data_dir . '/pg_stat';
my $reg_file = "$pgstat/c5metrics.stat";
my $sli_file = "$pgstat/c5metrics_sli.stat";
my $prep_file = "$pgstat/c5metrics_prepared.stat";

# ---- files ----

# CRC-32C (Castagnoli, reflected), as PostgreSQL's pg_crc32c computes it.
my @crc_table = map {
	my $c = $_;
	$c = ($c & 1) ? (($c >> 1) ^ 0x82F63B78) : ($c >> 1) for 1 .. 8;
	$c
} 0 .. 255;

sub crc32c
{
	my ($data) = @_;
	my $crc = 0xFFFFFFFF;
	for (my $off = 0; $off < length($data); $off += 65536)
	{
		$crc = $crc_table[ ($crc ^ $_) & 0xFF ] ^ ($crc >> 8)
		  foreach unpack('C*', substr($data, $off, 65536));
	}
	return $crc ^ 0xFFFFFFFF;
}
is(sprintf('%08x', crc32c('123456789')), 'e3069283', 'the CRC-32C of the test is the standard one');

# A file without its checksum (the last four bytes), and back with a fresh one.
sub body_of { my $c = slurp_file($_[0]); return substr($c, 0, length($c) - 4); }

sub write_with_crc
{
	my ($path, $body) = @_;
	open(my $fh, '>', $path) or die "$path: $!";
	binmode $fh;
	print $fh $body, pack('L', crc32c($body));
	close $fh;
}

sub put_u32 { substr(${ $_[0] }, $_[1], 4) = pack('L', $_[2]); }
sub put_i32 { substr(${ $_[0] }, $_[1], 4) = pack('l', $_[2]); }
sub put_u64 { substr(${ $_[0] }, $_[1], 8) = pack('Q', $_[2]); }
sub get_u32 { return unpack('L', substr(${ $_[0] }, $_[1], 4)); }
sub get_i32 { return unpack('l', substr(${ $_[0] }, $_[1], 4)); }
sub get_i64 { return unpack('q', substr(${ $_[0] }, $_[1], 8)); }
sub get_u64 { return unpack('Q', substr(${ $_[0] }, $_[1], 8)); }

# C5Layout (src/layout.h), 25 ints, as the registry and prepared files hold it.
my @layout_fields = qw(nstatus nbuckets paid_consume refunds over_refund
  idempotency refund_rollback refund_in mismatch leads throttled leads_429
  flow_tx exceptions transitions series_overflow label_overflow events_lost
  http_requests http_refused ncounters nlive live_exceptions
  live_transitions fixed_series);

sub layout_at
{
	my ($body, $off) = @_;
	my %l;
	@l{@layout_fields} = unpack('l25', substr($$body, $off, 100));
	return \%l;
}

# persist.c: header (magic, pg_major, format, layout, bounds[30],
# stats_reset, nstatus_used, nseries, label_gen: 376 bytes), counters, live
# flags (the owning database's OID), status names (64 bytes each), status
# owners (4 bytes each), 1024 tracked entries (12 bytes), their 1024
# attachment-problem bytes (format 4), 7 histograms of 31 buckets and a sum.
sub registry_map
{
	my ($body) = @_;
	my $l = layout_at($body, 12);
	$l->{nstatus_used} = get_i32($body, 360);
	$l->{nseries} = get_u32($body, 364);
	$l->{off_ctr} = 376;
	$l->{off_live} = $l->{off_ctr} + 8 * $l->{ncounters};
	$l->{off_names} = $l->{off_live} + 4 * $l->{nlive};
	$l->{off_owners} = $l->{off_names} + 64 * $l->{nstatus};
	$l->{off_tracked} = $l->{off_owners} + 4 * $l->{nstatus};
	$l->{off_problems} = $l->{off_tracked} + 12 * 1024;
	$l->{off_hists} = $l->{off_problems} + 1024;
	$l->{size} = $l->{off_hists} + 7 * (31 * 8 + 8);
	return $l;
}

sub status_slot
{
	my ($body, $l, $name) = @_;
	for my $i (0 .. $l->{nstatus_used} - 1)
	{
		my ($s) = unpack('Z64', substr($$body, $l->{off_names} + 64 * $i, 64));
		return $i if $s eq $name;
	}
	die "no status $name in the file";
}

# ======================================================================
# 1. The registry file.
# ======================================================================
$node->safe_psql('postgres', q{
	CREATE EXTENSION c5metrics;
	SELECT c5metrics.create_reference_schema();
	INSERT INTO shop.sales (id, total) SELECT g, 100 FROM generate_series(1, 50) g;
	UPDATE shop.sales SET status = 'paid' WHERE id <= 3;
	INSERT INTO shop.refunds (sale_id, amount, refund_type, idempotency_key) VALUES (1, 10, 'partial', 'r1');
	CREATE TABLE odd (id int PRIMARY KEY, status text);
	SELECT c5metrics.track_sales('odd');
	INSERT INTO odd VALUES (1, 'created');
	UPDATE odd SET status = 'shipped';
});

# What a loaded file serves: business counts, and series labelled with the
# statuses seen.  A refused file serves neither.
my $served_sql = q{
	SELECT (SELECT count(*) FROM c5metrics.metrics WHERE value <> 0 AND metric !~ '^c5metrics_')
	       || '|' ||
	       (SELECT count(*) FROM c5metrics.metrics
	         WHERE metric = 'sales_transition_total' AND labels::text ~ '(pending|paid|created|shipped)')};

my $start_time = $node->safe_psql('postgres', 'SELECT pg_postmaster_start_time()');
$node->stop;
my $good = body_of($reg_file);
my $l = registry_map(\$good);
is($l->{size}, length($good), 'the registry file has the layout this test reads');
my $created = status_slot(\$good, $l, 'created');
my $shipped = status_slot(\$good, $l, 'shipped');
cmp_ok($l->{nstatus_used}, '<', $l->{nstatus}, 'the dictionary has free slots');

# The file as written, with the checksum recomputed here: loaded.
write_with_crc($reg_file, $good);
my $offset = -s $node->logfile;
$node->start;
ok($node->log_contains(qr/c5metrics loaded its saved registry/, $offset), 'control: an unchanged file is loaded');
like($node->safe_psql('postgres', $served_sql), qr/^[1-9]\d*\|[1-9]\d*$/, 'control: and served');
$node->stop;

# A registry saved by a version whose listener had fewer routes (1.4:
# /metrics, /healthz, /readyz, then "other"): loaded, each of its paths
# keeping its counts, the routes added since starting at zero.
{
	my $codes = 6;
	my $paths = ($l->{http_refused} - $l->{http_requests}) / $codes;
	my $cut = ($paths - 4) * $codes;
	cmp_ok($cut, '>', 0, 'the listener has more routes than 1.4 had');
	my $off = $l->{off_ctr} + 8 * $l->{http_requests};
	# 1.4's rows: /metrics 200 = 111, /readyz 503 = 7, other 404 = 222
	my @old = (0) x (4 * $codes);
	$old[0 * $codes + 0] = 111;
	$old[2 * $codes + 5] = 7;
	$old[3 * $codes + 2] = 222;
	my $body = $good;
	substr($body, $off, 8 * $paths * $codes) = pack('Q*', @old);
	# the family after them, c5metrics_http_refused_connections_total{limit}
	put_u64(\$body, $off + 8 * 4 * $codes, 5);
	my $idx = sub { my $n = shift; (grep { $layout_fields[$_] eq $n } 0 .. $#layout_fields)[0] };
	for my $field (qw(http_refused ncounters))
	{
		put_i32(\$body, 12 + 4 * $idx->($field), $l->{$field} - $cut);
	}
	write_with_crc($reg_file, $body);
	my $offset = -s $node->logfile;
	$node->start;
	ok($node->log_contains(qr/c5metrics loaded its saved registry/, $offset),
		'a registry saved with fewer routes is loaded');
	like($node->safe_psql('postgres', $served_sql), qr/^[1-9]\d*\|[1-9]\d*$/,
		'fewer routes: its business counts are served');
	is($node->safe_psql('postgres', q{
		SELECT string_agg(labels->>'path' || ' ' || (labels->>'code') || ' ' || value, ', '
		                  ORDER BY labels->>'path', labels->>'code')
		  FROM c5metrics.metrics
		 WHERE metric = 'c5metrics_http_requests_total' AND value <> 0}),
		'/metrics 200 111, /readyz 503 7, other 404 222',
		'fewer routes: each old path keeps its counts, the new routes start at zero');
	is($node->safe_psql('postgres', q{
		SELECT value FROM c5metrics.metrics WHERE metric = 'c5metrics_http_refused_connections_total'
		   AND labels->>'reason' = 'limit'}),
		'5', 'fewer routes: the family after the routes keeps its counts');
	$node->stop;
}

sub refused_registry
{
	my ($what, $change, $problem) = @_;
	my $body = $good;
	$change->(\$body);
	write_with_crc($reg_file, $body);
	my $offset = -s $node->logfile;
	$node->start;
	ok($node->log_contains(qr/LOG:  ignoring c5metrics file "[^"]*c5metrics\.stat": \Q$problem\E/, $offset),
		"$what: ignored with a LOG line naming the problem");
	is($node->safe_psql('postgres', $served_sql), '0|0', "$what: nothing of the file is served");
	ok(!-e $reg_file, "$what: the file is removed");
	$node->stop;
}

my $name_at = sub { $l->{off_names} + 64 * $_[0] };

refused_registry('a label that is not UTF-8',
	sub { substr(${ $_[0] }, $name_at->($shipped), 64) = pack('a64', "\xff\xfe") },
	"status label $shipped is not valid UTF-8 free of control characters");

refused_registry('a label with a control character (a metric injection)',
	sub { substr(${ $_[0] }, $name_at->($created), 64) = pack('a64', "x\"} 1\nfake_metric 1") },
	"status label $created is not valid UTF-8 free of control characters");

refused_registry('a label without its terminating zero byte',
	sub { substr(${ $_[0] }, $name_at->($shipped), 64) = 'a' x 64 },
	"status label $shipped has no terminating zero byte");

refused_registry('a label twice',
	sub { substr(${ $_[0] }, $name_at->($shipped), 64) = pack('a64', 'created') },
	"status label $shipped repeats status label $created");

refused_registry('a status owned by no database',
	sub { put_u32($_[0], $l->{off_owners} + 4 * $created, 0) },
	"status label $created has an owner it cannot have");

my $unused = $l->{nstatus_used};
refused_registry('a live series naming a status slot not in use',
	sub { put_u32($_[0], $l->{off_live} + 4 * ($l->{live_transitions} + $created * $l->{nstatus} + $unused), 1) },
	"a live series of sales_transition_total names status slot $unused, beyond the $unused in use");

my $last = $l->{nstatus} - 1;
refused_registry('a count in a series that is not live',
	sub { put_u64($_[0], $l->{off_ctr} + 8 * ($l->{transitions} + ($last * $l->{nstatus} + $last) * 3), 5) },
	"sales_transition_total counts in series ($last, $last), which is not live");

refused_registry('a series count that is not that of the live series',
	sub { put_u32($_[0], 364, $l->{nseries} + 1) },
	sprintf('it claims %u series, but %u are live', $l->{nseries} + 1, $l->{nseries}));

refused_registry('a tracked table with a flow out of range',
	sub { put_i32($_[0], $l->{off_tracked} + 8, 7) },
	'tracked table 0 has flow 7, out of range');

# refund durations: histogram 1
my $hist1 = $l->{off_hists} + 1 * (31 * 8 + 8);
refused_registry('a histogram sum its buckets cannot hold',
	sub {
		substr(${ $_[0] }, $hist1, 31 * 8) = pack('Q31', 1, (0) x 30);
		put_u64($_[0], $hist1 + 31 * 8, 10**15);
	},
	'histogram 1 has a sum its buckets cannot hold');

SKIP:
{
	skip 'every bucket is in use', 3 if $l->{nbuckets} >= 30;
	refused_registry('a histogram count beyond its +Inf bucket',
		sub { put_u64($_[0], $hist1 + 8 * ($l->{nbuckets} + 1), 5) },
		'histogram 1 has counts beyond its +Inf bucket');
}

# A symbolic link at the file's name is not followed: the registry starts
# from zero, and the link goes (its target stays).
my ($target) = grep { -f $_ && !-w $_ } ('/etc/hostname', '/etc/passwd');
SKIP:
{
	skip 'no file here that the test may not write', 3 unless defined $target;
	my $before = slurp_file($target);
	unlink $reg_file;
	symlink($target, $reg_file) or die "symlink: $!";
	$offset = -s $node->logfile;
	$node->start;
	ok($node->log_contains(qr/LOG:  ignoring c5metrics file "[^"]*c5metrics\.stat": it is not a regular file/, $offset),
		'a symbolic link as registry file: ignored with a LOG line');
	ok(!-l $reg_file, 'and removed');
	is(slurp_file($target), $before, 'its target untouched');
	$node->stop;
}

# ======================================================================
# 2. The SLI history file.
# ======================================================================
# sli.c: header (264 bytes), then the ring: accounting, the head sample
# (its C5SliData at ring offset 1152), then 5960 slots of 568 bytes, each
# a sequence word and a C5SliData (epoch, at, good[3], total[3], cum[2][31]).
# Refund availability is good[1] / total[1].
my $ring = 264;
my $head = $ring + 1152;
my $slot0 = $ring + 1712;

$node->start;
$node->safe_psql('postgres', q{
	INSERT INTO shop.refunds (sale_id, amount, refund_type, idempotency_key) VALUES (2, 10, 'partial', 'r2');
	BEGIN; INSERT INTO shop.refunds (sale_id, amount, refund_type, idempotency_key) VALUES (3, 10, 'partial', 'r3'); ROLLBACK;});
my $refund_30d = q{SELECT total FROM c5metrics.sli WHERE slo = 'refund_availability' AND window_name = '30d'};
ok(eventually(sub { $node->safe_psql('postgres', $refund_30d) >= 2 }), 'the history has refunds in it');
$node->stop;
my $sli_good = body_of($sli_file);
is(length($sli_good), $slot0 + 5960 * 568, 'the SLI file has the layout this test reads');
my $stamped;
for my $k (0 .. 799)
{
	my $off = $slot0 + 568 * $k + 8;
	if (get_i64(\$sli_good, $off) != 0)
	{
		$stamped = $off;
		last;
	}
}
ok(defined $stamped, 'a fine slot holds a sample');

sub refused_sli
{
	my ($what, $change, $problem) = @_;
	my $body = $sli_good;
	$change->(\$body);
	write_with_crc($sli_file, $body);
	my $offset = -s $node->logfile;
	$node->start;
	ok($node->log_contains(qr/LOG:  ignoring c5metrics file "[^"]*c5metrics_sli\.stat": \Q$problem\E/, $offset),
		"$what: ignored with a LOG line naming the problem");
	is($node->safe_psql('postgres', $refund_30d), '0', "$what: the history starts empty");
	$node->stop;
}

write_with_crc($sli_file, $sli_good);
$offset = -s $node->logfile;
$node->start;
ok($node->log_contains(qr/c5metrics loaded its SLI history/, $offset), 'control: an unchanged SLI file is loaded');
cmp_ok($node->safe_psql('postgres', $refund_30d), '>=', 2, 'control: and its history served');
$node->stop;

# A sample ahead of the latest one: a window would subtract into a negative.
refused_sli('a sample ahead of the latest',
	sub {
		put_u64($_[0], $stamped + 16 + 8, get_u64(\$sli_good, $head + 16 + 8) + 1000);
		put_u64($_[0], $stamped + 40 + 8, get_u64(\$sli_good, $head + 40 + 8) + 1000);
	},
	'a sample is inconsistent');

refused_sli('a sample in the slot of another time',
	sub { substr(${ $_[0] }, $stamped, 8) = pack('q', get_i64(\$sli_good, $stamped) + 1) },
	'a sample is not in the slot of its time');

refused_sli('more good than total',
	sub { put_u64($_[0], $head + 16 + 8, get_u64(\$sli_good, $head + 40 + 8) + 1) },
	'its latest sample is inconsistent');

# ======================================================================
# 3. SLI checkpoints (every second here) against what blocks their way.
# ======================================================================
$node->start;
$start_time = $node->safe_psql('postgres', 'SELECT pg_postmaster_start_time()');
ok(eventually(sub { -f $sli_file }), 'the worker checkpoints the history');

sub is_regular_file { my @st = lstat($_[0]); return @st && -f _; }
sub mtime { my @st = lstat($_[0]); return @st ? $st[9] + 0 : -1; }

# A symbolic link at the file's name, to a file the server may not write.
SKIP:
{
	skip 'no file here that the test may not write', 4 unless defined $target;
	my $before = slurp_file($target);
	my $target_mtime = mtime($target);
	$offset = -s $node->logfile;
	# a checkpoint may rename its file into place between unlink and symlink
	for (1 .. 20) { unlink $sli_file; last if symlink($target, $sli_file); }
	ok(-l $sli_file, 'the history file is a symbolic link to a file the server may not write');
	ok(eventually(sub { is_regular_file($sli_file) }), 'a regular file replaced the link');
	ok($node->log_contains(qr/WARNING:  removing "[^"]*c5metrics_sli\.stat": it is not a regular file the server can write/, $offset),
		'with a WARNING');
	ok(slurp_file($target) eq $before && mtime($target) == $target_mtime, 'the link was not followed');
}

# An empty directory at the temporary name: removed, and the checkpoint done.
$offset = -s $node->logfile;
for (1 .. 20) { unlink "$sli_file.tmp"; last if mkdir "$sli_file.tmp"; }
ok(-d "$sli_file.tmp", 'a directory sits at the temporary name');
ok(eventually(sub { !-d "$sli_file.tmp" }), 'it is removed');
ok($node->log_contains(qr/WARNING:  removing "[^"]*c5metrics_sli\.stat\.tmp"/, $offset), 'with a WARNING');

# A directory that is not empty stays: every checkpoint fails, each with a
# WARNING, and the history file is not written; once it is gone, the next
# checkpoint succeeds.
sub blocked_warnings
{
	my ($from) = @_;
	my @w = substr(slurp_file($node->logfile), $from) =~
	  /WARNING:  could not remove "[^"]*c5metrics_sli\.stat\.tmp"/g;
	return scalar @w;
}
for (1 .. 20) { unlink "$sli_file.tmp"; last if mkdir "$sli_file.tmp"; }
append_to_file("$sli_file.tmp/keep", 'x');
$offset = -s $node->logfile;
sleep(1);
my $blocked_mtime = mtime($sli_file);
ok(eventually(sub { blocked_warnings($offset) >= 4 }, 30), 'a WARNING at every checkpoint while the way is blocked');
is(mtime($sli_file), $blocked_mtime, 'and the history file is not written');
unlink "$sli_file.tmp/keep";
rmdir "$sli_file.tmp";
ok(eventually(sub { mtime($sli_file) > $blocked_mtime }, 30), 'once the way is clear, the checkpoint succeeds');
my $n = blocked_warnings($offset);
sleep(3);
is(blocked_warnings($offset), $n, 'and the WARNINGs stop');

# The ring's slot is the sample's epoch modulo the tier's length: a time
# before 2000 (a negative epoch) is refused, not written before the ring.
my $nb1 = $l->{nbuckets} + 1;
my ($rc, $out, $err) = $node->psql('postgres', qq{SELECT c5metrics._sli_feed('1999-12-31 23:59:59+00',
	ARRAY[0, 0, 0], ARRAY[0, 0, 0], array_fill(0::bigint, ARRAY[$nb1]), array_fill(0::bigint, ARRAY[$nb1]))});
like($err, qr/sample time must be finite and after 2000-01-01/, 'a sample from before 2000 is refused');
is($node->safe_psql('postgres', 'SELECT pg_postmaster_start_time()'), $start_time,
	'the server did not restart meanwhile');

# ======================================================================
# 4. Prepared transactions across restarts.
# ======================================================================
# The business metrics (histograms by their count: durations vary).
sub business
{
	my %m;
	foreach my $row (split /\n/, $node->safe_psql('postgres', q{
		SELECT metric || labels::text || '|' || value FROM c5metrics.metrics
		 WHERE metric !~ '^c5metrics_' AND metric !~ '_(bucket|sum)$'}))
	{
		my ($k, $v) = $row =~ /^(.*)\|([^|]*)$/;
		$m{$k} = $v;
	}
	return \%m;
}

sub delta
{
	my ($a, $b) = @_;
	my %keys = map { $_ => 1 } (keys %$a, keys %$b);
	return join("\n", map { "$_ " . (($b->{$_} // 0) - ($a->{$_} // 0)) }
		  grep { ($b->{$_} // 0) != ($a->{$_} // 0) } sort keys %keys);
}

sub prepare_sale
{
	my ($gid, $sale) = @_;
	$node->safe_psql('postgres', qq{
		BEGIN;
		UPDATE shop.sales SET status = 'paid' WHERE id = $sale;
		INSERT INTO shop.refunds (sale_id, amount, refund_type, idempotency_key)
		VALUES ($sale, 5, 'partial', 'k-$gid');
		PREPARE TRANSACTION '$gid';});
}

sub finish
{
	my ($how, $gid) = @_;
	my $before = business();
	$node->safe_psql('postgres', "$how PREPARED '$gid'");
	return delta($before, business());
}

my $status_sql = q{SELECT string_agg(id || '=' || status, ',' ORDER BY id) FROM shop.sales WHERE id BETWEEN 10 AND 17};

# Without a restart: what a commit and a rollback count.
prepare_sale('ref-commit', 10);
prepare_sale('ref-rollback', 11);
my $commit_delta = finish('COMMIT', 'ref-commit');
my $rollback_delta = finish('ROLLBACK', 'ref-rollback');
like($commit_delta, qr/^sales_transition_total\{"result": "success", "to_status": "paid", "from_status": "pending"\} 1$/m,
	'without a restart, COMMIT PREPARED counts the paid sale');
like($rollback_delta, qr/^sale_refunds_total\{"type": "partial", "result": "failure"\} 1$/m,
	'and ROLLBACK PREPARED the failed refund');

# Across a clean restart: the same.
prepare_sale('tp-commit', 12);
prepare_sale('tp-rollback', 13);
my $before_restart = business();
$offset = -s $node->logfile;
$node->restart;
ok($node->log_contains(qr/c5metrics restored the outcomes of 2 prepared transactions/, $offset),
	'a clean restart restores the parked outcomes');
ok(!-e $prep_file, 'and removes their file');
is(delta($before_restart, business()), '', 'the registry is restored as it was');
is(finish('COMMIT', 'tp-commit'), $commit_delta, 'COMMIT PREPARED after a clean restart counts as without one');
is(finish('ROLLBACK', 'tp-rollback'), $rollback_delta, 'ROLLBACK PREPARED after a clean restart counts as without one');

# A slot parks C5M_PREPARED_OPS (64) adds per outcome; beyond, counts are
# lost (and counted as lost).  A histogram is parked whole or not at all:
# its buckets without its sum would leave the registry inconsistent, and
# the next clean restart would refuse it.  The commit outcome of a sales
# transaction is one add per distinct status pair, one for the flow, then
# the flow histogram's bucket and sum: with 61, 62 and 63 pairs the slot
# fills up to just before, between and after those two.  Each transaction
# lasts over 2.5 s, so that a bucket without its sum is far below what the
# bucket holds.
$node->safe_psql('postgres', q{
	CREATE TABLE chain (id int PRIMARY KEY, status text);
	SELECT c5metrics.track_sales('chain');});
my @pairs;
for my $from (0 .. 8) { push @pairs, map { [ $from, $_ ] } grep { $_ != $from } 0 .. 8; }
my $row = 0;
for my $n (61 .. 63)
{
	my $sql = "BEGIN;\n";
	foreach my $p (@pairs[ 0 .. $n - 1 ])
	{
		$row++;
		$sql .= "INSERT INTO chain VALUES ($row, 's$p->[0]'); UPDATE chain SET status = 's$p->[1]' WHERE id = $row;\n";
	}
	$sql .= "SELECT pg_sleep(2.6); PREPARE TRANSACTION 'tp-wide-$n'; COMMIT PREPARED 'tp-wide-$n';";
	$node->safe_psql('postgres', $sql);
}
cmp_ok($node->safe_psql('postgres', q{SELECT value FROM c5metrics.metrics WHERE metric = 'c5metrics_events_lost_total'}),
	'>', 0, 'outcomes beyond a slot are counted as lost');
$offset = -s $node->logfile;
$node->restart;
ok($node->log_contains(qr/c5metrics loaded its saved registry/, $offset),
	'and the registry they leave is consistent: a clean restart loads it');

# The registry not restored (its file gone): the parked outcomes, indexes
# into it, are not restored either.
prepare_sale('tp-orphan', 14);
$node->stop;
ok(-e $prep_file, 'a clean shutdown saves a pending prepared transaction');
unlink $reg_file;
$offset = -s $node->logfile;
$node->start;
ok($node->log_contains(qr/LOG:  ignoring c5metrics file "[^"]*c5metrics_prepared\.stat": the registry it belongs to was not restored/, $offset),
	'without its registry the file is ignored with a LOG line');
is(finish('COMMIT', 'tp-orphan'), '', 'and COMMIT PREPARED counts nothing');

# A crafted file: an outcome adding to c5metrics_events_lost_total.
prepare_sale('tp-crafted', 15);
$node->stop;
my $prep = body_of($prep_file);
my $pl = layout_at(\$prep, 24);
is(get_u32(\$prep, 12), 1, 'the prepared file holds one transaction');
cmp_ok(get_i32(\$prep, 128 + 200), '>', 0, 'whose commit adds something');
put_i32(\$prep, 128 + 208, $pl->{events_lost});
write_with_crc($prep_file, $prep);
$offset = -s $node->logfile;
$node->start;
ok($node->log_contains(qr/LOG:  ignoring c5metrics file "[^"]*c5metrics_prepared\.stat": an outcome adds to a series it cannot have counted/, $offset),
	'a crafted outcome is ignored with a LOG line');
ok($node->log_contains(qr/c5metrics loaded its saved registry/, $offset), 'while the registry is restored');
my $lost_sql = q{SELECT value FROM c5metrics.metrics WHERE metric = 'c5metrics_events_lost_total'};
my $lost = $node->safe_psql('postgres', $lost_sql);
is(finish('COMMIT', 'tp-crafted'), '', 'COMMIT PREPARED counts nothing of it');
is($node->safe_psql('postgres', $lost_sql), $lost, 'nor in c5metrics_events_lost_total');

# A crash (immediate shutdown): nothing is saved; finishing a transaction
# prepared before it counts nothing, and the business goes through.
prepare_sale('tp-crash-commit', 16);
prepare_sale('tp-crash-rollback', 17);
$offset = -s $node->logfile;
$node->stop('immediate');
ok(!-e $prep_file, 'an immediate shutdown saves no parked outcome');
$node->start;
ok(!$node->log_contains(qr/restored the outcome/, $offset), 'none is restored');
is(finish('COMMIT', 'tp-crash-commit'), '', 'after a crash, COMMIT PREPARED counts nothing');
is(finish('ROLLBACK', 'tp-crash-rollback'), '', 'nor ROLLBACK PREPARED');
is($node->safe_psql('postgres', $status_sql),
	'10=paid,11=pending,12=paid,13=pending,14=paid,15=paid,16=paid,17=pending',
	'every prepared transaction was finished as asked');

ok(!$node->log_contains(qr/terminated by signal/), 'no server process died');
$node->stop;
done_testing();
