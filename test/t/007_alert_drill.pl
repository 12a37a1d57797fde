# The alert drill, live: a cluster with c5metrics and the reference shop,
# Debian's Prometheus loading the shipped rule files (only their `for:`
# durations shortened) and scraping the extension every second, Debian's
# Alertmanager with the shipped routing tree, and a local webhook listener
# standing in for Slack and PagerDuty.  Failures are injected (paid
# transitions rolled back by insufficient stock and by serialization
# failures, a burst of over-refund attempts); each matching alert must fire
# in Prometheus, reach the receivers its severity routes to and no other,
# then resolve, with its resolution delivered, once the failures stop.
# Everything listens on 127.0.0.1 and every process started here is stopped.
use strict;
use warnings;
use File::Basename;
use File::Path qw(make_path);
use IO::Socket::INET;
use JSON::PP;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep time);
use FindBin;
use lib "$FindBin::Bin/../perl";
use C5Test;

my $here = dirname(__FILE__);
my $c5load = "$here/../c5load/c5load";
my $monitoring = "$here/../../monitoring";
ok(-x $c5load, 'c5load is built') or BAIL_OUT('run make first');
# Debian names the Alertmanager binary prometheus-alertmanager.
my %bin;
foreach my $tool (qw(prometheus promtool prometheus-alertmanager|alertmanager amtool curl))
{
	foreach my $name (split /\|/, $tool)
	{
		my ($o, $e) = ('', '');
		next unless IPC::Run::run([ 'sh', '-c', "command -v $name" ], '>', \$o, '2>', \$e);
		chomp($bin{ (split /\|/, $tool)[-1] } = $o);
		last;
	}
	die "$tool is not installed (Debian packages prometheus, prometheus-alertmanager, curl)\n"
	  unless $bin{ (split /\|/, $tool)[-1] };
}

my @harnesses;
END
{
	foreach my $h (@harnesses)
	{
		next unless $h;
		eval { $h->kill_kill; $h->finish; };
	}
}

my $t_start = time();
# eventually(): every 250 ms, and once more when the time is up.
my @poll = (250_000, final_try => 1);

# ---- the cluster ----

my $pg_http = PostgreSQL::Test::Cluster::get_free_port();
my $node = C5Test::node('drill', http_port => $pg_http, conf => "max_connections = 40\n", schema => 'shop');
my $conninfo = $node->connstr('postgres');
# c5load with only the operations named in --mix (the others weigh 0), and
# a new seed each time, so idempotency keys never repeat between runs.
my $seed = 0;
sub load
{
	my ($what, @args) = @_;
	my %mix = map { $_ => 0 } qw(pay pay_insufficient pay_rollback pay_savepoint serialization
	  lock_timeout refund refund_full refund_over refund_dup refund_dup_on_conflict refund_in
	  refund_in_mismatch lead lead_invalid lead_burst);
	foreach my $a (@args)
	{
		next unless $a =~ /^--mix=(.*)$/;
		%mix = (%mix, map { split /=/ } split /,/, $1);
		$a = '--mix=' . join(',', map { "$_=$mix{$_}" } sort keys %mix);
	}
	my ($out, $err) = ('', '');
	my $t0 = time();
	my $ok = IPC::Run::run([ $c5load, '-d', $conninfo, '-q', '--seed=' . ++$seed, @args ],
		'>', \$out, '2>', \$err);
	ok($ok && $err eq '', sprintf('c5load: %s (%.1f s)', $what, time() - $t0)) or diag($err);
	return $out;
}
load('products and stock for the reference schema', '--init', '-t', '0');

my $dir = $node->basedir . '/drill';
make_path("$dir/secrets", "$dir/rules", "$dir/received", "$dir/prometheus", "$dir/alertmanager");
chmod 0700, "$dir/secrets";

# ---- the webhook receivers: one listener, /slack and /pagerduty ----

