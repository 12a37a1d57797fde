# Hostile clients against the HTTP worker, bounded in time: a flood of idle
# connections, a slowloris, oversized request lines and headers, garbage and
# a TLS ClientHello on the plain port, pipelined requests, a half-closed
# socket, a client that never reads, and keep-alive connections idle or
# slow between requests.  Through all of it the worker keeps serving other
# clients, counts what it refuses or cuts, leaks no connection slot, and is
# never restarted.
use strict;
use warnings;
use File::Basename;
use IO::Select;
use IO::Socket::IP;
use Socket qw(SOCK_STREAM SOL_SOCKET SO_RCVBUF SHUT_WR);
use Time::HiRes qw(time sleep);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/../perl";
use C5Test;

# a write to a socket the worker closed must fail, not kill the test
$SIG{PIPE} = 'IGNORE';

my $checker = dirname(__FILE__) . '/../check-exposition.pl';
my $port = PostgreSQL::Test::Cluster::get_free_port();

# A client from a second address shows that the per-address limit leaves
# room for others; ::1 is the only other address allowed here.
my $v6 = IO::Socket::IP->new(LocalHost => '::1', LocalPort => $port, Type => SOCK_STREAM, Listen => 1);
close $v6 if $v6;

my $node = C5Test::node('hostile', http_port => $port,
	conf => $v6 ? "c5metrics.listen_addresses = '127.0.0.1, ::1'\n" : '');

# ---- helpers ----

# curl a URL: (status code, body); the code is 000 when nothing came back.
sub curl
{
	my ($url) = @_;
	my $file = $node->basedir . '/curl.out';
	my ($out, $err) = ('', '');

	unlink $file;
	IPC::Run::run([ 'curl', '-sS', '-g', '--noproxy', '*', '-m', '5', '-o', $file, '-w', '%{http_code}', $url ],
		'>', \$out, '2>', \$err);
	return ($out, -e $file ? slurp_file($file) : '');
}

