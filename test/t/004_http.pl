# The HTTP listener, end to end with real clients: curl for the protocol,
# Debian's Prometheus for scraping, a streaming standby for the role.
use strict;
use warnings;
use File::Basename;
use File::Path qw(make_path);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep time);
use FindBin;
use lib "$FindBin::Bin/../perl";
use C5Test;

my $checker = dirname(__FILE__) . '/../check-exposition.pl';
my $om_accept = 'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,'
  . 'text/plain;version=0.0.4;q=0.5,*/*;q=0.1';

sub without_self_metrics
{
	my ($text) = @_;
	return join('', grep { !/^c5metrics_http_/ } split(/^/m, $text));
}

my $port = PostgreSQL::Test::Cluster::get_free_port();
my $node = C5Test::node('http', http_port => $port, allows_streaming => 1, extension => 0);
my $base = "http://127.0.0.1:$port";

ok(eventually(sub { (http_get("$base/healthz"))[0] == 200 }), 'the worker serves after start');
ok($node->log_contains(qr/c5metrics http: listening on "127.0.0.1" port $port/), 'it logs where it listens');
my $worker_pid = worker_pid($node);
like($worker_pid, qr/^\d+$/, 'the worker\'s process is known');

# Nothing tracked since the start, with no saved registry: the list of
# tracked tables is unknown (as after a crash restart, test/t/013), which
# does not make the server unready, and it says so.
my ($code, $headers, $body) = http_get("$base/readyz");
is($code, 200, '/readyz is 200 while no table was seen since the start');
like($body, qr/^\{"status":"ready","checks":\{"shared_memory":"ok","series":"ok","tracked_tables":"unknown since start","attachments":"ok","role":"primary"\}\}$/m,
	'and says the tracked tables are unknown since the start');

$node->safe_psql('postgres', q{
	CREATE EXTENSION c5metrics;
	SELECT c5metrics.create_reference_schema();
	INSERT INTO shop.products (sku, name, price) VALUES ('P1', 'Cream', 10);
	INSERT INTO shop.stock_lots (product_id, expires_on, quantity_on_hand) VALUES (1, current_date + 30, 100);
	INSERT INTO shop.sales (total) SELECT 10 FROM generate_series(1, 5);
	INSERT INTO shop.sale_items (sale_id, product_id, quantity, unit_price) SELECT s, 1, 1, 10 FROM generate_series(1, 5) s;
	SELECT shop.pay_sale(s) FROM generate_series(1, 3) s;
});

($code, $headers, $body) = http_get("$base/readyz");
is($code, 200, '/readyz is 200 once tables are tracked');
like($body, qr/^\{"status":"ready","checks":\{"shared_memory":"ok","series":"ok","tracked_tables":"ok","attachments":"ok","role":"primary"\}\}$/m,
	'/readyz lists its checks');