my $hook_port = PostgreSQL::Test::Cluster::get_free_port();
PostgreSQL::Test::Utils::append_to_file("$dir/receiver.pl", <<'RECEIVER');
# Stands in for Slack's incoming webhooks (POST /slack, answers 200 ok) and
# PagerDuty's Events API v2 (POST /pagerduty, answers 202): writes each body
# to DIR/NNNN-slack.json or DIR/NNNN-pagerduty.json.
use strict;
use warnings;
use IO::Socket::INET;
my ($port, $dir) = @ARGV;
my $server = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => $port,
	Listen => 16, ReuseAddr => 1, Proto => 'tcp') or die "cannot listen on $port: $!\n";
$SIG{TERM} = sub { exit 0 };
my $n = 0;
while (my $c = $server->accept)
{
	local $/ = "\r\n";
	my $request = <$c>;
	next unless defined $request;
	my (undef, $path) = split ' ', $request;
	my %header;
	while (defined(my $line = <$c>))
	{
		last if $line eq "\r\n";
		$line =~ s/\r\n\z//;
		my ($k, $v) = split /:\s*/, $line, 2;
		$header{ lc $k } = $v;
	}
	my $body = '';
	read($c, $body, $header{'content-length'}) if $header{'content-length'};
	my $who = $path =~ m{^/pagerduty} ? 'pagerduty' : $path =~ m{^/slack} ? 'slack' : 'unknown';
	my $file = sprintf('%s/%04d-%s.json', $dir, ++$n, $who);
	open(my $fh, '>', "$file.tmp") or die "$file: $!\n";
	print $fh $body;
	close($fh);
	rename("$file.tmp", $file);
	my ($status, $answer) = $who eq 'pagerduty'
	  ? ('202 Accepted', '{"status":"success","message":"Event processed"}')
	  : ('200 OK', 'ok');
	print $c "HTTP/1.1 $status\r\nContent-Type: application/json\r\nContent-Length: "
	  . length($answer) . "\r\nConnection: close\r\n\r\n$answer";
	close($c);
}
RECEIVER
push @harnesses, IPC::Run::start([ 'perl', "$dir/receiver.pl", $hook_port, "$dir/received" ],
	'>', "$dir/receiver.log", '2>&1');

# Notifications received so far: [{who, body}], oldest first.
sub received
{
	my @out;
	opendir(my $dh, "$dir/received") or return ();
	foreach my $f (sort grep { /^\d+-\w+\.json$/ } readdir($dh))
	{
		my ($who) = $f =~ /-(\w+)\.json$/;
		my $body = eval { decode_json(slurp_file("$dir/received/$f")) };
		push @out, { who => $who, body => $body, file => $f } if $body;
	}
	return @out;
}