sub url { my ($path, $host) = @_; return 'http://' . ($host // '127.0.0.1') . ":$port$path"; }

# A normal client is served: /healthz answers 200.
sub serves
{
	my ($when) = @_;
	my ($code) = curl(url('/healthz'));
	is($code, '200', "the worker serves /healthz $when");
}

# The worker's HTTP counters, read through SQL so that reading them opens
# no HTTP connection: { 'limit' => n, 'deadline' => n, '/healthz 200' => n, ... }
sub counters
{
	my %c;
	foreach (split /\n/, $node->safe_psql('postgres', 'SELECT c5metrics.exposition()'))
	{
		$c{$1} = $2 if /^c5metrics_http_refused_connections_total\{reason="(\w+)"\} (\d+)$/;
		$c{"$1 $2"} = $3 if /^c5metrics_http_requests_total\{path="([^"]+)",code="(\d+)"\} (\d+)$/;
	}
	return \%c;
}

# A connected, non-blocking socket to the worker.
sub raw
{
	my (%opt) = @_;
	my $s = IO::Socket::IP->new(
		PeerHost => $opt{host} // '127.0.0.1',
		PeerPort => $port,
		Type => SOCK_STREAM,
		Timeout => 5,
		$opt{sockopts} ? (Sockopts => $opt{sockopts}) : ())
	  or die "cannot connect to port $port: $@";
	$s->blocking(0);
	return $s;
}

# Send $data within $timeout seconds; the number of bytes sent, fewer when
# the worker closed the connection or stopped reading.
sub send_bytes
{
	my ($s, $data, $timeout) = @_;
	my $sel = IO::Select->new($s);
	my $sent = 0;
	my $end = time + $timeout;

	while ($sent < length($data) && time < $end)
	{
		next unless $sel->can_write(0.05);
		my $n = syswrite($s, $data, length($data) - $sent, $sent);
		if (defined $n)
		{
			$sent += $n;
		}
		elsif (!$!{EAGAIN} && !$!{EWOULDBLOCK})
		{
			last;
		}
	}
	return $sent;
}

# The complete HTTP responses at the start of $buf: [ { code, headers, body } ].
sub responses
{
	my ($buf) = @_;
	my @r;

	while ($buf =~ /\AHTTP\/1\.[01] (\d{3})[^\r\n]*\r\n((?:[^\r\n]+\r\n)*)\r\n/)
	{
		my ($code, $head) = ($1, $2);
		my $start = $+[0];
		my %h = map { /^([^:]+):\s*(.*)$/ ? (lc $1, $2) : () } split /\r\n/, $head;
		my $len = $h{'content-length'} // 0;
		last if length($buf) < $start + $len;
		push @r, { code => $code, headers => \%h, body => substr($buf, $start, $len) };
		$buf = substr($buf, $start + $len);
	}
	return @r;
}

# Read until the worker closes the connection, $want complete responses
# have arrived, or $timeout seconds: (bytes, closed, seconds waited).
sub receive
{
	my ($s, $timeout, $want) = @_;
	my $sel = IO::Select->new($s);
	my $buf = '';
	my $t0 = time;

	while (time - $t0 < $timeout)
	{
		last if $want && responses($buf) >= $want;
		next unless $sel->can_read(0.05);
		my $n = sysread($s, $buf, 1 << 20, length $buf);
		next if !defined $n && ($!{EAGAIN} || $!{EWOULDBLOCK});
		return ($buf, 1, time - $t0) unless $n;    # end of stream, or reset
	}
	return ($buf, 0, time - $t0);
}

# What a hostile request got: "closed" (nothing came back), "open" (no
# answer yet), or the status code of the first response.
sub outcome
{
	my ($buf, $closed) = @_;
	return $1 if $buf =~ /\AHTTP\/1\.[01] (\d{3}) /;
	return $closed && $buf eq '' ? 'closed' : length($buf) ? 'garbage reply' : 'open';
}

# A TLS ClientHello for "localhost", as a browser would send it.
sub client_hello
{
	my $sni = 'localhost';
	my $exts =
	    pack('n n n C n a*', 0x0000, length($sni) + 5, length($sni) + 3, 0, length($sni), $sni)
	  . pack('n n C n n', 0x002b, 5, 4, 0x0304, 0x0303)
	  . pack('n n n n n', 0x000a, 6, 4, 0x001d, 0x0017)
	  . pack('n n n n n', 0x000d, 6, 4, 0x0403, 0x0804);
	my $ciphers = pack('n*', 0x1301, 0x1302, 0xc02f, 0xc030);
	my $body =
	    pack('n', 0x0303) . ("\x5a" x 32) . pack('C', 32) . ("\xa5" x 32)
	  . pack('n', length $ciphers) . $ciphers . pack('C C', 1, 0)
	  . pack('n', length $exts) . $exts;
	my $hs = pack('C', 1) . substr(pack('N', length $body), 1) . $body;
	return pack('C n n', 0x16, 0x0301, length $hs) . $hs;
}

# ---- the worker is up ----

my $t_start = time;
my $code;
for (1 .. 100)
{
	($code) = curl(url('/healthz'));
	last if $code eq '200';
	sleep 0.1;
}
is($code, '200', 'the worker answers /healthz');
my $pid = worker_pid($node);
ok(defined $pid, 'the worker process is found') or diag(`ps -ef`);
$pid //= -1;

# ---- hundreds of idle connections ----
#
# 300 connections from 127.0.0.1 at once: the per-address limit (8) takes
# the first ones, every other one is accepted by the kernel then refused by
# the worker, and counted.
my $c0 = counters();
my @flood = map { raw() } 1 .. 300;
my $c1;
for (1 .. 100)
{
	$c1 = counters();
	last if $c1->{limit} - $c0->{limit} >= 292;
	sleep 0.1;
}
is($c1->{limit} - $c0->{limit}, 292, '292 of 300 idle connections are refused and counted as limit');

my (@kept, $refused);
my %readable = map { $_ => 1 } IO::Select->new(@flood)->can_read(0.5);
foreach my $s (@flood)
{
	if (!$readable{$s})
	{
		push @kept, $s;
		next;
	}
	my ($buf, $closed) = receive($s, 1);
	$refused++ if $closed && $buf eq '';
}
is($refused, 292, 'the refused ones are closed without a word');
is(scalar(@kept), 8, 'the other 8 stay open');

# The kept connections are served, one request each.
my $answered = 0;
foreach my $s (@kept)
{
	send_bytes($s, "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", 2);
	my ($buf) = receive($s, 2, 1);
	my ($r) = responses($buf);
	$answered++ if $r && $r->{code} == 200;
}
is($answered, 8, 'each kept connection is answered');

# A ninth client from the same address is refused; another address is not.
my $before = counters()->{limit};
($code) = curl(url('/healthz'));
is($code, '000', 'a ninth client from 127.0.0.1 is refused');
is(counters()->{limit} - $before, 1, 'and counted');
SKIP:
{
	skip '::1 is not available', 1 unless $v6;
	my ($code6, $body6) = curl(url('/metrics', '[::1]'));
	ok($code6 eq '200' && $body6 =~ /^# TYPE c5metrics_http_requests_total counter$/m,
		'a client from ::1 scrapes /metrics during the flood');
}

close $_ foreach @flood;
@flood = @kept = ();
sleep 0.3;
my ($scode, $sbody) = curl(url('/metrics'));
ok($scode eq '200' && $sbody =~ /^# TYPE/m, 'once the flood is closed, a scrape from 127.0.0.1 succeeds');

# ---- short timeouts for the rest: 2 s per request, 5 s idle ----

$node->safe_psql('postgres',
	"ALTER SYSTEM SET c5metrics.http_request_timeout = '2s'; "
	  . "ALTER SYSTEM SET c5metrics.http_idle_timeout = '5s'; SELECT pg_reload_conf()");
sleep 0.5;

# ---- slowloris ----
#
# One header byte every 300 ms: the request would take 30 s to arrive, and
# every byte resets libmicrohttpd's idle timer; the deadline cuts it at 2 s.
# Meanwhile another client is served.
$c0 = counters();
my $slow = "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: slowloris" . ('.' x 55) . "\r\n\r\n";
my $t0 = time;
my $s = raw();
my ($sent, $cut, $reply, $during) = (0, 0, '', '');
my $sel = IO::Select->new($s);
while ($sent < length($slow) && time - $t0 < 8)
{
	my $n = syswrite($s, $slow, 1, $sent);
	if (!defined $n && !$!{EAGAIN})
	{
		$cut = 1;
		last;
	}
	$sent += $n // 0;
	($during) = curl(url('/healthz')) if $during eq '' && time - $t0 > 1;
	next unless $sel->can_read(0.3);
	my $m = sysread($s, $reply, 65536, length $reply);
	next if $m || (!defined $m && $!{EAGAIN});
	$cut = 1;
	last;
}
my $slow_took = time - $t0;
close $s;
ok($cut, 'the slowloris connection is closed by the worker');
ok($slow_took > 1.5 && $slow_took < 4,
	sprintf('at the deadline (2 s), long before the request would be complete (closed after %.1f s)', $slow_took));
is($reply, '', 'without any answer');
is($during, '200', 'another client is served meanwhile');
is(counters()->{deadline} - $c0->{deadline}, 1, 'the cut is counted as deadline');

# ---- oversized request line and headers ----
#
# libmicrohttpd answers 414 or 431 (or 400) once its 32 kB buffer is full,
# or closes: well before the deadline, never a hang.
my %big = (
	'a 100 kB request line' => 'GET /' . ('a' x 100_000) . " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
	'2000 headers' => "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n"
	  . join('', map { "X-Pad-$_: " . ('b' x 100) . "\r\n" } 1 .. 2000) . "\r\n",
	'a 60 kB header' => "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " . ('c' x 60_000) . "\r\n\r\n");
foreach my $what (sort keys %big)
{
	$t0 = time;
	$s = raw();
	send_bytes($s, $big{$what}, 1);
	my ($buf, $closed) = receive($s, 3);
	my $took = time - $t0;
	close $s;
	my $got = outcome($buf, $closed);
	ok($closed && $took < 1.5 && $got =~ /^(4\d\d|closed)$/,
		sprintf('%s: %s, connection closed after %.1f s', $what, $got, $took));
}
serves('after oversized requests');

# ---- garbage and TLS on the plain port ----

srand(5005);
my $garbage = join('', map { chr(int(rand(256))) } 1 .. 4096) . "\r\n\r\n";
$t0 = time;
$s = raw();
send_bytes($s, $garbage, 1);
my ($gbuf, $gclosed) = receive($s, 3);
my $gtook = time - $t0;
close $s;
my $got = outcome($gbuf, $gclosed);
ok($gclosed && $gtook < 1.5 && $got =~ /^(4\d\d|closed)$/,
	sprintf('4 kB of random bytes: %s, connection closed after %.1f s', $got, $gtook));

# A TLS client speaking first on the plain port: an error or a close, at
# the latest at the deadline.
$t0 = time;
$s = raw();
send_bytes($s, client_hello(), 1);
my ($tbuf, $tclosed) = receive($s, 4);
my $ttook = time - $t0;
close $s;
$got = outcome($tbuf, $tclosed);
ok($tclosed && $ttook < 3.5 && $got =~ /^(4\d\d|closed)$/,
	sprintf('a TLS ClientHello: %s, connection closed after %.1f s', $got, $ttook));
serves('after garbage and TLS');

# ---- pipelined requests ----

$c0 = counters();
$s = raw();
send_bytes($s, join('', map { "GET $_ HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" } qw(/healthz /readyz /metrics /nope)), 1);
my ($pbuf) = receive($s, 1.5, 4);
close $s;
my @r = responses($pbuf);
is(scalar(@r), 4, 'four pipelined requests in one write get four responses');
like(join(' ', map { $_->{code} } @r), qr/^200 (200|503) 200 404$/,
	'in order: /healthz 200, /readyz 200 or 503, /metrics 200, /nope 404');
ok( ($r[0]{body} // '') =~ /"healthy"/
	  && ($r[1]{body} // '') =~ /"checks"/
	  && ($r[2]{body} // '') =~ /^# TYPE c5metrics_http_requests_total counter$/m
	  && ($r[3]{body} // '') eq "not found\n",
	'each body is the one of its request');
my $c2 = counters();
my $readyz = $r[1]{code} // '503';
is( join(',', map { $c2->{$_} - $c0->{$_} } ('/healthz 200', "/readyz $readyz", '/metrics 200', 'other 404')),
	'1,1,1,1', 'each pipelined request is counted once');

# ---- half-closed socket ----

$s = raw();
send_bytes($s, "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", 1);
shutdown($s, SHUT_WR);
my ($hbuf) = receive($s, 1.5, 1);
my ($h) = responses($hbuf);
ok($h && $h->{code} == 200 && $h->{body} =~ /^# TYPE/m,
	'a client that shut down its sending side after the request gets the whole response');

# libmicrohttpd misses the end of the stream it has already read and keeps
# the connection as if idle: it must not hold its slot past the idle
# timeout (5 s), even once the client is gone.
$t0 = time;
my (undef, $hclosed) = receive($s, 7);
my $htook = time - $t0;
close $s;
ok($hclosed && $htook < 6,
	sprintf('and its connection is closed at the latest at the idle timeout (after %.1f s)', $htook));

# ---- a client that never reads ----
#
# 500 requests for /metrics (16 kB each) in one write, a 4 kB receive
# buffer, and no read: the worker's sends stall, and it keeps serving
# others; the deadline cuts the stalled connection.
$c0 = counters();
$s = raw(sockopts => [ [ SOL_SOCKET, SO_RCVBUF, 4096 ] ]);
$t0 = time;
my $want = 500 * length("GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
is(send_bytes($s, "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" x 500, 1), $want,
	'500 requests are written without reading');
sleep 0.5;
my $slowest = 0;
my $served = 0;
for (1 .. 3)
{
	my $t1 = time;
	my ($c, $b) = curl(url('/metrics'));
	$slowest = time - $t1 if time - $t1 > $slowest;
	$served++ if $c eq '200' && $b =~ /^# TYPE/m;
}
ok($served == 3 && $slowest < 1,
	sprintf('meanwhile another client scrapes /metrics three times (slowest %.2f s)', $slowest));
sleep(3 - (time - $t0)) if time - $t0 < 3;
my (undef, $nclosed) = receive($s, 2);
close $s;
ok($nclosed, 'the stalled connection is cut');
is(counters()->{deadline} - $c0->{deadline}, 1, 'and counted as deadline');

# ---- an idle keep-alive connection between two requests ----
#
# The deadline bounds one request; between requests, a keep-alive
# connection is idle, which c5metrics.http_idle_timeout (5 s) governs.
$c0 = counters();
$s = raw();
send_bytes($s, "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", 1);
my ($kbuf) = receive($s, 1.5, 1);
my ($k1) = responses($kbuf);
sleep 3;
send_bytes($s, "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", 1);
($kbuf) = receive($s, 1.5, 1);
my ($k2) = responses($kbuf);
close $s;
ok($k1 && $k1->{code} == 200 && $k2 && $k2->{code} == 200,
	'a keep-alive connection idle 3 s (request_timeout 2 s, idle_timeout 5 s) serves its second request');
is(counters()->{deadline} - $c0->{deadline}, 0, 'an idle keep-alive connection is not counted as deadline');

# ---- slowloris on a keep-alive connection ----
#
# One quick request, then the next one a byte every 300 ms: a request
# like any other, cut at its deadline.
$c0 = counters();
$s = raw();
send_bytes($s, "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", 1);
($kbuf) = receive($s, 1.5, 1);
($k1) = responses($kbuf);
$t0 = time;
($sent, $cut, $reply) = (0, 0, '');
$sel = IO::Select->new($s);
while ($sent < length($slow) && time - $t0 < 5)
{
	my $n = syswrite($s, $slow, 1, $sent);
	if (!defined $n && !$!{EAGAIN})
	{
		$cut = 1;
		last;
	}
	$sent += $n // 0;
	next unless $sel->can_read(0.3);
	my $m = sysread($s, $reply, 65536, length $reply);
	next if $m || (!defined $m && $!{EAGAIN});
	$cut = 1;
	last;
}
$slow_took = time - $t0;
close $s;
ok($k1 && $k1->{code} == 200, 'the first request on the connection is answered');
ok($cut && $slow_took < 4,
	sprintf('the slow second request is cut at its deadline (2 s): %s after %.1f s',
		$cut ? 'closed' : 'still open', $slow_took));
is(counters()->{deadline} - $c0->{deadline}, 1, 'and counted as deadline');

# ---- afterwards ----

# No slot leaked: every socket above is closed, so 127.0.0.1 gets its 8
# connections again, and a ninth is refused.
sleep 0.5;
$c0 = counters();
my @nine = map { raw() } 1 .. 9;
sleep 0.3;
my %gone = map { $_ => 1 } IO::Select->new(@nine)->can_read(0.2);
is(scalar(grep { !$gone{$_} } @nine), 8, '8 connections from 127.0.0.1 are accepted again: no slot leaked');
is(counters()->{limit} - $c0->{limit}, 1, 'and a ninth is refused');
close $_ foreach @nine;
sleep 0.5;

($scode, $sbody) = curl(url('/metrics'));
is($scode, '200', 'a normal scrape returns 200');
my $file = $node->basedir . '/metrics.txt';
open(my $fh, '>', $file) or die "cannot write $file: $!";
print $fh $sbody;
close $fh;
my ($out, $err);
my $ok = IPC::Run::run([ 'perl', $checker ], '<', $file, '>', \$out, '2>', \$err);
ok($ok, 'its body passes check-exposition.pl') or diag("$out$err");

my @deaths = grep { /terminated by signal|was terminated|exited with exit code/ }
  split /\n/, slurp_file($node->logfile);
is(scalar(@deaths), 0, 'no process died') or diag(join("\n", @deaths));
is(worker_pid($node) // -2, $pid, 'the worker was never restarted');

# libmicrohttpd's own complaints (about garbage, oversized lines, TLS on the
# plain port...) are attacker-driven: they go to DEBUG1, never to the log
# at the default level.
my @mhd = grep { /c5metrics http: (?!listening|not listening|keeping)/ }
  split /\n/, slurp_file($node->logfile);
is(scalar(@mhd), 0, 'hostile requests leave no libmicrohttpd messages in the log') or diag(join("\n", @mhd));

$node->stop;
note(sprintf('hostile suite took %.1f s', time - $t_start));
done_testing();
