# c5metrics.sli agrees with Prometheus: a mixed workload with a known
# failure rate (c5load's ground truth) runs while a real Prometheus
# scrapes the worker; then every SLI with traffic is computed in PromQL
# over the same window and compared with the view: within 1 percentage
# point, and both within 1 point of the ground truth.
use strict;
use warnings;
use File::Basename;
use File::Path qw(make_path);
use JSON::PP;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep time);
use FindBin;
use lib "$FindBin::Bin/../perl";
use C5Test;

my $c5load = dirname(__FILE__) . '/../c5load/c5load';
my $port = PostgreSQL::Test::Cluster::get_free_port();
my $node = C5Test::node('agree', http_port => $port, extension => 0, conf => q{
c5metrics.sli_sample_interval = 1
max_connections = 40
});
my $conninfo = $node->connstr('postgres');

my ($out, $err) = ('', '');
IPC::Run::run([ $c5load, '-d', $conninfo, '--init', '-t', '0', '-q' ], '>', \$out, '2>', \$err)
  or BAIL_OUT("c5load --init failed: $err");

my $prom_port = PostgreSQL::Test::Cluster::get_free_port();
my $prom_dir = $node->basedir . '/prometheus';
make_path("$prom_dir/data");
PostgreSQL::Test::Utils::append_to_file("$prom_dir/prometheus.yml", <<"EOF");
global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: c5metrics
    static_configs:
      - targets: ['127.0.0.1:$port']
EOF
my $prom = IPC::Run::start(
	[ 'prometheus', "--config.file=$prom_dir/prometheus.yml", "--storage.tsdb.path=$prom_dir/data",
	  "--web.listen-address=127.0.0.1:$prom_port" ],
	'>', "$prom_dir/stdout.log", '2>', "$prom_dir/stderr.log");
my $api = "http://127.0.0.1:$prom_port/api/v1";

ok(eventually(sub { (prom_value($api, 'up{job="c5metrics"}', time()) // 0) == 1 }, 60, 200_000),
	'Prometheus scrapes the worker');

# The workload: pay failures (explicit rollbacks, serialization failures,
# lock timeouts) among successes; refunds and leads.
my $json_file = $node->basedir . '/truth.json';
ok(IPC::Run::run([ $c5load, '-d', $conninfo, '--clients=4', '--time=40', '--seed=7', '-q',
		"--json=$json_file" ], '>', \$out, '2>', \$err),
	'c5load ran for 40 s') or diag($err);
my $truth = decode_json(slurp_file($json_file));

# Let a sample and a scrape after the last event happen.
sleep(4);

my %rows;
foreach my $r (split /\n/, $node->safe_psql('postgres',
		q{SELECT slo, coalesce(sli::text, ''), total, extract(epoch FROM as_of)
		    FROM c5metrics.sli WHERE window_name = '5m'}))
{
	my ($slo, $sli, $total, $at) = split /\|/, $r;
	$rows{$slo} = { sli => $sli, total => $total, at => $at };
}
my $at = $rows{sale_paid_availability}{at};

my $w = '5m';
my %promql = (
	sale_paid_availability =>
	  qq{sum(increase(sales_paid_stock_consume_total{result=~"success|missing"}[$w]))
	     / sum(increase(sales_paid_stock_consume_total{result=~"success|missing|failure"}[$w]))},
	stock_consume_latency =>
	  qq{sum(increase(sales_paid_stock_consume_duration_seconds_bucket{le="0.5"}[$w]))
	     / sum(increase(sales_paid_stock_consume_duration_seconds_count[$w]))},
	refund_availability =>
	  qq{sum(increase(sale_refunds_total{result="success"}[$w]))
	     / (sum(increase(sale_refunds_total{result="success"}[$w]))
	        + sum(increase(sale_refunds_total{result="failure"}[$w])))},
	refund_latency =>
	  qq{sum(increase(sale_refund_duration_seconds_bucket{le="0.8"}[$w]))
	     / sum(increase(sale_refund_duration_seconds_count[$w]))},
	leads_availability =>
	  qq{sum(increase(public_leads_requests_total{result="created"}[$w]))
	     / (sum(increase(public_leads_requests_total{result="created"}[$w]))
	        + sum(increase(public_leads_requests_total{result="failure"}[$w])))},
);

my $paid_ok = truth_of($truth, 'sales_transition_total', to_status => 'paid', result => 'success');
my $paid_failed = truth_of($truth, 'sales_transition_total', to_status => 'paid', result => 'failure');
cmp_ok($paid_failed, '>', 0, "the workload failed $paid_failed paid transitions of " . ($paid_ok + $paid_failed));
my %truth_sli = (
	sale_paid_availability => $paid_ok / ($paid_ok + $paid_failed),
	refund_availability => do {
		my $s = truth_of($truth, 'sale_refunds_total', result => 'success');
		my $f = truth_of($truth, 'sale_refunds_total', result => 'failure');
		$s + $f ? $s / ($s + $f) : undef;
	},
	leads_availability => do {
		my $s = truth_of($truth, 'public_leads_requests_total', result => 'created');
		my $f = truth_of($truth, 'public_leads_requests_total', result => 'failure');
		$s + $f ? $s / ($s + $f) : undef;
	},
);

my $compared = 0;
foreach my $slo (sort keys %promql)
{
	my $mine = $rows{$slo}{sli};
	my $theirs = prom_value($api, $promql{$slo}, $at);
	if ($mine eq '' || !defined $theirs)
	{
		ok($mine eq '' && !defined $theirs, "$slo: no traffic on either side");
		next;
	}
	$compared++;
	cmp_ok(abs($mine - $theirs), '<=', 0.01,
		sprintf('%s: c5metrics.sli %.4f and PromQL %.4f agree within 1 point', $slo, $mine, $theirs));
	if (defined $truth_sli{$slo})
	{
		cmp_ok(abs($mine - $truth_sli{$slo}), '<=', 0.01,
			sprintf('%s: and the ground truth is %.4f', $slo, $truth_sli{$slo}));
	}
}
cmp_ok($compared, '>=', 4, "$compared SLOs had traffic and were compared");
cmp_ok($rows{sale_paid_availability}{sli}, '<', 0.999, 'the paid SLI shows the injected failures');

# The burn rate the view reports is the one the rules would compute.
my $burn = $node->safe_psql('postgres',
	q{SELECT burn_rate FROM c5metrics.sli WHERE slo = 'sale_paid_availability' AND window_name = '5m'});
my $prom_burn = prom_value($api, "(1 - ($promql{sale_paid_availability})) / (1 - 0.999)", $at);
cmp_ok(abs($burn - $prom_burn), '<=', 10, "burn rate $burn against PromQL's $prom_burn (1 point of SLI is 10x)");

$prom->kill_kill;
$prom->finish;
$node->stop;
done_testing();