# Alert name, status and first line of text of a notification.
sub notice
{
	my ($n) = @_;
	if ($n->{who} eq 'slack')
	{
		my $title = $n->{body}{attachments}[0]{title} // '';
		my ($status, $name) = $title =~ /^\[(\w+)(?::\d+)?\] (\S+)/;
		return ($name // '', lc($status // ''));
	}
	my $summary = $n->{body}{payload}{summary} // '';
	my ($name) = $summary =~ /^\[\w+(?::\d+)?\] (\S+)/;
	return ($name // '', $n->{body}{event_action} eq 'resolve' ? 'resolved' : 'firing');
}

# Receivers that got the alert with this status: "pagerduty,slack", "slack", ...
sub delivered_to
{
	my ($alert, $status) = @_;
	my %who;
	foreach my $n (received())
	{
		my ($name, $st) = notice($n);
		$who{ $n->{who} } = 1 if $name eq $alert && $st eq $status;
	}
	return join(',', sort keys %who);
}

# ---- Alertmanager: the shipped configuration, secrets and endpoints local ----

my $am_port = PostgreSQL::Test::Cluster::get_free_port();
my $pd_key = 'c5drill0123456789abcdef012345678';
PostgreSQL::Test::Utils::append_to_file("$dir/secrets/slack-webhook-url", "http://127.0.0.1:$hook_port/slack\n");
PostgreSQL::Test::Utils::append_to_file("$dir/secrets/pagerduty-routing-key", "$pd_key\n");
chmod 0600, "$dir/secrets/slack-webhook-url", "$dir/secrets/pagerduty-routing-key";

my $shipped_am = slurp_file("$monitoring/alertmanager/alertmanager.yml");
my $am_conf = $shipped_am;
# the secret files live here
$am_conf =~ s{/etc/alertmanager/secrets/}{$dir/secrets/}g;
# PagerDuty's Events API is the local listener (a supported global setting)
$am_conf =~ s{^global:\n}{global:\n  pagerduty_url: http://127.0.0.1:$hook_port/pagerduty\n}m;
# seconds instead of minutes between a group's notifications
$am_conf =~ s/^(\s*)group_wait:.*$/${1}group_wait: 1s/m;
$am_conf =~ s/^(\s*)group_interval:.*$/${1}group_interval: 2s/m;
PostgreSQL::Test::Utils::append_to_file("$dir/alertmanager/alertmanager.yml", $am_conf);
PostgreSQL::Test::Utils::append_to_file("$dir/alertmanager/c5metrics.tmpl",
	slurp_file("$monitoring/alertmanager/c5metrics.tmpl"));

sub routes_show
{
	my ($file) = @_;
	my ($out, $err) = ('', '');
	IPC::Run::run([ 'amtool', 'config', 'routes', "--config.file=$file" ], '>', \$out, '2>', \$err);
	return $out;
}
my ($out, $err) = ('', '');
ok(IPC::Run::run([ 'amtool', 'check-config', "$dir/alertmanager/alertmanager.yml" ], '>', \$out, '2>', \$err),
	'the drill\'s Alertmanager configuration is valid') or diag($out, $err);
is(routes_show("$dir/alertmanager/alertmanager.yml"), routes_show("$monitoring/alertmanager/alertmanager.yml"),
	'its routing tree is the shipped one');
unlike($am_conf, qr/hooks\.slack\.com|events\.pagerduty\.com/, 'and nothing leaves this machine');

push @harnesses, IPC::Run::start(
	[ $bin{alertmanager}, "--config.file=$dir/alertmanager/alertmanager.yml",
	  "--storage.path=$dir/alertmanager/data", "--web.listen-address=127.0.0.1:$am_port",
	  '--cluster.listen-address=' ],
	'>', "$dir/alertmanager/log", '2>&1');
my $am_api = "http://127.0.0.1:$am_port/api/v2";

# ---- Prometheus: the shipped rules with short `for:` ----

my $rule_copies = 0;
foreach my $f (glob("$monitoring/prometheus/*.rules.yml"))
{
	my $shipped = slurp_file($f);
	(my $copy = $shipped) =~ s/^(\s*)for: \S+$/${1}for: 3s/mg;
	my @a = split /\n/, $shipped;
	my @b = split /\n/, $copy;
	my @other = grep { $a[$_] ne $b[$_] && $a[$_] !~ /^\s*for: / } 0 .. $#a;
	die "the copy of $f differs beyond for:" if @other || @a != @b;
	PostgreSQL::Test::Utils::append_to_file("$dir/rules/" . basename($f), $copy);
	$rule_copies++;
}
cmp_ok($rule_copies, '>=', 6, "the shipped rule files are copied, only their for: durations shortened ($rule_copies files)");
ok(IPC::Run::run([ 'promtool', 'check', 'rules', glob("$dir/rules/*.yml") ], '>', \$out, '2>', \$err),
	'the copies pass promtool check rules') or diag($out, $err);

my $prom_port = PostgreSQL::Test::Cluster::get_free_port();
PostgreSQL::Test::Utils::append_to_file("$dir/prometheus/prometheus.yml", <<"EOF");
global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files:
  - $dir/rules/*.rules.yml
alerting:
  alertmanagers:
    - static_configs:
        - targets: ['127.0.0.1:$am_port']
scrape_configs:
  - job_name: c5metrics
    static_configs:
      - targets: ['127.0.0.1:$pg_http']
EOF
push @harnesses, IPC::Run::start(
	[ 'prometheus', "--config.file=$dir/prometheus/prometheus.yml",
	  "--storage.tsdb.path=$dir/prometheus/data", "--web.listen-address=127.0.0.1:$prom_port",
	  '--rules.alert.resend-delay=1s' ],
	'>', "$dir/prometheus/log", '2>&1');
my $prom_api = "http://127.0.0.1:$prom_port/api/v1";

# Alerts in Prometheus with this name (and these labels): their states.
sub prom_states
{
	my ($alert, %labels) = @_;
	my $r = eval { decode_json((http_get("$prom_api/alerts"))[2]) } or return ();
	my @states;
	ALERT: foreach my $a (@{ $r->{data}{alerts} })
	{
		next unless $a->{labels}{alertname} eq $alert;
		foreach my $k (keys %labels)
		{
			next ALERT unless ($a->{labels}{$k} // '') eq $labels{$k};
		}
		push @states, $a->{state};
	}
	return @states;
}
sub firing { return grep { $_ eq 'firing' } prom_states(@_) }

ok(eventually(sub { @{ prom_vector($prom_api, 'up{job="c5metrics"} == 1') } == 1 }, 60, @poll), 'Prometheus scrapes the extension');
ok(eventually(sub { (http_get("http://127.0.0.1:$am_port/-/ready"))[2] =~ /OK/i }, 30, @poll), 'Alertmanager is ready');
{
	my $groups = () = join('', map { slurp_file($_) } glob("$dir/rules/*.yml")) =~ /^  - name: /mg;
	my $loaded = 0;
	eventually(sub {
		my $r = eval { decode_json((http_get("$prom_api/rules"))[2]) };
		$loaded = $r ? scalar @{ $r->{data}{groups} } : 0;
		return $loaded == $groups;
	}, 30, @poll);
	is($loaded, $groups, "Prometheus loaded every rule group ($groups)");
}

# Every metric the rules name is exported by the extension.
{
	my %names;
	foreach my $f (glob("$dir/rules/*.yml"))
	{
		my (@exprs, $indent);
		foreach my $line (split /\n/, slurp_file($f))
		{
			if (defined $indent && $line =~ /^(\s*)\S/ && length($1) > $indent)
			{
				$exprs[-1] .= " $line";
				next;
			}
			$indent = undef;
			if ($line =~ /^(\s*)expr:\s*(.*)$/)
			{
				$indent = length($1);
				push @exprs, $2;
			}
		}
		$names{$_} = 1 foreach map { metric_names($_) } @exprs;
	}
	sub metric_names
	{
		my ($e) = @_;
		$e =~ s/\{[^}]*\}|\[[^\]]*\]|"[^"]*"//g;
		$e =~ s/\b(?:without|by|on|ignoring|group_left|group_right)\s*\([^)]*\)//g;
		return grep { !/:/ && !/^(?:and|or|unless|bool)$/ } $e =~ /\b([a-zA-Z_][a-zA-Z0-9_:]*)\b(?!\s*\()/g;
	}
	my @missing = sort keys %names;
	ok(eventually(sub { @missing = grep { !@{ prom_vector($prom_api, "count({__name__=\"$_\"})") } } @missing; !@missing }, 20, @poll),
		'every metric the rules name is scraped from the extension (' . scalar(keys %names) . ': '
		  . join(' ', sort keys %names) . ')')
	  or diag("missing: @missing");
}

# ---- a healthy baseline ----

# pending sales of a product in stock, for the serialization failures below
my @pending = split ' ', $node->safe_psql('postgres', q{
	WITH s AS (INSERT INTO shop.sales (total) SELECT 100 FROM generate_series(1, 24) RETURNING id),
	     i AS (INSERT INTO shop.sale_items (sale_id, product_id, quantity, unit_price)
	           SELECT id, 1, 1, 100 FROM s RETURNING sale_id)
	SELECT string_agg(sale_id::text, ' ' ORDER BY sale_id) FROM i;
});
is(scalar(@pending), 24, '24 pending sales are set aside');
load('400 paid sales, no failure', '--clients=2', '--transactions=400', '--mix=pay=1');
ok(eventually(sub { @{ prom_vector($prom_api, 'sum(increase(sales_paid_stock_consume_total{result="success"}[1m])) > 0') } }, 30, @poll),
	'Prometheus sees the paid sales');
my @watched = qw(SalePaidTransitionFailures StockConsumeFailures FlowHighFailureRate OverRefundBlockedSpike
  SalePaidSLOFastBurn);
is(join(',', map { prom_states($_) } @watched), '', 'no alert of the drill is pending or firing before it');

# ---- the failures ----

# A burst of over-refund attempts first: its alert needs 5 quiet minutes to
# resolve (it asks for attempts still happening in the last 5 minutes).
my $t_burst = time();
load('a burst of 20 over-refund attempts (blocked by the guard)', '--clients=2', '--transactions=20',
	'--mix=refund_over=1');
is($node->safe_psql('postgres', q{SELECT value FROM c5metrics.metrics WHERE metric = 'sale_refund_over_refund_attempts_total'}),
	'20', 'the extension counted 20 over-refund attempts');

# Paid transitions rolled back by insufficient stock (check_violation: rejected).
load('30 payments of a product without stock', '--clients=2', '--transactions=30', '--mix=pay_insufficient=1');
is($node->safe_psql('postgres', q{SELECT value FROM c5metrics.metrics
	WHERE metric = 'sales_paid_stock_consume_total' AND labels ->> 'result' = 'rejected'}),
	'30', 'the extension counted 30 rejected paid sales');

# ---- the alerts fire and are delivered where their severity routes them ----

sub fires_and_is_delivered
{
	my ($alert, $to, %labels) = @_;
	ok(eventually(sub { firing($alert, %labels) }, 90, @poll), "$alert fires in Prometheus");
	ok(eventually(sub { delivered_to($alert, 'firing') eq $to }, 60, @poll), "$alert is delivered to $to")
	  or diag('got: ' . delivered_to($alert, 'firing'));
}
fires_and_is_delivered('OverRefundBlockedSpike', 'slack');
fires_and_is_delivered('SalePaidTransitionFailures', 'pagerduty,slack');
fires_and_is_delivered('StockConsumeFailures', 'pagerduty,slack');
{
	my ($pd) = grep { $_->{who} eq 'pagerduty' } received();
	is($pd->{body}{routing_key}, $pd_key, 'PagerDuty gets the routing key read from its file');
	like($pd->{body}{links}[0]{href} // '', qr{/docs/RUNBOOKS\.md#[a-z0-9]+$}, 'with the runbook as a link');
	my ($slack) = grep { $_->{who} eq 'slack' } received();
	like($slack->{body}{attachments}[0]{text} // '', qr/Runbook: \S+RUNBOOKS\.md#/, 'Slack gets the runbook too');
}

# Paid transitions rolled back by serialization failures: a REPEATABLE READ
# transaction pays a sale after another session consumed from the same
# stock lot: the sale's row trigger has run, then FEFO locking the lot fails.
# They burn the sale -> paid availability SLO (rejections do not).
{
	my @ids = @pending;
	my $rr = $node->background_psql('postgres', on_error_stop => 0);
	my $failed = 0;
	for my $i (1 .. 12)
	{
		my ($victim, $other) = (shift @ids, shift @ids);
		$rr->query_safe('BEGIN ISOLATION LEVEL REPEATABLE READ');
		$rr->query_safe('SELECT count(*) FROM shop.stock_lots');
		$node->safe_psql('postgres', "SELECT shop.pay_sale($other)");
		$rr->query("SELECT shop.pay_sale($victim)");
		$failed++ if $rr->{stderr} =~ /could not serialize access/;
		$rr->{stderr} = '';
		$rr->query_safe('ROLLBACK');
	}
	$rr->quit;
	is($failed, 12, '12 paid transitions rolled back by serialization failures');
}
is($node->safe_psql('postgres', q{SELECT value FROM c5metrics.metrics
	WHERE metric = 'sales_paid_stock_consume_total' AND labels ->> 'result' = 'failure'}),
	'12', 'the extension counted 12 failed paid sales');
# ... and updates of sales failing while they lock the row: the sales flow
# counts them, no transition does.
load('20 serialization failures while locking sales', '--clients=2', '--transactions=20', '--mix=serialization=1');

fires_and_is_delivered('FlowHighFailureRate', 'pagerduty,slack', flow => 'sales');
fires_and_is_delivered('SalePaidSLOFastBurn', 'pagerduty,slack', long_window => '1h');
sleep 3;
is(delivered_to('OverRefundBlockedSpike', 'firing'), 'slack', 'a warning never pages');

# The sales flow pages already: its warnings are held back.
ok(eventually(sub { firing('SalePaidSLOSlowBurn') }, 60, @poll), 'SalePaidSLOSlowBurn, a warning of the sales flow, fires too');
ok(eventually(sub {
	my $r = eval { decode_json((http_get("$am_api/alerts", '-G', '--data-urlencode', 'filter=alertname="SalePaidSLOSlowBurn"'))[2]) };
	$r && @$r && !grep { $_->{status}{state} ne 'suppressed' || !@{ $_->{status}{inhibitedBy} } } @$r;
}, 30, @poll), 'Alertmanager holds it back, inhibited by the critical alerts of the sales flow');
sleep 3;
is(delivered_to('SalePaidSLOSlowBurn', 'firing'), '', 'so it is not sent while they fire');

# ---- the failures stop: the alerts resolve and their resolution is delivered ----

load('6000 paid sales, no failure', '--clients=4', '--transactions=6000', '--mix=pay=1');
foreach my $alert (qw(SalePaidTransitionFailures StockConsumeFailures FlowHighFailureRate SalePaidSLOFastBurn))
{
	ok(eventually(sub { !prom_states($alert) }, 120, @poll), "$alert resolves in Prometheus once the failures stop");
}
foreach my $alert (qw(SalePaidTransitionFailures StockConsumeFailures FlowHighFailureRate SalePaidSLOFastBurn))
{
	ok(eventually(sub { delivered_to($alert, 'resolved') eq 'pagerduty,slack' }, 60, @poll),
		"its resolution reaches PagerDuty and Slack ($alert)") or diag('got: ' . delivered_to($alert, 'resolved'));
}
# The slow burn over three days is still true: once the criticals are gone,
# the warning is no longer inhibited and goes to Slack, and only there.
ok(eventually(sub { delivered_to('SalePaidSLOSlowBurn', 'firing') eq 'slack' }, 60, @poll),
	'with the criticals resolved, the sales slow burn is delivered, to Slack only');

my $left = $t_burst + 330 - time();
note(sprintf('waiting up to %.0f s for the over-refund burst to leave the 5-minute window', $left));
ok(eventually(sub { !prom_states('OverRefundBlockedSpike') }, $left > 30 ? $left : 30, @poll),
	'OverRefundBlockedSpike resolves once no attempt was seen for 5 minutes');
ok(eventually(sub { delivered_to('OverRefundBlockedSpike', 'resolved') eq 'slack' }, 60, @poll),
	'its resolution reaches Slack, not PagerDuty');

# ---- everything stops ----

foreach my $h (@harnesses)
{
	$h->kill_kill(grace => 10);
	$h->finish;
}
@harnesses = ();
foreach my $p ([ 'the receiver', $hook_port ], [ 'Alertmanager', $am_port ], [ 'Prometheus', $prom_port ])
{
	my $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $p->[1], Proto => 'tcp');
	ok(!$sock, "$p->[0] is stopped (nothing listens on its port)");
}
$node->stop('fast');
note(sprintf('the drill took %.0f s', time() - $t_start));
done_testing();
