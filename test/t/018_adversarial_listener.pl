# Listener fairness against an idle flood.  Connections that never send a
# request, from several addresses each holding its per-address quota and
# reconnecting whenever cut, used to fill the connection table and keep a
# scraper from any other address out (issue 14, item 6).  With the table
# full, the worker now evicts the connection that has waited longest
# without a request being served, never one whose request is being served.
#
#   - the admission order, step by step, with a table of 4: silent
#     connections are evicted oldest first, stalled responses (requests being
#     served) are not, and when every slot is being served the newcomer is
#     the one refused;
#   - a flood: four source addresses (127.0.0.2 ... 127.0.0.5) hold 8 silent
#     connections each (32, the whole table) and reconnect whenever cut,
#     while a scraper bound to 127.0.0.6 scrapes /metrics repeatedly: it gets
#     its answers, the flooders are evicted (and counted), the worker is
#     never restarted and leaks no slot.
#
# Linux routes all of 127.0.0.0/8 to the loopback interface: the listener is
# on 127.0.0.1 only, and the clients bind their source addresses.
use strict;
use warnings;
use IO::Select;
use IO::Socket::INET;
use Socket qw(SOL_SOCKET SO_RCVBUF);
use Time::HiRes qw(time sleep);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/../perl";
use C5Test;

$SIG{PIPE} = 'IGNORE';

my @flood_from = map { "127.0.0.$_" } 2 .. 5;
my $scraper = '127.0.0.6';
my $per_address = 8;
my $scrapes = 40;

my $port = PostgreSQL::Test::Cluster::get_free_port();

# A client socket to the worker from $from; undef when it cannot connect.
sub client
{
	my ($from, %opt) = @_;
	my $s = IO::Socket::INET->new(
		PeerAddr => '127.0.0.1',
		PeerPort => $port,
		LocalAddr => $from,
		Proto => 'tcp',
		Timeout => 2,
		$opt{sockopts} ? (Sockopts => $opt{sockopts}) : ());
	$s->blocking(0) if $s;
	return $s;
}

# Can this machine bind the loopback addresses the test needs?
foreach my $a (@flood_from, $scraper)
{
	my $s = IO::Socket::INET->new(LocalAddr => $a, Proto => 'tcp');
	plan skip_all => "cannot bind a socket to $a" unless $s;
	close $s;
}

my $node = C5Test::node('listener', http_port => $port, conf => qq{
c5metrics.http_max_connections = 32
c5metrics.http_max_connections_per_address = $per_address
});
my $base = "http://127.0.0.1:$port";

# ---- helpers ----

# The worker's refusals by reason, read through SQL so that reading them
# opens no HTTP connection: { limit => n, deadline => n, evicted => n }.
sub refused
{
	my %c;
	foreach (split /\n/, $node->safe_psql('postgres', 'SELECT c5metrics.exposition()'))
	{
		$c{$1} = $2 if /^c5metrics_http_refused_connections_total\{reason="(\w+)"\} (\d+)$/;
	}
	return \%c;
}

# Has the worker closed $s?  Reads whatever is pending without waiting.
sub closed
{
	my ($s) = @_;
	return 0 unless IO::Select->new($s)->can_read(0.2);
	my $buf;
	my $n = sysread($s, $buf, 65536);
	return defined $n ? $n == 0 : !($!{EAGAIN} || $!{EWOULDBLOCK});
}

