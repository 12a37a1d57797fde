# Replication: a primary and a streaming standby on loopback, each with its
# own listener.  Triggers count on the primary only (the rows replicate, the
# standby's counters stay 0); the standby serves /metrics and /readyz in its
# role; after a failover the promoted standby counts new work and says it is
# a primary.  A real Prometheus scrapes both nodes with the shipped recording
# rules loaded: the rules' and the dashboards' aggregations across both
# instances give the primary's numbers (c5load's ground truth).
#
# A promoted standby's tracked-table list starts empty and fills as its
# triggers fire; until then /readyz reports it as "unknown since start"
# without failing (test/t/013_restart_crash.pl).
use strict;
use warnings;
use File::Basename;
use File::Copy;
use File::Path qw(make_path);
use JSON::PP;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep time);
use FindBin;
use lib "$FindBin::Bin/../perl";
use C5Test;

my $t_start = time();
my $here = dirname(__FILE__);
my $c5load = "$here/../c5load/c5load";
my $rules_src = "$here/../../monitoring/prometheus";
my $dash_src = "$here/../../monitoring/grafana/dashboards";
ok(-x $c5load, 'c5load is built') or BAIL_OUT('run make first');

# The samples of a text exposition: { "name{l=\"v\",...}" => value } with the
# labels in sorted order, so that Prometheus' answers can be keyed alike.
sub key_of
{
	my ($name, %l) = @_;
	# bucket bounds: "1" in the text format, "1.0" in OpenMetrics
	$l{le} = 0 + $l{le} if defined $l{le} && $l{le} ne '+Inf';
	return $name . '{' . join(',', map { "$_=\"$l{$_}\"" } sort keys %l) . '}';
}