# A broken attachment (here a disabled trigger: the refunds are neither
# counted nor guarded) makes the server not ready, until it is mended.
$node->safe_psql('postgres', 'ALTER TABLE shop.refunds DISABLE TRIGGER zz_c5metrics_refunds');
($code, $headers, $body) = http_get("$base/readyz");
is($code, 503, '/readyz is 503 while an attachment is broken');
like($body, qr/^\{"status":"not ready","failing":"attachments",.*"attachments":"broken"/m,
	'and names the attachments check');
$node->safe_psql('postgres', 'ALTER TABLE shop.refunds ENABLE TRIGGER zz_c5metrics_refunds');
($code, $headers, $body) = http_get("$base/readyz");
is($code, 200, 'and 200 again once it is mended');

# Once tables were tracked, detaching every one is a failing check.
$node->safe_psql('postgres', q{
	SELECT c5metrics.untrack(t) FROM (VALUES ('shop.sales'::regclass), ('shop.stock_movements'),
		('shop.refunds'), ('shop.public_leads')) v(t);
});
($code, $headers, $body) = http_get("$base/readyz");
is($code, 503, '/readyz is 503 once every tracked table was detached');
like($body, qr/"failing":"tracked_tables".*"tracked_tables":"none tracked"/, 'and names the failing check');
$node->safe_psql('postgres', q{
	SELECT c5metrics.track_sales('shop.sales');
	SELECT c5metrics.track_stock('shop.stock_movements', refunds_table => 'shop.refunds');
	SELECT c5metrics.track_refunds('shop.refunds', sales_table => 'shop.sales');
	SELECT c5metrics.track_leads('shop.public_leads');
});
($code, $headers, $body) = http_get("$base/readyz");
is($code, 200, '/readyz is 200 again once tables are attached again');
($code, $headers, $body) = http_get("$base/healthz");
is($body, qq{{"status":"healthy"}\n}, '/healthz answers healthy');
like($headers, qr{^Content-Type: application/json}mi, 'as JSON');

# /metrics: the text format, byte for byte what exposition() returns.
($code, $headers, $body) = http_get("$base/metrics");
is($code, 200, 'GET /metrics is 200');
like($headers, qr{^Content-Type: text/plain; version=0\.0\.4; charset=utf-8\r?$}mi, 'text format 0.0.4 by default');
my $sql_text = $node->safe_psql('postgres', 'SELECT c5metrics.exposition()');
is(without_self_metrics($body), without_self_metrics($sql_text),
	'the body is what c5metrics.exposition() returns (the worker\'s own request counters aside)');
like($body, qr/^sales_transition_total\{from_status="pending",to_status="paid",result="success"\} 3$/m,
	'business counters are served');
my $file = "$PostgreSQL::Test::Utils::tmp_check/scrape.txt";
PostgreSQL::Test::Utils::append_to_file($file, $body);
my ($out, $err);
ok(IPC::Run::run([ 'perl', $checker ], '<', $file, '>', \$out, '2>', \$err),
	'the scrape passes our exposition checks') or diag($out);

# OpenMetrics when the Accept header prefers it, as Prometheus 2.42 sends it.
($code, $headers, $body) = http_get("$base/metrics", '-H', "Accept: $om_accept");
like($headers, qr{^Content-Type: application/openmetrics-text; version=1\.0\.0; charset=utf-8\r?$}mi,
	'OpenMetrics when preferred');
like($body, qr/# EOF\n\z/, 'it ends with # EOF');
like($body, qr/^# TYPE sales_transition counter$/m, 'counter families are named without _total');
like($body, qr/^sales_transition_total\{/m, 'samples keep _total');
like($body, qr/^# TYPE c5metrics_build info$/m, 'build info is an info family');
like($body, qr/_bucket\{le="1\.0"\}/, 'bucket bounds are canonical floats');
($code, $headers) = http_get("$base/metrics", '-H', 'Accept: text/plain;version=0.0.4;q=1,application/openmetrics-text;q=0.5');
like($headers, qr{^Content-Type: text/plain}mi, 'text when text is preferred');
($code, $headers) = http_get("$base/metrics?format=openmetrics");
like($headers, qr{^Content-Type: application/openmetrics-text}mi, '?format=openmetrics overrides');

# gzip when allowed, identical once decompressed.
($code, $headers, $body) = http_get("$base/metrics", '-H', 'Accept-Encoding: gzip', '--compressed');
like($headers, qr{^Content-Encoding: gzip\r?$}mi, 'gzip when Accept-Encoding allows it');
like($body, qr/^sales_transition_total\{from_status="pending",to_status="paid",result="success"\} 3$/m,
	'and it decompresses to the metrics');
($code, $headers) = http_get("$base/metrics", '-H', 'Accept-Encoding: gzip;q=0, identity');
unlike($headers, qr{^Content-Encoding}mi, 'no gzip when refused');

# HEAD, unknown paths, wrong methods.
($code, $headers, $body) = http_get("$base/metrics", '-I');
is($code, 200, 'HEAD /metrics is 200');
is($body =~ /sales_transition_total\{/ ? 1 : 0, 0, 'HEAD has no body');
($code) = http_get("$base/nope");
is($code, 404, 'unknown path: 404');
($code, $headers) = http_get("$base/metrics", '-X', 'POST', '-d', 'x=1');
is($code, 405, 'POST: 405');
like($headers, qr{^Allow: GET, HEAD\r?$}mi, 'with Allow');

# Keep-alive: two requests on one connection (the answer is queued on the
# handler's second call, or libmicrohttpd would close the connection).
{
	my ($o, $e) = ('', '');
	IPC::Run::run([ 'curl', '-s', '-v', '-o', '/dev/null', '-o', '/dev/null', "$base/healthz", "$base/metrics" ],
		'>', \$o, '2>', \$e);
	like($e, qr/Re-using existing connection/i, 'the connection is kept alive between requests');
}

# The HTTP libraries are mapped by the worker only, never by a backend.
{
	# every backend is forked from the postmaster, which preloaded c5metrics.so
	my $pmaps = slurp_file("/proc/$node->{_pid}/maps");
	my $wmaps = slurp_file('/proc/' . worker_pid($node) . '/maps');
	like($pmaps, qr/c5metrics\.so/, 'the postmaster preloaded c5metrics.so');
	like($wmaps, qr/libmicrohttpd/, 'the worker maps libmicrohttpd');
	# (Debian's postgres binary links GnuTLS itself, through LDAP, so only
	# libmicrohttpd and our worker library can tell)
	unlike($pmaps, qr/libmicrohttpd|c5metrics_http/,
		'the postmaster, hence every backend, maps neither libmicrohttpd nor the worker library');
}

# The worker's own requests are counted.
($code, $headers, $body) = http_get("$base/metrics");
like($body, qr/^c5metrics_http_requests_total\{path="\/metrics",code="200"\} [1-9]\d*$/m, 'requests by path and code');
like($body, qr/^c5metrics_http_requests_total\{path="other",code="404"\} 1$/m, 'the 404 too');
like($body, qr/^c5metrics_http_render_duration_seconds_count [1-9]\d*$/m, 'render durations');

# Credentials: a bearer token read from a file; the setting is superuser-only.
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
ok(eventually(sub { (http_get("$base/metrics"))[0] == 401 }), 'without a token: 401');
($code, $headers) = http_get("$base/metrics");
like($headers, qr{^WWW-Authenticate: Bearer realm="c5metrics"}mi, 'with WWW-Authenticate');
($code) = http_get("$base/metrics", '-H', 'Authorization: Bearer s3cret-token');
is($code, 200, 'with the token: 200');
($code) = http_get("$base/metrics", '-H', 'Authorization: Bearer wrong');
is($code, 401, 'a wrong token: 401');
($code) = http_get("$base/healthz", '-H', 'Authorization: Bearer s3cret-token');
is($code, 200, 'every path takes the token');

$node->safe_psql('postgres', 'CREATE ROLE c5_reader LOGIN');
my ($ret, $so, $se) = $node->psql('postgres', 'SHOW c5metrics.http_auth_file', extra_params => [ '-U', 'c5_reader' ]);
isnt($ret, 0, 'a non-superuser cannot read the secret file setting');
is($node->safe_psql('postgres', q{SELECT count(*) FROM pg_settings WHERE name = 'c5metrics.http_auth_file'},
		extra_params => [ '-U', 'c5_reader' ]), '0', 'nor see it in pg_settings');

# A bad configuration is refused and the previous one keeps serving.
my $offset = -s $node->logfile;
$node->safe_psql('postgres', qq{
	ALTER SYSTEM SET c5metrics.http_auth_file = '$secrets/missing';
	SELECT pg_reload_conf();
});
ok(eventually(sub { $node->log_contains(qr/keeping the previous configuration/, $offset) }),
	'a missing secret file is refused with a log line');
ok($node->log_contains(qr/the file named by c5metrics.http_auth_file cannot be read/, $offset), 'naming the setting');
($code) = http_get("$base/metrics", '-H', 'Authorization: Bearer s3cret-token');
is($code, 200, 'the previous credentials still work');

# Basic auth.
PostgreSQL::Test::Utils::append_to_file("$secrets/basic", "prom:pa55word\n");
$node->safe_psql('postgres', qq{
	ALTER SYSTEM SET c5metrics.http_auth = 'basic';
	ALTER SYSTEM SET c5metrics.http_auth_file = '$secrets/basic';
	SELECT pg_reload_conf();
});
ok(eventually(sub { (http_get("$base/metrics", '-u', 'prom:pa55word'))[0] == 200 }), 'basic credentials: 200');
($code) = http_get("$base/metrics", '-u', 'prom:wrong');
is($code, 401, 'wrong basic credentials: 401');
$node->safe_psql('postgres', q{
	ALTER SYSTEM RESET c5metrics.http_auth;
	ALTER SYSTEM RESET c5metrics.http_auth_file;
	SELECT pg_reload_conf();
});
ok(eventually(sub { (http_get("$base/metrics"))[0] == 200 }), 'auth off again');

# TLS from a certificate and key file.
my $openssl_ok = IPC::Run::run([ 'openssl', 'req', '-x509', '-newkey', 'rsa:2048', '-nodes',
		'-subj', '/CN=127.0.0.1', '-days', '1', '-keyout', "$secrets/key.pem", '-out', "$secrets/cert.pem" ],
	'>', \$out, '2>', \$err);
ok($openssl_ok, 'a test certificate is made');
chmod 0600, "$secrets/key.pem";
$node->safe_psql('postgres', qq{
	ALTER SYSTEM SET c5metrics.http_tls_cert_file = '$secrets/cert.pem';
	ALTER SYSTEM SET c5metrics.http_tls_key_file = '$secrets/key.pem';
	SELECT pg_reload_conf();
});
my $https = "https://127.0.0.1:$port";
ok(eventually(sub { (http_get("$https/metrics", '--cacert', "$secrets/cert.pem"))[0] == 200 }), 'HTTPS with the certificate');
($code, $headers, $body) = http_get("$https/metrics", '--cacert', "$secrets/cert.pem");
like($body, qr/^sales_transition_total\{/m, 'serves the metrics over TLS');
($code) = http_get("$base/metrics");
isnt($code, 200, 'plain HTTP is no longer served');
$node->safe_psql('postgres', q{
	ALTER SYSTEM RESET c5metrics.http_tls_cert_file;
	ALTER SYSTEM RESET c5metrics.http_tls_key_file;
	SELECT pg_reload_conf();
});
ok(eventually(sub { (http_get("$base/metrics"))[0] == 200 }), 'plain HTTP again');

# SIGHUP to a new port: the new one serves, the old one closes, nothing is lost.
my $port2 = PostgreSQL::Test::Cluster::get_free_port();
$node->safe_psql('postgres', qq{ALTER SYSTEM SET c5metrics.port = $port2; SELECT pg_reload_conf();});
ok(eventually(sub { (http_get("http://127.0.0.1:$port2/metrics"))[0] == 200 }), 'the new port serves after reload');
($code) = http_get("$base/metrics");
is($code, 0, 'the old port is closed');
($code, $headers, $body) = http_get("http://127.0.0.1:$port2/metrics");
like($body, qr/^sales_transition_total\{from_status="pending",to_status="paid",result="success"\} 3$/m,
	'the registry is intact');
is(worker_pid($node), $worker_pid, 'the same worker process throughout');
$base = "http://127.0.0.1:$port2";
$port = $port2;

# A real Prometheus scraping both formats.
my $prom_port = PostgreSQL::Test::Cluster::get_free_port();
my $prom_dir = $node->basedir . '/prometheus';
make_path("$prom_dir/data");
PostgreSQL::Test::Utils::append_to_file("$prom_dir/prometheus.yml", <<"EOF");
global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: c5metrics_openmetrics
    static_configs:
      - targets: ['127.0.0.1:$port']
  - job_name: c5metrics_text
    params:
      format: [text]
    static_configs:
      - targets: ['127.0.0.1:$port']
EOF
my $prom = IPC::Run::start(
	[ 'prometheus', "--config.file=$prom_dir/prometheus.yml", "--storage.tsdb.path=$prom_dir/data",
	  "--web.listen-address=127.0.0.1:$prom_port" ],
	'>', "$prom_dir/stdout.log", '2>', "$prom_dir/stderr.log");
my $api = "http://127.0.0.1:$prom_port/api/v1";
my $query = sub {
	my ($q) = @_;
	my (undef, undef, $b) = http_get("$api/query", '-G', '--data-urlencode', "query=$q");
	return $b;
};
ok(eventually(sub { $query->('sum(up{job=~"c5metrics_.*"})') =~ /"value":\[[\d.]+,"2"\]/ }, 60),
	'Prometheus scrapes the worker in both formats (both targets up)');
$node->safe_psql('postgres', q{SELECT shop.pay_sale(4)});
ok(eventually(sub {
	$query->('sales_transition_total{job="c5metrics_text",to_status="paid",result="success"}') =~ /"value":\[[\d.]+,"4"\]/ }, 30),
	'a business metric is queryable after the workload (text format)');
ok(eventually(sub {
	$query->('sales_transition_total{job="c5metrics_openmetrics",to_status="paid",result="success"}') =~ /"value":\[[\d.]+,"4"\]/ }, 30),
	'and through OpenMetrics');
like($query->('scrape_samples_scraped{job="c5metrics_openmetrics"}'), qr/"value":\[[\d.]+,"[1-9]\d+"\]/,
	'Prometheus parsed the OpenMetrics samples');
$prom->kill_kill;
$prom->finish;

# A streaming standby serves its role, from shared memory only.
$node->backup('b1');
my $standby = PostgreSQL::Test::Cluster->new('http_standby');
my $sport = PostgreSQL::Test::Cluster::get_free_port();
$standby->init_from_backup($node, 'b1', has_streaming => 1);
# postgresql.auto.conf came with the backup and sets the port: override it there
$standby->append_conf('postgresql.auto.conf', "c5metrics.port = $sport\n");
$standby->start;
my $sbase = "http://127.0.0.1:$sport";
ok(eventually(sub { (http_get("$sbase/metrics"))[0] == 200 }), 'the standby serves /metrics');
($code, $headers, $body) = http_get("$sbase/metrics");
like($body, qr/^c5metrics_in_recovery 1$/m, 'and says it is in recovery');
($code, $headers, $body) = http_get("$sbase/readyz");
is($code, 200, 'the standby is ready');
like($body, qr/"role":"standby"/, 'in the standby role');
$node->safe_psql('postgres', q{SELECT shop.pay_sale(5)});
$node->wait_for_catchup($standby);
($code, $headers, $body) = http_get("$sbase/metrics");
like($body, qr/^sales_transition_total\{from_status="other",to_status="other",result="success"\} 0$/m,
	'triggers do not count on the standby');
$standby->stop;

# A worker that exits abnormally comes back, with the registry intact.
is(worker_pid($node), $worker_pid, 'the worker never restarted so far');
ok(!$node->log_contains(qr/c5metrics http listener.*(terminated|exited with exit code)/),
	'no worker crash in the log');
kill 'TERM', $worker_pid;
ok(eventually(sub { my $p = worker_pid($node); defined $p && $p != $worker_pid }, 30),
	'a new worker starts after the old one is terminated');
ok(eventually(sub { (http_get("$base/metrics"))[0] == 200 }, 20), 'and serves');
($code, $headers, $body) = http_get("$base/metrics");
like($body, qr/^sales_transition_total\{from_status="pending",to_status="paid",result="success"\} 5$/m,
	'the counters survived the worker\'s exit');
is($node->safe_psql('postgres', 'SELECT 1'), '1', 'the cluster was not restarted');

# Shutdown is prompt.
my $t0 = time();
$node->stop('fast');
cmp_ok(time() - $t0, '<', 10, 'a fast shutdown is prompt');

done_testing();
