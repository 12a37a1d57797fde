# The status page at "/", in a real browser: Debian's headless Chromium
# (test/browser/status_page.py, through chromedriver and python3-selenium)
# loads it from a running cluster after a c5load workload and a sale whose
# status is an HTML tag, takes a screenshot (kept under
# tmp_check/status_page/), and reads the page through the DOM: every SLO
# row holds exactly the values of c5metrics.sli and c5metrics.error_budget
# for the sample time the page states, the tag is text and did not run, and
# the console shows no error and no Content-Security-Policy violation.
# An empty SLI history says "no data".  A 30-day history fed into the SLI
# ring is shown the same way, every window and sparkline drawn; that
# page's screenshot is copied to $C5_SCREENSHOT_OUT when it is set (the
# README's docs/status-page.png, DEVELOPERS.md).  curl checks the headers,
# HEAD, 405, gzip and 401 of "/" and "/slo.json".
#
# The driver is proved first: against test/browser/mock_status.py's pages
# it must pass a correct one and fail each broken one (unescaped tag, a
# dialog opened, a policy violation, a console error, a missing row, a bad
# value, a blank screenshot, a 500) for its reason.
#
# Without Chromium, chromedriver, python3-selenium or python3-pil the test
# is skipped, unless CI is set: then their absence is a failure
# (test/run-tests.sh installs them).
use strict;
use warnings;
use File::Basename;
use File::Copy;
use File::Path qw(make_path);
use JSON::PP;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/../perl";
use C5Test;

# Debian's Python, not another one on the PATH: the packages are its.
my $python = '/usr/bin/python3';
my $driver = "$FindBin::Bin/../browser/status_page.py";
my $c5load = dirname(__FILE__) . '/../c5load/c5load';
my $xss = '<img src=x onerror=alert(1)>';
my @slos = qw(sale_paid_availability stock_consume_latency refund_availability refund_latency
  leads_availability);
my $artifacts = "$PostgreSQL::Test::Utils::tmp_check/status_page";
make_path($artifacts);