# A scrape from the scraper's address: (status or 000, seconds).
sub scrape
{
	my ($path, $max) = @_;
	my ($out, $err) = ('', '');
	IPC::Run::run([ 'curl', '-s', '--noproxy', '*', '--interface', $scraper, '-m', $max,
			'-o', '/dev/null', '-w', '%{http_code} %{time_total}', "$base$path" ],
		'>', \$out, '2>', \$err);
	my ($code, $secs) = $out =~ /^(\d{3}) ([\d.]+)/;
	return ($code // '000', $secs // $max);
}

# A request whose response the client never reads: 500 pipelined requests
# for /metrics and a 4 kB receive buffer stall the worker's sends, so the
# connection stays "being served" until the request deadline cuts it.
sub stalled
{
	my ($from) = @_;
	my $s = client($from, sockopts => [ [ SOL_SOCKET, SO_RCVBUF, 4096 ] ]) or return;
	my $req = "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" x 500;
	my $sent = 0;
	my $until = time + 2;
	while ($sent < length($req) && time < $until)
	{
		next unless IO::Select->new($s)->can_write(0.05);
		my $n = syswrite($s, $req, length($req) - $sent, $sent);
		$sent += $n if defined $n;
	}
	return $s;
}

sub reload
{
	my ($sql) = @_;
	$node->safe_psql('postgres', "$sql; SELECT pg_reload_conf()");
	sleep 0.5;
}

# ---- the worker is up ----

ok(eventually(sub { (http_get("$base/healthz"))[0] == 200 }), 'the worker serves /healthz');
my $pid = worker_pid($node) // -1;
my $pm_start = $node->safe_psql('postgres', 'SELECT pg_postmaster_start_time()');
my ($code) = scrape('/healthz', 5);
is($code, '200', "a client bound to $scraper is served");

# ---- admission order, with a table of 4 ----
#
# The stalled requests must outlive this part: a 30 s deadline.
reload("ALTER SYSTEM SET c5metrics.http_max_connections = 4; "
	  . "ALTER SYSTEM SET c5metrics.http_request_timeout = '30s'");

my @busy = map { stalled('127.0.0.2') } 1 .. 2;
is(scalar(grep { defined } @busy), 2, 'two requests whose responses are never read');
sleep 0.5;
my $old = client('127.0.0.3');
sleep 0.2;
my $new = client('127.0.0.4');
sleep 0.3;
my $c0 = refused();
($code) = scrape('/healthz', 5);
is($code, '200', 'with the table full (2 stalled responses, 2 silent connections), a newcomer is served');
is(refused()->{evicted} - $c0->{evicted}, 1, 'one connection was evicted for it, and counted');
ok(closed($old), 'the older silent connection was the one evicted');
ok(!closed($new), 'the newer one is still open');

# The newcomer has gone: 3 open.  A third stalled request fills the table;
# the next newcomer evicts the remaining silent one.
push @busy, stalled('127.0.0.2');
sleep 0.5;
$c0 = refused();
($code) = scrape('/healthz', 5);
is($code, '200', 'with 3 stalled responses and 1 silent connection, a newcomer is served');
is(refused()->{evicted} - $c0->{evicted}, 1, 'by evicting one connection');
ok(closed($new), 'the silent one');

# Every slot is being served: the newcomer is the one refused.
push @busy, stalled('127.0.0.2');
sleep 0.5;
$c0 = refused();
($code) = scrape('/healthz', 3);
is($code, '000', 'with 4 stalled responses, a newcomer is refused');
my $c1 = refused();
is($c1->{limit} - $c0->{limit}, 1, 'counted as limit');
is($c1->{evicted} - $c0->{evicted}, 0, 'and no request being served was evicted');
close $_ foreach grep { defined } @busy, $old, $new;
@busy = ();

reload("ALTER SYSTEM RESET c5metrics.http_max_connections; "
	  . "ALTER SYSTEM RESET c5metrics.http_request_timeout");

# ---- the flood ----
#
# A separate process, so that it reconnects while a scrape is in flight:
# 8 silent connections from each of 127.0.0.2 ... 127.0.0.5, a new one as
# soon as one is closed, until a stop file appears (at most 60 s).  It
# writes a ready file once all 32 have stayed open for 1 s, and its counts
# (connections made, connections the worker closed) when it stops.
my $dir = $node->basedir;
my $flooder = <<'EOF';
use strict;
use warnings;
use IO::Select;
use IO::Socket::INET;
use Time::HiRes qw(time);
my ($port, $per, $dir, @from) = @ARGV;
my (%socks, %connects, %cuts, %from_of);
my $sel = IO::Select->new;
my $start = time;
my ($full_since, $ready);
sub fill
{
	foreach my $a (@from)
	{
		while (keys %{ $socks{$a} } < $per)
		{
			my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
				LocalAddr => $a, Proto => 'tcp', Timeout => 1) or last;
			$s->blocking(0);
			$socks{$a}{$s} = $s;
			$from_of{$s} = $a;
			$sel->add($s);
			$connects{$a}++;
		}
	}
}
while (!-e "$dir/flood.stop" && time - $start < 60)
{
	fill();
	my $full = !grep { keys %{ $socks{$_} } < $per } @from;
	$full_since = $full ? ($full_since // time) : undef;
	if (!$ready && $full_since && time - $full_since >= 1)
	{
		open(my $f, '>', "$dir/flood.ready") or die;
		close $f;
		$ready = 1;
	}
	foreach my $s ($sel->can_read(0.05))
	{
		my $n = sysread($s, my $buf, 4096);
		next if !defined $n && $!{EAGAIN};
		my $a = delete $from_of{$s};
		delete $socks{$a}{$s};
		$sel->remove($s);
		close $s;
		$cuts{$a}++;
		undef $full_since;
	}
}
open(my $f, '>', "$dir/flood.counts") or die;
print $f join(' ', $_, $connects{$_} // 0, $cuts{$_} // 0), "\n" foreach @from;
close $f;
EOF
unlink "$dir/flood.stop", "$dir/flood.ready", "$dir/flood.counts";
$c0 = refused();
my $h = IPC::Run::start([ $^X, '-e', $flooder, $port, $per_address, $dir, @flood_from ],
	'>', \my $fout, '2>', \my $ferr);
ok(eventually(sub { -e "$dir/flood.ready" }, 20, 50_000),
	'the flooders hold 8 connections from each of 4 addresses (32, the whole table) for 1 s');

# Scrapes from a fifth address, one every 0.2 s, during the flood.
my $t0 = time;
my ($ok, $slowest, @codes) = (0, 0);
for (1 .. $scrapes)
{
	my ($c, $secs) = scrape('/metrics', 5);
	push @codes, $c;
	if ($c eq '200')
	{
		$ok++;
		$slowest = $secs if $secs > $slowest;
	}
	sleep 0.2;
}
my $flood_secs = time - $t0;
my $during = refused();

open(my $stop, '>', "$dir/flood.stop") or die;
close $stop;
$h->finish or diag("flooder: $ferr");
ok(-e "$dir/flood.counts", 'the flooder stopped by itself') or $h->kill_kill;

my %flood;
foreach (split /\n/, -e "$dir/flood.counts" ? slurp_file("$dir/flood.counts") : '')
{
	my ($a, $connects, $cuts) = split / /;
	$flood{$a} = { connects => $connects, cuts => $cuts };
}
my $evicted = $during->{evicted} - $c0->{evicted};
note(sprintf('%d of %d scrapes answered 200 in %.1f s of flood (slowest %.3f s); codes: %s',
		$ok, $scrapes, $flood_secs, $slowest, join(' ', @codes)));
note(sprintf('worker: %d evicted, %d refused (limit), %d cut (deadline)',
		$evicted, $during->{limit} - $c0->{limit}, $during->{deadline} - $c0->{deadline}));
note(sprintf('flooder %s: %d connections, %d cut', $_, $flood{$_}{connects}, $flood{$_}{cuts}))
  foreach grep { $flood{$_} } @flood_from;

cmp_ok($ok, '>=', int($scrapes * 0.9 + 0.5), "the scraper from $scraper gets at least 90 % of its $scrapes scrapes");
cmp_ok($slowest, '<', 2, 'each within 2 s');
cmp_ok($evicted, '>=', $ok, 'each answered scrape evicted a silent connection: the table was full');
is(scalar(grep { ($flood{$_}{cuts} // 0) > 0 } @flood_from), scalar(@flood_from),
	'every flooding address had connections cut');

# ---- afterwards ----

# The flooder has closed its sockets: no slot is leaked, so one address
# gets its 8 connections, and a ninth is refused.
sleep 0.5;
$c0 = refused();
my @nine = map { client('127.0.0.2') } 1 .. 9;
sleep 0.3;
my %gone = map { $_ => 1 } IO::Select->new(grep { defined } @nine)->can_read(0.2);
is(scalar(grep { defined && !$gone{$_} } @nine), 8, 'after the flood, 127.0.0.2 gets its 8 connections: no slot leaked');
is(refused()->{limit} - $c0->{limit}, 1, 'and a ninth is refused');
close $_ foreach grep { defined } @nine;

($code) = scrape('/metrics', 5);
is($code, '200', 'a scrape after the flood is served');
is(worker_pid($node) // -2, $pid, 'the worker was never restarted');
is($node->safe_psql('postgres', 'SELECT pg_postmaster_start_time()'), $pm_start, 'nor the server');
my @deaths = grep { /terminated by signal|was terminated|exited with exit code/ }
  split /\n/, slurp_file($node->logfile);
is(scalar(@deaths), 0, 'no process died') or diag(join("\n", @deaths));

$node->stop;
done_testing();