sub parse_exposition
{
	my ($text) = @_;
	my %s;
	foreach my $line (split /\n/, $text)
	{
		next if $line =~ /^#/ || $line !~ /\S/;
		my ($name, $labels, $value) = $line =~ /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)/ or next;
		my %l;
		while (($labels // '') =~ /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)
		{
			$l{$1} = $2;
		}
		$s{ key_of($name, %l) } = $value;
	}
	return \%s;
}

# Business series: everything but the c5metrics_ self-metrics.
sub business
{
	my ($s) = @_;
	return { map { $_ => $s->{$_} } grep { !/^c5metrics_/ } keys %$s };
}

# Nodes: postgresql.conf travels with the backup, so the standby's listener
# port is overridden in postgresql.auto.conf, which is read last.
my $pport = PostgreSQL::Test::Cluster::get_free_port();
my $sport = PostgreSQL::Test::Cluster::get_free_port();
my $primary = C5Test::node('repl_primary', http_port => $pport, allows_streaming => 1, extension => 0,
	conf => "c5metrics.sli_sample_interval = 1\nmax_connections = 40\n");
$primary->backup('b1');
my $standby = PostgreSQL::Test::Cluster->new('repl_standby');
$standby->init_from_backup($primary, 'b1', has_streaming => 1);
$standby->append_conf('postgresql.auto.conf', "c5metrics.port = $sport\n");
$standby->start;
my $pbase = "http://127.0.0.1:$pport";
my $sbase = "http://127.0.0.1:$sport";
my $pinst = "127.0.0.1:$pport";
my $sinst = "127.0.0.1:$sport";
ok(eventually(sub { (http_get("$pbase/metrics"))[0] == 200 && (http_get("$sbase/metrics"))[0] == 200 }, 20, 200_000),
	'both nodes serve /metrics on their own port');

# Schema, tracking and seed data on the primary; they replicate.
my ($out, $err) = ('', '');
$primary->safe_psql('postgres', 'CREATE EXTENSION c5metrics');
IPC::Run::run([ $c5load, '-d', $primary->connstr('postgres'), '--init', '-t', '0', '-q' ], '>', \$out, '2>', \$err)
  or BAIL_OUT("c5load --init failed: $err");
# A short warm-up run makes every label pair of the workload live (sale
# status transitions and exception types are exposed from their first
# observation on), as on a server that has been running: then a reset, so
# that every series starts from 0 when Prometheus first sees it.
IPC::Run::run([ $c5load, '-d', $primary->connstr('postgres'), '--throttle', '--clients=4',
		'--transactions=600', '--seed=14', '-q' ], '>', \$out, '2>', \$err)
  or BAIL_OUT("c5load warm-up failed: $err");
$primary->safe_psql('postgres', 'SELECT c5metrics.reset()');
my $pmetrics0 = parse_exposition((http_get("$pbase/metrics"))[2]);
$primary->wait_for_catchup($standby);
my $ntracked = $primary->safe_psql('postgres', 'SELECT count(*) FROM c5metrics.tracked');
cmp_ok($ntracked, '>', 0, "$ntracked tables tracked on the primary");
is($standby->safe_psql('postgres', 'SELECT count(*) FROM c5metrics.tracked'), $ntracked,
	'the attachments replicated to the standby');

# A real Prometheus scraping both nodes, with the shipped rules.
my $prom_port = PostgreSQL::Test::Cluster::get_free_port();
my $prom_dir = $primary->basedir . '/prometheus';
make_path("$prom_dir/data", "$prom_dir/rules");
my @rule_files = glob("$rules_src/*.rules.yml");
cmp_ok(scalar(@rule_files), '>=', 6, scalar(@rule_files) . ' shipped rule files (the alerts and five SLOs)');
copy($_, "$prom_dir/rules/") or die "copy $_: $!" foreach @rule_files;
ok(IPC::Run::run([ 'promtool', 'check', 'rules', glob("$prom_dir/rules/*.rules.yml") ], '>', \$out, '2>', \$err),
	'promtool accepts the shipped rule files') or diag("$out$err");
PostgreSQL::Test::Utils::append_to_file("$prom_dir/prometheus.yml", <<"EOF");
global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files:
  - $prom_dir/rules/*.rules.yml
scrape_configs:
  - job_name: c5metrics
    static_configs:
      - targets: ['$pinst', '$sinst']
EOF
my $prom = IPC::Run::start(
	[ 'prometheus', "--config.file=$prom_dir/prometheus.yml", "--storage.tsdb.path=$prom_dir/data",
	  "--web.listen-address=127.0.0.1:$prom_port" ],
	'>', "$prom_dir/stdout.log", '2>', "$prom_dir/stderr.log");
END { if ($prom) { $prom->kill_kill; $prom->finish; } }
my $api = "http://127.0.0.1:$prom_port/api/v1";

# An instant query: the vector as { key => value }, keyed like the
# exposition (name, if kept, and labels sorted); undef on an error.
sub promq
{
	my ($q, $at) = @_;
	my $d = prom_query($api, $q, $at) or return undef;
	return { '' => $d->{result}[1] } if $d->{resultType} eq 'scalar';
	my %v;
	foreach my $s (@{ $d->{result} })
	{
		my %l = %{ $s->{metric} };
		my $name = delete $l{__name__} // '';
		$v{ key_of($name, %l) } = $s->{value}[1];
	}
	return \%v;
}

# The single value of a query, or undef when the vector is empty.
sub promv
{
	my ($q, $at) = @_;
	my $v = promq($q, $at);
	return undef unless $v && %$v;
	my @vals = values %$v;
	return @vals == 1 ? $vals[0] : undef;
}
ok(eventually(sub { (promv('sum(up{job="c5metrics"})') // 0) == 2 }, 60, 200_000),
	'Prometheus scrapes both nodes');
my $rules = sub { decode_json((http_get("$api/rules"))[2])->{data}{groups} };
ok(eventually(sub {
	my $g = $rules->();
	@$g && !grep { !defined $_->{lastEvaluation} || $_->{lastEvaluation} =~ /^0001/ } @$g
}, 30, 200_000), 'every rule group has been evaluated');
{
	my $g = $rules->();
	my @bad = map { "$_->{name}: $_->{lastError}" } grep { ($_->{health} // '') ne 'ok' } map { @{ $_->{rules} } } @$g;
	my $n = 0;
	$n += @{ $_->{rules} } foreach @$g;
	is(scalar(@bad), 0, "Prometheus loaded $n rules in " . scalar(@$g) . ' groups, all healthy') or diag(join("\n", @bad));
}

# Both nodes scraped with every counter at 0 before the workload starts: an
# increase() over all the history then starts from an exact zero.
my $scrapes_before = promv(qq{count_over_time(up{instance="$pinst"}[1h])}) // 0;
ok(eventually(sub { (promv(qq{count_over_time(up{instance="$pinst"}[1h])}) // 0) >= $scrapes_before + 2 }, 20, 200_000),
	'Prometheus scraped the primary at zero');

# The workload, on the primary.
my $json_file = $primary->basedir . '/truth.json';
ok(IPC::Run::run([ $c5load, '-d', $primary->connstr('postgres'), '--throttle', '--clients=4',
		'--transactions=3000', '--seed=15', '-q', "--json=$json_file" ], '>', \$out, '2>', \$err),
	'c5load ran 3000 mixed operations on the primary') or diag($err);
my $truth = decode_json(slurp_file($json_file));
is($truth->{unknown_outcomes}, 0, 'every outcome is known');

my @bad = mismatches($primary, $truth);
is(scalar(@bad), 0, 'on the primary every business counter equals the ground truth ('
	  . scalar(@{ $truth->{series} }) . ' series)') or diag(join("\n", @bad));
my $paid_ok = truth_of($truth, 'sales_transition_total', to_status => 'paid', result => 'success');
cmp_ok($paid_ok, '>', 100, "the primary counted $paid_ok paid sales");

# The rows replicate; the standby's triggers never fire and its counters stay 0.
$primary->wait_for_catchup($standby);
my $rows_sql = q{SELECT (SELECT count(*) FROM shop.sales WHERE paid_at IS NOT NULL) || '/'
	|| (SELECT count(*) FROM shop.refunds) || '/' || (SELECT count(*) FROM shop.public_leads)};
my $rows = $standby->safe_psql('postgres', $rows_sql);
is($rows, $primary->safe_psql('postgres', $rows_sql), "the standby has the primary's rows (paid/refunds/leads $rows)");
my ($p_code, undef, $p_body) = http_get("$pbase/metrics");
my ($s_code, undef, $s_body) = http_get("$sbase/metrics");
is($s_code, 200, 'the standby serves /metrics');
my $pmetrics = parse_exposition($p_body);
my $smetrics = parse_exposition($s_body);
my $sbiz = business($smetrics);
my @nonzero = grep { $sbiz->{$_} != 0 } sort keys %$sbiz;
is(scalar(@nonzero), 0, 'every business series of the standby is 0 (' . scalar(keys %$sbiz) . ' series)')
  or diag(join("\n", map { "$_ $sbiz->{$_}" } @nonzero));
my @extra = grep { !exists $pmetrics->{$_} } sort keys %$sbiz;
is(scalar(@extra), 0, 'and each is one the primary exposes too') or diag(join("\n", @extra));
my @new_series = grep { !exists $pmetrics0->{$_} } sort keys %{ business($pmetrics) };
is(scalar(@new_series), 0, 'no business series of the primary appeared during the workload (all were at 0 when first scraped)')
  or diag(join("\n", @new_series));
is($pmetrics->{'sales_transition_total{from_status="pending",result="success",to_status="paid"}'}, $paid_ok,
	'the primary serves its counts');
is($standby->safe_psql('postgres', q{SELECT coalesce(sum(value), 0) FROM c5metrics.metrics
	WHERE metric NOT LIKE 'c5metrics%' AND metric NOT LIKE '%_bucket'}), '0',
	'c5metrics.metrics on the standby (SQL) says 0 too');
is($pmetrics->{'c5metrics_in_recovery{}'}, '0', 'the primary: c5metrics_in_recovery 0');
is($smetrics->{'c5metrics_in_recovery{}'}, '1', 'the standby: c5metrics_in_recovery 1');
my ($code, undef, $body) = http_get("$sbase/readyz");
is($code, 200, 'the standby is ready');
like($body, qr/"role":"standby"/, '/readyz says role standby');
($code, undef, $body) = http_get("$pbase/readyz");
like($body, qr/"status":"ready".*"role":"primary"/, 'the primary\'s /readyz says role primary');
is($smetrics->{'c5metrics_events_lost_total{}'}, '0', 'the standby lost no event');

# Prometheus: wait until both nodes were scraped after the workload, then pick
# the time of the primary's latest scrape: increase() over all the history
# at that instant is exactly last - first, the primary's counts.
my $pbiz = business($pmetrics);
ok(eventually(sub {
	(promv(qq{sum without (instance) (sales_transition_total{to_status="paid",result="success"})}) // -1) == $paid_ok
}, 30, 200_000), 'Prometheus has the primary\'s final counts');
sleep 2;
my $t = promv(qq{timestamp(up{instance="$pinst"})});

# 1. sum without (instance), the rules' aggregation, of every business metric
# over both nodes is the primary's value: the standby's zeros add nothing.
{
	my %names;
	$names{ (/^([^{]+)/)[0] } = 1 foreach keys %$pbiz;
	my (@diff, $n);
	foreach my $name (sort keys %names)
	{
		my $v = promq("sum without (instance) ($name)", $t) || {};
		my $sv = promq($name . qq({instance="$sinst"}), $t) || {};
		push @diff, "$name: no standby series" unless %$sv;
		foreach my $k (grep { /^\Q$name\E\{/ } keys %$pbiz)
		{
			my %l = ($k =~ /([a-zA-Z_]+)="((?:[^"\\]|\\.)*)"/g);
			my $got = $v->{ key_of('', %l, job => 'c5metrics') };
			$n++;
			push @diff, "$k: Prometheus " . ($got // 'absent') . ", primary $pbiz->{$k}"
			  unless defined $got && abs($got - $pbiz->{$k}) <= 1e-9 * (1 + abs($pbiz->{$k}));
		}
	}
	is(scalar(@diff), 0, "sum without (instance) over both nodes equals the primary for all $n business series")
	  or diag(join("\n", @diff));
}
is(promv(qq{count({job="c5metrics", instance="$sinst", __name__!~"c5metrics_.*|up|scrape_.*"} != 0) or vector(0)}, $t), '0',
	'Prometheus holds the standby\'s business series, all 0');

# 2. The SLO recording rules over both nodes equal the primary-only SLI and
# the ground truth.  A rule's good and total expressions are re-evaluated
# with the primary's instance only, at the rule's own evaluation time.
sleep 2;
my %rule_expr;
foreach my $f (@rule_files)
{
	my $text = slurp_file($f);
	while ($text =~ /- record: (slo:sli_(?:good|total):increase5m)\n\s+expr: (.*)\n\s+labels:\n\s+slo: (\w+)/g)
	{
		$rule_expr{$3}{$1} = $2;
	}
}
is(join(',', sort keys %rule_expr),
	'leads_availability,refund_availability,refund_latency,sale_paid_availability,stock_consume_latency',
	'the rule files record good and total for the five SLOs');

sub primary_only
{
	my ($e) = @_;
	$e =~ s/\b([a-z_][a-z0-9_]*)\{/$1\{instance="$pinst",/g;
	$e =~ s/\b([a-z_][a-z0-9_]*)\[/$1\{instance="$pinst"\}\[/g;
	return $e;
}
my %expected_sli = (
	sale_paid_availability => [
		truth_of($truth, 'sales_paid_stock_consume_total', result => 'success')
		  + truth_of($truth, 'sales_paid_stock_consume_total', result => 'missing'),
		truth_of($truth, 'sales_paid_stock_consume_total', result => 'failure') ],
	refund_availability => [ truth_of($truth, 'sale_refunds_total', result => 'success'),
		truth_of($truth, 'sale_refunds_total', result => 'failure') ],
	leads_availability => [ truth_of($truth, 'public_leads_requests_total', result => 'created'),
		truth_of($truth, 'public_leads_requests_total', result => 'failure') ],
	stock_consume_latency => [ $pbiz->{'sales_paid_stock_consume_duration_seconds_bucket{le="0.5"}'},
		$pbiz->{'sales_paid_stock_consume_duration_seconds_count{}'} - $pbiz->{'sales_paid_stock_consume_duration_seconds_bucket{le="0.5"}'} ],
	refund_latency => [ $pbiz->{'sale_refund_duration_seconds_bucket{le="0.8"}'},
		$pbiz->{'sale_refund_duration_seconds_count{}'} - $pbiz->{'sale_refund_duration_seconds_bucket{le="0.8"}'} ],
);
is($expected_sli{sale_paid_availability}[0] + $expected_sli{sale_paid_availability}[1],
	$paid_ok + truth_of($truth, 'sales_transition_total', to_status => 'paid', result => 'failure'),
	'the paid SLO\'s events (sales_paid_stock_consume_total) are the paid transitions\' (docs/SLO.md)');
my %sql_sli = map { (split /\|/)[0] => (split /\|/)[1] } split /\n/, $primary->safe_psql('postgres',
	q{SELECT slo, coalesce(sli::text, '') FROM c5metrics.sli WHERE window_name = '5m'});
foreach my $slo (sort keys %expected_sli)
{
	my ($good, $bad) = @{ $expected_sli{$slo} };
	my $e = promv(qq{timestamp(slo:sli_error:ratio_rate5m{slo="$slo"})});
	ok(defined $e, "$slo: slo:sli_error:ratio_rate5m is recorded") or next;
	my $recorded = promv(qq{slo:sli_error:ratio_rate5m{slo="$slo"}}, $e);
	my $pg = promv(primary_only($rule_expr{$slo}{'slo:sli_good:increase5m'}), $e);
	my $pt = promv(primary_only($rule_expr{$slo}{'slo:sli_total:increase5m'}), $e);
	my $truth_err = $bad / ($good + $bad);
	cmp_ok(abs($recorded - ($pt - $pg) / $pt), '<=', 1e-9,
		sprintf('%s: the recorded SLI over both nodes %.6f equals the primary-only SLI', $slo, 1 - $recorded));
	cmp_ok(abs($recorded - $truth_err), '<=', 1e-6,
		sprintf('%s: and the exact SLI %.6f (%d good, %d bad)', $slo, 1 - $truth_err, $good, $bad));
	cmp_ok(abs(promv(qq{slo:sli_total:increase5m{slo="$slo"}}, $e) - $pt), '<=', 1e-9 * $pt,
		"$slo: slo:sli_total:increase5m over both nodes equals the primary's");
	my $objective = promv(qq{slo:objective:ratio{slo="$slo"}}, $e);
	cmp_ok(abs(promv(qq{slo:burn_rate:5m{slo="$slo"}}, $e) - $truth_err / (1 - $objective)), '<=', 1e-4,
		"$slo: slo:burn_rate:5m is the primary's error ratio over the budget");
	cmp_ok(abs((1 - $recorded) - $sql_sli{$slo}), '<=', 0.01,
		"$slo: c5metrics.sli on the primary agrees within 1 point ($sql_sli{$slo})") if $sql_sli{$slo} ne '';
}
cmp_ok($expected_sli{sale_paid_availability}[1] + $expected_sli{refund_availability}[1], '>', 0,
	'the workload had failures that burn budget');

# 3. The dashboards: every query on business metrics gives the same answer
# with $instance = all as with the primary alone; a few are the primary's
# counts and ratios exactly.
my @exprs;
foreach my $f (sort glob("$dash_src/*.json"))
{
	my $walk;
	$walk = sub {
		my ($n) = @_;
		if (ref $n eq 'HASH')
		{
			push @exprs, $n->{expr} if defined $n->{expr} && !ref $n->{expr};
			$walk->($_) foreach values %$n;
		}
		elsif (ref $n eq 'ARRAY') { $walk->($_) foreach @$n; }
	};
	$walk->(decode_json(slurp_file($f)));
}
my %seen;
@exprs = grep { !$seen{$_}++ } @exprs;
cmp_ok(scalar(@exprs), '>=', 50, scalar(@exprs) . ' distinct dashboard queries');
sub dash
{
	my ($e, $inst) = @_;
	$e =~ s/\$instance\b/$inst/g;
	$e =~ s/\$__range\b/10m/g;
	$e =~ s/\$__rate_interval\b/1m/g;
	$e =~ s/\$paid_status\b/paid/g;
	return $e;
}
{
	my (@diff, $compared, $nonempty);
	foreach my $e (grep { !/c5metrics_|time\(\)/ } @exprs)
	{
		my $all = promq(dash($e, '.*'), $t);
		my $one = promq(dash($e, $pinst), $t);
		if (!$all || !$one) { push @diff, "query failed: " . dash($e, '.*'); next; }
		$compared++;
		$nonempty++ if %$all;
		my $a = join(';', map { "$_=$all->{$_}" } sort keys %$all);
		my $b = join(';', map { "$_=$one->{$_}" } sort keys %$one);
		push @diff, "$e\n  all: $a\n  primary: $b" if $a ne $b;
	}
	is(scalar(@diff), 0, "$compared dashboard queries on business metrics ($nonempty with data) give the same answer for all instances as for the primary")
	  or diag(join("\n", @diff));
}

sub dash_query
{
	my ($re) = @_;
	my @m = grep { $_ =~ $re } @exprs;
	return $m[0];
}
my @dash_checks = (
	[ qr/^sum\(increase\(sale_refunds_total\{instance=~"\$instance", result="success"\}\[\$__range\]\)\)$/,
	  'refunds over the range', truth_of($truth, 'sale_refunds_total', result => 'success') ],
	[ qr/^sum\(increase\(sales_paid_stock_consume_total\{instance=~"\$instance", result=~"success\|missing"\}\[\$__range\]\)\)$/,
	  'paid sales over the range', $paid_ok ],
	[ qr/^sum\(increase\(public_leads_requests_total\{instance=~"\$instance", result="created"\}\[\$__range\]\)\)$/,
	  'leads created over the range', truth_of($truth, 'public_leads_requests_total', result => 'created') ],
	[ qr/^sum\(increase\(public_leads_429_total\{instance=~"\$instance"\}\[\$__range\]\)\)$/,
	  'leads throttled (429) over the range', truth_of($truth, 'public_leads_429_total') ],
	[ qr/^sum \(increase\(sale_refunds_total\{instance=~"\$instance", result="success"\}\[\$__range\]\)\)\n\/\n/,
	  'refund success ratio', $expected_sli{refund_availability}[0] / ($expected_sli{refund_availability}[0] + $expected_sli{refund_availability}[1]) ],
	[ qr/^1 - \(sum\(increase\(sales_paid_stock_consume_total\{instance=~"\$instance", result="failure"\}\[30d\]\)\)\n\/\n[^\n]*\[30d\]\)\)\)$/,
	  'sale -> paid SLI over 30 days', $paid_ok / ($paid_ok + truth_of($truth, 'sales_transition_total', to_status => 'paid', result => 'failure')) ],
	[ qr/^count\(c5metrics_in_recovery\{instance=~"\$instance"\} == 0\) or vector\(0\)$/, 'primaries', 1 ],
	[ qr/^count\(c5metrics_in_recovery\{instance=~"\$instance"\} == 1\) or vector\(0\)$/, 'standbys', 1 ],
);
foreach my $c (@dash_checks)
{
	my ($re, $what, $want) = @$c;
	my $e = dash_query($re);
	ok(defined $e, "the dashboards have the $what query") or next;
	my $got = promv(dash($e, '.*'), $t);
	cmp_ok(abs(($got // 'NaN') - $want), '<=', 1e-6 * (1 + $want),
		"dashboard, $what over both nodes: " . ($got // 'none') . " (primary's $want)");
}

# Failover: the primary stops, the standby is promoted and counts new work.
$primary->stop('fast');
$standby->promote;
ok(eventually(sub { (http_get("$sbase/metrics"))[2] =~ /^c5metrics_in_recovery 0$/m }, 20, 200_000),
	'after promotion the new primary says c5metrics_in_recovery 0');
($code, undef, $body) = http_get("$sbase/readyz");
like($body, qr/"role":"primary"/, '/readyz says role primary');
my $json2 = $standby->basedir . '/truth2.json';
ok(IPC::Run::run([ $c5load, '-d', $standby->connstr('postgres'), '--throttle', '--clients=4',
		'--transactions=600', '--seed=16', '-q', "--json=$json2" ], '>', \$out, '2>', \$err),
	'c5load ran 600 operations on the promoted standby') or diag($err);
my $truth2 = decode_json(slurp_file($json2));
# The attach functions fill the shared tracked-table list; a promoted
# standby starts with none, and its triggers add their tables as they fire.
($code, undef, $body) = http_get("$sbase/readyz");
is($code, 200, 'once its tracked tables are written to, the promoted standby is ready');
unlike($body, qr/"failing"/, 'no check fails');
@bad = mismatches($standby, $truth2);
is(scalar(@bad), 0, 'the new primary counted exactly the new work, from 0') or diag(join("\n", @bad));
my $paid2 = truth_of($truth2, 'sales_transition_total', to_status => 'paid', result => 'success');
cmp_ok($paid2, '>', 0, "it counted $paid2 paid sales");
ok(eventually(sub {
	(promv(qq{sum without (instance) (sales_transition_total{to_status="paid",result="success"})}) // -1) == $paid2
}, 30, 200_000), 'Prometheus: sum without (instance) is the new primary\'s count (the old primary\'s series went stale)');
is(promv('up{instance="' . $pinst . '"}'), '0', 'the old primary is down');
{
	# sales_paid_stock_consume_total exists from the start on every node, so
	# increase() on the promoted standby misses nothing
	my $e = dash_query(qr/^sum\(increase\(sales_paid_stock_consume_total\{instance=~"\$instance", result=~"success\|missing"\}\[\$__range\]\)\)$/);
	my $at = promv(qq{timestamp(up{instance="$sinst"})});
	my $got = defined $e ? promv(dash($e, $sinst), $at) : undef;
	cmp_ok(abs(($got // 'NaN') - $paid2), '<=', 1e-6 * (1 + $paid2),
		'dashboard, paid sales over the range on the new primary: ' . ($got // 'none') . " (it paid $paid2)");
}
my $e = dash_query(qr/^count\(c5metrics_in_recovery\{instance=~"\$instance"\} == 0\) or vector\(0\)$/);
is(promv(dash($e, '.*')), '1', 'the dashboard counts one primary');
$e = dash_query(qr/^count\(c5metrics_in_recovery\{instance=~"\$instance"\} == 1\) or vector\(0\)$/);
is(promv(dash($e, '.*')), '0', 'and no standby');

$prom->kill_kill;
$prom->finish;
undef $prom;
$standby->stop('fast');
note(sprintf('run time %.1f s', time() - $t_start));
done_testing();