{
	my @missing = grep { !-x "/usr/bin/$_" } qw(chromium chromedriver);
	my ($o, $e) = ('', '');
	push @missing, 'python3-selenium or python3-pil'
	  unless -x $python && IPC::Run::run([ $python, '-c', 'import selenium, PIL' ], '>', \$o, '2>', \$e);
	if (@missing)
	{
		my $why = 'not installed: ' . join(', ', @missing)
		  . " (Debian's chromium, chromium-driver, python3-selenium and python3-pil;"
		  . ' test/run-tests.sh installs them)';
		if (($ENV{CI} // '') !~ /^(|0|false)$/i)
		{
			fail("a browser to test the status page with: $why; CI is set, so this is a failure");
			done_testing();
			exit;
		}
		plan skip_all => $why;
	}
}

# run_driver(@args): the driver's exit status, its JSON (undef if none) and stderr.
sub run_driver
{
	my @args = @_;
	my ($o, $e) = ('', '');
	eval {
		IPC::Run::run([ $python, $driver, @args ], '>', \$o, '2>', \$e, IPC::Run::timeout(180));
	};
	$e .= "\n$@" if $@;
	my $json = eval { decode_json($o) };
	return ($? >> 8, $json, $e, $o);
}

# ---- the driver can fail ----
{
	my ($rc, undef, $e, $o) = run_driver('--self-test', '--screenshot', "$artifacts/selftest");
	foreach my $line (split /\n/, $o)
	{
		if ($line =~ /^(not )?ok \d+ - (.*)$/)
		{
			ok(!defined $1, "driver self-test: $2");
		}
		elsif ($line =~ /^#\s*(.*)/)
		{
			note($1);
		}
	}
	is($rc, 0, 'the driver passes a correct mock page and fails every broken one')
	  or diag("$o\n$e");
	like($o, qr/^self-test: \d+ passed, 0 failed$/m, 'every mock page was checked');
}

# ---- a cluster with a workload ----
my $port = PostgreSQL::Test::Cluster::get_free_port();
# A sample every 10 s (the default): the page and the view are compared at
# the same sample, which a tick between the two moves on; a long interval
# makes that rare, and a retry takes the next one.
my $node = C5Test::node('status', http_port => $port, extension => 0, conf => q{
c5metrics.sli_sample_interval = 10
max_connections = 40
});
my $base = "http://127.0.0.1:$port";
my $conninfo = $node->connstr('postgres');
ok(eventually(sub { (http_get("$base/healthz"))[0] == 200 }), 'the worker serves');

my ($out, $err) = ('', '');
IPC::Run::run([ $c5load, '-d', $conninfo, '--init', '-t', '0', '-q' ], '>', \$out, '2>', \$err)
  or BAIL_OUT("c5load --init failed: $err");

# The as_of of the views, or '' without history.
sub view_as_of
{
	return $node->safe_psql('postgres',
		q{SELECT coalesce(max(as_of)::text, '') FROM c5metrics.sli});
}

# A sample before the workload, so that the windows hold it.
ok(eventually(sub { view_as_of() ne '' }, 30), 'the worker took a first SLI sample');

ok(IPC::Run::run([ $c5load, '-d', $conninfo, '--clients=4', '--transactions=2000', '--seed=19', '-q' ],
		'>', \$out, '2>', \$err), 'c5load ran 2000 mixed operations at 4 clients') or diag($err);

# A sale whose status is an HTML tag: a status transition whose label
# comes from user data.  The reference table's CHECK allows only its own
# statuses; a shop's own table need not.
$node->safe_psql('postgres', qq{
	ALTER TABLE shop.sales DROP CONSTRAINT sales_status_check;
	INSERT INTO shop.sales (total) VALUES (1);
	UPDATE shop.sales SET status = '$xss' WHERE id = currval('shop.sales_id_seq');
});
is($node->safe_psql('postgres', qq{
	SELECT value FROM c5metrics.metrics WHERE metric = 'sales_transition_total'
	   AND labels = '{"from_status": "pending", "to_status": "$xss", "result": "success"}'}),
	'1', 'the tag is a transition status');
my $rank = $node->safe_psql('postgres', q{
	SELECT count(*) FROM c5metrics.metrics WHERE metric = 'sales_transition_total' AND value >= 1});
cmp_ok($rank, '<=', 20, "at most 20 transitions were seen ($rank): the page lists the tag's");

my $written = $node->safe_psql('postgres', 'SELECT clock_timestamp()');
ok(eventually(sub {
			$node->safe_psql('postgres', qq{SELECT max(as_of) > '$written' FROM c5metrics.sli}) eq 't' }, 30),
	'the worker took a sample after the last write');

# ---- the page equals the views ----

# The cells of the page's SLO rows that differ from the views at the
# page's sample time, as lines "slo key: page V, view V"; undef when the
# views have moved on to another sample.  Doubles are compared as float8
# (both parsed: the page prints %.17g), the alert word as text; an empty
# data-v must be where the views have no data.
sub page_vs_views
{
	my ($page) = @_;
	my @cells;
	foreach my $r (@{ $page->{slos} })
	{
		push @cells, { slo => $r->{slo}, k => $_, v => $r->{cells}{$_}{v} } foreach keys %{ $r->{cells} };
	}
	my $json = encode_json(\@cells);
	$json =~ s/'/''/g;
	my $as_of = $page->{as_of} // '';
	# the page may print fewer fractional digits than the view keeps
	my ($frac) = $as_of =~ /T\d\d:\d\d:\d\d(?:\.(\d+))?/;
	my $digits = length($frac // '');
	my $same = $as_of eq ''
	  ? q{a1 IS NULL}
	  : qq{floor(extract(epoch FROM a1) * 10 ^ $digits)
	       = floor(extract(epoch FROM '$as_of'::timestamptz) * 10 ^ $digits)};
	# one statement; each view reads the ring once, and both must be at
	# the page's sample
	my $rows = $node->safe_psql('postgres', qq{
		WITH s AS MATERIALIZED (SELECT * FROM c5metrics.sli),
		e AS MATERIALIZED (SELECT * FROM c5metrics.error_budget),
		st AS (SELECT (SELECT max(as_of) FROM s) AS a1, (SELECT max(as_of) FROM e) AS a2),
		want (slo, k, v, word, nodata) AS (
		  SELECT slo, 'objective', objective, NULL, false FROM s WHERE window_name = '5m'
		  UNION ALL
		  SELECT slo, 'sli-' || window_name, sli, NULL, total = 0 FROM s
		   WHERE window_name IN ('5m', '1h', '1d', '30d')
		  UNION ALL
		  SELECT slo, 'burn-1h', burn_rate, NULL, total = 0 FROM s WHERE window_name = '1h'
		  UNION ALL
		  SELECT slo, 'budget-remaining', budget_remaining, NULL, total = 0 FROM e
		  UNION ALL
		  SELECT slo, 'alert', NULL, alerting, total = 0 FROM e),
		page AS (SELECT * FROM jsonb_to_recordset('$json') AS p(slo text, k text, v text))
		SELECT 0, CASE WHEN a1 IS NOT DISTINCT FROM a2 AND $same THEN 'same'
		               ELSE 'views at ' || coalesce(a1::text, 'none') || ', ' || coalesce(a2::text, 'none')
		          END
		  FROM st
		UNION ALL
		SELECT 1, coalesce(w.slo, p.slo) || ' ' || coalesce(w.k, p.k) || ': page '
		       || coalesce(quote_literal(p.v), 'no cell') || ', view '
		       || CASE WHEN w.slo IS NULL THEN 'no such value'
		               WHEN w.nodata THEN 'no data (' || coalesce(w.word, w.v::text, 'null') || ')'
		               ELSE coalesce(w.word, w.v::text, 'null') END
		  FROM want w FULL JOIN page p USING (slo, k)
		 WHERE NOT coalesce(CASE
		         WHEN w.slo IS NULL OR p.v IS NULL THEN false
		         WHEN p.v = '' THEN w.nodata
		         WHEN w.k = 'alert' THEN p.v = w.word
		         ELSE NOT w.nodata AND p.v::float8 = w.v END, false)
		 ORDER BY 1, 2});
	$rows =~ s/^\d\|//mg;
	my ($state, @bad) = split /\n/, $rows;
	if ($state ne 'same')
	{
		note("the page is at sample '$as_of', $state");
		return undef;
	}
	return \@bad;
}

# check_page($label, %opt): run the driver on "/" until the views are at
# the sample the page shows (a few tries), compare; returns the page.
sub check_page
{
	my ($label, %opt) = @_;
	my ($rc, $page, $e, $bad);
	for my $try (1 .. 8)
	{
		($rc, $page, $e) = run_driver("$base/", '--screenshot', $opt{screenshot},
			'--log', "$artifacts/chromedriver.log", $opt{full_page} ? '--full-page' : (),
			defined $opt{xss} ? ('--xss', $opt{xss}) : ());
		# the values are compared whatever else the driver found wrong
		last unless $page && @{ $page->{slos} // [] };
		$bad = page_vs_views($page);
		last if defined $bad;
		note("try $try: not the same sample; again");
	}
	is($rc, 0, "$label: Chromium loads the page, and every check of the driver passes")
	  or diag($e);
	return $page unless $page && @{ $page->{slos} // [] };
	ok(defined $bad, "$label: the page and the views were read at the same sample ($page->{as_of})");
	is(scalar(@{ $bad // [] }), 0,
		"$label: every SLO cell equals c5metrics.sli / c5metrics.error_budget ("
		  . scalar(@{ $page->{slos} }) . ' rows)')
	  or diag(join("\n", @{ $bad // [] }));
	return $page;
}

my $shot = "$artifacts/status-page.png";
my $page = check_page('after the workload', screenshot => $shot, xss => $xss);
note("screenshot: $shot");
is_deeply([ map { $_->{slo} } @{ $page->{slos} // [] } ], \@slos, 'one row per SLO, in catalog order');
SKIP:
{
	skip 'the page was not read, or not every SLO row is there', 11
	  unless $page && @{ $page->{slos} // [] } == @slos;
	cmp_ok($page->{colours}, '>=', 16, "the screenshot is not blank ($page->{colours} colours)");
	is(join('x', @{ $page->{size} }), '1280x1024', 'the screenshot is 1280x1024');
	# the PNG itself: its IHDR says its size
	my $png = slurp_file($shot);
	is(join('x', unpack('x16 N N', $png)), '1280x1024', 'and so does the PNG file');
	my @xss_rows = grep { ($_->{to} // '') eq $xss } @{ $page->{transitions} };
	is(scalar(@xss_rows), 1, 'the tag is shown as text in #transitions');
	is($xss_rows[0]{count}, '1', 'with its count');
	is(scalar(@{ $page->{failures} }), 0, 'no <img>, no dialog, no policy violation, no console error');
	my %alerts = map { $_->{slo} => $_->{alert} } @{ $page->{slos} };
	is(scalar(grep { $_ eq 'nodata' } values %alerts), 0, 'every SLO has data after the workload')
	  or diag(explain(\%alerts));
	my @with_total = grep { ($_->{cells}{'sli-5m'}{v} // '') ne '' } @{ $page->{slos} };
	cmp_ok(scalar(@with_total), '>=', 3, 'SLIs over 5m are shown for the flows the workload ran');

	# The flows since reset are flow_transactions_total.
	my %total = map { split /\|/ } split /\n/, $node->safe_psql('postgres', q{
		SELECT (labels ->> 'flow') || '-' || (labels ->> 'result') || '|' || value
		  FROM c5metrics.metrics WHERE metric = 'flow_transactions_total'});
	my @flow_bad;
	foreach my $f (@{ $page->{flows} })
	{
		foreach my $r (qw(success rejected failure))
		{
			my $v = $f->{cells}{"$r-total"}{v} // 'none';
			my $m = $total{"$f->{flow}-$r"} // 'none';
			push @flow_bad, "$f->{flow} $r-total: page $v, metrics $m"
			  unless $v =~ /^\d+$/ && $m =~ /^\d+$/ && $v == $m;
		}
	}
	is(scalar(@flow_bad), 0, '#flows since reset equal flow_transactions_total') or diag(join("\n", @flow_bad));
	is($page->{about}{role}, 'primary', 'the role is primary');
	is($page->{about}{tracked}, $node->safe_psql('postgres',
			q{SELECT sum(value)::bigint FROM c5metrics.metrics WHERE metric = 'c5metrics_tracked_tables'}),
		'the tracked tables are c5metrics_tracked_tables summed');
}

# ---- no history: "no data", never 0 % or 100 % ----
$node->safe_psql('postgres', 'SELECT c5metrics._sli_clear(true)');
$page = check_page('with no SLI history', screenshot => "$artifacts/status-page-nodata.png", xss => $xss);
SKIP:
{
	skip 'the page was not read, or not every SLO row is there', 4
	  unless $page && @{ $page->{slos} // [] } == @slos;
	is($page->{as_of}, '', 'the page states no sample time');
	my @bad;
	foreach my $r (@{ $page->{slos} })
	{
		push @bad, "$r->{slo}: data-alert $r->{alert}" unless $r->{alert} eq 'nodata';
		foreach my $k (grep { $_ ne 'objective' } keys %{ $r->{cells} })
		{
			# the alert cell's data-v may keep the view's word (compared above)
			my $c = $r->{cells}{$k};
			push @bad, "$r->{slo} $k: data-v '$c->{v}', text '$c->{text}'"
			  unless ($c->{v} eq '' || $k eq 'alert') && $c->{text} eq 'no data';
		}
	}
	is(scalar(@bad), 0, 'every SLI, burn rate, budget and alert says "no data"') or diag(join("\n", @bad));
	my @objectives = grep { ($_->{cells}{objective}{v} // '') eq '' } @{ $page->{slos} };
	is(scalar(@objectives), 0, 'the objectives are still shown');
	my $sparks = grep { $_->{nodata} } map { @{ $_->{sparks} } } @{ $page->{slos} };
	is($sparks, 2 * @slos, 'every sparkline says "no data"');
}
$node->safe_psql('postgres', 'SELECT c5metrics._sli_clear(false)');

# ---- HTTP: headers, HEAD, gzip, 405 ----
my ($code, $headers, $body) = http_get("$base/");
is($code, 200, 'GET / is 200');
like($headers, qr{^Content-Type: text/html; charset=utf-8\r?$}mi, 'as HTML in UTF-8');
like($headers, qr{^Cache-Control: no-store\r?$}mi, 'Cache-Control: no-store');
like($headers, qr{^X-Content-Type-Options: nosniff\r?$}mi, 'X-Content-Type-Options: nosniff');
like($headers, qr{^X-Frame-Options: DENY\r?$}mi, 'X-Frame-Options: DENY');
like($headers, qr{^Referrer-Policy: no-referrer\r?$}mi, 'Referrer-Policy: no-referrer');
like($headers, qr{^Server-Timing: render;dur=\d+\.\d{3}\r?$}mi, 'Server-Timing: the render time');
my ($csp) = $headers =~ m{^Content-Security-Policy: (.*?)\r?$}mi;
like($csp // '', qr{^default-src 'none'; style-src '(?:sha256-[A-Za-z0-9+/]{43}=|nonce-[A-Za-z0-9+/=_-]{22,})'; img-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'$},
	'a Content-Security-Policy that allows the page\'s own style and nothing else');
{
	# the one source it allows is the page's <style>: by its hash, or by a
	# nonce that is new in every response (the browser applied the style:
	# no violation above)
	my ($style_attr, $style) = $body =~ m{<style([^>]*)>(.*?)</style>}s;
	if (($csp // '') =~ /'nonce-([^']+)'/)
	{
		my $nonce = $1;
		is($style_attr, qq{ nonce="$nonce"}, 'the policy\'s nonce is that of the page\'s <style>');
		my ($again) = (http_get("$base/"))[1] =~ m{^Content-Security-Policy: .*'nonce-([^']+)'}mi;
		isnt($again // $nonce, $nonce, 'and another response has another nonce');
	}
	else
	{
		require Digest::SHA;
		my $hash = Digest::SHA::sha256_base64($style // '') . '=';
		like($csp // '', qr{'sha256-\Q$hash\E'}, 'the policy\'s hash is that of the page\'s <style>');
		pass('(a hash is the same in every response)');
	}
	is(scalar(() = $body =~ /<style/gi), 1, 'the page has one style sheet');
	is(scalar(() = $body =~ /\sstyle=/gi), 0, 'and no style attribute');
	is(scalar(() = $body =~ /<script/gi), 0, 'the page has no script');
	like($body, qr{<meta http-equiv="refresh" content="30"\s*/?>}, 'it refreshes itself every 30 s');
	unlike($body, qr{\Q$xss\E}, 'the tag never appears unescaped in the HTML');
	like($body, qr{&lt;img src=x onerror=alert\(1\)&gt;}, 'it appears escaped');
}

($code, $headers, $body) = http_get("$base/", '-I');
is($code, 200, 'HEAD / is 200');
like($headers, qr{^Content-Type: text/html; charset=utf-8\r?$}mi, 'with the same Content-Type');
like($headers, qr{^Content-Security-Policy: default-src 'none'}mi, 'and the policy');
unlike($body, qr{<table}, 'and no body');

($code, $headers, $body) = http_get("$base/", '-H', 'Accept-Encoding: gzip', '--compressed');
like($headers, qr{^Content-Encoding: gzip\r?$}mi, 'gzip when Accept-Encoding allows it');
like($body, qr{<table id="slos"[ >].*</html>}s, 'and it decompresses to the page');
($code, $headers) = http_get("$base/", '-H', 'Accept-Encoding: gzip;q=0, identity');
unlike($headers, qr{^Content-Encoding}mi, 'no gzip when refused');

($code, $headers, $body) = http_get("$base/slo.json");
is($code, 200, 'GET /slo.json is 200');
like($headers, qr{^Content-Type: application/json}mi, 'as JSON');
like($headers, qr{^Cache-Control: no-store\r?$}mi, 'Cache-Control: no-store');
like($headers, qr{^X-Content-Type-Options: nosniff\r?$}mi, 'X-Content-Type-Options: nosniff');
like($headers, qr{^Server-Timing: render;dur=\d+\.\d{3}\r?$}mi, 'Server-Timing');
my $doc = eval { decode_json($body) };
ok($doc, 'it parses as JSON') or diag($@);
is_deeply([ map { $_->{slo} } @{ $doc->{slos} // [] } ], \@slos, 'one entry per SLO, in catalog order');
($code, $headers, $body) = http_get("$base/slo.json", '-I');
is($code, 200, 'HEAD /slo.json is 200');
unlike($body, qr{"slos"}, 'with no body');
($code, $headers) = http_get("$base/slo.json", '-H', 'Accept-Encoding: gzip', '--compressed');
like($headers, qr{^Content-Encoding: gzip\r?$}mi, '/slo.json is gzipped when allowed');

foreach my $req ([ 'POST', '/' ], [ 'PUT', '/' ], [ 'DELETE', '/slo.json' ], [ 'POST', '/slo.json' ])
{
	($code, $headers) = http_get("$base$req->[1]", '-X', $req->[0], '-d', 'x=1');
	is($code, 405, "$req->[0] $req->[1]: 405");
	like($headers, qr{^Allow: GET, HEAD\r?$}mi, 'with Allow');
}

# ---- credentials: as for /metrics ----
my $secrets = $node->basedir . '/secrets';
make_path($secrets);
chmod 0700, $secrets;
PostgreSQL::Test::Utils::append_to_file("$secrets/token", "s3cret-token\n");
chmod 0600, "$secrets/token";
$node->safe_psql('postgres', qq{
	ALTER SYSTEM SET c5metrics.http_auth = 'bearer';
	ALTER SYSTEM SET c5metrics.http_auth_file = '$secrets/token';
	SELECT pg_reload_conf();
});
ok(eventually(sub { (http_get("$base/"))[0] == 401 }), 'with a token configured, / without it: 401');
is((http_get("$base/slo.json"))[0], 401, '/slo.json without it: 401');
is((http_get("$base/", '-H', 'Authorization: Bearer wrong'))[0], 401, 'a wrong token: 401');
is((http_get("$base/", '-H', 'Authorization: Bearer s3cret-token'))[0], 200, 'the token: 200');
is((http_get("$base/slo.json", '-H', 'Authorization: Bearer s3cret-token'))[0], 200, 'on /slo.json too');
{
	my ($rc, $p, $e) = run_driver("$base/", '--screenshot', "$artifacts/status-page-401.png");
	is($rc, 1, 'the browser without the token fails');
	like($e, qr/the page answered HTTP 401/, 'on the 401');
	($rc, $p, $e) = run_driver("$base/", '--screenshot', "$artifacts/status-page-auth.png",
		'--auth', 'bearer', '--auth-file', "$secrets/token", '--xss', $xss);
	is($rc, 0, 'the browser with the token (an Authorization header) loads and checks the page') or diag($e);
}
$node->safe_psql('postgres', q{
	ALTER SYSTEM RESET c5metrics.http_auth;
	ALTER SYSTEM RESET c5metrics.http_auth_file;
	SELECT pg_reload_conf();
});
ok(eventually(sub { (http_get("$base/"))[0] == 200 }), 'without credentials configured: 200 again');

# ---- 30 days of history: every window and sparkline, the README's picture ----
# Counters from zero and a short workload without the tag (the picture's
# flows and transitions), then the SLI ring filled by c5metrics._sli_feed()
# with 31 days of samples on the tiers' grids (test/sli-feed-30d.sql, which
# bench/status_page.sh feeds too): a daily traffic and error wave,
# incidents at fixed ages, a page alert on sale_paid_availability and a
# ticket on refund_availability.  Feeding
# keeps the worker from sampling: the page and the views show one sample.
$node->safe_psql('postgres', 'SELECT c5metrics.reset()');
ok(IPC::Run::run([ $c5load, '-d', $conninfo, '--clients=4', '--transactions=1000', '--seed=23', '-q' ],
		'>', \$out, '2>', \$err), 'c5load ran 1000 more operations after a reset') or diag($err);
my $fed = $node->safe_psql('postgres', slurp_file("$FindBin::Bin/../sli-feed-30d.sql") . <<'EOF_FEED');
SELECT to_char(to_timestamp(max(s)) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') FROM feed;
EOF_FEED
($fed) = $fed =~ /(\S+)\s*\z/;
note("SLI ring fed up to $fed");
my $full = "$artifacts/status-page-30d.png";
$page = check_page('with 30 days of history', screenshot => $full, full_page => 1);
note("screenshot: $full");
SKIP:
{
	skip 'the page was not read, or not every SLO row is there', 5
	  unless $page && @{ $page->{slos} // [] } == @slos;
	is($page->{as_of} =~ s/\.\d+Z$/Z/r, $fed, 'the page shows the last sample fed');
	my @flat = grep { ($_->{cells}{'sli-5m'}{v} // '') eq ($_->{cells}{'sli-30d'}{v} // '') } @{ $page->{slos} };
	cmp_ok(scalar(@flat), '<', scalar(@slos), 'the SLI over 5 minutes and over 30 days differ');
	my @empty = map { "$_->{slo} $_->{spark}" } grep { $_->{nodata} || !$_->{marks} }
	  map { my $r = $_; map { { %$_, slo => $r->{slo} } } @{ $r->{sparks} } } @{ $page->{slos} };
	is(scalar(@empty), 0, 'every sparkline draws the history') or diag(join("\n", @empty));
	my %alert = map { $_->{slo} => $_->{alert} } @{ $page->{slos} };
	is($alert{sale_paid_availability}, 'page', 'the paid SLO pages');
	is($alert{refund_availability}, 'ticket', 'the refund SLO opens a ticket');
}
if (my $to = $ENV{C5_SCREENSHOT_OUT})
{
	SKIP:
	{
		skip 'the page failed its checks: no picture for the README', 1
		  unless $page && !@{ $page->{failures} // ['none read'] };
		ok(copy($full, $to), "the screenshot is copied to \$C5_SCREENSHOT_OUT ($to)") or diag($!);
	}
}
$node->safe_psql('postgres', 'SELECT c5metrics._sli_clear(false)');

is($node->safe_psql('postgres', q{SELECT value FROM c5metrics.metrics WHERE metric = 'c5metrics_events_lost_total'}),
	'0', 'c5metrics lost no event');
$node->stop;
done_testing();
